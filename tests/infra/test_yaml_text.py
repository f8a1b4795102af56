"""YAML from a repository's files: aliases bounded, everything else as PyYAML reads it."""

from __future__ import annotations

from datetime import date

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


def test_a_key_given_twice_is_refused_at_its_second_line_naming_both():
    text = "model: a  # mine\nindex:\n  include: []\n  exclude: [x]\n  include: [src]\nmodel: b\n"
    assert load_yaml(text) == yaml.safe_load(text)  # the repository's own files: as PyYAML
    with pytest.raises(yaml.YAMLError) as caught:
        load_yaml(text, unique_keys=True)
    assert caught.value.problem == (  # type: ignore[attr-defined]
        "duplicate key 'index.include' on lines 3 and 5: keep one of them (YAML would take "
        "the last silently)"
    )
    assert caught.value.problem_mark.line == 4  # type: ignore[attr-defined]
    with pytest.raises(yaml.YAMLError, match="'model' on lines 11 and 12") as top:
        load_yaml("model: a\nmodel: b\n", unique_keys=True, first_line=11)
    assert top.value.problem_mark.line == 1  # type: ignore[attr-defined]
    # a merge key, keys in two mappings, an alias's mapping used twice: no duplicates
    fine = "base: &b {k: 1}\nover:\n  <<: *b\n  k: 2\nlist: [{k: 1}, {k: 2}]\nagain: *b\n"
    assert load_yaml(fine, unique_keys=True) == yaml.safe_load(fine)


def test_a_committed_config_that_sets_a_key_twice_is_one_line_naming_both(tmp_path):
    repo = make_repo(tmp_path / "repo")
    (repo / ".codemem").mkdir()
    config = repo / ".codemem" / "config.yml"
    config.write_text("sleep:\n  model: ollama/qwen2.5-coder\n  consolidate: true\n  model: x/y\n")
    result = codemem(repo, "index", timeout=60)
    assert (result.returncode, result.stderr) == (
        2,
        f"codemem: error: {config}: line 4: invalid YAML: duplicate key 'sleep.model' on lines "
        "2 and 4: keep one of them (YAML would take the last silently)\n",
    )  # before: the second model silently won
    status = codemem(repo, "status", timeout=60)
    assert status.returncode == 0
    assert (
        f"  - {config}: line 4: invalid YAML: duplicate key 'sleep.model' on lines 2 and 4: keep "
        "one of them (YAML would take the last silently) (status below uses the default settings)"
    ) in status.stdout.splitlines()
    before = config.read_bytes()
    edit = codemem(repo, "config", "set", "search.k", "3", timeout=60)
    assert edit.returncode == 2 and edit.stderr.count("\n") == 1, edit.stderr
    assert config.read_bytes() == before  # before: rewritten from the values, one model gone


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("yes: a\ntrue: b\n", "duplicate key 'true' on lines 1 and 2 ('yes' and 'true' read"),
        ("x:\n  1: a\n  01: b\n", "duplicate key 'x.01' on lines 2 and 3 ('1' and '01' read"),
        ("0x1: a\n1.0: b\n", "duplicate key '1.0' on lines 1 and 2 ('0x1' and '1.0' read"),
        ("~: a\nnull: b\n", "duplicate key 'null' on lines 1 and 2 ('~' and 'null' read"),
        ("1: a\ntrue: b\n", "duplicate key 'true' on lines 1 and 2 ('1' and 'true' read"),
        (".inf: a\n.Inf: b\n", "duplicate key '.Inf' on lines 1 and 2 ('.inf' and '.Inf' read"),
    ],
)
def test_two_keys_that_load_as_one_are_a_key_given_twice(text, problem):
    assert len(yaml.safe_load(text) or {"x": 0}) == 1  # PyYAML keeps the last silently
    with pytest.raises(yaml.YAMLError) as caught:
        load_yaml(text, unique_keys=True)
    assert caught.value.problem.startswith(problem)  # type: ignore[attr-defined]


def test_keys_that_only_look_alike_are_two_keys():
    text = "'1': a\n1: b\n'yes': c\nno: d\n2025-1-1: e\n2025-01-01: f\n2025-02-30: g\n"
    loaded = load_yaml(text.replace("2025-02-30", "x"), unique_keys=True)
    assert loaded == {"1": "a", 1: "b", "yes": "c", False: "d", "2025-1-1": "e"} | {
        date(2025, 1, 1): "f",
        "x": "g",
    }
    with pytest.raises(ValueError, match="day is out of range"):  # as PyYAML: not a duplicate
        load_yaml(text, unique_keys=True)
