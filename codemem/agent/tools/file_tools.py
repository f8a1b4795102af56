"""File tools: `read_file`, `list_files`, `grep` (reading) and `edit_file`, `write_file`.

Files are the repository's tracked and untracked-not-ignored files, as git sees them. Every
path goes through `codemem.infra.confine`, and no tool follows a symlink out of the repository
(a link that leads out is neither listed nor searched). Writes ask the permission policy first,
showing the unified diff they would make, and are atomic (temp file and rename, mode kept).
Like any `.git` folder, the memory blocks, `.codemem/config.yml` (which holds these
permissions) and codemem's private `.codemem/local/` are never written here: blocks change
through the memory tools, which honour `read_only`. Files are opened so that a FIFO or a device
is refused rather than waited on, and none over `MAX_READ_BYTES` is read whole. `grep` matches
with the `regex` engine, whose timeout stops a pattern that would backtrack for ever. A write swaps
the new file in and checks that what it swapped out is, byte for byte, what the diff was made
from, else swaps it back (`infra.replace_bytes`: a change saved while the person looked at the
diff, or a moment before the swap, is never overwritten) and, before that, that its path still
resolves to the same place (a folder swapped for a symlink meanwhile is not written through). Paths printed into results go
through `codemem.infra.printable` (a newline in a name shows as `\n`).
"""

from __future__ import annotations

import difflib
import os
import re
import time
from typing import TYPE_CHECKING

import regex

from codemem.agent.tools.budget import cut_line, number_lines
from codemem.agent.tools.permissions import Request
from codemem.agent.tools.registry import ToolError, ToolFunction, ToolResult
from codemem.code import matches_any
from codemem.errors import FileTooLarge, NotARegularFile, PathOutsideRepository
from codemem.infra import (
    RepoPath,
    confine,
    git_text,
    held_path,
    printable,
    read_regular_bytes,
    replace_bytes,
)
from codemem.workspace import CODEMEM_DIR

if TYPE_CHECKING:
    from pathlib import Path

    from codemem.agent.tools.toolbox import ToolContext

MAX_READ_LINES = 600
MAX_LIST = 500
MAX_MATCHES = 200
MAX_GREP_BYTES = 2_000_000
GREP_SECONDS = 20.0  # for one grep call: a pattern that backtracks without end is stopped
MAX_READ_BYTES = 10_000_000  # read_file, edit_file and write_file read a file whole
_WILDCARDS = re.compile(r"[*?\[]")
_BLOCKS = f"{CODEMEM_DIR}/blocks/"
_CONFIG = f"{CODEMEM_DIR}/config.yml"
_LOCAL = f"{CODEMEM_DIR}/local/"
_IGNORE = f"{CODEMEM_DIR}/.gitignore"


def _read_bytes(full: Path, rel: str) -> bytes:
    """The file's bytes, opened so that a FIFO or a device is refused, never waited on."""
    try:
        return read_regular_bytes(full, MAX_READ_BYTES)
    except FileNotFoundError:
        raise ToolError(
            f"no such file: {rel}; use list_files or search_code to find the right path"
        ) from None
    except FileTooLarge:
        raise ToolError(
            f"{rel} is over {MAX_READ_BYTES // 1_000_000} MB: too large to read whole; use grep, "
            "or run_command with head or sed -n to see parts of it"
        ) from None
    except NotARegularFile:
        if full.is_dir():
            raise ToolError(f'{rel} is a directory: use list_files(glob="{rel}/**")') from None
        raise ToolError(
            f"{rel} is not a regular file (a FIFO, a device or a link); it cannot be read"
        ) from None


def _read_held(ctx: ToolContext, where: RepoPath, for_edit: bool = False) -> str:
    """`_read_text` of a confined path, through its folders held open (`infra.held_path`):
    a folder on it swapped for a link since `confine` checked it is not read through."""
    rel = printable(where.rel)
    try:
        with held_path(ctx.ws.root, where.rel) as full:
            return _read_text(full, rel, for_edit)
    except (FileNotFoundError, NotADirectoryError):  # a file where a folder of it would be
        raise ToolError(
            f"no such file: {rel}; use list_files or search_code to find the right path"
        ) from None
    except PathOutsideRepository:
        raise ToolError(_MOVED.format(rel=rel, done="nothing was read")) from None


def _read_text(full: Path, rel: str, for_edit: bool = False) -> str:
    data = _read_bytes(full, rel)
    if b"\0" in data[:8192]:
        raise ToolError(f"{rel} is a binary file ({len(data):,} bytes); it cannot be shown as text")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        if for_edit:  # writing it back as UTF-8 would change bytes nobody meant to change
            raise ToolError(f"{rel} is not UTF-8 text; it cannot be edited safely") from None
        return data.decode("latin-1")


