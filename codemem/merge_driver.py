"""How git starts codemem: the command line of the hooks, the watch daemon and the merge
driver (`codemem_argv`), and the `merge=codemem` driver each clone registers for `.codemem/`."""

from __future__ import annotations

import logging
import os
import re
import shlex
import sys

from codemem.errors import CodememError, FileTooLarge, GitError, NotARegularFile
from codemem.infra import git_config, read_regular, run_git
from codemem.workspace import CODEMEM_DIR, Workspace

log = logging.getLogger("codemem")

# `.codemem/.gitattributes`: every memory file goes through git's `codemem` merge driver.
GITATTRIBUTES = """\
# Concurrent edits to memory are merged by `codemem merge-file` (set up by any codemem command).
* merge=codemem
.gitattributes -merge
.gitignore -merge
"""
MERGE_DRIVER_KEY = "merge.codemem.driver"
ATTRIBUTES_MAX_BYTES = 64 * 1024  # init writes four lines

# `python -m codemem` puts the current folder first on the import path, and git runs hooks and
# merge drivers in the work tree: a repository holding a `codemem/` package (or a `click.py`,
# a `yaml.py`...) would have its own code run instead. `-P` (3.11) leaves that folder out; 3.10
# has no such flag, so the entry point drops it itself before importing anything.
# (One expression: no `;` or `#`, which git's config file would take for a comment.)
_SAFE_START_310 = (
    "[__import__('sys').path.pop(0), __import__('runpy')"
    ".run_module('codemem', run_name='__main__', alter_sys=True)]"
)


def codemem_argv(python: str | None = None) -> list[str]:
    """The command that starts codemem with `python` (default: this one), importing it from
    where that Python installed it, never from the current folder."""
    interpreter = python or sys.executable
    if sys.version_info >= (3, 11):
        return [interpreter, "-P", "-m", "codemem"]
    return [interpreter, "-c", _SAFE_START_310]


def merge_driver_command() -> str:
    """The driver line for this clone: the Python running codemem now, so no PATH is needed."""
    return f"{shlex.join(codemem_argv())} merge-file %O %A %B %P"


def read_attributes(ws: Workspace) -> str:
    """The text of `.codemem/.gitattributes`, read as git reads it: never through a link.

    `CodememError` (one line naming the file and the fix) when it is a link, not a file, too
    large or not UTF-8 text, so a cloned link to `/dev/zero` or to a file outside the
    repository is never read; `OSError` (`FileNotFoundError`) when it cannot be opened.
    """
    path = ws.dir / ".gitattributes"
    where = f"{CODEMEM_DIR}/.gitattributes"
    fix = f"restore it with `git checkout -- {where}` (it names the merge driver)"
    try:
        return read_regular(path, max_bytes=ATTRIBUTES_MAX_BYTES)
    except NotARegularFile:
        raise CodememError(f"{where}: not a regular file (a link?), ignored: {fix}") from None
    except FileTooLarge:
        raise CodememError(
            f"{where}: larger than {ATTRIBUTES_MAX_BYTES:,} bytes, ignored: {fix}"
        ) from None
    except UnicodeDecodeError:
        raise CodememError(f"{where}: not UTF-8 text, ignored: {fix}") from None


_DRIVER_LINE = re.compile(r'^\[merge "codemem"\][^\[]*?^\s*driver\s*=\s*(.+)$', re.M)


_CONFIG_ESCAPES = {"\\": "\\", '"': '"', "n": "\n", "t": "\t", "b": "\b"}


def _config_value(raw: str) -> str | None:
    """A value as written in a git config file, read as git reads it: `"` quotes (removed),
    `\\`, `\\"`, `\\n`, `\\t`, `\\b` escapes, a `#` or `;` outside quotes starting a comment,
    white space outside quotes one space each, none at the ends. None for what one line cannot
    say (a value continued on the next line, an unknown escape, an open quote): ask git.

    Git writes a value holding `"` or `\\` escaped and one holding `#` or `;` quoted, as the
    driver line is for a Python under a folder so named, or started by `-c '...'` (3.10)."""
    value: list[str] = []
    quoted, spaces, chars = False, 0, iter(raw.rstrip("\r\n"))
    for char in chars:
        if char.isspace() and not quoted:
            spaces += bool(value)
            continue
        if char in "#;" and not quoted:
            break
        value.append(" " * spaces)
        spaces = 0
        if char == "\\":
            escaped = _CONFIG_ESCAPES.get(next(chars, ""))
            if escaped is None:
                return None
            value.append(escaped)
        elif char == '"':
            quoted = not quoted
        else:
            value.append(char)
    return None if quoted else "".join(value)


def _gone(command: str) -> bool:
    """Whether `command` is codemem's driver run by a Python that is gone (a virtualenv
    removed, a Python upgraded under it): git could not run it, and would leave every memory
    file both sides changed conflicted, holding only our side and no markers."""
    try:
        program, *rest = shlex.split(command)
    except ValueError:
        return False
    ours = _is_ours(program, rest)
    return ours and os.path.isabs(program) and not os.path.exists(program)


def _is_ours(program: str, rest: list[str]) -> bool:
    """Whether a driver command runs codemem (any form an install of codemem ever wrote)."""
    return (
        rest[:2] == ["-m", "codemem"]
        or rest[:3] == ["-P", "-m", "codemem"]
        or rest[:2] == ["-c", _SAFE_START_310]
        or program.endswith("codemem")
    )


def _unsafe(command: str) -> bool:
    """Whether `command` is the driver line older versions wrote, `python -m codemem ...`,
    which git runs in the work tree: it imports a `codemem/` folder of the repository being
    merged before codemem itself. (A line the user changed is theirs to keep.)"""
    try:
        _program, *rest = shlex.split(command)
    except ValueError:
        return False
    return rest == ["-m", "codemem", "merge-file", "%O", "%A", "%B", "%P"]


def configure_merge_driver(ws: Workspace) -> bool:
    """Register `codemem merge-file` as this clone's `merge=codemem` driver if it is not yet.

    Git keeps drivers in the clone's own config (never in a committed file), so each clone
    sets it once: `codemem init`, `digest --push`, and the first command of any codemem
    run in a clone that lacks it. Only a repository whose `.codemem/.gitattributes` asks
    for the driver is changed; a driver of codemem's whose Python is gone is set again, to
    the Python running now. Cheap when there is nothing to do (no git process for a plain
    clone). A driver line as older versions wrote it (`python -m codemem`, see `_unsafe`) is
    set again too. Returns whether it was set now.
    """
    try:
        wanted = "merge=codemem" in read_attributes(ws)
    except CodememError as exc:  # damaged: it must not stop every command, and is named once
        log.warning("%s", exc)
        return False
    except OSError:
        return False
    if not wanted:
        return False
    config = ws.root / ".git" / "config"  # a plain clone; a worktree's .git is a file: ask git
    try:
        text = config.read_text(encoding="utf-8", errors="replace") if config.is_file() else ""
    except OSError:
        text = ""
    set_here = _DRIVER_LINE.search(text)
    command = _config_value(set_here.group(1)) if set_here else None
    if command is None:
        command = git_config(ws.root, MERGE_DRIVER_KEY)
    if command is not None and not _gone(command) and not _unsafe(command):
        return False
    try:
        # the command first: a driver with a name but no command is a fatal error to git
        run_git(ws.root, "config", "--local", MERGE_DRIVER_KEY, merge_driver_command())
        run_git(ws.root, "config", "--local", "merge.codemem.name", "codemem memory merge")
    except GitError:
        return False
    return True
