"""The commit-msg hook: messages held against the learned commit-message conventions."""

from __future__ import annotations

import shlex
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from review_helpers import fake_aws_key

from codemem.cli import cli
from codemem.conventions import Rule, render_records
from codemem.merge_driver import codemem_argv
from codemem.review.commit_msg import (
    check_message,
    commit_conventions,
    subject_of,
)
from codemem.sleep import push_memory
from codemem.sleep.publish import COMMIT_MESSAGE
from codemem.workspace import Workspace
from tests.helpers import git

# how this Python's hook line starts codemem (`-P -m codemem`; Python 3.10 has no -P)
OUR_ARGS = shlex.join(codemem_argv()[1:])

RULES = [
    Rule(
        "commits",
        None,
        "Commit subjects follow Conventional Commits (`type(scope): summary`)",
        0.95,
        kind="commit-format",
        value="Conventional Commits",
    ),
    Rule(
        "commits",
        None,
        "Commit subjects use the imperative mood (`Add x`, not `Added x`)",
        0.9,
        kind="commit-mood",
        value="imperative",
    ),
    Rule(
        "commits",
        None,
        "Commit subjects do not end with a period",
        1.0,
        kind="commit-period",
        value="no",
    ),
    Rule(
        "commits",
        None,
        "Commit subjects are at most 72 characters",
        0.7,
        kind="commit-length",
        value="72",
    ),
    Rule(
        "commits",
        None,
        "Commit subjects reference an issue (#123 or KEY-123)",
        0.85,
        kind="commit-issue-refs",
        value="yes",
    ),
    Rule(
        "commits",
        None,
        "Commits are usually a subject line only",
        0.85,
        kind="commit-body",
        value="no",
    ),
]
NAMING = Rule(
    "naming",
    "python",
    "Python functions are named in snake_case",
    1.0,
    kind="naming",
    subject="function",
    value="snake_case",
)


@pytest.fixture
def learned(shop):
    """The review shop with commit-message rules among its learned records."""
    (shop / ".codemem/conventions.json").write_text(render_records([NAMING, *RULES]))
    git(shop, "add", "-A")
    git(shop, "commit", "-qm", "learned")
    return shop


def test_the_reader_keeps_the_commit_rules(learned):
    # Records keep a rule's band, not its exact share (committed memory stays stable): a
    # rule comes back with its band and the band's lower bound as its share.
    bands = [
        ("almost-all", 0.95),
        ("most", 0.8),
        ("all", 1.0),
        ("many", 0.6),
        ("most", 0.8),
        ("most", 0.8),
    ]
    assert commit_conventions(Workspace(learned)) == [
        replace(rule, band=band, share=share)
        for rule, (band, share) in zip(RULES, bands, strict=True)
    ]


def test_no_records_no_rules(shop):
    assert commit_conventions(Workspace(shop)) == []


@pytest.mark.parametrize(
    ("message", "broken"),
    [
        ("feat(cart): add checkout (#1)\n", []),
        (
            "Updated the cart.\n",
            [
                "Commit subjects follow Conventional Commits (`type(scope): summary`)",
                "Commit subjects use the imperative mood (`Add x`, not `Added x`)",
                "Commit subjects do not end with a period",
                "Commit subjects reference an issue (#123 or KEY-123)",
            ],
        ),
        (
            "# a comment git drops\n\nfix: adds rounding (#3)\n",
            ["Commit subjects use the imperative mood (`Add x`, not `Added x`)"],
        ),
        ("fix: " + "x" * 80 + " #1\n", []),  # the length rule is followed by only 70%: not checked
        ("Merge branch 'main' into topic\n", []),
        ("fixup! feat: add checkout\n", []),
        ("# only comments\n", []),
    ],
)
def test_check_message(message, broken):
    assert check_message(message, RULES, min_share=0.8) == broken


def test_the_subject_stops_at_the_scissors_line():
    assert subject_of("\n# ------------------------ >8 ------------------------\nfeat: x\n") is None
    assert subject_of("  feat: x  \nbody\n") == "feat: x"


def test_check_message_command(learned, tmp_path):
    message = tmp_path / "MSG"
    message.write_text("Updated the cart\n")
    result = CliRunner().invoke(
        cli, ["--repo", str(learned), "hook", "check-message", str(message)]
    )
    assert result.exit_code == 1
    assert result.stderr == (
        "codemem: the commit message does not follow the conventions in memory:\n"
        "  - Commit subjects follow Conventional Commits (`type(scope): summary`)\n"
        "  - Commit subjects use the imperative mood (`Add x`, not `Added x`)\n"
        "  - Commit subjects reference an issue (#123 or KEY-123)\n"
    )
    good = CliRunner().invoke(
        cli,
        ["--repo", str(learned), "hook", "check-message", "-"],
        input="fix(cart): round totals (#12)\n",
    )
    assert (good.exit_code, good.output) == (0, "")