def read_file(
    ctx: ToolContext, path: str, start_line: int | None = None, end_line: int | None = None
) -> str:
    """Read a text file of the repository, with line numbers (cite code as path:line).

    Long files are shown in parts; the result says how to read the next part.

    Args:
        path: Repository-relative path, e.g. src/app.py.
        start_line: First line to show (1-based); default: the first line.
        end_line: Last line to show (inclusive); default: as much as fits.
    """
    where = confine(ctx.ws.root, path)
    rel = printable(where.rel)
    lines = _read_held(ctx, where).splitlines()
    total = len(lines)
    if total == 0:
        return f"{rel} is empty."
    start = start_line or 1
    end = min(end_line or total, total)
    if start < 1 or start > total:
        raise ToolError(f"start_line {start} is out of range: {rel} has {total} lines")
    if end < start:
        raise ToolError(f"end_line {end_line} is before start_line {start}")
    budget = ctx.max_chars - 300
    shown: list[str] = []
    used = 0
    for line in lines[start - 1 : end]:
        cost = min(len(line), 2000) + 8
        if shown and (used + cost > budget or len(shown) >= MAX_READ_LINES):
            break
        shown.append(line)
        used += cost
    last = start + len(shown) - 1
    header = f"{rel} (lines {start}-{last} of {total})"
    text = f"{header}\n{number_lines(shown, start)}"
    if last < end:
        text += (
            f'\n[showing lines {start}-{last} of {total}; call read_file("{rel}", '
            f"start_line={last + 1}) to see more]"
        )
    return text


def repo_files(ctx: ToolContext) -> list[str]:
    """Tracked and untracked-not-ignored files that exist inside the repository, sorted.

    A symlink counts only if it leads to a file inside the repository: one that leads out is
    left out, so nothing lists, searches or reads through it.
    """
    listing = git_text(ctx.ws.root, "ls-files", "-co", "--exclude-standard", "-z")
    root = ctx.ws.root
    real_root = root.resolve()
    return sorted(
        {
            p
            for p in listing.split("\0")
            if p and (root / p).is_file() and (root / p).resolve().is_relative_to(real_root)
        }
    )


def _filter(ctx: ToolContext, files: list[str], glob: str | None) -> list[str]:
    if not glob or glob in ("**", "**/*", "*"):
        return files
    pattern = glob.strip().removeprefix("./")
    # os.path.isdir: a glob too long or with a NUL for a path is simply not a folder
    if not _WILDCARDS.search(pattern) and os.path.isdir(ctx.ws.root / pattern):
        pattern = pattern.rstrip("/") + "/**"
    return [p for p in files if matches_any(p, [pattern])]


def list_files(ctx: ToolContext, glob: str = "**") -> str:
    """List the repository's files (those git tracks or would track), filtered by a glob.

    Args:
        glob: A gitignore-style glob: ** spans folders, a bare name like *.py matches anywhere, a folder name lists everything under it.
    """
    files = _filter(ctx, repo_files(ctx), glob)
    if not files:
        return f"No files match {glob!r}."
    text = "\n".join(printable(p) for p in files[:MAX_LIST])
    if len(files) > MAX_LIST:
        text += f"\n[{len(files) - MAX_LIST:,} more files; narrow the glob to see them]"
    return text


def grep(ctx: ToolContext, pattern: str, glob: str | None = None) -> str:
    """Find lines matching a regular expression (Python syntax) across the repository's files.

    Use it for exact strings and identifiers; use search_code for concepts.

    Args:
        pattern: A Python regular expression; prefix with (?i) to ignore case.
        glob: Only files matching this glob, e.g. *.py or src/**.
    """
    try:
        line_regex = regex.compile(pattern)
        anywhere = regex.compile(pattern, regex.MULTILINE)  # a quick test of the whole file first
    except regex.error as exc:
        raise ToolError(f"invalid regular expression {pattern!r}: {exc}") from None
    try:
        return _grep(ctx, pattern, glob, line_regex, anywhere, time.monotonic() + GREP_SECONDS)
    except TimeoutError:  # the `regex` engine stops a search past its timeout; `re` never does
        raise ToolError(
            f"the pattern {pattern!r} took over {GREP_SECONDS:g} seconds: nested repetition "
            "like (a|aa)+ can backtrack without end on a long line; simplify it"
        ) from None


