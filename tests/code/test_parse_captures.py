"""A language in `CAPTURE_LANGUAGES` gets the very same tags from its query's captures as
from its matches (what `extract_tags` reads otherwise)."""

from __future__ import annotations

from pathlib import Path

import pytest

from codemem.code.languages import get_parser, get_query, grammar, language_for_path
from codemem.code.parse import split_source
from codemem.code.syntax import CAPTURE_LANGUAGES, _tags_from_captures, extract_tags

ROOT = Path(__file__).resolve().parents[2]
TRICKY_PYTHON = b'''"""Module doc."""
import os, sys as system
from .pkg import thing

LIMIT: int = 10
a = b = 3


@decorator
@pkg.decorator(arg)
class Shape(Base, pkg.Mixin):
    """A shape."""

    sides = 0
    name: str = "shape"

    def area(self) -> float:
        """Its area."""
        def inner(x: List[int]) -> Dict[str, int]:
            return helper(x).method()
        return inner(self.sides)

    async def load(self):
        try:
            pass
        except (ValueError, pkg.Error):
            raise Custom()


def top(*args, **kwargs):
    class Local:
        pass
    return Local()
'''


def tags_both_ways(path: str, source: bytes):
    language = language_for_path(path, source)
    assert language in CAPTURE_LANGUAGES
    tree = get_parser(language).parse(source)
    assert not tree.root_node.has_error
    lines = split_source(source)
    comments = grammar(language).comments
    by_matches = extract_tags(tree, get_query(language), source, lines, comments)
    by_captures = extract_tags(tree, get_query(language), source, lines, comments, language)
    # read from the captures indeed, not by matches after all
    assert _tags_from_captures(tree, get_query(language), source, lines, comments) is not None
    return by_matches, by_captures


def as_values(tags):
    definitions = [
        (d.symbol, d.start_byte, d.end_byte, d.head_end, d.chunk_start, d.nested,
         [c.symbol.qualname for c in d.children])
        for d in tags.definitions
    ]  # fmt: skip
    return definitions, tags.references, tags.imports, tags.errors


@pytest.mark.parametrize(
    "path",
    [str(p.relative_to(ROOT)) for p in sorted((ROOT / "fixtures").rglob("*.py"))],
)
def test_fixtures_get_the_same_tags_from_captures_as_from_matches(path):
    by_matches, by_captures = tags_both_ways(path, (ROOT / path).read_bytes())
    assert as_values(by_captures) == as_values(by_matches)


def test_a_file_with_every_python_tag_gets_the_same_tags_both_ways():
    by_matches, by_captures = tags_both_ways("tricky.py", TRICKY_PYTHON)
    assert as_values(by_captures) == as_values(by_matches)
    names = [d.symbol.qualname for d in by_matches.definitions]
    assert names == ["LIMIT", "a", "Shape", "Shape.sides", "Shape.name", "Shape.area",
                     "Shape.area.inner", "Shape.load", "top", "top.Local"]  # fmt: skip


def test_the_codemem_sources_get_the_same_tags_both_ways():
    for path in sorted((ROOT / "codemem").rglob("*.py")):
        by_matches, by_captures = tags_both_ways(path.name, path.read_bytes())
        assert as_values(by_captures) == as_values(by_matches), path