def commit(repo: Path, subject: str, env: dict | None = None):
    (repo / "notes.md").write_text(subject + "\n")
    git(repo, "add", "-A")
    return git(repo, "commit", "-q", "-m", subject, env=env, check=False)


def test_the_installed_hook_stops_a_message_that_breaks_a_convention(learned):
    installed = CliRunner().invoke(cli, ["--repo", str(learned), "hook", "install", "--commit-msg"])
    assert installed.output == "Installed the codemem commit-msg hook at .git/hooks/commit-msg.\n"
    stopped = commit(learned, "feat: added notes")
    assert stopped.returncode == 1
    assert (
        "  - Commit subjects use the imperative mood (`Add x`, not `Added x`)\n" in stopped.stderr
    )
    assert "SKIP=codemem git commit" in stopped.stderr
    assert commit(learned, "feat: add notes (#7)").returncode == 0
    assert commit(learned, "Notes.", env={"SKIP": "codemem"}).returncode == 0


def test_the_hook_lets_digest_push_commit_its_memory(learned, tmp_path):
    # codemem's own memory commit is no person's message: it follows none of the rules
    # learned here (Conventional Commits, an issue reference), and must not stop `--push`.
    remote = tmp_path / "remote.git"
    git(tmp_path, "clone", "-q", "--bare", str(learned), str(remote))
    git(learned, "remote", "add", "origin", str(remote))
    CliRunner().invoke(cli, ["--repo", str(learned), "hook", "install", "--commit-msg"])
    (learned / ".codemem/archive").mkdir(exist_ok=True)
    (learned / ".codemem/archive/note.md").write_text("A note.\n")
    pushed = push_memory(Workspace(learned), branch="main")
    assert pushed.commit is not None
    assert git(remote, "log", "-1", "--format=%s", "main").stdout == f"{COMMIT_MESSAGE}\n"
    assert check_message(f"{COMMIT_MESSAGE}\n", RULES, min_share=0.8) == []


def test_the_hook_never_blocks_on_codemems_own_failure(learned):
    CliRunner().invoke(cli, ["--repo", str(learned), "hook", "install", "--commit-msg"])
    (learned / ".codemem/config.yml").write_text("review:\n  min_share: lots\n")
    done = commit(learned, "Notes.")
    assert done.returncode == 0
    assert "the message was not checked" in done.stderr


def test_uninstall_restores_the_hook_it_chained(shop):
    hooks = shop / ".git/hooks"
    hooks.mkdir(exist_ok=True)
    (hooks / "commit-msg").write_text("#!/bin/sh\nexit 0\n")
    (hooks / "commit-msg").chmod(0o755)
    installed = CliRunner().invoke(cli, ["--repo", str(shop), "hook", "install", "--commit-msg"])
    assert (
        "The hook that was there runs first: .git/hooks/commit-msg.codemem-chained.\n"
        in installed.output
    )
    removed = CliRunner().invoke(cli, ["--repo", str(shop), "hook", "uninstall", "--commit-msg"])
    assert removed.output == (
        "Removed the codemem commit-msg hook from .git/hooks/commit-msg.\n"
        "Restored the hook it had replaced at .git/hooks/commit-msg.\n"
    )
    assert (hooks / "commit-msg").read_text() == "#!/bin/sh\nexit 0\n"


def test_hook_status_names_the_commit_msg_hook_too(shop):
    def status() -> str:
        return CliRunner().invoke(cli, ["--repo", str(shop), "hook", "status"]).output

    CliRunner().invoke(cli, ["--repo", str(shop), "hook", "install", "--commit-msg"])
    assert status() == (
        "Not installed (no pre-commit hook at .git/hooks/pre-commit).\n"
        "The commit-msg hook is installed at .git/hooks/commit-msg.\n"
    )
    path = shop / ".git/hooks/commit-msg"
    path.write_text(path.read_text().replace(f" {OUR_ARGS}", " -m codemem"))  # as 0.2.0 wrote
    CliRunner().invoke(cli, ["--repo", str(shop), "hook", "install"])
    assert status() == (
        "Installed at .git/hooks/pre-commit.\n"
        "The commit-msg hook is installed at .git/hooks/commit-msg; written by another codemem "
        "version: `codemem hook install --commit-msg` updates it.\n"
    )
    CliRunner().invoke(cli, ["--repo", str(shop), "hook", "uninstall", "--commit-msg"])
    assert status() == "Installed at .git/hooks/pre-commit.\n"