def _one_path_per_file(ctx: ToolContext, files: list[str]) -> list[str]:
    """`files` less the links to a file also among them: as `git grep`, which greps no link,
    a match shows once, under the file's own path. A link to a file not among them (another
    glob's, an ignored one) is kept: its path is the only one that reaches the text."""
    listed = set(files)
    root = ctx.ws.root
    real_root = root.resolve()
    kept = []
    for rel in files:
        path = root / rel
        if path.is_symlink():
            target = path.resolve()
            if (
                target.is_relative_to(real_root)
                and target.relative_to(real_root).as_posix() in listed
            ):
                continue
        kept.append(rel)
    return kept


def _grep(
    ctx: ToolContext,
    pattern: str,
    glob: str | None,
    line_regex: regex.Pattern[str],
    anywhere: regex.Pattern[str],
    deadline: float,
) -> str:
    matches: list[str] = []
    more = 0
    files_with_more: set[str] = set()
    budget = ctx.max_chars - 300
    used = 0
    for rel in _one_path_per_file(ctx, _filter(ctx, repo_files(ctx), glob)):
        try:
            # Listed as a regular file (or a link to one inside the repository), but a checkout
            # since may have made it a FIFO or a link to /dev/zero: never waited on nor read.
            data = read_regular_bytes(ctx.ws.root / rel, MAX_GREP_BYTES, follow_links=True)
        except (OSError, NotARegularFile, FileTooLarge):
            continue
        if b"\0" in data[:8192]:
            continue
        text = data.decode("utf-8", "replace")
        if not anywhere.search(text, timeout=max(deadline - time.monotonic(), 0.001)):
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if not line_regex.search(line, timeout=max(deadline - time.monotonic(), 0.001)):
                continue
            entry = f"{printable(rel)}:{number}: {cut_line(line.strip(), 300)}"
            if len(matches) >= MAX_MATCHES or used + len(entry) > budget:
                more += 1
                files_with_more.add(rel)
                continue
            matches.append(entry)
            used += len(entry) + 1
    if not matches:
        return f"No matches for {pattern!r}" + (f" in files matching {glob!r}." if glob else ".")
    text = "\n".join(matches)
    if more:
        text += (
            f"\n[{more:,} more matches in {len(files_with_more):,} files; "
            "narrow the pattern or the glob to see them]"
        )
    return text


def unified_diff(rel: str, before: str, after: str) -> str:
    """A unified diff of one file, as git would label it."""
    lines = difflib.unified_diff(
        before.splitlines(keepends=True),
        after.splitlines(keepends=True),
        fromfile=f"a/{rel}" if before else "/dev/null",
        tofile=f"b/{rel}",
        n=3,
    )
    out = []
    for line in lines:
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _confine_write(ctx: ToolContext, path: str) -> RepoPath:
    """`confine(..., for_write=True)`, also refusing memory blocks, codemem's config and its
    private state (`.codemem/local/`, whose index holds pickles codemem loads, and the
    `.codemem/.gitignore` that keeps it out of git)."""
    where = confine(ctx.ws.root, path, for_write=True)
    blocks, config = ctx.ws.blocks_dir.resolve(), ctx.ws.config_file.resolve()
    rel = where.rel.lower()  # .codemem/Blocks is the same folder on a case-insensitive disk
    if blocks in where.full.parents or rel.startswith(_BLOCKS):
        raise ToolError(
            f"{printable(where.rel)} is a core memory block: the file tools do not write "
            "blocks; use the memory tools (memory_append, memory_replace, memory_insert, "
            "memory_rethink), which keep each block's limit and its read_only setting"
        )
    if rel.startswith(_LOCAL) or rel == _IGNORE:
        raise ToolError(
            f"{printable(where.rel)}: codemem's private state (its index, conversations and "
            "locks, kept out of git by .codemem/.gitignore) is not written by the file tools"
        )
    if where.full == config or rel == _CONFIG:
        raise ToolError(
            f"{printable(where.rel)} is codemem's configuration, including the permissions that "
            "govern these tools: the agent cannot change it; tell the user what to change"
        )
    return where


def _current_text(ctx: ToolContext, where: RepoPath) -> str | None:
    """The file's text as an edit reads it, or None if there is no file (nor a link) there."""
    if not where.full.exists() and not where.full.is_symlink():
        return None
    return _read_held(ctx, where, for_edit=True)


_MOVED = (
    "{rel} no longer leads where it did when it was read (a folder on its path was replaced, "
    "perhaps by a symbolic link); {done}"
)


