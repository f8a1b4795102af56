"""Making folders without making the repository again.

`make_folder` is `mkdir -p` with a floor: under a `.codemem/local/` it makes only what is
below that folder, elsewhere under a `.codemem/` only what is below that one; the floor
itself must exist. `codemem init` and `Workspace.ensure_local` are the only makers of those
folders. So a write that races an `rm -rf` of the repository (a daemon between two safe
points) fails instead of making `.codemem/local/…` again where the repository was, which
would leave a folder behind or fail the `rm` with "Directory not empty".
"""

from __future__ import annotations

import errno
import os
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
            os.mkdir(folder, mode)
        except FileExistsError:
            if not folder.is_dir():
                raise
        except FileNotFoundError:  # the floor went meanwhile
            raise FileNotFoundError(errno.ENOENT, "gone (deleted or moved?)", str(floor)) from None
    return path
