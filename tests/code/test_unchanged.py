"""A no-op `codemem index`: decided from the settings' key and one listing, nothing loaded."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from codemem.code import CodeIndex
from codemem.code.integrity import index_listing, still_checked, vouch_for_writes
from codemem.code.lancedb_loading import stands_in_for_pydantic
from codemem.code.manifest import Manifest
from codemem.errors import ConfigError
from codemem.workspace import Workspace

HEAVY = ("pydantic", "yaml", "lancedb", "pyarrow", "multiprocessing", "tree_sitter")


def run_index(repo: Path) -> subprocess.CompletedProcess[str]:
    """`codemem index` in a fresh process, printing which heavy modules it loaded."""
    script = (
        "import sys\n"
        "from codemem.cli import main\n"
        "sys.argv = ['codemem', 'index']\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    return subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        cwd=repo,
        env=dict(os.environ),
    )


def test_a_run_with_nothing_to_do_loads_no_settings_model_parser_or_database(repo_factory):
    repo = repo_factory("shop")
    first = run_index(repo)
    assert "Full index" in first.stdout and "'lancedb'" in first.stdout
    # lancedb loads with a stand-in for pydantic, if the stand-in was checked against it
    assert ("'pydantic'" not in first.stdout) == stands_in_for_pydantic()
    out = run_index(repo)
    assert out.stdout.splitlines()[0].startswith("Index is up to date")
    assert out.stdout.splitlines()[-1] == "[]"
    cart = repo / "shop" / "cart.py"
    cart.write_text(cart.read_text() + "\n\ndef extra():\n    return 1\n")
    changed = run_index(repo)  # the listing it read is the one the run plans with
    assert changed.stdout.startswith("Indexed: 0 added, 1 changed, 0 removed")
    assert run_index(repo).stdout.splitlines()[-1] == "[]"


def test_changed_settings_are_validated_and_applied_before_anything_is_skipped(repo_factory):
    repo = repo_factory("shop")
    ws = Workspace(repo)
    assert CodeIndex(ws).refresh().full
    assert CodeIndex(ws).refresh().up_to_date
    ws.config_file.parent.mkdir(exist_ok=True)
    ws.config_file.write_text("index:\n  exclude: ['web/**']\n")
    summary = CodeIndex(ws).refresh()
    assert (summary.up_to_date, summary.removed) == (False, 2)  # web/static/*.js
    assert CodeIndex(ws).refresh().up_to_date
    ws.config_file.write_text("index:\n  compact_every: 0\n")
    with pytest.raises(ConfigError, match="compact_every"):
        CodeIndex(ws).refresh()


def test_an_unreadable_record_of_the_settings_only_costs_a_validation(repo_factory):
    repo = repo_factory("shop")
    ws = Workspace(repo)
    CodeIndex(ws).refresh()
    manifest = Manifest.load(ws.index_dir)
    manifest.listing_settings = "not json"
    manifest.save(ws.index_dir)
    summary = CodeIndex(ws).refresh()  # validated, found nothing to do, recorded again
    assert summary.up_to_date
    assert Manifest.load(ws.index_dir).listing_settings.startswith("[[], [], 1000000")


def test_a_run_that_only_records_the_listing_leaves_the_index_checked(repo_factory):
    repo = repo_factory("shop")
    ws = Workspace(repo)
    CodeIndex(ws).refresh()
    manifest = Manifest.load(ws.index_dir)
    manifest.listing = "from another version"
    manifest.save(ws.index_dir)
    vouch_for_writes(ws.index_dir)  # a checked index whose listing another version recorded
    assert CodeIndex(ws).refresh().up_to_date  # reads the rows, records its own listing
    assert still_checked(ws.index_dir, index_listing(ws.index_dir))  # no deep check due


def test_a_long_lived_index_follows_an_edited_settings_file(repo_factory):
    repo = repo_factory("shop")
    ws = Workspace(repo)
    index = CodeIndex(ws)  # as the watch daemon keeps one
    assert index.refresh().full
    assert index.search_settings().search.k == 10  # recorded by the run, not validated
    ws.config_file.parent.mkdir(exist_ok=True)
    ws.config_file.write_text("index:\n  exclude: ['web/**']\nsearch:\n  k: 7\n")
    summary = index.refresh()
    assert (summary.up_to_date, summary.removed) == (False, 2)  # web/static/*.js
    assert (index.config.search.k, index.search_settings().search.k) == (7, 7)
    ws.config_file.write_text("index:\n  exclude: ['web/**']\nsearch:\n  k: 9\n")  # same size
    assert index.search_settings().search.k == 9
    assert index.refresh().up_to_date


def test_a_run_parses_each_settings_file_once(repo_factory, monkeypatch):
    from codemem.config import layers

    repo = repo_factory("shop")
    ws = Workspace(repo)
    ws.config_file.parent.mkdir(exist_ok=True)
    ws.config_file.write_text("search:\n  k: 7\n")
    read: list[Path] = []
    real = layers.read_yaml_file
    monkeypatch.setattr(layers, "read_yaml_file", lambda path: read.append(path) or real(path))
    index = CodeIndex(ws)
    index.refresh()
    assert index.search("cart")[0].path
    assert read.count(ws.config_file) == 1  # parsed once, though asked for three times
    assert len(read) == 4  # the user's file, missing, is looked for each time
