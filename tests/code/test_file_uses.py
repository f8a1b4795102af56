"""Which files a file uses: from the tag store and the lexicon, current after every index run."""

from __future__ import annotations

from pathlib import Path

import pytest
from lexicon_helpers import symbols_in

from codemem.code.file_uses import FileUses, strongest_names, used_files
from codemem.code.graph_rank import MAX_DEFINERS, use_weight
from codemem.code.indexer import refresh_index
from codemem.code.lexicon import Lexicon
from codemem.code.lexicon_rows import LexiconRows
from codemem.code.manifest import Manifest
from codemem.code.search import Searcher
from codemem.code.tags import TagStore
from codemem.config import load_config
from codemem.workspace import Workspace


def test_a_use_counts_its_name_weight_split_over_the_files_defining_it():
    definers = {
        "parse_config": ["config.py"],  # specific (x10), used 4 times: 10 * 2
        "Loader": ["a.py", "b.py"],  # type-like (x10), split over two files
        "run": ["app.py", "c.py"],  # the using file itself defines it: only c.py gets a share
        "helper": [f"m{i}.py" for i in range(MAX_DEFINERS + 1)],  # defined everywhere: no link
    }
    refs = {"parse_config": 4, "Loader": 1, "run": 1, "helper": 3, "missing": 2}
    assert used_files("app.py", refs, definers) == [
        ("config.py", 20.0),
        ("a.py", 5.0),
        ("b.py", 5.0),
        ("c.py", 0.5),
    ]


def test_only_the_strongest_references_are_looked_up():
    refs = {"parse_config": 1, "x1": 9, "Loader": 4, "_private_helper": 1, "run": 1}
    assert strongest_names(refs, limit=2) == {"Loader": 4, "parse_config": 1}  # 20, 10
    assert strongest_names(refs, limit=3) == {"Loader": 4, "parse_config": 1, "x1": 9}
    assert strongest_names(refs) == refs


def index(root: Path) -> Workspace:
    ws = Workspace(root)
    refresh_index(ws, load_config(ws.config_file))
    return ws


def file_uses(ws: Workspace) -> FileUses:
    return FileUses(
        lambda: TagStore.load(ws.index_dir), LexiconRows(Lexicon(ws.index_dir)).definers
    )


def test_the_definers_are_those_of_the_symbol_rows_after_incremental_runs(repo_factory):
    repo = repo_factory("shop")
    ws = index(repo)
    (repo / "shop" / "discounts.py").write_text(
        "class Inventory:\n    pass\n\n\ndef apply_discount_code(cart, code):\n    return 0\n"
    )
    (repo / "shop" / "payments.py").unlink()
    index(repo)  # incremental: a new file defining a name another file defines, one gone
    lexicon = Lexicon(ws.index_dir)
    rows = LexiconRows(lexicon)
    paths = Manifest.load(ws.index_dir).indexed_paths()
    names = sorted({r["name"] for r in symbols_in(lexicon, paths)}) + ["nowhere"]
    expected: dict[str, set[str]] = {}
    for row in rows.symbols_named(names):
        expected.setdefault(row["name"], set()).add(row["path"])
    assert rows.definers(names) == expected
    assert expected["Inventory"] == {"shop/inventory.py", "shop/discounts.py"}


def test_used_files_follow_an_incremental_run_without_a_full_one(repo_factory):
    repo = repo_factory("shop")
    ws = index(repo)
    before = dict(file_uses(ws)("shop/cart.py"))
    assert "shop/inventory.py" in before and "shop/discounts.py" not in before
    (repo / "shop" / "discounts.py").write_text(
        "def apply_discount_code(cart, code):\n    return 0\n"
    )
    cart = repo / "shop" / "cart.py"
    cart.write_text(
        cart.read_text() + "\n\ndef discounted(cart):\n    return apply_discount_code(cart, 'X')\n"
    )
    index(repo)  # incremental: the graph is not rebuilt, the used files follow anyway
    after = dict(file_uses(ws)("shop/cart.py"))
    assert after["shop/discounts.py"] == pytest.approx(10.0)  # one use of a specific name
    assert file_uses(ws)("nowhere.py") == []


def test_a_search_with_the_stage_on_reads_the_used_files(repo_factory):
    repo = repo_factory("shop")
    ws = index(repo)
    config = load_config(ws.config_file)
    config.search.uses = True
    uses = Searcher(ws, config).uses()
    assert uses is not None and "shop/inventory.py" in dict(uses("shop/cart.py"))
    config.search.uses = False
    assert Searcher(ws, config).uses() is None


def test_a_use_weighs_what_the_graph_gives_its_edge():
    assert use_weight("parse_config", 1, 4) == 20.0  # specific: x10, sqrt(4) uses
    assert use_weight("run", 6, 1) == 0.1  # defined in more than five files: x0.1
    assert use_weight("helper", MAX_DEFINERS + 1, 3) == 0.0  # defined everywhere: no link
    assert use_weight("self", 1, 9) == 0.0  # an ignored name links nothing
    assert use_weight("missing", 0, 2) == 0.0  # defined nowhere
