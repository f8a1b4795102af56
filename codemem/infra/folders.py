"""Making folders without making the repository again.

`make_folder` is `mkdir -p` with a floor: under a `.codemem/local/` it makes only what is
below that folder, elsewhere under a `.codemem/` only what is below that one; the floor
itself must exist. `codemem init` and `Workspace.ensure_local` are the only makers of those
folders. So a write that races an `rm -rf` of the repository (a daemon between two safe
points) fails instead of making `.codemem/local/…` again where the repository was, which
would leave a folder behind or fail the `rm` with "Directory not empty". Under `.codemem/local/`,
which is derived, a file where a folder belongs is set aside and the folder made.
"""

from __future__ import annotations

import errno
import logging
import os
import time
from pathlib import Path

STATE = ".codemem"
LOCAL = "local"
SWAPS = "swapping"  # in LOCAL: a write's temp file (`atomic_file`, `update_text`'s `folder`)


def floor_of(path: Path) -> Path | None:
    """The folder `make_folder(path)` never makes: `…/.codemem/local` for a path inside it,
    `…/.codemem` for another path under it, None for any other path."""
    parts = path.parts
    for i in range(len(parts) - 1, -1, -1):
        if parts[i] == STATE:
            inside_local = i + 1 < len(parts) and parts[i + 1] == LOCAL
            return Path(*parts[: i + 2]) if inside_local else Path(*parts[: i + 1])
    return None


def make_folder(path: Path, mode: int = 0o777) -> Path:
    """Create the folder `path` and the missing folders above it, down from its floor
    (`floor_of`), which must exist: `FileNotFoundError` naming it when it does not (or when
    it goes while this runs: each folder is made alone, never with its parents)."""
    floor = floor_of(path)
    if floor is None:
        path.mkdir(mode=mode, parents=True, exist_ok=True)
        return path
    if not path.is_relative_to(floor) or path == floor:
        if not path.is_dir():
            raise FileNotFoundError(errno.ENOENT, "gone (deleted or moved?)", str(path))
        return path
    if not floor.is_dir():
        raise FileNotFoundError(errno.ENOENT, "gone (deleted or moved?)", str(floor))
    folder = floor
    for part in path.relative_to(floor).parts:
        folder = folder / part
        try:
            _make_one(folder, floor, mode)
        except FileNotFoundError:  # the floor went meanwhile
            raise FileNotFoundError(errno.ENOENT, "gone (deleted or moved?)", str(floor)) from None
    return path


def _make_one(folder: Path, floor: Path, mode: int) -> None:
    """`mkdir folder`, there already is fine. Under `.codemem/local/`, which is derived, a file
    in its place (a FIFO, a link to no folder) is damage: set aside as `<name>.damaged-<time>`
    with a warning, and the folder made; elsewhere it is a person's, and `FileExistsError`."""
    for _ in range(3):  # another process may set the same file aside, or make the folder
        try:
            os.mkdir(folder, mode)
            return
        except FileExistsError:
            if folder.is_dir():
                return
            if floor.name != LOCAL:
                raise
        aside = folder.with_name(f"{folder.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
        try:
            os.replace(folder, aside)
        except FileNotFoundError:
            continue  # set aside by another process meanwhile
        shown = Path(STATE, LOCAL, folder.relative_to(floor)).as_posix()
        logging.getLogger("codemem").warning(
            "%s was not a folder; moved it to %s and made the folder again", shown, aside.name
        )
    raise FileExistsError(errno.EEXIST, "not a folder, and kept coming back", str(folder))


def files_at_top(folder: Path, *, links: bool = False) -> list[tuple[str, list[str], list[str]]]:
    """The regular files at the top of `folder` (none through a link; with `links`, the links
    themselves too, as `os.walk` lists them), as one step of `os.walk` gives them; nothing when
    there is no folder."""
    try:
        with os.scandir(folder) as entries:
            names = [
                entry.name
                for entry in entries
                if entry.is_file(follow_symlinks=False) or (links and entry.is_symlink())
            ]
    except OSError:
        return []
    return [(str(folder), [], names)]
