"""Files: reading text, atomic replace, compare-and-swap, regular-file reads, and private
folders and files. Keeping paths inside the repository is `infra/paths.py`; printing names
safely is `infra/printing.py`.

`atomic_write` writes a temp file in the same folder, fsyncs it, renames it over the target
and fsyncs the folder, so a crash leaves the old file or the new one, never a torn one.
`update_text`, `replace_text` (`infra/swaps.py`), `set_aside`, `remove_file` (`infra/removals.py`)
and `rename_new` (`infra/discards.py`) write, move or remove a file only over what the caller read.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, BinaryIO

from codemem.errors import FileTooLarge, NotARegularFile, PathOutsideRepository
from codemem.infra.folders import LOCAL, STATE, SWAPS, floor_of, make_folder
from codemem.infra.renames import rename_new

# The process umask, read once: mkstemp creates files 0600, committed files should be 0644.
_UMASK = os.umask(0)
os.umask(_UMASK)


def read_text(path: Path) -> str | None:
    """The file's UTF-8 text with `\\n` line ends, or None when it does not exist."""
    return _read_text_and_ends(path)[0]


def _read_text_and_ends(path: Path) -> tuple[str | None, str, bytes | None]:
    """`read_text`, the line end the file mostly uses (`\\r\\n` or `\\n`) and its bytes."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None, "\n", None
    return data.decode("utf-8").replace("\r\n", "\n"), line_ends(data), data


def line_ends(data: bytes) -> str:
    """The line end `data` mostly uses, `\\r\\n` or `\\n`: what an edit writes back, so that
    changing one line of a file from Windows changes one line of its diff."""
    return "\r\n" if 2 * data.count(b"\r\n") > data.count(b"\n") else "\n"


def fsync_dir(folder: Path) -> None:
    """Make a folder's entries (a rename, a new file) durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_file(
    path: Path,
    mode: int | None = None,
    *,
    durable: bool = True,
    install: Callable[[Path, Path], None] | None = None,
    temp_prefix: Path | None = None,
    new_only: bool = False,
) -> Iterator[BinaryIO]:
    """Write `path` through a binary handle; it is replaced atomically when the block ends
    (temp file beside it, fsync, rename, fsync folder) and left untouched if the block raises.

    The new file gets `mode` when given, else the old file's permissions, else the umask's
    default.
    `durable=False` skips the fsyncs, for derived files that are rebuilt when lost.
    `install(temp, path)` puts the written file in place (`os.replace`; `update_text` swaps it
    in only if the file still holds what it read).
    `temp_prefix` names the temp file, `<temp_prefix>.<random>.tmp` (its folder on the same
    file system as `path`), for a caller that recognizes the ones a kill left; by default it is
    `.<name>.<random>.tmp` beside `path`, but for a committed file under `.codemem/`, which
    waits in `.codemem/local/swapping/` (`_temp_prefix`).
    On Linux the temp file has no name until it is written (`O_TMPFILE`): a process killed
    meanwhile (SIGKILL mid-edit) leaves no half-written `.name.*.tmp` beside the target.
    `new_only`: `path` is made only where nothing is (`FileExistsError` otherwise), and the
    unnamed file is linked at `path` itself, so it never has another name: a kill leaves no
    temp file even before `.codemem/local/` exists (`codemem init`'s first files, its blocks).
    `install` (`rename_new` by default) serves only where the system cannot so link.
    """
    if new_only and install is None:
        install = rename_new
    make_folder(path.parent)
    prefix = _temp_prefix(path) if temp_prefix is None else temp_prefix
    fd = _unnamed_file(prefix.parent)
    tmp = None
    placed = False  # linked at `path` itself (`new_only`)
    if fd is None:
        fd, name = tempfile.mkstemp(prefix=f"{prefix.name}.", suffix=".tmp", dir=prefix.parent)
        tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as handle:  # write-only handle, even on a descriptor opened O_RDWR
            yield handle
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
            if mode is None:
                try:
                    mode = path.stat().st_mode & 0o7777
                except FileNotFoundError:
                    mode = 0o666 & ~_UMASK
            os.fchmod(handle.fileno(), mode)
            if tmp is None and new_only and _link_new(handle.fileno(), path):
                placed = True
            elif tmp is None:
                tmp = _link_unnamed(handle.fileno(), prefix)
        if not placed:
            assert tmp is not None
            (install or os.replace)(tmp, path)
    except BaseException:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        raise
    if durable:
        # The new file is in place: a failed folder fsync must not report the write as failed
        # (a caller would redo an edit that was applied).
        with contextlib.suppress(OSError):
            fsync_dir(path.parent)


