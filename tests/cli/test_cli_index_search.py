"""The index, search and status commands as a user (or a script) drives them."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from codemem.cli import cli
from codemem.code import manifest
from codemem.code.manifest import Manifest


def run(repo, *args, input=None):
    result = CliRunner().invoke(
        cli, ["--repo", str(repo), *args], input=input, catch_exceptions=False
    )
    return result


@pytest.fixture
def shop(repo_factory):
    repo = repo_factory("shop")
    assert run(repo, "index").exit_code == 0
    return repo


def search_json(repo, *args, input=None):
    result = run(repo, "search", "--json", *args, input=input)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_index_json_summary_then_up_to_date(repo_factory):
    repo = repo_factory("shop")
    first = json.loads(run(repo, "index", "--json").stdout)
    assert (first["full"], first["added"], first["files"]) == (True, 12, 12)
    second = json.loads(run(repo, "index", "--json").stdout)
    assert second["up_to_date"] is True
    assert (repo / ".codemem" / ".gitignore").read_text() == "local/\n"


def test_search_json_contract(shop):
    hits = search_json(shop, "refresh access token", "-k", "5")
    assert 1 <= len(hits) <= 5
    for hit in hits:
        assert set(hit) == {"path", "score", "start_line", "end_line", "symbol", "kind", "language"}
        assert hit["start_line"] >= 1 and hit["end_line"] >= hit["start_line"]
        assert "\\" not in hit["path"] and not hit["path"].startswith("/")
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)


def test_file_level_lists_each_path_once(shop):
    hits = search_json(shop, "cart item inventory price", "--level", "file", "-k", "10")
    paths = [h["path"] for h in hits]
    assert len(paths) == len(set(paths))
    assert all(h["symbol"] is None and h["start_line"] == 1 for h in hits)


@pytest.mark.parametrize(
    ("query", "level", "expected"),
    [
        ("refresh_access_token", "symbol", ("shop/auth/tokens.py", "refresh_access_token")),
        ("charge_card", "symbol", ("shop/payments.py", "charge_card")),
        ("CartWidget", "symbol", ("web/static/cart.js", "CartWidget")),
        ("HealthHandler", "symbol", ("cmd/server/main.go", "HealthHandler")),
        (
            "where do access tokens get refreshed when they expire",
            "file",
            ("shop/auth/tokens.py", None),
        ),
        ("how is a declined card payment handled", "file", ("shop/payments.py", None)),
        ("health check endpoint for the load balancer", "file", ("cmd/server/main.go", None)),
    ],
)
def test_realistic_queries_find_the_expected_place_first(shop, query, level, expected):
    top = search_json(shop, query, "--level", level, "-k", "3")[0]
    assert (top["path"], top["symbol"]) == expected


def test_traceback_on_stdin_points_at_the_failing_file(shop):
    traceback = (
        "Checkout crashes with a negative quantity:\n"
        "Traceback (most recent call last):\n"
        '  File "/srv/app/shop/cart.py", line 15, in add_item\n'
        '    raise ValueError("quantity must be positive")\n'
        "ValueError: quantity must be positive\n"
    )
    hits = search_json(shop, "--level", "file", "--query-file", "-", input=traceback)
    assert hits[0]["path"] == "shop/cart.py"
    chunk = search_json(shop, "--level", "chunk", "--query-file", "-", input=traceback)[0]
    assert (chunk["path"], chunk["symbol"]) == (
        "shop/cart.py",
        "Cart",
    )  # a small class is one chunk
    symbol = search_json(shop, "--level", "symbol", "--query-file", "-", input=traceback)[0]
    assert (symbol["path"], symbol["symbol"], symbol["start_line"]) == (
        "shop/cart.py",
        "Cart.add_item",
        13,
    )


def test_tests_rank_below_code_unless_asked(shop):
    hits = search_json(shop, "add_item reserves stock", "--level", "file")
    paths = [h["path"] for h in hits]
    assert paths.index("shop/cart.py") < paths.index("tests/test_cart.py")
    hits = search_json(shop, "test for add_item reserving stock", "--level", "file")
    assert hits[0]["path"] == "tests/test_cart.py"


def test_human_output_has_path_line_and_symbol(shop):
    result = run(shop, "search", "charge_card", "--level", "symbol", "-k", "1")
    assert result.exit_code == 0
    assert result.stdout.startswith(" 1. shop/payments.py:12  function charge_card")
    assert "def charge_card" in result.stdout


def test_search_indexes_on_first_use(repo_factory):
    repo = repo_factory("shop")
    hits = search_json(repo, "charge_card", "-k", "1")
    assert hits[0]["path"] == "shop/payments.py"


def test_search_without_query_is_a_usage_error(shop):
    result = run(shop, "search")
    assert result.exit_code == 2
    assert "give a QUERY or --query-file" in result.output
    # an empty query file (a test run that printed nothing) is named as such
    empty = CliRunner().invoke(
        cli, ["--repo", str(shop), "search", "--query-file", "-"], input="\n"
    )
    assert empty.exit_code == 2
    assert empty.output.splitlines()[-1] == "Error: --query-file -: the file holds no query"


def test_missing_repo_is_one_clear_line(tmp_path):
    result = CliRunner().invoke(cli, ["--repo", str(tmp_path / "nope"), "index"])
    assert result.exit_code == 2
    assert "does not exist" in result.output or "no such directory" in result.output


def test_repo_at_a_file_is_one_line_naming_the_folder(shop):
    """`--repo setup.py` (or `mcp --repo`, or CODEMEM_REPO) is the usual slip for the folder:
    one line with the fix, not click's usage block."""
    target = shop / "shop" / "cart.py"
    want = f"codemem: error: {target} is a file, not a folder: pass --repo the repository's folder"
    for args, env in (
        (["--repo", str(target), "status"], {}),
        (["mcp", "--repo", str(target)], {}),
        (["status"], {"CODEMEM_REPO": str(target)}),
    ):
        result = CliRunner().invoke(cli, args, env=env)
        assert result.exit_code == 2, result.output
        assert result.output == f"{want} (--repo {target.parent})\n"


