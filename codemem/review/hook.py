"""codemem's git hooks: one script template, installing with chaining, and the pre-commit hook.

A hook goes where git looks for hooks (`core.hooksPath` if set, else `.git/hooks`). A hook
already there is not overwritten: it is renamed to `<name>.codemem-chained` and run first
(its failure stops the commit, as before); uninstalling puts it back. Every hook is a small
POSIX sh script written from one template (`HookScript`) that

- honours `SKIP=codemem` (comma-separated, as in the pre-commit framework); git itself
  honours `git commit --no-verify`;
- runs codemem with the Python that installed it (else `codemem` on PATH), never a
  `codemem/` folder of the repository it runs in (`merge_driver.codemem_argv`);
- stops the commit only when codemem reports findings: it writes `findings` to the file
  named by `$CODEMEM_HOOK_RESULT` before exiting 1, so any other failure (a crash, an import
  error, a kill) warns and lets the commit through.

The pre-commit hook (`PRE_COMMIT`) runs `codemem review --staged --hook` under GNU
`timeout` (a hard ceiling) when the system has it, and stops the commit on findings at or
above `review.fail_on`. The commit-msg hook is in `codemem.review.commit_msg`.
"""

from __future__ import annotations

import os
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from codemem.infra import atomic_write, git_path, rename_new
from codemem.merge_driver import codemem_argv
from codemem.review.errors import HookError
from codemem.workspace import Workspace

_TEMPLATE = """\
#!/bin/sh
__MARKER__
__ABOUT__
# Skip it for one commit: SKIP=codemem git commit ... (or git commit --no-verify).

hook_dir=$(dirname -- "$0")
if [ -x "$hook_dir/__CHAINED__" ]; then
    "$hook_dir/__CHAINED__" "$@" || exit $?
fi

case ",$(printf '%s' "${SKIP-}" | tr -d ' ')," in
    *,codemem,*) __ON_SKIP__exit 0 ;;
esac

__SETUP__python=__PYTHON__
if [ -x "$python" ]; then
    set -- "$python" __PYTHON_ARGS__
elif command -v codemem >/dev/null 2>&1; then
    set -- codemem
else
    __ON_MISSING__exit 0
fi
__WRAP__
verdict=$(mktemp 2>/dev/null) || verdict="${TMPDIR:-/tmp}/__TEMP_NAME__.$$"
trap 'rm -f "$verdict"' EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
CODEMEM_HOOK_RESULT=$verdict "$@" __COMMAND__
status=$?
result=$(cat "$verdict" 2>/dev/null)
if [ "$status" -eq 1 ] && [ "$result" = findings ]; then
    exit 1
fi
if [ "$status" -ne 0 ]; then
    echo "codemem: warning: __FAILED__" >&2
fi
exit 0
"""


@dataclass(frozen=True)
class HookScript:
    """One of codemem's git hooks: its name, and what its script says and runs."""

    name: str  # git's name for the hook: "pre-commit"
    marker: str  # the line that says codemem wrote the file
    install: str  # the command that installs it
    about: str  # comment lines after the marker
    command: str  # codemem's arguments
    failed: str  # the warning when codemem fails (`$status` is its exit code)
    temp_name: str  # the verdict file's name where there is no mktemp
    on_skip: str = ""  # shell run before `exit 0` when SKIP names codemem
    on_missing: str = ""  # ... and when codemem is not installed
    setup: str = ""  # lines before codemem is looked for
    wrap: str = ""  # lines after it is found (they may change "$@")

    @property
    def chained_name(self) -> str:
        """Where a hook that was already there is kept (and run from)."""
        return f"{self.name}.codemem-chained"

    def script(self, python: str | None = None, **values: str) -> str:
        """The hook's text for this interpreter; `values` fill `__KEY__` slots of `wrap`."""
        text = _TEMPLATE
        for key, value in (
            ("ABOUT", self.about),
            ("SETUP", self.setup),
            ("WRAP", self.wrap),
            ("ON_SKIP", self.on_skip),
            ("ON_MISSING", self.on_missing),
            ("MARKER", self.marker),
            ("CHAINED", self.chained_name),
            ("TEMP_NAME", self.temp_name),
            ("COMMAND", self.command),
            ("FAILED", self.failed),
            ("PYTHON", shlex.quote(python or sys.executable)),
            ("PYTHON_ARGS", shlex.join(codemem_argv(python)[1:])),
            *values.items(),
        ):
            text = text.replace(f"__{key.upper()}__", value)
        return text


PRE_COMMIT = HookScript(
    name="pre-commit",
    marker="# codemem-hook v1",
    install="codemem hook install",
    about=(
        "# Installed by `codemem hook install`; `codemem hook uninstall` removes it and puts back the\n"
        "# hook it replaced (kept beside it as pre-commit.codemem-chained, and run first)."
    ),
    command="review --staged --hook",
    failed="the review failed (exit $status); committing without review",
    temp_name="codemem-hook",
    on_skip='echo "codemem: review skipped (SKIP=$SKIP)" >&2; ',
    on_missing=(
        'echo "codemem: warning: codemem is not installed; committing without review" >&2\n    '
    ),
    # GNU timeout runs the command in a process group of its own unless `--foreground`, and a
    # Ctrl-C reaches only the terminal's: git would end while the review (and the model call
    # it may make) went on in the background, writing over the prompt.
    wrap=(
        "if timeout --foreground -k 1 5 true >/dev/null 2>&1; then\n"
        '    set -- timeout --foreground -k 5 __OUTER_TIMEOUT__ "$@"\n'
        "elif timeout -k 1 5 true >/dev/null 2>&1; then\n"
        '    set -- timeout -k 5 __OUTER_TIMEOUT__ "$@"\n'
        "fi\n"
    ),
)
MARKER = PRE_COMMIT.marker


