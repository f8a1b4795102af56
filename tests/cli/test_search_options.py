"""`codemem search`: -l, --path, --lang, "nothing found" as exit 1, and the hint for '-'."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from codemem.cli import cli


def run(repo, *args):
    return CliRunner().invoke(cli, ["--repo", str(repo), *args], catch_exceptions=False)


@pytest.fixture
def shop(repo_factory):
    repo = repo_factory("shop")
    assert run(repo, "index").exit_code == 0
    return repo


def test_paths_only_prints_each_path_once_best_first(shop):
    result = run(shop, "search", "-l", "cart")
    assert result.exit_code == 0
    paths = result.stdout.splitlines()
    full = json.loads(run(shop, "search", "--json", "cart").stdout)
    assert paths == list(dict.fromkeys(hit["path"] for hit in full))


def test_language_filter_keeps_the_json_contract(shop):
    result = run(shop, "search", "cart", "--lang", "JavaScript", "--json")
    hits = json.loads(result.stdout)
    assert result.exit_code == 0 and hits
    assert {hit["language"] for hit in hits} == {"javascript"}
    assert all(
        set(hit) == {"path", "score", "start_line", "end_line", "symbol", "kind", "language"}
        for hit in hits
    )


def test_path_filter_takes_globs_and_folders(shop):
    folder = run(shop, "search", "token", "--path", "shop/auth", "-l")
    assert folder.stdout == "shop/auth/tokens.py\n"
    globbed = run(
        shop, "search", "cart", "--path", "tests/*.py", "--path", "web/**", "-l", "--level", "file"
    )
    assert globbed.stdout.splitlines() == ["web/static/cart.js", "tests/test_cart.py"]


def test_nothing_found_exits_1(shop):
    text = run(shop, "search", "zzqqxxyy")
    assert (text.exit_code, text.stdout, text.stderr) == (1, "", "No results.\n")
    as_json = run(shop, "search", "zzqqxxyy", "--json")
    assert (as_json.exit_code, as_json.stdout) == (1, "[]\n")
    filtered = run(shop, "search", "cart", "--lang", "cobol", "-l")
    assert (filtered.exit_code, filtered.stdout) == (1, "")


def test_a_query_starting_with_a_dash_gets_a_hint(shop):
    result = run(shop, "search", "-quantity must be positive")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1] == (
        "To search for text that starts with '-', put -- before it: "
        "codemem search -- '-quantity must be positive'"
    )
    assert run(shop, "search", "-l", "--", "-quantity must be positive").stdout.startswith(
        "shop/cart.py\n"
    )


def test_json_and_paths_only_together_is_a_usage_error(shop):
    result = run(shop, "search", "cart", "--json", "-l")
    assert result.exit_code == 2
    assert "give --json or -l, not both" in result.stderr