def test_not_a_git_repository(tmp_path):
    result = CliRunner().invoke(cli, ["--repo", str(tmp_path), "index"])
    assert result.exit_code == 2
    assert result.output.strip().endswith("or pass --repo DIR pointing at one")
    assert result.output.count("\n") == 1


def test_broken_config_is_one_line_naming_file_and_key(repo_factory):
    repo = repo_factory("shop")
    (repo / ".codemem").mkdir()
    (repo / ".codemem" / "config.yml").write_text("search:\n  k: many\n")
    result = CliRunner().invoke(cli, ["--repo", str(repo), "search", "x"])
    assert result.exit_code == 2
    assert result.output.startswith("codemem: error: ")
    assert ".codemem/config.yml: search.k: Input should be a valid integer" in result.output


def test_status_reports_languages_skips_and_freshness(shop):
    (shop / "blob.bin").write_bytes(b"\0\1\2" * 100)
    (shop / ".env").write_text("TOKEN=x\n")
    run(shop, "index")
    (shop / "shop" / "cart.py").write_text("# changed\n")
    report = json.loads(run(shop, "status", "--json").stdout)
    assert report["index"]["files"] == 12
    assert report["languages"]["python"]["files"] == 7
    assert report["skipped"] == {"binary": 1, "secret": 1}
    assert report["freshness"]["stale_files"] == 1
    text = run(shop, "status").stdout
    assert "Freshness: 1 files changed since (run `codemem index`)." in text


def test_run_from_a_subdirectory(shop, monkeypatch):
    monkeypatch.chdir(shop / "shop" / "auth")
    result = CliRunner().invoke(cli, ["search", "--json", "refresh_access_token", "-k", "1"])
    assert json.loads(result.stdout)[0]["path"] == "shop/auth/tokens.py"


def test_disk_full_while_indexing_is_one_line_exit_3_and_the_index_still_answers(shop, monkeypatch):
    index_dir = shop / ".codemem" / "local" / "index"
    before = Manifest.load(index_dir).entry("shop/cart.py")
    (shop / "shop" / "cart.py").write_text(
        (shop / "shop" / "cart.py").read_text() + "\n\ndef extra():\n    pass\n"
    )

    def full(*args):
        raise sqlite3.OperationalError("database or disk is full")  # SQLite's SQLITE_FULL

    monkeypatch.setattr(manifest, "_rows", full)  # the manifest's first save fills the disk
    result = CliRunner().invoke(cli, ["--repo", str(shop), "index"])
    assert result.exit_code == 3
    assert result.stderr == (
        "codemem: error: the disk is full (database or disk is full); "
        "free some space and run the command again\n"
    )
    assert Manifest.load(index_dir).entry("shop/cart.py") == before  # the save rolled back
    monkeypatch.undo()
    assert json.loads(run(shop, "index", "--json").stdout)["changed"] == 1
    assert search_json(shop, "extra", "-k", "1")[0]["path"] == "shop/cart.py"


def test_human_output_escapes_a_newline_in_a_file_name(repo_factory):
    repo = repo_factory()
    (repo / "evil\ninjected.py").write_text("def frobnicate_widget():\n    return 1\n")
    result = run(repo, "search", "frobnicate_widget", "--level", "file")
    assert result.exit_code == 0, result.output
    assert re.fullmatch(r" 1\. evil\\ninjected\.py:1  file  \(\d\.\d{3}\)\n", result.stdout)


