"""Many memory files of a few folders read at once (the blocks folder listed): each folder
confined and held open once, each file then one stat and one open through it.

`read_memory_file` resolves a file's whole path (`confine`) and opens its folders from the root
down (`held_path`) for every file: right for one file, and three quarters of listing 20,000
blocks (`benchmarks/memory_scale.py`). Here the folder is resolved, checked and held as
`read_memory_file` would for a file in it, so a folder swapped for a link after that is never
followed; the file in it is read as `read_memory_file` reads it: no link, no FIFO, at most
`MAX_MEMORY_BYTES`, UTF-8, with the same warning or error line for each that is not.
"""

from __future__ import annotations

import os
import stat
from contextlib import ExitStack
from pathlib import Path
from types import TracebackType

from codemem.errors import FileTooLarge, NotARegularFile, PathOutsideRepository
from codemem.infra import confine, held_path, in_git_folder, read_regular
from codemem.memory.files import MAX_MEMORY_BYTES, memory_file, not_text, skip_file, too_large
from codemem.workspace import Workspace


class FolderReads:
    """`read(path)`, `read_memory_file(ws, path)` for files of folders held open while this
    is entered (`with FolderReads(ws) as reads:`)."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self._stack = ExitStack()
        self._held: dict[Path, Path | str] = {}  # a folder: held as, or why none of it is read

    def __enter__(self) -> FolderReads:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stack.close()

    def _hold(self, folder: Path) -> Path | str:
        """The folder through its descriptor, or why no file of it may be read."""
        try:
            rel = confine(self.ws.root, folder.relative_to(self.ws.root).as_posix()).rel
        except (ValueError, PathOutsideRepository):
            return "it leads outside the repository"
        if in_git_folder(rel):  # `.codemem/blocks -> ../.git/refs`: no block a ref
            return "it leads into git's own folder"
        try:
            # a name in it, so the walk opens the folder itself; its parent is the folder held
            return self._stack.enter_context(held_path(self.ws.root, f"{rel}/_")).parent
        except PathOutsideRepository:
            return "it leads outside the repository"
        except (FileNotFoundError, NotADirectoryError):
            return ""  # gone meanwhile: its files are missing, no warning

    def read(self, path: Path) -> str | None:
        """The text of the memory file `path`, or None (with `read_memory_file`'s warning)."""
        held = self._held.get(path.parent)
        if held is None:
            held = self._held[path.parent] = self._hold(path.parent)
        if isinstance(held, str):
            if held:
                skip_file(self.ws, path, held)
            return None
        target = held / path.name
        try:
            mode = os.lstat(target).st_mode
        except (FileNotFoundError, NotADirectoryError):
            return None
        if not stat.S_ISREG(mode):  # a link or a FIFO: rare, warned of as for one file
            memory_file(self.ws, path)
            return None
        try:
            # O_NOFOLLOW, through the folder held: a link swapped in after the stat is refused
            return read_regular(target, max_bytes=MAX_MEMORY_BYTES)
        except FileTooLarge:
            raise too_large(self.ws, path) from None
        except UnicodeDecodeError as exc:
            raise not_text(self.ws, path, exc) from None
        except (FileNotFoundError, NotADirectoryError):
            return None
        except NotARegularFile:  # replaced by a link or a FIFO since the stat
            skip_file(self.ws, path, "it is not a regular file")
            return None