def _write_unchanged(ctx: ToolContext, where: RepoPath, before: str | None, after: str) -> None:
    """Replace the file with `after` atomically, unless it no longer holds `before` (None: it
    did not exist): someone changed it after it was read, perhaps while the person looked at
    the diff, and writing would silently undo their change. A folder on the path that became
    a symlink meanwhile (a pull, another program) would lead the write somewhere else, perhaps
    out of the repository: the write goes through its folders
    held open, from the root down with no link followed (`infra.held_path`), so one swapped
    after that is not written through either."""
    # swapped in, then compared byte for byte (`infra.replace_bytes`): a save up to the swap
    # itself is put back, never overwritten
    # the new file waits in .codemem/local/swapping/, where a kill leaves nothing for git
    lock = ctx.ws.ensure_local() / "locks" / "files.lock"
    old = None if before is None else before.encode()
    rel = printable(where.rel)
    try:
        with held_path(ctx.ws.root, where.rel, make_folders=True) as full:
            written = replace_bytes(full, old, after.encode(), lock, folder=ctx.ws.swap_dir)
    except NotADirectoryError as exc:
        raise ToolError(
            f"{rel}: {printable(str(exc.filename))} on its path is a file, not a folder; "
            "nothing was written"
        ) from None
    except (PathOutsideRepository, FileNotFoundError):
        raise ToolError(_MOVED.format(rel=rel, done="nothing was written")) from None
    if not written:
        raise ToolError(
            f"{rel} changed after it was read (while the change waited for "
            "approval?); nothing was written: read it again and redo the change"
        )


def edit_file(ctx: ToolContext, path: str, old_string: str, new_string: str) -> ToolResult:
    """Edit a file by replacing one exact piece of text; shows the resulting diff.

    Read the file first. old_string must occur exactly once: copy it exactly (without the
    line-number prefix of read_file), including indentation, with enough context to be unique.

    Args:
        path: Repository-relative path of an existing file.
        old_string: The exact text to replace.
        new_string: The text to put in its place.
    """
    where = _confine_write(ctx, path)
    rel = printable(where.rel)
    if not where.full.exists():
        raise ToolError(f"no such file: {rel}; use write_file to create a new file")
    before = _read_held(ctx, where, for_edit=True)
    if not old_string:
        raise ToolError("old_string is empty: copy the exact text to replace from the file")
    if old_string == new_string:
        raise ToolError("old_string and new_string are the same: nothing would change")
    old, new = old_string, new_string
    if "\r\n" in before and old not in before:  # the model writes \n; the file uses \r\n
        old, new = old.replace("\n", "\r\n"), new.replace("\n", "\r\n")
    count = before.count(old)
    if count == 0:
        hint = ""
        if old.strip() and before.count(old.strip()) == 1:
            hint = " (it occurs once without the surrounding whitespace: check indentation)"
        raise ToolError(
            f"old_string was not found in {rel}{hint}; read the file and copy the text "
            "exactly, without the line numbers"
        )
    if count > 1:
        lines = []
        start = 0
        for _ in range(min(count, 5)):
            found = before.index(old, start)
            lines.append(str(_line_of(before, found)))
            start = found + 1
        raise ToolError(
            f"old_string occurs {count} times in {rel} (lines {', '.join(lines)}): "
            "include more surrounding text so it matches exactly one place"
        )
    at = before.index(old)
    after = before[:at] + new + before[at + len(old) :]
    diff = unified_diff(rel, before, after)
    ctx.permissions.check(Request("edit_file", where.rel, f"edit {rel}", diff))
    _write_unchanged(ctx, where, before, after)
    ctx.file_changed(where.rel)
    first = _line_of(after, at)
    last = first + new.count("\n")
    return ToolResult(
        f"Edited {rel} (lines {first}-{last} now).\n{diff}",
        data={"path": where.rel, "diff": diff},
    )


def write_file(ctx: ToolContext, path: str, content: str) -> ToolResult:
    """Create a file, or replace a file's whole content (prefer edit_file for changes).

    Args:
        path: Repository-relative path; missing folders are created.
        content: The complete content of the file.
    """
    where = _confine_write(ctx, path)
    rel = printable(where.rel)
    before = _current_text(ctx, where)
    if before == content:
        return ToolResult(f"{rel} already has exactly this content; nothing changed.")
    diff = unified_diff(rel, before or "", content)
    lines = content.count("\n") + (0 if content.endswith("\n") or not content else 1)
    action = "overwrite" if before is not None else "create"
    summary = f"{action} {rel} ({lines} lines)"
    ctx.permissions.check(Request("write_file", where.rel, summary, diff))
    _write_unchanged(ctx, where, before, content)
    ctx.file_changed(where.rel)
    done = "Overwrote" if before is not None else "Created"
    text = f"{done} {rel} ({lines} lines)."
    if before is not None:
        text += "\n" + diff
    return ToolResult(text, data={"path": where.rel, "diff": diff})


FILE_READ_TOOLS: list[ToolFunction] = [read_file, list_files, grep]
FILE_WRITE_TOOLS: list[ToolFunction] = [edit_file, write_file]
