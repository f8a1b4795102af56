"""codemem under a locale whose codec is not UTF-8: names are the bytes git lists."""

from __future__ import annotations

import json

from tests.helpers import git, make_repo, run_codemem

# An ASCII locale with Python's UTF-8 mode off: the system calls' codec is ASCII. (A Latin-1
# locale, which few machines have installed, named another file instead.)
ASCII_LOCALE = {"LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0", "PYTHONIOENCODING": ""}


def test_a_non_ascii_file_name_is_indexed_and_found_under_an_ascii_locale(tmp_path):
    repo = make_repo(tmp_path / "repo", commit=False)
    (repo / "naïve.py").write_text("def grüße():\n    return 1\n", encoding="utf-8")
    (repo / "日本.py").write_text("def plain():\n    return 2\n", encoding="utf-8")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "Ünïcode ✓")
    assert run_codemem(repo, "init", "--no-index").returncode == 0

    index = run_codemem(repo, "index", "--full", "--json", env=ASCII_LOCALE)
    assert (index.returncode, index.stderr) == (0, "")
    assert json.loads(index.stdout)["added"] == 2

    search = run_codemem(repo, "search", "grüße", "--json", env=ASCII_LOCALE)
    assert (search.returncode, search.stderr) == (0, "")
    assert json.loads(search.stdout)[0]["path"] == "naïve.py"

    digest = run_codemem(repo, "digest", "--no-llm", "--json", env=ASCII_LOCALE)
    assert (digest.returncode, digest.stderr) == (0, "")
    assert json.loads(digest.stdout)["commits"][0]["subject"] == "Ünïcode ✓"