def test_a_leftover_chained_hook_is_kept_only_with_force(shop):
    hooks = shop / ".git/hooks"
    hooks.mkdir(exist_ok=True)
    (hooks / "commit-msg").write_text("#!/bin/sh\nexit 0\n")
    (hooks / "commit-msg.codemem-chained").write_text("#!/bin/sh\n")
    args = ["--repo", str(shop), "hook", "install", "--commit-msg"]
    refused = CliRunner().invoke(cli, args)
    assert refused.exit_code == 2
    assert "run `codemem hook install --commit-msg --force` to keep" in refused.stderr
    forced = CliRunner().invoke(cli, [*args, "--force"])
    assert forced.output.splitlines()[:3] == [
        "Installed the codemem commit-msg hook at .git/hooks/commit-msg.",
        "Kept the leftover commit-msg.codemem-chained as .git/hooks/commit-msg.codemem-chained.old.",
        "The hook that was there runs first: .git/hooks/commit-msg.codemem-chained.",
    ]
    assert (hooks / "commit-msg.codemem-chained").read_text() == "#!/bin/sh\nexit 0\n"
    assert (hooks / "commit-msg.codemem-chained.old").read_text() == "#!/bin/sh\n"


def test_the_hook_stops_a_message_holding_a_secret(shop):
    # The staged files were scanned for keys, the message that goes with them was not: a key
    # pasted into a message went out with the commit, where no later commit takes it out.
    CliRunner().invoke(cli, ["--repo", str(shop), "hook", "install", "--commit-msg"])
    key = fake_aws_key()
    message = f"Add the deploy notes\n\nKey: {key}\n"
    stopped = commit(shop, message)
    assert stopped.returncode == 1
    assert stopped.stderr == (
        "codemem: the commit message holds a secret (remove it; rotate it if it was ever "
        "pushed):\n"
        "  - line 3: AWS access key ID (AKIA…, 20 characters)\n"
        "Edit the message (git keeps it in .git/COMMIT_EDITMSG), or commit anyway: "
        "SKIP=codemem git commit ... (or git commit --no-verify).\n"
    )
    assert key not in stopped.stderr
    assert git(shop, "log", "-1", "--format=%s").stdout == "initial\n"  # nothing committed
    # a broken configuration checks no conventions, and still stops the secret
    (shop / ".codemem/config.yml").write_text("review:\n  min_share: lots\n")
    again = commit(shop, message)
    assert again.returncode == 1
    assert "the conventions were not checked" in again.stderr
    assert "  - line 3: AWS access key ID (AKIA…, 20 characters)\n" in again.stderr
    # what git leaves out of the message (comments, `commit -v`'s diff) is not the message
    (shop / ".codemem/config.yml").unlink()
    checked = CliRunner().invoke(
        cli,
        ["--repo", str(shop), "hook", "check-message", "-"],
        input=f"Add notes\n# {key}\n# ------------------------ >8 ------------------------\n"
        f"+{key}\n",
    )
    assert (checked.exit_code, checked.output) == (0, "")
    assert commit(shop, "Add the notes").returncode == 0


def test_a_message_secret_has_the_level_the_staged_review_gives_it(shop):
    # The staged review gives a finding the level `review.severity` sets and stops at
    # `review.fail_on`; the message check went by the scan's own levels alone: a team that
    # made high-entropy strings errors, or stops at warnings, still let them into messages.
    blob = "q7Xz2KjH4mPl9WrTa8VbN3cD5eF6gH1i"  # codemem: ignore[secrets]

    def check(message: str):
        return CliRunner().invoke(
            cli, ["--repo", str(shop), "hook", "check-message", "-"], input=message
        )

    doubtful = f'Add the fixture\n\nSeed it with "{blob}".\n'
    warned = check(doubtful)
    assert (warned.exit_code, warned.output) == (
        0,
        "codemem: warning: the commit message may hold a secret: line 3: high-entropy string "
        f"({blob[:4]}…, 32 characters)\n",
    )
    config = shop / ".codemem/config.yml"
    config.write_text("review:\n  severity:\n    secrets/high-entropy: error\n")
    assert check(doubtful).exit_code == 1
    config.write_text("review:\n  fail_on: warning\n")
    stopped = check(doubtful)
    assert stopped.exit_code == 1
    assert "  - line 3: high-entropy string" in stopped.output
    key = f"Add the deploy notes\n\nKey: {fake_aws_key()}\n"
    config.write_text("review:\n  severity:\n    secrets: off\n")
    assert check(key).exit_code == 1  # a clone's config turns no secret rule down...
    trust(config)
    assert (check(key).exit_code, check(key).output) == (0, "")  # ...until trusted: as the review
    config.write_text("review:\n  severity:\n    secrets/aws-access-key: warning\n")
    trust(config)
    assert check(key).exit_code == 0


def trust(config: Path) -> None:
    """Trust what the project file `config` withholds, as `codemem config trust` does."""
    from codemem.config import read_yaml_file, user_config_dir
    from codemem.config.trust import record_trust, withheld_settings

    record_trust(config, withheld_settings(read_yaml_file(config)), user_config_dir())