@dataclass(frozen=True)
class HookChange:
    """What `install_script` or `uninstall_script` did."""

    status: str  # installed | updated | unchanged | removed | restored | absent
    hook: Path
    chained: Path | None = None  # the earlier hook, now run first (install) or put back (uninstall)
    moved_aside: Path | None = None  # a leftover chained hook, kept under another name (--force)


def hooks_dir(ws: Workspace) -> Path:
    """Where git runs hooks from in this repository (`core.hooksPath` respected)."""
    return git_path(ws.root, "hooks")


def hook_script(python: str | None = None, timeout: float = 10.0) -> str:
    """The pre-commit hook's text for this interpreter; the outer `timeout` is a hard ceiling."""
    return PRE_COMMIT.script(python, OUTER_TIMEOUT=str(int(max(120, 2 * timeout))))


def is_ours(path: Path, marker: str = MARKER) -> bool:
    """Whether the file at `path` is a hook codemem wrote (by default, the pre-commit hook)."""
    try:
        with open(path, "rb") as handle:
            return marker.encode() in handle.read(1024)
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
    return install_script(ws, PRE_COMMIT, hook_script(python, timeout), force=force)


def uninstall_hook(ws: Workspace) -> HookChange:
    """Remove codemem's pre-commit hook and put back the hook it chained, if any."""
    return uninstall_script(ws, PRE_COMMIT)


def install_script(
    ws: Workspace, kind: HookScript, text: str, *, force: bool = False
) -> HookChange:
    """Install (or refresh) a hook whose script is `text`, chaining a hook that is already there.

    A chained hook left over from an earlier install is kept under another name with `force`;
    without it, the install is refused.
    """
    folder = hooks_dir(ws)
    hook, chained = folder / kind.name, folder / kind.chained_name
    if _exists(hook) and is_ours(hook, kind.marker):
        if hook.read_text(encoding="utf-8") == text:
            return HookChange("unchanged", hook, chained if _exists(chained) else None)
        _write(hook, text)
        return HookChange("updated", hook, chained if _exists(chained) else None)
    folder.mkdir(parents=True, exist_ok=True)
    moved = None
    if _exists(hook):
        if _exists(chained) and not _same_file(hook, chained):
            if not force:
                raise HookError(
                    f"{hook} is not codemem's hook and {chained.name} is already taken (left from an "
                    f"earlier install?); move one of them, or run `{kind.install} --force` to keep "
                    f"the old {chained.name} under another name and chain {hook.name}"
                )
            moved = _aside(chained)
            os.replace(chained, moved)
        _chain(hook, chained, text)
        return HookChange("installed", hook, chained, moved)
    _write(hook, text)
    return HookChange("installed", hook, chained if _exists(chained) else None)


def uninstall_script(ws: Workspace, kind: HookScript) -> HookChange:
    """Remove codemem's hook of this kind and put back the hook it chained, if any."""
    folder = hooks_dir(ws)
    hook, chained = folder / kind.name, folder / kind.chained_name
    if _exists(hook) and not is_ours(hook, kind.marker):
        raise HookError(f"{hook} is not codemem's hook; it was left alone")
    if not _exists(hook):
        if _exists(chained):  # an uninstall (or an older install) cut short between its steps
            rename_new(chained, hook)
            return HookChange("restored", hook, hook)
        return HookChange("absent", hook)
    if _exists(chained):
        os.replace(chained, hook)  # ours gone and theirs back in one step: a kill keeps one hook
        return HookChange("removed", hook, hook)
    hook.unlink()
    return HookChange("removed", hook)


def _same_file(one: Path, other: Path) -> bool:
    """Whether two names are links to one file (neither name's own link followed)."""
    try:
        first, second = os.lstat(one), os.lstat(other)
    except OSError:
        return False
    return (first.st_dev, first.st_ino) == (second.st_dev, second.st_ino)


def _chain(hook: Path, chained: Path, text: str) -> None:
    """Keep the hook that is there as `chained` and put ours in its place.

    The hook is linked under its chained name first, and ours then replaces it in one step:
    a kill between the two leaves the hook that was there in place, running as before, and
    the next install, finding both names one file, goes on. (A move then a write left no
    hook at all for a moment, and the user's stopped running for good if killed there.)
    Where the file system has no hard links, the move it was.
    """
    if not _same_file(hook, chained):
        try:
            os.link(hook, chained, follow_symlinks=False)
        except FileExistsError:
            raise
        except OSError:
            os.replace(hook, chained)
    _write(hook, text)
