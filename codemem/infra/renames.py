"""Renames that never lose a file: `exchange` swaps two names in one step, `rename_new` moves
a file only where none is.

Both use Linux's `renameat2` (glibc 2.28 and newer) where the system and the file system have
it: `RENAME_EXCHANGE` for the swap, `RENAME_NOREPLACE` for a move that refuses a file made a
moment before. Elsewhere `exchange` answers False (the caller compares and renames instead)
and `rename_new` links then unlinks, or, with no hard links either, looks and renames.
"""

from __future__ import annotations

import ctypes
import errno
import os
from functools import cache
from pathlib import Path
from typing import Any

_AT_FDCWD, _NOREPLACE, _RENAME_EXCHANGE = -100, 1, 2


def exchange(one: Path, other: Path) -> bool:
    """Swap the files named `one` and `other` in one step; False where the system or the file
    system cannot (then nothing moved)."""
    return _rename2(one, other, _RENAME_EXCHANGE)


def rename_new(source: Path, target: Path) -> None:
    """Move `source` to `target`, never over a file there, even one made a moment before
    (`FileExistsError`): one `renameat2(RENAME_NOREPLACE)`, so a kill leaves the file under
    one name or the other, never both (a block renamed by a killed `memory mv` was left under
    both labels, the retry refused). Where the system or the file system has no such call,
    a hard link, then the old name unlinked; with no hard links either, a rename unless a
    file is there, a moment's window."""
    if _rename2(source, target, _NOREPLACE):
        return
    try:
        os.link(source, target, follow_symlinks=False)
    except FileExistsError:
        raise
    except OSError:
        if os.path.lexists(target):
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(target)) from None
        os.rename(source, target)
        return
    os.unlink(source)


def _rename2(one: Path, other: Path, flags: int) -> bool:
    """`renameat2(one, other, flags)`; False where the system or the file system cannot."""
    renameat2 = _renameat2()
    if renameat2 is None:
        return False
    if renameat2(_AT_FDCWD, os.fsencode(one), _AT_FDCWD, os.fsencode(other), flags) == 0:
        return True
    error = ctypes.get_errno()
    if error in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.EPERM):
        return False
    raise OSError(error, os.strerror(error), str(other))


@cache
def _renameat2() -> Any:
    """glibc's `renameat2`, or None (another libc, or one older than 2.28)."""
    try:
        function = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return None
    function.argtypes = [
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_uint,
    ]
    function.restype = ctypes.c_int
    return function
