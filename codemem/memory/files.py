"""Memory files stay inside the repository: blocks, archive notes and digests, read and written.

A cloned repository can commit a symlink such as `.codemem/blocks/x.md -> /etc/passwd`; read
naively, the target would land in the agent's context, in `codemem memory show` and in every
MCP client. So a memory file is read only if it is a regular file whose real path lies inside
the repository: a link (or a folder, a FIFO, a path leading out) is skipped, never followed,
with one warning line naming it; the file is then read, and written, through its folders held
open from the repository root (`held_memory_path`), so a folder on its path swapped for a link
after that check (a checkout meanwhile) is not followed either. Writes refuse the same paths
with a `MemoryEditError`, and
so a path under a memory folder committed as a file (`blocks/users`), naming that file;
listing a folder that is a file names it too (`folder_in_the_way`).
A file is read whole, so one larger than `MAX_MEMORY_BYTES` (far beyond any block's limit) or
not UTF-8 text is a `BlockFormatError` naming it: a 500 MB block cannot fill the memory.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from codemem.errors import FileTooLarge, NotARegularFile, PathOutsideRepository
from codemem.infra import (
    confine,
    held_path,
    in_git_folder,
    line_ends,
    printable,
    private_dir,
    read_regular,
    read_regular_bytes,
    remove_file,
    replace_bytes,
)
from codemem.memory.errors import BlockFormatError, GitBusyError, MemoryEditError
from codemem.workspace import Workspace

log = logging.getLogger("codemem")
MAX_MEMORY_BYTES = 4 * 1024 * 1024  # blocks hold thousands of characters, digests a few pages
_warned: set[str] = set()  # one warning per file and process, however often it is scanned


def _check(ws: Workspace, path: Path) -> tuple[str | None, Path | None]:
    """Why `path` may not be used as a memory file (and None), else None and the regular file
    as `confine` resolves its path (None when nothing is there): one look at the path."""
    why, rel, exists = _look(ws, path)
    return why, ws.root / rel if rel is not None and exists else None


def _look(ws: Workspace, path: Path) -> tuple[str | None, str | None, bool]:
    """Why `path` may not be used as a memory file, else None, the path as `confine` resolves
    it (relative to the root) and whether a regular file is there: one look at the path."""
    try:
        rel = confine(ws.root, path.relative_to(ws.root).as_posix()).rel
    except (ValueError, PathOutsideRepository):
        return "it leads outside the repository", None, False
    if in_git_folder(rel):  # `.codemem/archive -> ../.git/refs/heads`: no note a ref
        return "it leads into git's own folder", None, False
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return None, rel, False
    except NotADirectoryError:  # `blocks/users` committed as a file: no block can be under it
        return f"{_shown(ws, _file_in_the_way(path))} is a file, not a folder", None, False
    if stat.S_ISLNK(mode):
        return "it is a symbolic link", None, False
    if not stat.S_ISREG(mode):
        return "it is not a regular file", None, False
    return None, rel, True


def folder_in_the_way(ws: Workspace, folder: Path) -> BlockFormatError | None:
    """One line naming a memory folder a clone committed as a file (`archive`, `blocks/users`,
    `digests`): nothing under it can be read or written. None when it is a folder, or missing
    (then nothing is there yet)."""
    if not os.path.lexists(folder) or os.path.isdir(folder):
        return None
    return BlockFormatError(
        f"{_shown(ws, folder)} is a file, not a folder: nothing under it can be read or "
        "written; move that file away (`git mv` it aside keeps its text)"
    )


def _file_in_the_way(path: Path) -> Path:
    """The nearest folder of `path` that is something else (a file, a FIFO)."""
    for folder in reversed(path.parents):
        if os.path.lexists(folder) and not os.path.isdir(folder):
            return folder
    return path.parent


def _shown(ws: Workspace, path: Path) -> str:
    try:
        return printable(path.relative_to(ws.root).as_posix())
    except ValueError:
        return printable(str(path))


def skip_file(ws: Workspace, path: Path, why: str) -> None:
    if why.endswith("not a folder"):  # once for the folder, not once per file it holds
        key, where = why, f"what is under {why.partition(' is a file')[0]}"
        rule = "move that file away (`git mv` it aside keeps its text)"
    else:
        key, where = str(path), _shown(ws, path)
        rule = "codemem reads memory only from regular files in the repository and never "
        rule += "follows links"
    if key not in _warned:
        _warned.add(key)
        log.warning("skipped %s: %s; %s", where, why, rule)


def memory_file(ws: Workspace, path: Path) -> Path | None:
    """`path` if it is a regular memory file inside the repository, as `confine` resolves it (a
    folder on it that is a link inside the repository followed, once); None (with a warning)
    if not. A missing file is None too, without a warning.
    """
    why, found = _check(ws, path)
    if why is not None:
        skip_file(ws, path, why)
    return found


def _held_found(ws: Workspace, found: Path) -> AbstractContextManager[Path]:
    """`found`, a path `memory_file` returned, through its folders held open from the root
    (`infra.held_path`): confined once already, so a folder on it swapped for a link since is
    `PathOutsideRepository`, never followed."""
    return held_path(ws.root, found.relative_to(ws.root).as_posix())


@contextmanager
def held_memory_path(ws: Workspace, checked: str, *, make_folders: bool = False) -> Iterator[Path]:
    """A memory file of the repository, `checked` (what `check_memory_write` returned for it:
    the path it resolved and checked, relative to the root), as a path through its folders
    held open from the root down (`infra.held_path`): never resolved again, so a folder on it
    swapped for a symbolic link since the check is `PathOutsideRepository`, never followed
    (a second resolution would have followed it, to `.git` say, unchecked). Missing folders
    are made with `make_folders`."""
    with held_path(ws.root, checked, make_folders=make_folders) as held:
        yield held


def moved_meanwhile(ws: Workspace, path: Path) -> MemoryEditError:
    """The error of a write whose path no longer leads where it was checked (a folder on it
    replaced by a link, `PathOutsideRepository`, or by a file, `NotADirectoryError`)."""
    return MemoryEditError(
        f"{_shown(ws, path)}: a folder on its path is no longer a folder of the repository "
        "(replaced, perhaps by a symbolic link); nothing was written"
    )


def read_memory_file(ws: Workspace, path: Path, *, inner_links: bool = False) -> str | None:
    """The text of a memory file, or None if it is missing or may not be read (see `memory_file`).

    `BlockFormatError` (one line naming the file and the fix) when it is larger than
    `MAX_MEMORY_BYTES` or not UTF-8 text.

    With `inner_links`, a link to a file inside the repository is read (`CLAUDE.md -> AGENTS.md`
    is common for instruction files); one that leads out is still skipped.
    """
    if inner_links and path.is_symlink():
        try:
            path = confine(ws.root, path.relative_to(ws.root).as_posix()).full
        except (ValueError, PathOutsideRepository):
            skip_file(ws, path, "it leads outside the repository")
            return None
        path = ws.root / path.relative_to(ws.root.resolve())
    found = memory_file(ws, path)
    if found is None:
        return None
    try:
        # O_NOFOLLOW, through the folders held: a link swapped in after the check is refused too
        with _held_found(ws, found) as held:
            return read_regular(held, max_bytes=MAX_MEMORY_BYTES)
    except PathOutsideRepository:
        skip_file(ws, path, "it leads outside the repository")
        return None
    except FileTooLarge:
        raise too_large(ws, path) from None
    except UnicodeDecodeError as exc:
        raise not_text(ws, path, exc) from None
    except (FileNotFoundError, NotADirectoryError):  # gone, or a folder of it made a file
        return None
    except NotARegularFile:  # replaced by a link or a FIFO since the check
        skip_file(ws, path, "it is not a regular file")
        return None


def read_memory_bytes(ws: Workspace, path: Path) -> bytes | None:
    """The bytes of a memory file as they are on disk, for a write made only over them
    (`replace_memory_file`); None if it is missing or may not be read (`memory_file`), and
    `BlockFormatError` when it is larger than `MAX_MEMORY_BYTES`."""
    found = memory_file(ws, path)
    if found is None:
        return None
    try:
        with _held_found(ws, found) as held:  # no link, even one swapped in now
            return read_regular_bytes(held, MAX_MEMORY_BYTES)
    except FileTooLarge:
        raise too_large(ws, path) from None
    except (FileNotFoundError, NotADirectoryError, NotARegularFile, PathOutsideRepository):
        return None


def read_own_file(ws: Workspace, path: Path) -> str | None:
    """The text of the user's own memory file, outside the repository (the personal block),
    through a link to it (kept in dotfiles); None when nothing is there. Read as
    `read_memory_file` reads: `BlockFormatError` when it is no regular file (a folder, a FIFO,
    never waited on), larger than `MAX_MEMORY_BYTES` or not UTF-8 text."""
    try:
        data = read_regular_bytes(path, MAX_MEMORY_BYTES, follow_links=True)
    except FileNotFoundError:
        return None
    except NotARegularFile:
        raise BlockFormatError(_not_a_file(ws, path)) from None
    except FileTooLarge:
        raise too_large(ws, path) from None
    try:
        return data.decode("utf-8").replace("\r\n", "\n")
    except UnicodeDecodeError as exc:
        raise not_text(ws, path, exc) from None


def check_own_file(ws: Workspace, path: Path) -> None:
    """Refuse (`MemoryEditError`) to write or remove the user's own memory file (see
    `read_own_file`) when something else than a file, or a link to one, is in its place."""
    if os.path.exists(path) and not os.path.isfile(path):
        raise MemoryEditError(_not_a_file(ws, path))


def _not_a_file(ws: Workspace, path: Path) -> str:
    return f"{_shown(ws, path)}: it is not a regular file; move it away first"


def replace_memory_file(ws: Workspace, path: Path, before: bytes | None, text: str) -> bool:
    """Write `text` to a memory file only if it still holds exactly the bytes `before` (None:
    only where no file is); False, and the file left as it is now, if it does not: a save
    made since `before` was read is never written over (`infra.replace_bytes`, under the
    file's lock, the new file waiting in `Workspace.swap_dir`). The text is written in the line
    ends `before` mostly uses: a file a teammate committed with CRLF keeps them, so its diff
    holds the lines whose meaning changed, not every line (a new file: git's for it on
    checkout, `Workspace.new_file_line_ends`)."""
    checked = check_memory_write(ws, path)
    check_memory_text(ws, path, text)
    lock = ws.ensure_local() / "locks" / "memory-files.lock"
    ends = ws.new_file_line_ends(path) if before is None else line_ends(before)
    data = text.replace("\r\n", "\n").replace("\n", ends).encode("utf-8")
    try:
        with held_memory_path(ws, checked, make_folders=True) as held:
            return replace_bytes(held, before, data, lock, folder=ws.swap_dir)
    except (PathOutsideRepository, NotADirectoryError):
        raise moved_meanwhile(ws, path) from None


class _Changed(Exception):
    """A file to remove holds other bytes than the caller read."""


def remove_memory_file(ws: Workspace, path: Path, before: bytes) -> bool:
    """Remove a derived memory file (a digest another one made redundant) only while it holds
    exactly the bytes `before`: moved aside into `.codemem/local/removing/<its folder>/` (never
    beside it, where `git add -A -- .codemem` would commit what a kill left), compared there,
    then removed (`infra.remove_file`), so a save made since `before` was read is put back and
    stays; one a kill left set aside is put back by `leftovers.put_back_memory_files`. True once no file
    is there; False, the file left as it is now, when it holds something else."""
    checked = check_memory_write(ws, path)
    aside = private_dir(private_dir(ws.ensure_local() / "removing") / path.parent.name)

    def same(data: bytes) -> None:
        if data != before:
            raise _Changed

    try:
        with held_memory_path(ws, checked) as held:
            remove_file(held, same, max_bytes=MAX_MEMORY_BYTES, folder=aside)
    except FileNotFoundError:  # removed by another pass meanwhile
        return True
    except (_Changed, NotARegularFile, FileTooLarge):
        return False
    except (PathOutsideRepository, NotADirectoryError):
        raise moved_meanwhile(ws, path) from None
    return not os.path.lexists(path)


class NotText(BlockFormatError):
    """A memory file that is not UTF-8 text, and the bytes of it that were read (`data`): a
    removal compares the file with them."""

    def __init__(self, message: str, data: bytes) -> None:
        super().__init__(message)
        self.data = data


def not_text(ws: Workspace, path: Path, exc: UnicodeDecodeError) -> NotText:
    """The error naming a memory file that is not UTF-8 text, and the fix."""
    where = _shown(ws, path)
    return NotText(
        f"{where}: not UTF-8 text ({exc.reason} at byte {exc.start}): re-save it as "
        f"UTF-8, or restore it with `git checkout -- {where}`",
        bytes(exc.object),
    )


def too_large(ws: Workspace, path: Path) -> BlockFormatError:
    where = _shown(ws, path)
    return BlockFormatError(
        f"{where}: larger than {MAX_MEMORY_BYTES:,} bytes, too large for a memory file: "
        f"shorten it, or restore it with `git checkout -- {where}`"
    )


def check_memory_size(ws: Workspace, path: Path) -> None:
    """Refuse (`BlockFormatError`) to edit a memory file too large to read (see `read_memory_file`):
    an edit reads the whole file first."""
    try:
        size = os.lstat(path).st_size
    except FileNotFoundError:
        return
    if size > MAX_MEMORY_BYTES:
        raise too_large(ws, path)


def check_memory_text(ws: Workspace, path: Path, text: str) -> None:
    """Refuse (`MemoryEditError`) to write `text` to a memory file when it is too large to be
    read back (`read_memory_file`): every read after would skip the file with a warning."""
    size = len(text.encode("utf-8", "surrogateescape"))
    if size > MAX_MEMORY_BYTES:
        raise MemoryEditError(
            f"{_shown(ws, path)} not written: {size:,} bytes, more than the "
            f"{MAX_MEMORY_BYTES:,} a memory file may hold; save a shorter text (what matters, "
            "and where the rest is)"
        )


def check_memory_write(ws: Workspace, path: Path) -> str:
    """Refuse (`MemoryEditError`) to write a memory file that is a link or leads out of the
    repository, and (`GitBusyError`) any while a git merge, rebase, cherry-pick, revert or
    bisect waits for the user: the file would be swept into that operation's commit, or stop
    its `--continue`. Returns the path checked, relative to the root, for the write to hold
    (`held_memory_path`'s `checked`)."""
    checked = check_memory_path(ws, path)
    check_git_idle(ws, path)
    return checked


def check_memory_path(ws: Workspace, path: Path) -> str:
    """`check_memory_write` less the git operation (`MemoryStore` lets through the one edit
    that is the merge's own work, a block's conflict markers resolved)."""
    why, rel, _ = _look(ws, path)
    if why is not None or rel is None:
        why = why or "it leads outside the repository"
        fix = (
            "move that file away first"
            if why.endswith("not a folder")
            else "codemem does not write memory through links: replace it with a regular file first"
        )
        raise MemoryEditError(f"{_shown(ws, path)}: {why}; {fix}")
    return rel


def check_git_idle(ws: Workspace, path: Path) -> None:
    """`GitBusyError` naming `path` while a git operation waits for the user, or while a sparse
    checkout leaves `.codemem/` out of the work tree."""
    left_out = ws.memory_left_out()
    if left_out is not None:
        raise GitBusyError(f"{_shown(ws, path)} not written: {left_out}")
    busy = ws.git_operation()
    if busy is not None:
        raise GitBusyError(
            f"{_shown(ws, path)} not written: {busy}; try again once it ends (memory written "
            "now would go into that operation's commit)"
        )