def _temp_prefix(path: Path) -> Path:
    """`.<name>` beside `path`; for a file under a `.codemem/` but outside its `local/`, in
    `.codemem/local/swapping/` when that folder exists on `path`'s file system: a temp file a
    kill leaves there is never committed (`digest --push` runs `git add -A -- .codemem`)."""
    floor = floor_of(path)
    if floor is not None and floor.name == STATE:
        swaps = floor / LOCAL / SWAPS
        with contextlib.suppress(OSError):
            if same_file_system(make_folder(swaps), path.parent):
                return swaps / f".{path.name}"
    return path.parent / f".{path.name}"


def same_file_system(folder: Path, other: Path) -> bool:
    """Whether `folder` is a real folder (not a link: a clone can commit one) on the file
    system of the folder `other`, so that a file renames from one to the other."""
    info = os.lstat(folder)
    return stat.S_ISDIR(info.st_mode) and info.st_dev == os.stat(other).st_dev


def _unnamed_file(folder: Path) -> int | None:
    """A new file in `folder` with no name yet, open for writing; None where the system or
    the file system cannot make one (then `atomic_file` names its temp file at once)."""
    flag = getattr(os, "O_TMPFILE", 0)
    if not flag or not os.path.isdir("/proc/self/fd"):  # linked in through /proc
        return None
    try:
        return os.open(folder, flag | os.O_RDWR, 0o600)  # read back if it cannot be linked
    except OSError:  # EOPNOTSUPP: the file system has none; EISDIR: an old kernel
        return None


