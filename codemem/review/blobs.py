"""The bytes of changed files, streamed in chunks whatever their size: `BlobReader`, `disk_chunks`.

The secret scan reads what the diff does not show as text (binary files, files git marks
`-diff`, files over `index.max_file_bytes`) from here: staged or committed blobs through one
`git cat-file --batch` process for all of them, work-tree files from disk. Memory stays at
one chunk per file, however large the file.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

from codemem.review.errors import ReviewError

CHUNK = 4 * 1024 * 1024


class BlobReader:
    """One `git cat-file --batch` process, asked for one blob at a time (no pipe can fill up)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> BlobReader:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    def close(self) -> None:
        """End the git process."""
        if self._process is not None:
            process, self._process = self._process, None
            for pipe in (process.stdin, process.stdout):
                if pipe is not None:
                    pipe.close()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def _git(self) -> subprocess.Popen[bytes]:
        if self._process is None:
            try:
                self._process = subprocess.Popen(
                    ["git", "cat-file", "--batch"], cwd=self.root,
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                )
            except FileNotFoundError:
                raise ReviewError("git is not installed or not on PATH") from None
        return self._process

    def open(self, blob: str, size: int = CHUNK) -> tuple[int, Iterator[bytes]]:
        """The blob's size, and its content `size` bytes at a time.

        Read the content to its end (or not at all) before asking for the next blob: a
        blob left half read ends the process, and the next request starts a new one.
        """
        process = self._git()
        assert process.stdin is not None and process.stdout is not None
        try:
            process.stdin.write(blob.encode() + b"\n")
            process.stdin.flush()
        except BrokenPipeError:
            self.close()
            raise ReviewError(f"git cat-file: cannot read blob {blob}") from None
        header = process.stdout.readline().split()
        if len(header) != 3 or header[1] != b"blob":
            self.close()
            raise ReviewError(f"git cat-file: cannot read blob {blob}")
        total = int(header[2])
        return total, self._content(process, blob, total, size)

    def skip(self) -> None:
        """Give up on the blob just opened, unread."""
        self.close()

    def _content(self, process: subprocess.Popen[bytes], blob: str, left: int, size: int) -> Iterator[bytes]:
        assert process.stdout is not None
        try:
            while left:
                chunk = process.stdout.read(min(size, left))
                if not chunk:
                    raise ReviewError(f"git cat-file: blob {blob} ended early")
                left -= len(chunk)
                yield chunk
            process.stdout.read(1)  # the newline after the content
        finally:
            if left:  # left half read: the next blob needs a fresh process
                self.close()


def disk_chunks(path: Path, size: int = CHUNK) -> Iterator[bytes]:
    """A work-tree file's content, `size` bytes at a time."""
    with open(path, "rb") as handle:
        while chunk := handle.read(size):
            yield chunk
