"""Two teammates' edits of `.codemem/config.yml` and of one review dismissal, brought together
by a real `git merge` in a repository set up by `codemem init` (which writes the
`.gitattributes` and registers the merge driver)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from codemem.memory.initialize import CONFIG_TEMPLATE
from tests.helpers import FIXTURES, git, make_repo, run_codemem

CONFIG = ".codemem/config.yml"
SETTINGS = (
    "index:\n"
    '  exclude: ["vendor/**"]  # third-party code\n'
    "  max_file_bytes: 1000000\n"
    "\n"
    "# the agent's limits\n"
    "agent:\n"
    "  max_steps: 30\n"
)


@pytest.fixture
def repo(tmp_path) -> Path:
    """A repository after `codemem init`, its config holding `SETTINGS`, all committed."""
    root = make_repo(tmp_path / "r")
    done = run_codemem(root, "init", "--no-index")
    assert done.returncode == 0, done.stderr
    (root / CONFIG).write_text(CONFIG_TEMPLATE + SETTINGS)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "memory")
    return root


def teammates(root: Path, files: dict[str, tuple[str, str]]) -> subprocess.CompletedProcess[str]:
    """Each path's (ours, theirs) text committed on two branches from HEAD; `git merge` of
    theirs into ours, with the driver git starts running this checkout."""
    git(root, "checkout", "-q", "-b", "theirs")
    for name, (_, theirs) in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(theirs)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "theirs")
    git(root, "checkout", "-q", "main")
    for name, (ours, _) in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(ours)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "ours")
    worktree = {"PYTHONPATH": str(FIXTURES.parent)}
    return git(root, "merge", "--no-edit", "theirs", env=worktree, check=False)


def config_after(root: Path, ours_edit: tuple[str, str], theirs_edit: tuple[str, str]):
    base = CONFIG_TEMPLATE + SETTINGS
    done = teammates(root, {CONFIG: (base.replace(*ours_edit), base.replace(*theirs_edit))})
    return done, (root / CONFIG).read_text()


KEY, STEPS = "  max_file_bytes: 1000000\n", "  max_steps: 30\n"
CLEAN = {  # ours's edit, theirs's edit, the merged settings: before, each a conflict
    "two keys of index": (
        (KEY, "  max_file_bytes: 2000000\n"),
        (KEY, KEY + "  batch_files: 100  # CI\n"),
        SETTINGS.replace(KEY, "  max_file_bytes: 2000000\n  batch_files: 100  # CI\n"),
    ),
    "two keys added under agent": (
        (STEPS, STEPS + "  max_cost: 2.5\n"),
        (STEPS, STEPS + "  command_timeout: 60  # slow tests\n"),
        SETTINGS + "  max_cost: 2.5\n  command_timeout: 60  # slow tests\n",
    ),
    "a key changed, a section added": (
        (STEPS, "  max_steps: 40\n"),
        (STEPS, STEPS + "review:\n  min_confidence: 0.5\n"),
        SETTINGS.replace("30", "40") + "review:\n  min_confidence: 0.5\n",
    ),
    "keys added at the end of a section, above the next one's comment": (
        (KEY, KEY + "  batch_files: 10\n"),
        (KEY, KEY + "  parse_timeout: 3\n"),
        SETTINGS.replace(KEY, KEY + "  batch_files: 10\n  parse_timeout: 3\n"),
    ),
}


@pytest.mark.parametrize("case", CLEAN)
def test_different_keys_set_on_each_side_merge_clean(repo, case):
    ours_edit, theirs_edit, settings = CLEAN[case]
    done, text = config_after(repo, ours_edit, theirs_edit)
    assert done.returncode == 0, done.stdout + done.stderr
    assert text == CONFIG_TEMPLATE + settings
    assert git(repo, "status", "--porcelain").stdout == ""


def test_comments_one_side_edited_are_kept_with_the_others_keys(repo):
    key, limits = "  max_file_bytes: 1000000\n", "\n# the agent's limits\n"
    exclude = '  exclude: ["vendor/**"]  # third-party code\n'
    base = CONFIG_TEMPLATE + SETTINGS
    ours = base.replace(key, key + "  batch_files: 50\n").replace(
        exclude, '  exclude: ["vendor/**", "dist/**"]  # third-party code\n'
    )
    theirs = base.replace(
        key + limits, key + "  parse_timeout: 3\n\n# the agent's limits (see README)\n"
    ).replace(exclude, '  exclude: ["vendor/**"]  # vendored, and built\n')
    done = teammates(repo, {CONFIG: (ours, theirs)})
    assert done.returncode == 0, done.stdout + done.stderr  # before: a conflict
    assert (repo / CONFIG).read_text() == CONFIG_TEMPLATE + (
        "index:\n"
        '  exclude: ["vendor/**", "dist/**"]  # vendored, and built\n'
        "  max_file_bytes: 1000000\n"
        "  batch_files: 50\n"
        "  parse_timeout: 3\n"
        "\n"
        "# the agent's limits (see README)\n"
        "agent:\n"
        "  max_steps: 30\n"
    )


def test_one_key_set_to_two_values_is_the_one_conflict(repo):
    done, text = config_after(
        repo,
        ("  max_file_bytes: 1000000\n", "  max_file_bytes: 2000000\n  batch_files: 10\n"),
        ("  max_file_bytes: 1000000\n", "  max_file_bytes: 3000000\n"),
    )
    assert (
        done.returncode == 1
        and "CONFLICT (content): Merge conflict in .codemem/config.yml" in done.stdout
    )
    assert text == CONFIG_TEMPLATE + SETTINGS.replace(
        "  max_file_bytes: 1000000\n",
        "<<<<<<< ours\n  max_file_bytes: 2000000\n||||||| base\n  max_file_bytes: 1000000\n"
        "=======\n  max_file_bytes: 3000000\n>>>>>>> theirs\n  batch_files: 10\n",
    )


def test_a_config_that_does_not_parse_is_merged_as_lines_losing_nothing(repo):
    done, text = config_after(
        repo,
        ("  max_steps: 30\n", "  max_steps: 30\n  max_cost: [2.5\n"),  # broken YAML
        ("  max_steps: 30\n", "  max_steps: 30\n  command_timeout: 60\n"),
    )
    assert done.returncode == 1
    assert text == CONFIG_TEMPLATE + SETTINGS + (
        "<<<<<<< ours\n  max_cost: [2.5\n||||||| base\n=======\n  command_timeout: 60\n>>>>>>> theirs\n"
    )


def dismissal(reason: str, by: str, at: str) -> str:
    """A dismissal file as `codemem review --dismiss` writes it."""
    item = {"id": FINDING, "rule": "naming/python/function", "file": "shop/cart.py"}
    return json.dumps({**item, "reason": reason, "by": by, "at": at}, indent=2) + "\n"


FINDING = "3f9a2c41d0b7"
DISMISSED = f".codemem/review/dismissed/{FINDING}.json"


def test_one_finding_dismissed_by_two_teammates_keeps_both_reasons(repo):
    alice = dismissal("public API name", "alice", "2026-03-02T10:00:00Z")
    bob = dismissal("generated code", "bob", "2026-03-01T09:00:00Z")
    done = teammates(repo, {DISMISSED: (alice, bob)})
    assert done.returncode == 0, done.stdout + done.stderr
    both = json.loads((repo / DISMISSED).read_text())  # before: alice's reason alone
    assert both == {
        **json.loads(bob),
        "also": [{"reason": "public API name", "by": "alice", "at": "2026-03-02T10:00:00Z"}],
    }


def test_a_dismissal_reworded_on_both_sides_keeps_both_new_reasons(repo):
    (repo / DISMISSED).parent.mkdir(parents=True)
    (repo / DISMISSED).write_text(dismissal("old", "carol", "2026-01-01T00:00:00Z"))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "dismissed")
    alice = dismissal("public API name", "alice", "2026-03-02T10:00:00Z")
    bob = dismissal("generated code", "bob", "2026-03-01T09:00:00Z")
    done = teammates(repo, {DISMISSED: (alice, bob)})
    assert done.returncode == 0, done.stdout + done.stderr
    assert [(d["by"], d["reason"]) for d in entries(repo)] == [
        ("bob", "generated code"),
        ("alice", "public API name"),
    ]  # carol's, which both replaced, is gone


def entries(repo: Path) -> list[dict]:
    merged = json.loads((repo / DISMISSED).read_text())
    return [merged, *merged.get("also", [])]


def test_a_dismissal_that_is_no_json_on_one_side_is_a_conflict_keeping_both(repo):
    alice = dismissal("public API name", "alice", "2026-03-02T10:00:00Z")
    done = teammates(repo, {DISMISSED: (alice, "bob was here\n")})
    assert done.returncode == 1
    text = (repo / DISMISSED).read_text()
    assert "public API name" in text and "bob was here" in text and "<<<<<<< ours" in text


def test_a_dismissal_whose_also_is_no_list_is_a_conflict_not_a_crash():
    from codemem.conventions.dismissal_merge import dismissal_entries, merge_dismissals

    alice = dismissal("public API name", "alice", "2026-03-02T10:00:00Z")
    damaged = json.dumps(json.loads(alice) | {"also": 3})  # once a TypeError out of the driver
    bob = dismissal("generated code", "bob", "2026-03-01T09:00:00Z")
    assert merge_dismissals("", damaged, bob) is None
    with pytest.raises(ValueError, match="`also` is not a list of dismissals"):
        dismissal_entries(damaged)
