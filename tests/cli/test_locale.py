"""codemem under a locale whose codec is not UTF-8: names are the bytes git lists."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from tests.helpers import codemem_on_a_terminal, git, make_repo, run_codemem

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


@pytest.fixture(scope="module")
def latin1_locale(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of a terminal in an ISO-8859-1 locale, built for the test (`localedef`)."""
    folder = tmp_path_factory.mktemp("locales")
    if shutil.which("localedef") is None:
        pytest.skip("no localedef to build a Latin-1 locale")
    built = subprocess.run(
        ["localedef", "-i", "en_US", "-f", "ISO-8859-1", str(folder / "en_US.ISO-8859-1")],
        capture_output=True,
        check=False,
    )
    if built.returncode not in (0, 1):  # 1: built, with warnings
        pytest.skip(f"localedef built no Latin-1 locale: {built.stderr!r}")
    return {"LOCPATH": str(folder), "LC_ALL": "en_US.ISO-8859-1", "PYTHONIOENCODING": ""}


def test_a_terminal_in_a_latin1_locale_is_written_in_latin1_and_a_pipe_in_utf8(
    tmp_path, latin1_locale
):
    repo = make_repo(tmp_path / "repo", commit=False)
    (repo / "naïve.py").write_text("def shared_name():\n    return 1\n", encoding="utf-8")
    (repo / "日本.py").write_text("def shared_name_too():\n    return 2\n", encoding="utf-8")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "names")
    assert run_codemem(repo, "init").returncode == 0

    shown = codemem_on_a_terminal(
        repo, "search", "shared_name", "-l", env=latin1_locale | {"NO_COLOR": "1"}
    )
    # ï in Latin-1; what Latin-1 cannot show, escaped
    assert sorted(shown.split()) == [b"\\u65e5\\u672c.py", b"na\xefve.py"]

    piped = run_codemem(repo, "search", "shared_name", "--json", env=latin1_locale)
    assert (piped.returncode, piped.stderr) == (0, "")
    assert sorted(hit["path"] for hit in json.loads(piped.stdout)) == ["naïve.py", "日本.py"]
