"""The hook cannot be bypassed: real commits through the installed hook that used to slip a key through.

Every secret-shaped value here is assembled at run time, so this file holds none of them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from review_helpers import append, brief, fake_aws_key, json_findings, review, stage, write

from codemem.cli import cli
from codemem.config import load_config
from codemem.infra import BlobReader
from codemem.review import diff as diff_module
from codemem.review.blobs import disk_chunks
from codemem.review.checks import leftovers, run_checks, secrets
from codemem.review.context import ReviewContext
from codemem.review.diff import Target, read_changes
from codemem.review.engine import NOT_INITIALIZED
from codemem.review.findings import Finding, finding_id
from codemem.review.limits import Budget
from codemem.review.patch import parse_patch
from codemem.workspace import Workspace
from tests.helpers import git

TOKEN = "ghp_" + "q7Xz2KjH4mPl9WrTa8VbN3cD5eF6gH1iJ0kL"  # codemem: ignore[secrets]
TOKEN_LINE = f'TOKEN = "{TOKEN}"'
FIX = "remove it, rotate it if it was ever pushed, and read it from the environment"
BYTES = "(read as bytes: the diff does not show this file as text)"
FOOTER = (
    "codemem: commit stopped by {n} at or above error. Fix {them}, or dismiss a false alarm with "
    "`codemem review --dismiss ID`; to commit anyway: SKIP=codemem git commit ... (or git commit --no-verify).\n"
)
ONE = FOOTER.format(n="1 finding", them="it")
LEARN = f"codemem: warning: {NOT_INITIALIZED}\n"  # these repositories have no .codemem/ yet


def install(repo: Path) -> Path:
    result = CliRunner().invoke(
        cli, ["--repo", str(repo), "hook", "install"], catch_exceptions=False
    )
    assert result.output == "Installed the codemem pre-commit hook at .git/hooks/pre-commit.\n"
    return repo


def commit(repo: Path):
    return git(repo, "commit", "-q", "-m", "change", check=False)


def head_subject(repo: Path) -> str:
    return git(repo, "log", "-1", "--format=%s").stdout.strip()


@pytest.fixture
def small(repo_factory):
    """A committed repository with `a.txt` and `b.py`, the hook installed."""
    repo = repo_factory(commit=False)
    stage(repo, {"a.txt": "notes\n", "b.py": "x = 1\n"})
    git(repo, "commit", "-q", "-m", "initial")
    return install(repo)


def test_a_type_change_does_not_hand_the_next_file_another_files_lines(small):
    append(small, "b.py", TOKEN_LINE + "\n")
    (small / "a.txt").unlink()
    (small / "a.txt").symlink_to("b.py")
    git(small, "add", "-A")
    result = commit(small)
    fid = finding_id("secrets/github-token", "b.py", TOKEN_LINE)
    assert (result.returncode, result.stderr) == (
        1,
        LEARN
        + (
            "b.py\n"
            "  2  error    GitHub token (ghp_…, 40 characters) in the change [secrets/github-token]\n"
            f"     fix: {FIX} · id {fid}\n"
            "\n"
            "1 finding (1 error) in 1 of 1 file reviewed.\n" + ONE
        ),
    )
    assert head_subject(small) == "initial"


def test_patch_blocks_are_keyed_by_path():
    patch = (
        b"diff --git a/a.txt b/a.txt\ndeleted file mode 100644\nindex 1..0\n--- a/a.txt\n+++ /dev/null\n"
        b"@@ -1 +0,0 @@\n-notes\n"
        b"diff --git a/a.txt b/a.txt\nnew file mode 120000\nindex 0..2\n--- /dev/null\n+++ b/a.txt\n"
        b"@@ -0,0 +1 @@\n+b.py\n"
        b"diff --git a/b.py b/b.py\nindex 3..4 100644\n--- a/b.py\n+++ b/b.py\n@@ -1,0 +2 @@ x = 1\n+two\n"
        b"diff --git a/my b/c d.py b/my b/c d.py\nindex 5..6 100644\n--- a/my b/c d.py\n+++ b/my b/c d.py\t\n"
        b"@@ -2,0 +3 @@\n+three\n"
        b'diff --git "a/q\\"\\303\\251.py" "b/q\\"\\303\\251.py"\nindex 7..8 100644\n'
        b"@@ -0,0 +1 @@\n+one\n"
        b"diff --git a/old.py b/new.py\nsimilarity index 90%\nrename from old.py\nrename to new.py\n"
        b"@@ -4,0 +5 @@\n+five\n"
        b"diff --git a/img.png b/img.png\nindex 9..a 100644\nBinary files a/img.png and b/img.png differ\n"
    )
    blocks = parse_patch(patch)
    assert {path: (block.texts, block.binary) for path, block in blocks.items()} == {
        "a.txt": ({1: "b.py"}, False),
        "b.py": ({2: "two"}, False),
        "my b/c d.py": ({3: "three"}, False),
        'q"é.py': ({1: "one"}, False),
        "new.py": ({5: "five"}, False),
        "img.png": ({}, True),
    }


@pytest.fixture
def ruled(shop):
    """The shop, with a rule that backtracks catastrophically even in `regex`, and one that does in `re`."""
    append(
        shop,
        ".codemem/blocks/conventions.md",
        "- never: /(a+)+$/\n- never: /(a|aa)+$/ — no runs of a\n",
    )
    write(
        shop, {".codemem/config.yml": "review:\n  hook_timeout: 300\n"}
    )  # only the rule's own limit counts
    git(shop, "add", "-A")
    git(shop, "commit", "-q", "-m", "rules")
    return install(shop)


def test_a_slow_rule_is_a_warning_naming_it_and_the_review_still_blocks_the_secret(ruled):
    rules = ruled / ".codemem/blocks/conventions.md"
    line = rules.read_text().splitlines().index("- never: /(a|aa)+$/ — no runs of a") + 1
    stage(ruled, {"shop/settings.py": f'RUN = "{"a" * 40}!"\n{TOKEN_LINE}\nprint(RUN)\n'})
    result = commit(ruled)
    slow = finding_id("conventions/slow-rule", ".codemem/blocks/conventions.md", "/(a|aa)+$/")
    token = finding_id("secrets/github-token", "shop/settings.py", TOKEN_LINE)
    printed = finding_id("conventions/never-print", "shop/settings.py", "print(RUN)")
    assert (result.returncode, result.stderr) == (
        1,
        (
            ".codemem/blocks/conventions.md\n"
            f"  {line}  warning  the rule /(a|aa)+$/ took longer than 0.5 s on this change and was skipped (catastrophic "
            "backtracking?) [conventions/slow-rule]\n"
            f"      fix: rewrite the regular expression without nested repetition, such as (a+)+ or (a|aa)+ · id {slow}\n"
            "\n"
            "shop/settings.py\n"
            "   2  error    GitHub token (ghp_…, 40 characters) in the change [secrets/github-token]\n"
            f"      fix: {FIX} · id {token}\n"
            "   3  error    `print(`: the conventions say never (.codemem/blocks/conventions.md:23) [conventions/never-print]\n"
            f"      fix: log through `logging.getLogger(__name__)` · id {printed}\n"
            "\n"
            "3 findings (2 errors, 1 warning) in 2 of 1 file reviewed.\n"
            + FOOTER.format(n="2 findings", them="them")
        ),
    )


def review_in_ci(repo: Path) -> subprocess.CompletedProcess[str]:
    """`codemem review --staged --format json` as CI runs it: a process with no time limit
    of its own (a test that hangs fails after two minutes)."""
    return subprocess.run(
        [sys.executable, "-m", "codemem", "review", "--staged", "--format", "json"],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_rule_scoped_by_a_glob_that_would_backtrack_never_stalls_the_review(shop):
    # A committed rule's `in` glob was a regular expression: `**/` twenty times against a
    # file forty folders deep backtracked for hours, so `codemem review` (CI's, which has no
    # time limit) hung and never reported the secret (the hook's limit cut the rule short).
    scope = "**/" * 20 + "*.py"
    append(shop, ".codemem/blocks/conventions.md", f"- never: `print(` in `{scope}`\n")
    git(shop, "add", "-A")
    git(shop, "commit", "-q", "-m", "rules")
    deep = "/".join(["d"] * 40)
    stage(shop, {f"{deep}/m.js": TOKEN_LINE + "\n", f"{deep}/m.py": "print(1)\n"})
    result = review_in_ci(shop)
    assert result.returncode == 1, result.stderr
    assert {(f[0], f[3]) for f in json_findings(result.stdout)} == {
        (f"{deep}/m.js", "secrets/github-token"),
        (f"{deep}/m.py", "conventions/never-print-2"),  # the shop has a never-print
    }


def test_a_rule_only_re_reads_is_skipped_not_matched_without_a_limit(shop):
    # `[[:alpha:]` is a set to `re` and an unclosed class to `regex`, so the rule was matched
    # by `re`, which no time limit stops: on a line of one long word, `codemem review` (CI's,
    # with no time limit) backtracked for hours and never reported the secret.
    rule = r"/(\w+\s?)+#[[:alpha:]/"
    append(shop, ".codemem/blocks/conventions.md", f"- never: {rule} — no tags\n")
    git(shop, "add", "-A")
    git(shop, "commit", "-q", "-m", "rules")
    stage(shop, {"shop/names.py": "a_long_name_for_a_constant_in_this_module = 1\n" + TOKEN_LINE})
    result = review_in_ci(shop)
    assert (result.returncode, result.stderr) == (1, "")
    assert {(f[0], f[3]) for f in json_findings(result.stdout)} == {
        (".codemem/blocks/conventions.md", "conventions/unbounded-rule"),
        ("shop/names.py", "secrets/github-token"),
    }


@pytest.mark.parametrize(
    "settings",
    [
        "severity: {secrets: 'off'}",
        "severity: {secrets/github-token: info}",
        "exclude: ['**']",
    ],
)
def test_a_clones_config_does_not_turn_the_secret_scan_off(shop, settings):
    # The committed config turned the secret rules off, or excluded every file from the
    # review: the hook let a key the user staged into their commit, without a word.
    write(shop, {".codemem/config.yml": f"review:\n  {settings}\n"})
    git(shop, "add", "-A")
    git(shop, "commit", "-q", "-m", "config")
    stage(shop, {"shop/keys.py": TOKEN_LINE + "\n"})
    assert brief(review(shop)) == [("shop/keys.py", 1, "error", "secrets/github-token")]


def bytes_report(path: str, what: str, secret: str, offset: int) -> str:
    fid = finding_id(f"secrets/{what[0]}", path, secret)
    return (
        f"{path}\n"
        f"  -  error    {what[1]} ({secret[:4]}…, {len(secret)} characters) in the change, at byte {offset:,} {BYTES} "
        f"[secrets/{what[0]}]\n"
        f"     fix: {FIX} · id {fid}\n"
        "\n"
    )


AWS = ("aws-access-key", "AWS access key ID")
GITHUB = ("github-token", "GitHub token")


def _png() -> bytes:
    return b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" + bytes(range(256)) * 4


@pytest.mark.parametrize("case", ["binary", "nul", "huge", "no-diff", "utf-16"])
def test_a_key_in_content_the_diff_does_not_show_stops_the_commit(small, case):
    if case == "binary":
        head = _png()
        files = {"logo.png": head + fake_aws_key().encode() + bytes(range(256))}
        path, what, secret, offset = "logo.png", AWS, fake_aws_key(), len(head)
    elif case == "nul":
        head = b"import os\x00\n"
        files = {"tool.py": head + TOKEN_LINE.encode() + b"\n"}
        path, what, secret, offset = "tool.py", GITHUB, TOKEN, len(head) + len('TOKEN = "')
    elif case == "huge":
        head = b"# filler line\n" * 80_000
        files = {"dump.sql": head + TOKEN_LINE.encode() + b"\n"}
        path, what, secret, offset = "dump.sql", GITHUB, TOKEN, len(head) + len('TOKEN = "')
    elif case == "no-diff":
        files = {".gitattributes": "*.cfg -diff\n", "deploy.cfg": f"key={fake_aws_key()}\n"}
        path, what, secret, offset = "deploy.cfg", AWS, fake_aws_key(), len("key=")
    else:
        files = {"settings.ini": b"\xff\xfe" + f"{TOKEN_LINE}\r\n".encode("utf-16-le")}
        path, what, secret, offset = "settings.ini", GITHUB, TOKEN, 2 + 2 * len('TOKEN = "')
    stage(small, files)
    result = commit(small)
    reviewed = "1 of 2 files" if case == "no-diff" else "1 of 1 file"
    assert (result.returncode, result.stderr) == (
        1,
        LEARN
        + bytes_report(path, what, secret, offset)
        + f"1 finding (1 error) in {reviewed} reviewed.\n"
        + ONE,
    )
    assert secret not in result.stderr
    assert head_subject(small) == "initial"


def test_a_changed_binary_reports_only_keys_its_old_version_did_not_hold(small):
    old_key, new_key = fake_aws_key(), "AKIA" + "ZZ7XZ2KJH4MPL9WR"
    stage(small, {"blob.bin": b"\0\1" + old_key.encode() + b"\0"})
    git(small, "commit", "-q", "--no-verify", "-m", "old key")
    stage(small, {"blob.bin": b"\0\1" + old_key.encode() + b"\0" + new_key.encode() + b"\0"})
    result = review(small)
    assert brief(result) == [("blob.bin", None, "error", "secrets/aws-access-key")]
    assert (
        result.findings[0].message
        == f"AWS access key ID (AKIA…, 20 characters) in the change, at byte 23 {BYTES}"
    )
    assert result.findings[0].id == finding_id("secrets/aws-access-key", "blob.bin", new_key)


def test_past_the_byte_budget_a_file_is_not_scanned_and_that_blocks(small, monkeypatch):
    monkeypatch.setattr(secrets, "MAX_SCAN_BYTES", 1000)
    stage(small, {"big.bin": b"\0" * 1500})
    result = review(small)
    assert brief(result) == [("big.bin", None, "error", "secrets/not-scanned")]
    assert result.findings[0].message == (
        "not scanned for secrets: 1,500 bytes is more than the 1,000 bytes it reads in one review"
    )


def test_untracked_binary_files_are_read_from_disk(small):
    write(small, {"notes.bin": b"\0\0" + TOKEN.encode() + b"\0"})
    assert brief(review(small, Target("worktree"))) == [
        ("notes.bin", None, "error", "secrets/github-token")
    ]


def test_git_blobs_and_disk_files_stream_in_chunks(small):
    data = os.urandom(10_000)
    write(small, {"r.bin": data})
    blob = git(small, "hash-object", "-w", "r.bin").stdout.strip()
    with BlobReader(small) as reader:
        size, chunks = reader.open(blob, size=4096)
        assert (size, [len(c) for c in chunks]) == (10_000, [4096, 4096, 1808])
        size, chunks = reader.open(blob)
        reader.skip()
        assert b"".join(reader.open(blob)[1]) == data
    assert b"".join(disk_chunks(small / "r.bin", size=3000)) == data


def test_a_check_that_hangs_is_cut_short_keeping_its_findings_and_the_others_still_run(shop):
    stage(shop, {"shop/x.py": "breakpoint()\n"})  # codemem: ignore
    config = load_config(None)
    ctx = ReviewContext(
        Workspace(shop), config, config.review, read_changes(shop, Target("staged"), 1_000_000)
    )

    def hangs(_ctx):
        yield Finding("hangs/first", "info", "shop/x.py", 1, "found before hanging")
        time.sleep(60)

    budget = Budget(1.0)
    started = time.monotonic()
    findings, warnings = run_checks(
        ctx, (("hanging", hangs), ("leftovers", leftovers.check)), budget
    )
    assert time.monotonic() - started < 5
    assert [(f.rule, f.line) for f in findings] == [("hangs/first", 1), ("leftovers/breakpoint", 1)]
    assert warnings == [
        "the hanging check took longer than 0.5 s, its share of the time limit, and was cut short"
    ]
    assert budget.ran_out == ["hanging"]


def test_a_secret_scan_that_fails_on_a_file_blocks_it_as_not_scanned(small, monkeypatch):
    def broken(*_args, **_kwargs):
        raise ValueError("boom")

    monkeypatch.setattr(secrets, "scan_line", broken)
    stage(small, {"c.py": "y = 2\n"})
    result = review(small)
    assert brief(result) == [("c.py", None, "error", "secrets/not-scanned")]
    assert (
        result.findings[0].message == "not scanned for secrets: the scan failed (ValueError: boom)"
    )


def test_a_file_swapped_for_a_pipe_after_its_check_is_not_waited_on(small, monkeypatch):
    # The work tree is read after `lstat` says "regular file" (the diff's contents, the secret
    # scan's stream): a pull swapping in a FIFO between the two left the review waiting for
    # a writer forever, the pre-commit hook with it.
    os.mkfifo(small / "pipe.py")
    regular = os.lstat(small / "b.py")
    monkeypatch.setattr(diff_module.os, "lstat", lambda path: regular)  # as before the swap
    previous = signal.signal(signal.SIGALRM, _waited)
    signal.alarm(5)
    try:
        assert list(disk_chunks(small / "pipe.py")) == []
        assert diff_module._read_disk(small, "pipe.py", 1_000_000) == (regular.st_size, None)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


class Waited(Exception):  # not an OSError, which the code under test may catch
    """The code waited for a FIFO's writer."""


def _waited(signum, frame):
    raise Waited


def test_a_key_in_a_file_whose_name_is_not_utf8_stops_the_commit(shop):
    # git gives such a name as bytes, read as lone surrogates: the findings remembered for
    # `--dismiss` could not be written with one (exit 3), and the hook let the commit through.
    install(shop)
    name = os.fsdecode(b"shop/caf\xe9.py")
    (shop / name).write_text(TOKEN_LINE + "\n", encoding="utf-8")
    git(shop, "add", "-A")
    result = subprocess.run(["git", "commit", "-q", "-m", "change"], cwd=shop, capture_output=True)
    fid = finding_id("secrets/github-token", name, TOKEN_LINE)
    assert (result.returncode, result.stderr.decode("utf-8", "replace")) == (
        1,
        "shop/caf\\xe9.py\n"
        "  1  error    GitHub token (ghp_…, 40 characters) in the change [secrets/github-token]\n"
        f"     fix: {FIX} · id {fid}\n"
        "\n"
        "1 finding (1 error) in 1 of 1 file reviewed.\n" + ONE,
    )
    assert git(shop, "log", "-1", "--format=%s").stdout.strip() == "initial"