ENDS_QUICKLY = """
import atexit, sys

class TornDown:
    def __del__(self):
        print("torn down", flush=True)  # only when the interpreter frees its modules

kept = TornDown()
atexit.register(print, "exit handlers ran", flush=True)
sys.argv = ["codemem", "--repo", sys.argv[1], *sys.argv[2:]]
from codemem.__main__ import run
run()
"""


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["index", "--json"], 0),
        (["search", "--json", "charge_card"], 0),
        (["search", "--json", "qqqzzzxxxwww"], 1),
    ],
)
def test_index_and_search_end_without_teardown_yet_flush_and_run_exit_handlers(
    repo_factory, args, code
):
    repo = repo_factory("shop")
    root = Path(__file__).resolve().parents[2]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        [sys.executable, "-c", ENDS_QUICKLY, str(repo), *args],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert done.returncode == code, done.stderr
    *printed, last = done.stdout.splitlines()
    assert last == "exit handlers ran"
    assert isinstance(json.loads("\n".join(printed)), dict if args[0] == "index" else list)
    # An ordinary command still tears down.
    usage = subprocess.run(
        [sys.executable, "-c", ENDS_QUICKLY, str(repo), "search"],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert (usage.returncode, usage.stdout) == (2, "exit handlers ran\ntorn down\n")


LOADS_NO_PYDANTIC = """
import sys
from codemem.cli import main

sys.argv = ["codemem", "--repo", sys.argv[1], "search", "--json", "charge card"]
try:
    main()
except SystemExit as exc:
    print(exc.code, "pydantic" in sys.modules, file=sys.stderr)
"""


def test_a_search_after_index_reads_the_settings_it_validated_without_pydantic(shop):
    root = Path(__file__).resolve().parents[2]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        [sys.executable, "-c", LOADS_NO_PYDANTIC, str(shop)],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert done.stderr.splitlines()[-1] == "0 False"
    assert json.loads(done.stdout) == search_json(shop, "charge card")


def test_settings_changed_since_the_index_are_validated_by_the_search(shop, monkeypatch):
    assert len(search_json(shop, "refresh access token")) == 4  # all it finds
    (shop / ".codemem" / "config.yml").write_text("search:\n  k: 2\n")
    assert len(search_json(shop, "refresh access token")) == 2
    monkeypatch.setenv("CODEMEM_SEARCH__K", "1")
    assert len(search_json(shop, "refresh access token")) == 1
    (shop / ".codemem" / "config.yml").write_text("search:\n  k: many\n")
    monkeypatch.delenv("CODEMEM_SEARCH__K")
    result = run(shop, "search", "x")
    assert result.exit_code == 2
    assert ".codemem/config.yml: search.k: Input should be a valid integer" in result.output


@pytest.mark.parametrize("recorded", ["{not json", '{"search": [1], "embeddings": "none"}', ""])
def test_unreadable_recorded_search_settings_are_validated_again(shop, recorded):
    expected = search_json(shop, "refresh access token")
    with sqlite3.connect(shop / ".codemem" / "local" / "index" / "manifest.db") as db:
        db.execute("UPDATE meta SET value = ? WHERE key = 'search_settings'", (recorded,))
    (shop / ".codemem" / "config.yml").write_text("search:\n  k: 10\n")  # same values, new key
    assert search_json(shop, "refresh access token") == expected
    (shop / ".codemem" / "config.yml").unlink()
    assert search_json(shop, "refresh access token") == expected


def test_recorded_search_settings_are_read_back_only_from_the_same_code(shop):
    db_path = shop / ".codemem" / "local" / "index" / "manifest.db"
    with sqlite3.connect(db_path) as db:
        (text,) = db.execute("SELECT value FROM meta WHERE key = 'search_settings'").fetchone()
    recorded = json.loads(text)
    assert set(recorded) == {"sections", "search", "embeddings", "max_file_bytes"}
    assert recorded["embeddings"] == "none" and recorded["search"]["k"] == 10
    assert recorded["max_file_bytes"] == 1_000_000

    def record(**changes):
        with sqlite3.connect(db_path) as db:
            value = json.dumps({**recorded, **changes})
            db.execute("UPDATE meta SET value = ? WHERE key = 'search_settings'", (value,))

    record(search={**recorded["search"], "k": 1})  # read back: k is what was recorded
    assert len(search_json(shop, "refresh access token")) == 1
    # Recorded by other code (another `search:` section): validated, so k is the default.
    record(search={**recorded["search"], "k": 1}, sections="other code")
    assert len(search_json(shop, "refresh access token")) == 4


def test_human_output_escapes_terminal_codes_in_the_repository_text(repo_factory):
    # A cloned file's heading, text or signature printed raw by `search` and `map`: codes
    # that retitle the window, erase a line or write the clipboard, run by the terminal.
    repo = repo_factory()
    (repo / "README.md").write_text(
        "# Widgets \x1b]0;PWNED\x07\n\nThe widget frobnicator \x1b[2K\rexplained.\n"
    )
    (repo / "w.py").write_text('def frobnicate(mode="\x1b]52;c;eA==\x07"):\n    return mode\n')
    found = run(repo, "search", "widget frobnicator")
    assert found.exit_code == 0, found.output
    assert "README.md:1  section Widgets \\x1b]0;PWNED\\x07  (" in found.stdout
    assert "      The widget frobnicator \\x1b[2K\n" in click.unstyle(found.stdout)
    mapped = run(repo, "map").stdout
    assert '1│ def frobnicate(mode="\\x1b]52;c;eA==\\x07"):\n' in mapped
    assert "# Widgets \\x1b]0;PWNED\\x07\n" in mapped
    for text in (found.stdout, mapped):
        assert "\x1b" not in text and "\x07" not in text and "\r" not in text
