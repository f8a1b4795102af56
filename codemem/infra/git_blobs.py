"""Blobs read through GitPython's long-running `git cat-file --batch(-check)` processes (its
import is paid when blobs are first read, never at start-up: see `codemem.infra.git`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from codemem.errors import GitError
from codemem.infra.git import STREAM_CHUNK, _command, _gitpython


class BlobReader:
    """Reads blobs through GitPython's long-running `git cat-file --batch(-check)` processes."""

    def __init__(self, root: Path) -> None:
        self._git = _command(root)
        self._stream: object | None = None  # the stream `open` returned last

    def size(self, blob: str) -> int | None:
        """The blob's size in bytes, or None when git has no such blob."""
        try:
            _sha, kind, size = self._git.get_object_header(blob)
        except ValueError:  # "<sha> missing"
            return None
        except _gitpython().GitCommandNotFound:
            raise GitError("git is not installed or not on PATH") from None
        return size if kind in (b"blob", "blob") else None  # GitPython gives bytes

    def read(self, blob: str, max_bytes: int) -> bytes | None:
        """The blob's bytes, or None when it is missing or larger than `max_bytes`."""
        size = self.size(blob)
        if size is None or size > max_bytes:
            return None
        return self.data(blob)

    def data(self, blob: str) -> bytes:
        """The whole content of a blob known to exist (see `size`)."""
        return self._git.get_object_data(blob)[3]

    def open(self, blob: str, size: int = STREAM_CHUNK) -> tuple[int, Iterator[bytes]]:
        """The blob's size, and its content `size` bytes at a time (memory stays at one chunk,
        however large the blob). Read it to its end, or `skip` it, before the next request."""
        try:
            _sha, kind, total, stream = self._git.stream_object_data(blob)
        except ValueError:  # "<sha> missing"
            raise GitError(f"git cat-file: cannot read blob {blob}") from None
        except _gitpython().GitCommandNotFound:
            raise GitError("git is not installed or not on PATH") from None
        if kind not in (b"blob", "blob"):
            self._stream = stream
            self.skip()
            raise GitError(f"git cat-file: {blob} is not a blob")
        self._stream = stream

        def chunks() -> Iterator[bytes]:
            left = total
            while left:
                data = stream.read(min(size, left))
                if not data:
                    raise GitError(f"git cat-file: blob {blob} ended early")
                left -= len(data)
                yield data

        return total, chunks()

    def skip(self) -> None:
        """Give up on the blob just opened, unread (its process is stopped, not drained)."""
        stream, self._stream = self._stream, None
        self.close()
        if stream is not None and hasattr(stream, "_nbr") and hasattr(stream, "_size"):
            # GitPython drains an unfinished stream when it is collected, which fails once its
            # process is gone: mark it finished (nothing is left to read from a dead process).
            stream._nbr = stream._size  # both checked above

    def close(self) -> None:
        """Stop the cat-file processes."""
        self._git.clear_cache()

    def __enter__(self) -> BlobReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_blobs(root: Path, blobs: list[str], max_bytes: int) -> dict[str, tuple[int, bytes | None]]:
    """Size and content of each blob git has (content None when larger than `max_bytes`)."""
    out: dict[str, tuple[int, bytes | None]] = {}
    with BlobReader(root) as reader:
        for blob in dict.fromkeys(b for b in blobs if b):
            size = reader.size(blob)
            if size is not None:
                out[blob] = (size, reader.data(blob) if size <= max_bytes else None)
    return out
