"""`codemem digest` from the command line, including CI mode with no terminal and no model."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner
from sleep_helpers import init, scripted_history

from codemem.cli import cli
from tests.helpers import make_repo


def run(repo, *args):
    return CliRunner().invoke(cli, ["--repo", str(repo), "digest", *args], catch_exceptions=False)


def test_ci_mode_prints_a_log_summary_and_a_second_run_writes_nothing(tmp_path):
    repo = make_repo(tmp_path / "r", "sleep/pyshop", commit=False)
    shas = scripted_history(repo)
    init(repo)
    first = run(repo, "--ci", "--no-llm")
    assert first.exit_code == 0
    name = f"2025-03-04-root-{shas[3][:7]}.md"
    lines = first.output.splitlines()
    assert lines[0] == "codemem digest: Index: 14 added, 0 changed, 0 removed."
    assert lines[1:6] == [
        f"codemem digest: Commits: 4 digested (root..{shas[3][:7]}).",
        f"codemem digest: Wrote .codemem/digests/{name}.",
        "codemem digest: Wrote .codemem/conventions.json.",
        "codemem digest: Updated blocks/conventions.md (conventions region).",
        "codemem digest: Updated blocks/project.md (project overview).",
    ]
    second = run(repo, "--ci")
    assert second.exit_code == 0
    assert second.output.splitlines()[-1] == "codemem digest: Nothing new: nothing written."
    dry = run(repo, "--dry-run")
    assert dry.exit_code == 0
    assert dry.output.splitlines()[-1] == "Nothing new: nothing would be written."
    # --help names the commit --push makes as it is made
    from codemem.sleep.publish import COMMIT_MESSAGE

    assert f'"{COMMIT_MESSAGE}"' in " ".join(run(repo, "--help").output.split())


def test_a_model_and_no_model_at_once_is_a_usage_mistake(tmp_path):
    repo = make_repo(tmp_path / "r", "sleep/pyshop", commit=False)
    scripted_history(repo)
    init(repo)
    result = run(repo, "--model", "ollama/qwen2.5-coder", "--no-llm")
    assert result.exit_code == 2
    assert result.stderr == (
        "codemem: error: --model and --no-llm do not go together: "
        "give one (--no-llm: no model at all)\n"
    )
    assert not (repo / ".codemem" / "digests").exists()  # nothing digested


def test_json_output(tmp_path):
    repo = make_repo(tmp_path / "r", "sleep/pyshop", commit=False)
    shas = scripted_history(repo)
    init(repo)
    result = run(repo, "--json", "--dry-run")
    data = json.loads(result.output)
    assert data["dry_run"] is True
    assert data["range"] == {"base": None, "head": shas[3], "omitted": 0}
    assert [c["sha"] for c in data["commits"]] == shas
    assert data["commits"][1]["symbols"]["changed"] == [
        {"path": "shop/cart.py", "qualname": "Cart.total", "kind": "method", "line": 33}
    ]
    assert [c["kind"] for c in data["changes"]] == ["digest", "conventions", "block", "block"]
    assert not (repo / ".codemem" / "digests").exists()


def test_a_dry_run_says_what_it_would_write_while_a_merge_waits(tmp_path):
    repo = make_repo(tmp_path / "r", "sleep/pyshop", commit=False)
    shas = scripted_history(repo)
    init(repo)
    (repo / ".git" / "MERGE_HEAD").write_text(shas[2] + "\n", encoding="utf-8")
    dry = CliRunner().invoke(cli, ["--repo", str(repo), "digest", "--dry-run", "--no-llm"])
    assert dry.exit_code == 0, dry.output  # before: exit 2, "… not written: git is in the middle"
    assert dry.stdout.splitlines()[2:6] == [
        f"Would write .codemem/digests/2025-03-04-root-{shas[3][:7]}.md.",
        "Would write .codemem/conventions.json.",
        "Would update blocks/conventions.md (conventions region).",
        "Would update blocks/project.md (project overview).",
    ]
    assert not (repo / ".codemem" / "digests").exists()
    busy = run(repo, "--no-llm")  # the pass itself still waits for the merge
    assert busy.exit_code == 2
    assert "nothing digested: git is in the middle of a merge" in busy.stderr


def test_an_uninitialized_repository_exits_2(repo_factory):
    result = CliRunner().invoke(
        cli, ["--repo", str(repo_factory("sleep/pyshop")), "digest", "--ci"]
    )
    assert result.exit_code == 2
    assert "run `codemem init` first" in result.output


def test_ci_in_a_subprocess_with_no_terminal_and_no_model(tmp_path):
    repo = make_repo(tmp_path / "r", "sleep/pyshop", commit=False)
    scripted_history(repo)
    init(repo)
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    proc = subprocess.run(
        [sys.executable, "-m", "codemem", "digest", "--ci"],
        cwd=repo,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("codemem digest: Index:")
    assert "Commits: 4 digested" in proc.stdout
    assert proc.stderr == ""
    broken = tmp_path / "broken"
    broken.mkdir()
    proc = subprocess.run(
        [sys.executable, "-m", "codemem", "digest", "--ci"],
        cwd=broken,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and "not inside a git repository" in proc.stderr


def test_a_merge_begun_in_the_middle_of_a_digest_is_one_line_nothing_written_exit_2(
    tmp_path, monkeypatch
):
    from sleep_helpers import commit, snapshot

    from codemem.sleep import digest as digest_module
    from codemem.workspace import Workspace
    from tests.helpers import git

    repo = make_repo(tmp_path / "r", "sleep/pyshop", commit=False)
    scripted_history(repo)
    git(repo, "checkout", "-q", "-b", "other", "HEAD~1")
    commit(repo, "Other", "2025-03-05T10:00:00+00:00", {"NOTES.md": "other\n"})
    git(repo, "checkout", "-q", "main")
    commit(repo, "Main", "2025-03-05T11:00:00+00:00", {"NOTES.md": "main\n"})
    ws = init(repo)
    before = snapshot(ws)
    consolidate = digest_module.consolidate

    def merge_then_consolidate(*args):  # the last step before the pass writes its set
        git(repo, "merge", "-q", "other", check=False)
        return consolidate(*args)

    monkeypatch.setattr(digest_module, "consolidate", merge_then_consolidate)
    result = CliRunner().invoke(cli, ["--repo", str(repo), "digest", "--ci", "--no-llm"])
    assert result.exit_code == 2
    assert result.output.splitlines()[-1] == (
        "codemem: error: nothing digested: since the digest began, git is in the middle of a "
        "merge (end it with `git commit` once it is resolved, or `git merge --abort`); run it "
        "again once it ends"
    )
    assert snapshot(Workspace(repo)) == before


def test_a_digest_leaves_conventions_and_its_digest_as_saved_while_the_pass_ran(
    tmp_path, monkeypatch
):
    # The pass held conventions.json and its digest file, then, at the end, wrote each one
    # over whatever was there unless it already held the pass's text: a hand edit of
    # conventions.json, or a digest file of the same range written meanwhile (another clone's,
    # pulled), made after the pass read them, was overwritten. Each is now written only over
    # what the pass read (nothing: created only where no file is); else left, and said.
    from sleep_helpers import commit, snapshot

    from codemem.sleep import digest as digest_module
    from codemem.workspace import Workspace

    repo = make_repo(tmp_path / "r", "sleep/pyshop", commit=False)
    shas = scripted_history(repo)
    init(repo)
    assert run(repo, "--ci", "--no-llm").exit_code == 0
    records = repo / ".codemem" / "conventions.json"
    records.write_text(records.read_text().replace('"rules"', '"rules" ', 1))  # read as changed
    head = commit(repo, "More", "2025-03-05T10:00:00+00:00", {"NOTES.md": "more\n"})
    digest = repo / ".codemem" / "digests" / f"2025-03-05-{shas[3][:7]}-{head[:7]}.md"
    mine, theirs = '{"rules": []}\n', "# Another clone's digest of the same range\n"
    consolidate = digest_module.consolidate

    def saved_then_consolidate(*args):  # the last step before the pass writes its set
        records.write_text(mine)
        digest.write_text(theirs)
        return consolidate(*args)

    monkeypatch.setattr(digest_module, "consolidate", saved_then_consolidate)
    result = run(repo, "--ci", "--no-llm")
    assert result.exit_code == 0, result.output
    assert (records.read_text(), digest.read_text()) == (mine, theirs)
    lines = result.output.splitlines()
    assert not [line for line in lines if "Wrote .codemem/" in line]
    assert lines[-2:] == [
        f"codemem: warning: .codemem/{name} changed while the digest was writing it: left as it "
        "is now (the next digest looks at it again)"
        for name in (f"digests/{digest.name}", "conventions.json")
    ]
    assert snapshot(Workspace(repo))["conventions.json"] == mine.encode()


@pytest.mark.parametrize("held_for", [0.3, None])
def test_an_index_lock_let_go_soon_at_the_last_check_is_waited_for_one_that_stays_is_exit_2(
    tmp_path, monkeypatch, held_for
):
    # An editor's `git status` holds `.git/index.lock` for a moment: seen at the check before
    # the pass writes its set, it dropped the whole pass (exit 2). A lock let go within about
    # 2 s is waited for; one that stays (a crashed git's) still drops the pass.
    import threading

    from sleep_helpers import snapshot

    from codemem.sleep import digest as digest_module
    from codemem.workspace import Workspace

    repo = make_repo(tmp_path / "r", "sleep/pyshop", commit=False)
    scripted_history(repo)
    ws = init(repo)
    before = snapshot(ws)
    lock = repo / ".git" / "index.lock"
    consolidate = digest_module.consolidate

    def lock_then_consolidate(*args):  # the last step before the pass writes its set
        lock.touch()
        if held_for is not None:
            threading.Timer(held_for, lock.unlink).start()
        return consolidate(*args)

    monkeypatch.setattr(digest_module, "consolidate", lock_then_consolidate)
    result = CliRunner().invoke(cli, ["--repo", str(repo), "digest", "--ci", "--no-llm"])
    if held_for is not None:
        assert result.exit_code == 0, result.output
        assert "codemem digest: Commits: 4 digested" in result.output
        assert snapshot(Workspace(repo)) != before
        return
    assert result.exit_code == 2
    assert result.output.splitlines()[-1] == (
        f"codemem: error: nothing digested: since the digest began, a git command holds {lock} "
        "(if none is running, a git that crashed left it: remove that file); run it again once "
        "it ends"
    )
    assert snapshot(Workspace(repo)) == before


def test_a_digest_started_while_a_git_command_holds_the_index_lock_is_refused_at_once(
    tmp_path,
):
    repo = make_repo(tmp_path / "r", "sleep/pyshop", commit=False)
    scripted_history(repo)
    init(repo)
    lock = repo / ".git" / "index.lock"
    lock.touch()
    result = CliRunner().invoke(cli, ["--repo", str(repo), "digest", "--ci", "--no-llm"])
    assert result.exit_code == 2
    assert result.output == (
        f"codemem: error: nothing digested: a git command holds {lock} (if none is running, a "
        "git that crashed left it: remove that file), then run it again\n"
    )
    assert not (repo / ".codemem" / "digests").exists()
    lock.unlink()
    assert run(repo, "--ci", "--no-llm").exit_code == 0
