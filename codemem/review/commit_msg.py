"""The commit-msg hook: a commit message held against the learned commit-message conventions.

`commit_conventions` is the one reader of what the digest learned about commit messages: the
`commits` records of `.codemem/conventions.json`. `check_message` is pure and reads only the
records' `kind` and `value`. The hook script, like the pre-commit one, chains a commit-msg
hook that is already there, honours `SKIP=codemem`, and stops the commit only when the check
wrote `findings` to `$CODEMEM_HOOK_RESULT`: any failure of codemem itself warns and lets the
commit through.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Callable, Collection
from pathlib import Path

from codemem.conventions import CONVENTIONAL, ISSUE_REF, PAST, THIRD, VERBS, Rule, read_records
from codemem.review.errors import HookError
from codemem.review.hook import hooks_dir
from codemem.workspace import Workspace

MARKER = "# codemem-commit-msg-hook v1"
HOOK_NAME = "commit-msg"
CHAINED_NAME = "commit-msg.codemem-chained"
SUBJECT_LIMIT = 72

_SKIPPED = ("Merge ", 'Revert "', "fixup! ", "squash! ", "amend! ")

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


def commit_conventions(ws: Workspace) -> list[Rule]:
    """The commit-message rules the last digest learned (none before the first digest)."""
    return [rule for rule in read_records(ws) or [] if rule.topic == "commits"]


def subject_of(message: str) -> str | None:
    """The subject line of a commit message as git will record it (comments left out)."""
    for line in message.splitlines():
        if line.startswith("# ------------------------ >8 ------------------------"):
            break
        if line.startswith("#") or not line.strip():
            continue
        return line.strip()
    return None


def check_message(message: str, rules: list[Rule], min_share: float) -> list[str]:
    """The statements of the rules a message breaks, among those followed by `min_share` or more."""
    subject = subject_of(message)
    if subject is None or subject.startswith(_SKIPPED):
        return []  # git refuses an empty message itself; merges and fixups keep git's wording
    conventional = CONVENTIONAL.match(subject)
    summary = subject[subject.index(": ") + 2 :] if conventional else subject
    word = summary.split()[0].lower().strip(":,") if summary.split() else ""
    moods: dict[str, Collection[str]] = {"imperative": VERBS, "past": PAST, "third person": THIRD}

    def in_no_other_mood(forms: Collection[str]) -> Callable[[], bool]:
        return lambda: not any(word in other for other in moods.values() if other is not forms)

    follows: dict[tuple[str, str], Callable[[], bool]] = {
        ("commit-format", "Conventional Commits"): lambda: bool(conventional),
        **{("commit-mood", mood): in_no_other_mood(forms) for mood, forms in moods.items()},
        ("commit-case", "capital"): lambda: not summary[:1].islower(),
        ("commit-case", "lower"): lambda: not summary[:1].isupper(),
        ("commit-period", "no"): lambda: not subject.endswith("."),
        ("commit-period", "yes"): lambda: subject.endswith("."),
        ("commit-length", str(SUBJECT_LIMIT)): lambda: len(subject) <= SUBJECT_LIMIT,
        ("commit-issue-refs", "yes"): lambda: bool(ISSUE_REF.search(subject)),
    }
    broken = []
    for rule in rules:
        check = follows.get((rule.kind, rule.value or ""))
        if check is None or (rule.share is not None and rule.share < min_share):
            continue  # a rule no message can break (`commit-body`), or one too weak to enforce
        if not check():
            broken.append(rule.statement)
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


def install_commit_msg_hook(
    ws: Workspace, python: str | None = None
) -> tuple[str, Path, Path | None]:
    """Install the commit-msg hook: (installed|updated|unchanged, hook path, chained hook or None)."""
    folder = hooks_dir(ws)
    hook, chained = folder / HOOK_NAME, folder / CHAINED_NAME
    text = HOOK_SCRIPT.replace("__MARKER__", MARKER).replace(
        "__PYTHON__", shlex.quote(python or sys.executable)
    )
    status = "installed"
    if _exists(hook) and _is_ours(hook):
        if hook.read_text(encoding="utf-8") == text:
            return "unchanged", hook, chained if _exists(chained) else None
        status = "updated"
    elif _exists(hook):
        if _exists(chained):
            raise HookError(
                f"{hook} is not codemem's hook and {chained.name} is already taken; move one of them"
            )
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
