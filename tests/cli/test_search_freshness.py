"""`codemem search` in a fresh process with no `codemem watch` running sees the files saved
since the last `codemem index`: a few are indexed before it answers; many, or an index run
of another process holding the index, are named in one warning on stderr."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import held_at, run_codemem


@pytest.fixture
def shop(repo_factory):
    repo = repo_factory("shop")
    assert run_codemem(repo, "index").returncode == 0
    return repo


def symbols(repo: Path, query: str, *options: str) -> tuple[list[str], str]:
    """The symbols a fresh `codemem search --json --level symbol` finds, and its stderr."""
    done = run_codemem(repo, "search", "--json", "--level", "symbol", *options, query)
    assert done.returncode in (0, 1), done.stderr
    return [hit["symbol"] for hit in json.loads(done.stdout)], done.stderr


def first(repo: Path, query: str) -> tuple[str | None, str]:
    """The best symbol a fresh search finds, and its stderr."""
    found, err = symbols(repo, query)
    return (found[0] if found else None), err


def paths(repo: Path, query: str) -> tuple[list[str], str]:
    """The files a fresh `codemem search -l` finds, and its stderr."""
    done = run_codemem(repo, "search", "-l", "--level", "file", query)
    assert done.returncode in (0, 1), done.stderr
    return done.stdout.splitlines(), done.stderr


def stale_answer(repo: Path, name: str) -> str:
    """The stderr of a fresh search for the symbol `name` that does not find it."""
    found, err = symbols(repo, name)
    assert name not in found
    return err


def indexed_json(repo: Path) -> dict:
    done = run_codemem(repo, "index", "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_a_fresh_search_sees_files_edited_added_and_removed_since_the_index(shop):
    cart = shop / "shop" / "cart.py"
    cart.write_text(cart.read_text() + "\n\ndef zebra_edited_total():\n    return 0\n")
    (shop / "shop" / "added.py").write_text("def zebra_added_helper():\n    return 1\n")
    (shop / "shop" / "inventory.py").unlink()
    # Before: the index as last built (no zebra at all, and inventory's symbols still found).
    assert first(shop, "zebra_edited_total") == ("zebra_edited_total", "")
    assert first(shop, "zebra_added_helper") == ("zebra_added_helper", "")
    found, err = paths(shop, "OutOfStockError Inventory reserve")
    assert "shop/inventory.py" not in found and err == ""
    assert indexed_json(shop)["up_to_date"] is True  # the search's refresh did it all


def test_no_refresh_answers_from_the_index_as_it_is_and_writes_nothing(shop):
    cart = shop / "shop" / "cart.py"
    cart.write_text(cart.read_text() + "\n\ndef zebra_edited_total():\n    return 0\n")
    found, err = symbols(shop, "zebra_edited_total", "--no-refresh")
    assert "zebra_edited_total" not in found and err == ""
    summary = indexed_json(shop)
    assert (summary["added"], summary["changed"], summary["removed"]) == (0, 1, 0)


def test_many_files_saved_since_the_index_are_named_in_one_warning_not_indexed(shop):
    for n in range(51):
        (shop / "shop" / f"many_{n}.py").write_text(f"def zebra_many_{n}():\n    return {n}\n")
    assert stale_answer(shop, "zebra_many_7") == (
        "codemem: WARNING: search: 51 file(s) changed since the last index run, more than "
        "the 50 a search indexes first; this answer does not see those changes: run "
        "`codemem index` (or keep `codemem watch` running)\n"
    )
    assert indexed_json(shop)["added"] == 51  # the search indexed none of them


def test_settings_that_rebuild_the_index_are_left_to_codemem_index(shop):
    (shop / ".codemem" / "config.yml").write_text("index:\n  chunk_lines: 17\n")
    (shop / "shop" / "added.py").write_text("def zebra_added_helper():\n    return 1\n")
    assert stale_answer(shop, "zebra_added_helper") == (
        "codemem: WARNING: search: 1 file(s) changed since the last index run, the index "
        "must be rebuilt (its settings or codemem's index format changed); this answer "
        "does not see those changes: run `codemem index` (or keep `codemem watch` running)\n"
    )
    assert indexed_json(shop)["full"] is True  # not rebuilt by the search


def test_a_search_while_another_process_indexes_answers_at_once_and_names_the_stale_file(
    shop, tmp_path
):
    with held_at(shop, "full_text", tmp_path / "stall", "index", "--full"):
        (shop / "shop" / "late.py").write_text("def zebra_late_save():\n    return 3\n")
        # Answered from the last complete index after a short wait, saying what it misses
        # (before: nothing said).
        assert stale_answer(shop, "zebra_late_save") == (
            "codemem: WARNING: search: the index does not hold the latest saves of 1 file(s): "
            "shop/late.py (another index run holds it; search again once that run ends)\n"
        )
    assert first(shop, "zebra_late_save") == ("zebra_late_save", "")