def _link_unnamed(fd: int, prefix: Path) -> Path:
    """Give the unnamed file `fd` (written whole by now) a temp name, `<prefix>.<random>.tmp`;
    where that is refused, copy it to a named temp file instead."""
    folder = os.open(prefix.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        while True:
            name = f"{prefix.name}.{os.urandom(4).hex()}.tmp"
            try:  # through a folder descriptor, so that it is linkat(AT_SYMLINK_FOLLOW)
                os.link(f"/proc/self/fd/{fd}", name, dst_dir_fd=folder, follow_symlinks=True)
            except FileExistsError:
                continue
            except OSError:
                return _copy_unnamed(fd, prefix)
            return prefix.parent / name
    finally:
        os.close(folder)


def _link_new(fd: int, path: Path) -> bool:
    """Link the unnamed file `fd` (written whole by now) at `path`, never over a file there
    (`FileExistsError`); False where that is refused (then it gets a temp name first)."""
    folder = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.link(f"/proc/self/fd/{fd}", path.name, dst_dir_fd=folder, follow_symlinks=True)
    except FileExistsError:
        raise
    except OSError:
        return False
    finally:
        os.close(folder)
    return True


def _copy_unnamed(fd: int, prefix: Path) -> Path:
    """A named temp file, `<prefix>.<random>.tmp`, holding what the unnamed file `fd` holds."""
    out, name = tempfile.mkstemp(prefix=f"{prefix.name}.", suffix=".tmp", dir=prefix.parent)
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        while chunk := os.read(fd, 1 << 20):
            os.write(out, chunk)
        os.fchmod(out, os.fstat(fd).st_mode & 0o7777)
        os.fsync(out)
    except BaseException:
        os.unlink(name)
        raise
    finally:
        os.close(out)
    return Path(name)


def atomic_write(
    path: Path, data: str | bytes, mode: int | None = None, *, durable: bool = True
) -> None:
    """Replace `path` with `data` atomically (temp file, fsync, rename, fsync folder)."""
    with atomic_file(path, mode, durable=durable) as handle:
        handle.write(data.encode("utf-8") if isinstance(data, str) else data)


def open_regular(path: Path, *, follow_links: bool = False) -> BinaryIO:
    """`path` opened for reading, as `read_regular_bytes` opens it: `NotARegularFile` for a
    link (unless `follow_links`), a folder, a FIFO or a device, never waiting on a FIFO.

    For reading a part of a file (its head, or chunk by chunk) that a pull or a checkout may
    have swapped for one of those since it was listed.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | (0 if follow_links else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise NotARegularFile(f"{path} is a symbolic link") from None
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):  # before fdopen, which refuses a folder itself
        os.close(fd)
        raise NotARegularFile(f"{path} is not a regular file")
    return os.fdopen(fd, "rb")


READ_PIECE = 1 << 20  # past what a file's size promised, read a megabyte at a time


def read_at_most(stream: IO[bytes], limit: int, expected: int | None = None) -> bytes:
    """Up to `limit` bytes of `stream` (a buffered file or pipe, whose `read(n)` returns less
    than `n` only at its end), asking for `expected + 1` bytes first (a file's size: one
    read, and its end seen) and then a megabyte at a time.

    A limit is never asked for whole: `read(limit)` allocates `limit` bytes before reading
    one, and a limit can come from settings a clone committed (`max_file_bytes: 1e15`)."""
    want = min(limit, READ_PIECE if expected is None else expected + 1)
    pieces: list[bytes] = []
    have = 0
    while want > 0:
        piece = stream.read(want)
        pieces.append(piece)
        have += len(piece)
        if len(piece) < want:
            break
        want = min(limit - have, READ_PIECE)
    return pieces[0] if len(pieces) == 1 else b"".join(pieces)


def read_regular_bytes(
    path: Path, max_bytes: int | None = None, *, follow_links: bool = False
) -> bytes:
    """The bytes of `path`, which must be a regular file reached without a final symlink
    (with `follow_links`, through one: the user's own settings file may be a dotfile link).

    Opened with `O_NOFOLLOW` (a link is refused, not followed, even if it appears after a check)
    and `O_NONBLOCK` (a FIFO cannot hang the reader); `NotARegularFile` for a link, a folder,
    a FIFO or a device, `FileTooLarge` for a file over `max_bytes` (nothing of it is read),
    `FileNotFoundError` if it does not exist.
    """
    with open_regular(path, follow_links=follow_links) as fh:
        info = os.fstat(fh.fileno())
        if max_bytes is not None and info.st_size > max_bytes:
            raise FileTooLarge(f"{path} has {info.st_size:,} bytes, over the {max_bytes:,} read")
        # Read one byte past the limit: a file that grew since the fstat is still refused.
        data = fh.read() if max_bytes is None else read_at_most(fh, max_bytes + 1, info.st_size)
    if max_bytes is not None and len(data) > max_bytes:
        raise FileTooLarge(f"{path} has over {max_bytes:,} bytes")
    return data


def read_regular(path: Path, *, max_bytes: int | None = None) -> str:
    """The UTF-8 text of `path` (`\\n` line ends), read as `read_regular_bytes` reads it."""
    return read_regular_bytes(path, max_bytes).decode("utf-8").replace("\r\n", "\n")


def odd_sqlite_files(database: Path) -> list[Path]:
    """The journal, WAL and shared-memory files of the SQLite database at `database` that are
    there but are no regular file (a link, a folder, a FIFO): SQLite opens none of them, so
    while one is there the database cannot be written, or even opened."""
    odd = []
    for suffix in ("-journal", "-wal", "-shm"):
        sidecar = database.with_name(database.name + suffix)
        try:
            mode = os.lstat(sidecar).st_mode
        except FileNotFoundError:
            continue
        if not stat.S_ISREG(mode):
            odd.append(sidecar)
    return odd


def private_dir(path: Path) -> Path:
    """Create the folder `path` readable by its owner only (0700), or tighten it if it exists.

    A symlink is refused (`PathOutsideRepository`): private data stays where codemem put it.
    """
    if path.is_symlink():
        raise PathOutsideRepository(
            f"{path} is a symbolic link: codemem keeps private data only in a real folder; "
            "remove the link and run the command again"
        )
    make_folder(path, 0o700)
    _tighten(path)
    return path


def owner_only(path: Path) -> Path:
    """Take the group and other bits off an existing file or folder; a missing one is fine."""
    with contextlib.suppress(FileNotFoundError):
        _tighten(path)
    return path


def create_private(path: Path) -> Path:
    """Create `path` empty with mode 0600 if it is missing, else tighten it; returns it.

    A symlink in its place is refused (`PathOutsideRepository`), as in `private_dir`.
    """
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600))
    if path.is_symlink():
        raise PathOutsideRepository(
            f"{path} is a symbolic link: codemem keeps private data only in a real file; "
            "remove the link and run the command again"
        )
    return owner_only(path)


def _tighten(path: Path) -> None:
    mode = os.lstat(path).st_mode
    if not stat.S_ISLNK(mode) and mode & 0o077:
        os.chmod(path, stat.S_IMODE(mode) & 0o700)
