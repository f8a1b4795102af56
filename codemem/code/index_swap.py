"""A full rebuild is built beside the live index and swapped in when complete.

`index/` stays untouched (and searchable) while `index.next/` is filled; the swap exchanges
the two folders in one atomic `renameat2(RENAME_EXCHANGE)` on Linux, or in two renames
elsewhere, and then deletes the old one. An interruption at any moment therefore leaves the
old index or the new one, never an empty one; `clear_leftovers` (run under the index lock
before each refresh) removes a half-built `index.next/` and finishes an interrupted swap.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import sys
from pathlib import Path

from codemem.code.manifest import MANIFEST_NAME

log = logging.getLogger("codemem")

AT_FDCWD = -100
RENAME_EXCHANGE = 2


def build_dir(index_dir: Path) -> Path:
    """Where a full rebuild of `index_dir` is written."""
    return index_dir.with_name(index_dir.name + ".next")


def _old_dir(index_dir: Path) -> Path:
    return index_dir.with_name(index_dir.name + ".old")


def clear_leftovers(index_dir: Path) -> None:
    """Undo what an interrupted rebuild or swap left beside `index_dir`."""
    old = _old_dir(index_dir)
    if old.exists():
        if (index_dir / MANIFEST_NAME).exists() or not (old / MANIFEST_NAME).exists():
            shutil.rmtree(old, ignore_errors=True)
        else:  # stopped between the two renames of the fallback swap: put the old one back
            shutil.rmtree(index_dir, ignore_errors=True)
            os.rename(old, index_dir)
    shutil.rmtree(build_dir(index_dir), ignore_errors=True)


def swap_in(new: Path, index_dir: Path) -> None:
    """Make the complete index in `new` the live one and delete the previous one."""
    if not index_dir.exists():
        os.rename(new, index_dir)
        return
    if _exchange(new, index_dir):
        shutil.rmtree(new, ignore_errors=True)  # `new` now holds the previous index
        return
    old = _old_dir(index_dir)
    os.rename(index_dir, old)
    os.rename(new, index_dir)
    shutil.rmtree(old, ignore_errors=True)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically; False where the system cannot."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes  # a rebuild's swap alone needs it: kept out of start-up

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):  # glibc older than 2.28, or no libc
        return False
    if renameat2(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EPERM, errno.ENOTSUP):
        return False  # a file system without exchange
    raise OSError(code, os.strerror(code), str(b))
