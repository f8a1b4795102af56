"""YAML from a repository's files: aliases bounded, everything else as PyYAML reads it."""

from __future__ import annotations

import pytest
import yaml

from codemem.infra import MAX_EXPANDED, load_yaml
from tests.helpers import make_repo
from tests.helpers import run_codemem as codemem


def laughs(levels: int) -> str:
    """A "billion laughs" document: each level a list of nine aliases of the one before."""
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, levels):
        aliases = ", ".join([f"*l{level - 1}"] * 9)
        lines.append(f"l{level}: &l{level} [{aliases}]")
    return "\n".join(lines) + "\n"


def test_plain_documents_and_modest_aliases_read_as_pyyaml_reads_them():
    for text in ("", "- 1\n- b\n", "a: &x [1, 2]\nb: *x\nc: {k: *x}\n", laughs(4)):
        assert load_yaml(text) == yaml.safe_load(text)
    # A large file may reach ten times its own values through aliases, past MAX_EXPANDED.
    items = MAX_EXPANDED // 5
    large = "a: &a [" + ", ".join(map(str, range(items))) + "]\nb: [*a, *a, *a, *a, *a]\n"
    assert len(load_yaml(large)["b"]) == 5 and items * 6 > MAX_EXPANDED


def test_aliases_that_expand_past_the_bound_are_refused_where_they_start():
    with pytest.raises(yaml.YAMLError, match=r"its aliases expand to [\d,]+ values") as caught:
        load_yaml("# a bomb\n" + laughs(9))
    assert caught.value.problem_mark.line == 1  # type: ignore[attr-defined]


def test_an_alias_that_holds_itself_is_refused():
    with pytest.raises(yaml.YAMLError, match="an alias that holds itself"):
        load_yaml("a: &x [1, *x]\n")


def test_a_committed_config_of_laughs_is_one_line_not_a_hang(tmp_path):
    # Every command validates the settings: PyYAML shares each alias, pydantic walked all
    # 387 million values of nine levels, and `codemem status`, `index`, the hook never ended.
    repo = make_repo(tmp_path / "repo")
    (repo / ".codemem").mkdir()
    (repo / ".codemem" / "config.yml").write_text(laughs(9) + "index:\n  exclude: *l8\n")
    result = codemem(repo, "index", timeout=60)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1
    assert "config.yml: line 1: invalid YAML: its aliases expand to" in result.stderr
