"""The commit-msg hook: a commit message held against the learned commit-message conventions.

`commit_conventions` is the one reader of what the digest learned about commit messages (today
the statements in `blocks/conventions.md`; once the miner writes structured records, only this
function changes). `check_message` is pure. The hook script, like the pre-commit one, chains a
commit-msg hook that is already there, honours `SKIP=codemem`, and stops the commit only when
the check wrote `findings` to `$CODEMEM_HOOK_RESULT`: any failure of codemem itself warns and
lets the commit through.
"""

from __future__ import annotations

import os
import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from codemem.review.conventions import LABEL, REGION_END, REGION_START
from codemem.review.errors import HookError
from codemem.review.hook import hooks_dir
from codemem.workspace import Workspace

MARKER = "# codemem-commit-msg-hook v1"
HOOK_NAME = "commit-msg"
CHAINED_NAME = "commit-msg.codemem-chained"
SUBJECT_LIMIT = 72

_SHARE = re.compile(r"\s+\((\d+)%: ([\d,]+) of ([\d,]+)[^)]*\)\s*$")
_SKIPPED = ("Merge ", "Revert \"", "fixup! ", "squash! ", "amend! ")

HOOK_SCRIPT = """\
#!/bin/sh
__MARKER__
# Installed by `codemem hook install --commit-msg`: checks the message against the learned
# commit-message conventions. `codemem hook uninstall --commit-msg` removes it.
# Skip it for one commit: SKIP=codemem git commit ... (or git commit --no-verify).

hook_dir=$(dirname -- "$0")
if [ -x "$hook_dir/commit-msg.codemem-chained" ]; then
    "$hook_dir/commit-msg.codemem-chained" "$@" || exit $?
fi

case ",$(printf '%s' "${SKIP-}" | tr -d ' ')," in
    *,codemem,*) exit 0 ;;
esac

message=$1
python=__PYTHON__
if [ -x "$python" ]; then
    set -- "$python" -m codemem
elif command -v codemem >/dev/null 2>&1; then
    set -- codemem
else
    exit 0
fi

verdict=$(mktemp 2>/dev/null) || verdict="${TMPDIR:-/tmp}/codemem-msg.$$"
CODEMEM_HOOK_RESULT=$verdict "$@" hook check-message --hook "$message"
status=$?
result=$(cat "$verdict" 2>/dev/null)
rm -f "$verdict"
if [ "$status" -eq 1 ] && [ "$result" = findings ]; then
    exit 1
fi
if [ "$status" -ne 0 ]; then
    echo "codemem: warning: the commit-message check failed (exit $status); committing anyway" >&2
fi
exit 0
"""


@dataclass(frozen=True)
class CommitConvention:
    """One thing memory says about commit messages, and the share of commits that follow it."""

    statement: str
    share: float  # 1.0 for one written by hand outside the learned region


def commit_conventions(ws: Workspace) -> list[CommitConvention]:
    """What memory holds about commit messages (the one reader: switch it to records here)."""
    try:
        text = (ws.blocks_dir / f"{LABEL}.md").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return []
    found, learned = [], False
    for line in text.splitlines():
        stripped = line.strip()
        if stripped in (REGION_START, REGION_END):
            learned = stripped == REGION_START
            continue
        if not stripped.startswith(("- Commit subjects", "- Commits")):
            continue
        statement, share = stripped[2:], 1.0
        counts = _SHARE.search(statement)
        if counts:
            statement = statement[: counts.start()]
            matched, total = (int(n.replace(",", "")) for n in counts.groups()[1:])
            share = matched / total if learned and total else 1.0
        found.append(CommitConvention(statement, share))
    return found


def subject_of(message: str) -> str | None:
    """The subject line of a commit message as git will record it (comments left out)."""
    for line in message.splitlines():
        if line.startswith("# ------------------------ >8 ------------------------"):
            break
        if line.startswith("#") or not line.strip():
            continue
        return line.strip()
    return None


def check_message(message: str, conventions: list[CommitConvention], min_share: float) -> list[str]:
    """The statements a message breaks, among the conventions followed by `min_share` or more."""
    subject = subject_of(message)
    if subject is None or subject.startswith(_SKIPPED):
        return []  # git refuses an empty message itself; merges and fixups keep git's wording
    # Imported here: the sleep package costs half a second that most commits need not pay.
    from codemem.sleep.commit_style import CONVENTIONAL, ISSUE_REF, PAST, THIRD

    match = CONVENTIONAL.match(subject)
    summary = subject[subject.index(": ") + 2 :] if match else subject
    first_word = summary.split()[0].lower().strip(":,") if summary.split() else ""
    checks = {
        "Commit subjects follow Conventional Commits": lambda: bool(match),
        "Commit subjects use the imperative mood": lambda: first_word not in PAST and first_word not in THIRD,
        "Commit subjects start with a capital letter": lambda: not summary[:1].islower(),
        "Commit subjects start in lower case": lambda: not summary[:1].isupper(),
        "Commit subjects do not end with a period": lambda: not subject.endswith("."),
        f"Commit subjects are at most {SUBJECT_LIMIT} characters": lambda: len(subject) <= SUBJECT_LIMIT,
        "Commit subjects reference an issue": lambda: bool(ISSUE_REF.search(subject)),
    }
    broken = []
    for convention in conventions:
        if convention.share < min_share:
            continue
        check = next((test for start, test in checks.items() if convention.statement.startswith(start)), None)
        if check is not None and not check():
            broken.append(convention.statement)
    return broken


# -- installing the hook --------------------------------------------------------------------


def _exists(path: Path) -> bool:
    return path.exists() or path.is_symlink()


def _is_ours(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            return MARKER.encode() in handle.read(1024)
    except OSError:
        return False


def install_commit_msg_hook(ws: Workspace, python: str | None = None) -> tuple[str, Path, Path | None]:
    """Install the commit-msg hook: (installed|updated|unchanged, hook path, chained hook or None)."""
    folder = hooks_dir(ws)
    hook, chained = folder / HOOK_NAME, folder / CHAINED_NAME
    text = HOOK_SCRIPT.replace("__MARKER__", MARKER).replace("__PYTHON__", shlex.quote(python or sys.executable))
    status = "installed"
    if _exists(hook) and _is_ours(hook):
        if hook.read_text(encoding="utf-8") == text:
            return "unchanged", hook, chained if _exists(chained) else None
        status = "updated"
    elif _exists(hook):
        if _exists(chained):
            raise HookError(f"{hook} is not codemem's hook and {chained.name} is already taken; move one of them")
        os.replace(hook, chained)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = hook.with_name(f".{hook.name}.codemem-tmp")
    tmp.write_text(text, encoding="utf-8")
    os.chmod(tmp, 0o755)
    os.replace(tmp, hook)
    return status, hook, chained if _exists(chained) else None


def uninstall_commit_msg_hook(ws: Workspace) -> tuple[str, Path, Path | None]:
    """Remove the commit-msg hook: (removed|absent, hook path, restored hook or None)."""
    folder = hooks_dir(ws)
    hook, chained = folder / HOOK_NAME, folder / CHAINED_NAME
    if not _exists(hook):
        return "absent", hook, None
    if not _is_ours(hook):
        raise HookError(f"{hook} is not codemem's hook; it was left alone")
    hook.unlink()
    if _exists(chained):
        os.replace(chained, hook)
        return "removed", hook, hook
    return "removed", hook, None
