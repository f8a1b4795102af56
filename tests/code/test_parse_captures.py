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


def tags_both_ways(path: str, source: bytes, language: str | None = None):
    language = language or language_for_path(path, source)
    assert language in CAPTURE_LANGUAGES
    tree = get_parser(language).parse(source)
    query = get_query(language, with_errors=tree.root_node.has_error)  # as parse.py picks it
    lines = split_source(source)
    comments = grammar(language).comments
    by_matches = extract_tags(tree, query, source, lines, comments, references=True)
    by_captures = extract_tags(tree, query, source, lines, comments, language, references=True)
    # read from the captures indeed, not by matches after all
    assert _tags_from_captures(tree, query, source, lines, comments) is not None
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
    [
        str(p.relative_to(ROOT))
        for pattern in ("*.py", "*.c", "*.h")
        for p in sorted((ROOT / "fixtures").rglob(pattern))
    ],
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


def test_a_python_file_with_syntax_errors_gets_the_same_tags_both_ways():
    source = TRICKY_PYTHON.replace(b"return inner(self.sides)", b"return inner(self.sides")
    by_matches, by_captures = tags_both_ways("broken.py", source)
    assert as_values(by_captures) == as_values(by_matches)
    assert by_matches.errors > 0


TRICKY_C = b"""#include <stdio.h>
#include "local.h"

#define LIMIT 10
#define MAX(a, b) ((a) > (b) ? (a) : (b))

/* Two names in one declaration: one match per name, one definition node. */
int first, *second, third[4];
static const char *names[] = { "a", "b" };

#ifdef CONFIG_THING
int guarded, also_guarded = 2;
#endif

typedef int count_t, *count_ptr;
typedef struct { int x, y; } point_t, other_point_t;
typedef struct node { struct node *next; } node_t;
typedef enum { RED, GREEN = 2 } colour_t;
typedef void (*handler_t)(int);
typedef struct opaque opaque_t;

/**
 * struct box - a box
 * @w: width
 */
struct box {
	int w, h;		/* two fields */
	unsigned int flags : 3;
	char label[16];
	struct box *inner;
	union {
		long l;
		double d;
	} u;
	void (*callback)(struct box *b, T value);
};

union number { int i; float f; };

enum mode { MODE_A, MODE_B = 4, MODE_C };

// A pointer-returning function.
static struct box **make_boxes(int n, size_t size)
{
	struct box **boxes = calloc(n, size);
	boxes[0]->inner = lookup(boxes, MAX(n, LIMIT));
	return boxes;
}

int main(void)
{
	typedef int local_t, local2_t;
	struct box b = { 0 };
	printf("%d\\n", b.w);
	b.callback(&b, 1);
	return count(first, second);
}
"""


def test_a_c_file_with_every_c_tag_gets_the_same_tags_both_ways():
    by_matches, by_captures = tags_both_ways("tricky.c", TRICKY_C)
    assert as_values(by_captures) == as_values(by_matches)
    names = [d.symbol.qualname for d in by_matches.definitions]
    assert names == [
        "LIMIT", "MAX", "first", "guarded", "also_guarded", "count_t", "count_ptr",
        "point_t", "other_point_t", "other_point_t.x", "other_point_t.y", "node", "node.next",
        "node_t", "colour_t", "colour_t.RED", "colour_t.GREEN", "handler_t", "opaque_t", "box",
        "box.w", "box.h", "box.flags", "box.label", "box.inner", "box.u", "box.u.l", "box.u.d",
        "number", "number.i", "number.f", "mode", "mode.MODE_A", "mode.MODE_B", "mode.MODE_C",
        "make_boxes", "main", "main.local_t", "main.local2_t",
    ]  # fmt: skip
    assert by_matches.errors == 0


@pytest.mark.parametrize(
    "broken",
    [
        TRICKY_C.replace(b"int w, h;", b"int w, h"),  # a missing `;`
        TRICKY_C.replace(b"return boxes;\n}", b"return boxes;\n"),  # an unclosed body
        TRICKY_C.replace(b"#ifdef CONFIG_THING", b"#ifdef CONFIG_THING\n{"),
        TRICKY_C[: len(TRICKY_C) // 2],  # cut in the middle
        b"#define DECLARE(x) int x\nDECLARE(a);\nstruct s { int a, b; } DECLARE(c) = {1};\n"
        b"static int __init f(void) __attribute__((x)) { return g(); }\n",  # macros as code
    ],
)
def test_a_c_file_with_syntax_errors_gets_the_same_tags_both_ways(broken):
    by_matches, by_captures = tags_both_ways("broken.c", broken)
    assert as_values(by_captures) == as_values(by_matches)
    assert by_matches.errors > 0


def test_cpp_is_read_by_matches_a_type_in_new_is_two_references():
    """C++'s query captures `T` of `new T` as a type twice (c.scm's and cpp.scm's patterns):
    its captures would hold it once, so C++ is not in `CAPTURE_LANGUAGES`."""
    assert "cpp" not in CAPTURE_LANGUAGES
    source = b"class Box { int w; };\nBox *make() { return new Box(); }\n"
    tree = get_parser("cpp").parse(source)
    lines = split_source(source)
    tags = extract_tags(tree, get_query("cpp"), source, lines, "c", "cpp", references=True)
    assert [(r.name, r.line) for r in tags.references if r.kind == "type"] == [
        ("Box", 2),
        ("Box", 2),
        ("Box", 2),
    ]
    by_captures = _tags_from_captures(tree, get_query("cpp"), source, lines, "c", references=True)
    assert by_captures is not None
    assert len(by_captures.references) == len(tags.references) - 1


ONE_CAPITAL_C = b"""typedef int T;
typedef struct { int x; } U;
struct box { T value; U other; AB two; struct box *next; };
T make(U u, AB ab) { T t = (T)u.x; return T(t) + size((AB)ab); }
"""


def test_c_drops_type_references_named_by_one_capital_as_the_query_predicate_did():
    """C's query has no `#not-match?` for them (queries/c_types.scm): the references are
    the ones the predicate kept (what the code before this change found), both ways; a call
    of `T` stays. C++ keeps the predicate: its `new T` captures a `T` too (above)."""
    by_matches, by_captures = tags_both_ways("one.c", ONE_CAPITAL_C)
    assert as_values(by_captures) == as_values(by_matches)
    refs = [(r.name, r.line, r.kind) for r in by_captures.references]
    assert refs == [
        ("AB", 3, "type"), ("box", 3, "type"), ("AB", 4, "type"), ("T", 4, "call"),
        ("size", 4, "call"), ("AB", 4, "type"),
    ]  # fmt: skip
