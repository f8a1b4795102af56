"""What a killed removal of a memory file left set aside: put back, or settled once its name
was taken.

`files.remove_memory_file` moves a digest aside into `.codemem/local/removing/digests/`
before it compares and removes it; a kill between leaves it there, and the next pass puts it
back and judges it again (`put_back_memory_files`). Where its name was taken meanwhile (a
checkout or a pull restored the file), it is never put back over that file, and nothing would
ever look at it again. So it is settled then: removed when every line of it is in the file now
at its name (it is no one's only copy of anything); else kept as `<its name>.kept`, a kept
save `codemem status` names, for a person to read and remove.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from codemem.errors import CodememError
from codemem.infra import (
    put_back_set_aside,
    read_regular_bytes,
    rename_new,
    set_aside_original,
)
from codemem.memory.errors import BlockFormatError
from codemem.memory.files import MAX_MEMORY_BYTES, read_memory_bytes
from codemem.workspace import Workspace

log = logging.getLogger("codemem")

KEPT_SUFFIX = ".kept"  # `infra.kept_saves` finds `….removing.kept` in `local/removing/`


def put_back_memory_files(ws: Workspace, folder: Path) -> list[Path]:
    """Put back in `folder` (`digests/`) each file a killed `remove_memory_file` left set
    aside in `.codemem/local/removing/<its name>/`: that removal never finished, and its
    caller (the digest pass, under its lock) judges the file again. One whose name was taken
    meanwhile is settled (see the module's text), never put over that file. Returns the paths
    put back."""
    aside = ws.local_dir / "removing" / folder.name
    if not aside.is_dir():
        return []
    back = put_back_set_aside(aside, folder)
    for path in back:
        log.debug("%s: put back (a removal of it was stopped)", _shown(ws, path))
    for entry in sorted(os.scandir(aside), key=lambda e: e.name):
        original = set_aside_original(entry.name)
        if original is not None and entry.is_file(follow_symlinks=False):
            _settle(ws, Path(entry.path), folder / original)
    return back


def _settle(ws: Workspace, left: Path, taken: Path) -> None:
    """Remove `left` when the file at `taken` holds every line of it; else keep it as a save
    (`.kept`), said once. Left as it is when either cannot be read."""
    try:
        held = read_regular_bytes(left, MAX_MEMORY_BYTES)
        there = read_memory_bytes(ws, taken)
    except (OSError, CodememError, BlockFormatError) as exc:
        log.debug("%s: left as it is (%s)", left, exc)
        return
    if there is None:  # the name is free again: the next pass puts it back
        return
    if set(_lines(held)) <= set(_lines(there)):
        try:
            if read_regular_bytes(left, MAX_MEMORY_BYTES) == held:  # no save came into it
                left.unlink()
        except (OSError, CodememError):
            pass
        return
    kept = left.with_name(left.name + KEPT_SUFFIX)
    try:
        rename_new(left, kept)
    except (OSError, CodememError) as exc:
        log.debug("%s: left as it is (%s)", left, exc)
        return
    log.warning(
        "%s was restored while codemem was removing it, and the copy it was removing holds "
        "lines the restored one lacks: kept in %s (remove it once read)",
        _shown(ws, taken),
        _shown(ws, kept),
    )


def _lines(data: bytes) -> list[bytes]:
    return [line.rstrip(b"\r") for line in data.split(b"\n") if line.strip()]


def _shown(ws: Workspace, path: Path) -> str:
    try:
        return path.relative_to(ws.root).as_posix()
    except ValueError:
        return str(path)
