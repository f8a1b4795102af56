"""Work-tree files streamed in chunks whatever their size: `disk_chunks`.

The secret scan reads what the diff does not show as text (binary files, files git marks
`-diff`, files over `index.max_file_bytes`): staged or committed blobs through
`codemem.infra.BlobReader.open` (one `git cat-file --batch` process for all of them),
work-tree files from here. Memory stays at one chunk per file, however large the file.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from codemem.errors import NotARegularFile
from codemem.infra import STREAM_CHUNK, open_regular


def disk_chunks(path: Path, size: int = STREAM_CHUNK) -> Iterator[bytes]:
    """A work-tree file's content, `size` bytes at a time; nothing if it is not a regular file
    (a link, a FIFO or a device swapped in since it was listed is neither followed nor waited on).
    """
    try:
        handle = open_regular(path)
    except (OSError, NotARegularFile):
        return
    with handle:
        while chunk := handle.read(size):
            yield chunk
