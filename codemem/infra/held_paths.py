"""A file's folder held open: reached from the repository root one folder at a time, no link
followed, and every later step of a read or a write taken relative to that open folder.

`confine` checks a path, but a check is over the moment it returns: a folder on the path
swapped for a link to a folder outside the repository (by a checkout, a pull, another program)
between the check and the write would lead the write, or a read, out of the repository.
`held_path` opens each folder of a confined path with `O_DIRECTORY | O_NOFOLLOW` relative to the
one above it (`openat`), from the root down, making a missing one with `mkdirat`, and hands out
the file's path through the last folder's descriptor, `/proc/self/fd/<fd>/<name>`: the kernel
resolves that to the folder that was opened, wherever it is now and whatever is at its old
name, so every open, link, rename, exchange and unlink the compare-and-swap makes there
(`infra/swaps.py`, unchanged) acts in that folder, as its `*at` call on the descriptor would.
Where the system has no `/proc/self/fd` (not Linux), the walk is still made, as a check just
before the write, and the plain path handed out.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path

from codemem.errors import PathOutsideRepository
from codemem.infra.folders import LOCAL, STATE

_FOLDER = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
_PROC_FDS = Path("/proc/self/fd")


@contextmanager
def held_path(root: Path, rel: str, *, make_folders: bool = False) -> Iterator[Path]:
    """The file `rel` (a path `confine` returned: `/`-separated, no link on it) of the
    repository `root`, as a path through its folder held open while the block runs.

    `PathOutsideRepository` when a folder on it is no longer a folder reached without a link
    (swapped for a symbolic link since it was checked); `NotADirectoryError` when one is a
    file; `FileNotFoundError` when one is missing and `make_folders` is false. With `make_folders`, missing folders are made,
    as `make_folder` makes them: never `.codemem/` nor its `local/`."""
    *folders, name = rel.split("/")
    with ExitStack() as held:
        fd = os.open(root.resolve(), os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0))
        held.callback(os.close, fd)
        above = ""
        for folder in folders:
            fd = _open_folder(folder, fd, above, make_folders, rel)
            held.callback(os.close, fd)
            above = folder
        if _PROC_FDS.is_dir():
            yield _PROC_FDS / str(fd) / name
        else:  # no way to name a path through a descriptor: the walk was the check
            yield root.resolve() / rel


def real_name(path: Path) -> Path:
    """`path` as a person knows it: a path `held_path` handed out is named from where its
    folder is now (what a warning or an error shows); any other path is itself."""
    parts = path.parts
    if len(parts) > 5 and parts[:4] == _PROC_FDS.parts:
        with suppress(OSError):
            return Path(os.readlink(Path(*parts[:5]))).joinpath(*parts[5:])
    return path


def _open_folder(name: str, at: int, above: str, make: bool, rel: str) -> int:
    for _ in range(3):  # made or removed by someone else meanwhile: look again
        try:
            return os.open(name, _FOLDER, dir_fd=at)
        except FileNotFoundError:
            if not make or name == STATE or (above == STATE and name == LOCAL):
                raise
        except OSError as exc:
            if exc.errno == errno.ENOTDIR and not _is_link(name, at):  # a file: no such path
                raise NotADirectoryError(errno.ENOTDIR, "a file, not a folder", name) from None
            if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                raise PathOutsideRepository(
                    f"{rel}: the folder {name} on its path is no longer a folder (replaced, "
                    "perhaps by a symbolic link)"
                ) from None
            raise
        try:
            os.mkdir(name, 0o777, dir_fd=at)
        except FileExistsError:
            continue
    raise FileNotFoundError(errno.ENOENT, "kept coming and going", rel)


def _is_link(name: str, at: int) -> bool:
    try:
        return stat.S_ISLNK(os.lstat(name, dir_fd=at).st_mode)
    except OSError:
        return False
