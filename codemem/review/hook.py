"""The git pre-commit hook: `install_hook` and `uninstall_hook`.

The hook goes where git looks for hooks (`core.hooksPath` if set, else `.git/hooks`). A
pre-commit hook already there is not overwritten: it is renamed to
`pre-commit.codemem-chained` and run first (its failure stops the commit, as before);
uninstalling puts it back. The hook is a small POSIX sh script (`HOOK_SCRIPT`) that

- honours `SKIP=codemem` (comma-separated, as in the pre-commit framework); git itself
  honours `git commit --no-verify`;
- runs `codemem review --staged --hook` with the Python that installed it (else `codemem` on
  PATH), under GNU `timeout` (a hard ceiling) when the system has it;
- stops the commit only when the review reports findings at or above `review.fail_on`: the
  review writes `findings` to the file named by `$CODEMEM_HOOK_RESULT` before exiting 1, so
  any other failure (a crash, an import error, a kill) warns and lets the commit through.
"""

from __future__ import annotations

import os
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from codemem.infra import atomic_write, run_git
from codemem.review.errors import HookError
from codemem.workspace import Workspace

MARKER = "# codemem-hook v1"
HOOK_NAME = "pre-commit"
CHAINED_NAME = "pre-commit.codemem-chained"

HOOK_SCRIPT = """\
#!/bin/sh
__MARKER__
# Installed by `codemem hook install`; `codemem hook uninstall` removes it and puts back the
# hook it replaced (kept beside it as pre-commit.codemem-chained, and run first).
# Skip the review for one commit: SKIP=codemem git commit ... (or git commit --no-verify).

hook_dir=$(dirname -- "$0")
if [ -x "$hook_dir/pre-commit.codemem-chained" ]; then
    "$hook_dir/pre-commit.codemem-chained" "$@" || exit $?
fi

case ",$(printf '%s' "${SKIP-}" | tr -d ' ')," in
    *,codemem,*) echo "codemem: review skipped (SKIP=$SKIP)" >&2; exit 0 ;;
esac

python=__PYTHON__
if [ -x "$python" ]; then
    set -- "$python" -m codemem
elif command -v codemem >/dev/null 2>&1; then
    set -- codemem
else
    echo "codemem: warning: codemem is not installed; committing without review" >&2
    exit 0
fi
if timeout -k 1 5 true >/dev/null 2>&1; then
    set -- timeout -k 5 __OUTER_TIMEOUT__ "$@"
fi

verdict=$(mktemp 2>/dev/null) || verdict="${TMPDIR:-/tmp}/codemem-hook.$$"
CODEMEM_HOOK_RESULT=$verdict "$@" review --staged --hook
status=$?
result=$(cat "$verdict" 2>/dev/null)
rm -f "$verdict"
if [ "$status" -eq 0 ]; then
    exit 0
fi
if [ "$status" -eq 1 ] && [ "$result" = findings ]; then
    exit 1
fi
echo "codemem: warning: the review failed (exit $status); committing without review" >&2
exit 0
"""


@dataclass(frozen=True)
class HookChange:
    """What `install_hook` or `uninstall_hook` did."""

    status: str  # installed | updated | unchanged | removed | absent
    hook: Path
    chained: Path | None = None  # the earlier hook, now run first (install) or put back (uninstall)
    moved_aside: Path | None = None  # a leftover chained hook, kept under another name (--force)


def hooks_dir(ws: Workspace) -> Path:
    """Where git runs hooks from in this repository (`core.hooksPath` respected)."""
    out = run_git(ws.root, "rev-parse", "--git-path", "hooks").decode().strip()
    path = Path(out)
    return path if path.is_absolute() else ws.root / path


def hook_script(python: str | None = None, timeout: float = 10.0) -> str:
    """The hook's text for this interpreter; the outer `timeout` is a hard ceiling."""
    outer = int(max(120, 2 * timeout))
    return (
        HOOK_SCRIPT.replace("__MARKER__", MARKER)
        .replace("__PYTHON__", shlex.quote(python or sys.executable))
        .replace("__OUTER_TIMEOUT__", str(outer))
    )


def is_ours(path: Path) -> bool:
    """Whether the file at `path` is a hook codemem wrote."""
    try:
        with open(path, "rb") as handle:
            return MARKER.encode() in handle.read(1024)
    except OSError:
        return False


def _exists(path: Path) -> bool:
    return path.exists() or path.is_symlink()


def _aside(path: Path) -> Path:
    candidate, n = path.with_name(path.name + ".old"), 2
    while _exists(candidate):
        candidate, n = path.with_name(f"{path.name}.old{n}"), n + 1
    return candidate


def _write(path: Path, text: str) -> None:
    atomic_write(path, text, mode=0o755)  # executable, whatever the file it replaces was


def install_hook(
    ws: Workspace, *, force: bool = False, timeout: float = 10.0, python: str | None = None
) -> HookChange:
    """Install (or refresh) the pre-commit hook, chaining a hook that is already there."""
    folder = hooks_dir(ws)
    hook, chained = folder / HOOK_NAME, folder / CHAINED_NAME
    text = hook_script(python, timeout)
    if _exists(hook) and is_ours(hook):
        if hook.read_text(encoding="utf-8") == text:
            return HookChange("unchanged", hook, chained if _exists(chained) else None)
        _write(hook, text)
        return HookChange("updated", hook, chained if _exists(chained) else None)
    folder.mkdir(parents=True, exist_ok=True)
    moved = None
    if _exists(hook):
        if _exists(chained):
            if not force:
                raise HookError(
                    f"{hook} is not codemem's hook and {chained.name} is already taken (left from an "
                    "earlier install?); move one of them, or run `codemem hook install --force` to keep "
                    f"the old {chained.name} under another name and chain {hook.name}"
                )
            moved = _aside(chained)
            os.replace(chained, moved)
        os.replace(hook, chained)
        _write(hook, text)
        return HookChange("installed", hook, chained, moved)
    _write(hook, text)
    return HookChange("installed", hook, chained if _exists(chained) else None)


def uninstall_hook(ws: Workspace) -> HookChange:
    """Remove codemem's hook and put back the hook it chained, if any."""
    folder = hooks_dir(ws)
    hook, chained = folder / HOOK_NAME, folder / CHAINED_NAME
    if _exists(hook) and not is_ours(hook):
        raise HookError(f"{hook} is not codemem's hook; it was left alone")
    if not _exists(hook):
        return HookChange("absent", hook)
    hook.unlink()
    if _exists(chained):
        os.replace(chained, hook)
        return HookChange("removed", hook, hook)
    return HookChange("removed", hook)
