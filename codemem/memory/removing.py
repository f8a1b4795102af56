"""What an older codemem left set aside in `.codemem/local/removing/`, moved where today's
put-back reads it.

A removal moves its file aside before comparing it (`infra.set_aside`); what a kill left
there is put back by the next load, from `removing/blocks/<the label's folder>/`
(`MemoryStore._put_back_leftovers`) and `removing/archive/` (the archive's). Older codemems
set files aside elsewhere, where nothing looks now or where it reads wrong:

- in `removing/` itself, notes and blocks alike: read by nobody since notes and blocks each
  got their folder; a note's name (`YYYYMMDD-HHMMSS-<hex>.md`) tells it from a block's;
- in `removing/blocks/` flat, a `users/alice` block as `alice.md.<hex>.removing`: put back as
  the block `alice`. The folder is the one where HEAD holds a block of that file name, when
  HEAD holds it in exactly one folder and not at the top; else it stays where it is.
"""

from __future__ import annotations

import os
import re
from contextlib import suppress
from pathlib import Path

from codemem.errors import CodememError
from codemem.infra import private_dir, rename_new, run_git, set_aside_original
from codemem.workspace import Workspace

_NOTE_FILE = re.compile(r"\d{8}-\d{6}-[0-9a-f]{8}\.md")


def move_old_leftovers(ws: Workspace) -> None:
    """Move the set-aside files of the older layouts into today's (see the module's text)."""
    removing = ws.local_dir / "removing"
    blocks = removing / "blocks"
    for name, original in _leftovers(removing):
        _move(
            removing / name, removing / ("archive" if _NOTE_FILE.fullmatch(original) else "blocks")
        )
    flat = _leftovers(blocks)
    if not flat:
        return
    homes = _committed_folders(ws)
    for name, original in flat:
        folders = homes.get(original, set())
        if len(folders) == 1 and "" not in folders:
            _move(blocks / name, blocks / folders.pop())


def _leftovers(folder: Path) -> list[tuple[str, str]]:
    """(name, the set-aside file's own name) of each file set aside directly in `folder`."""
    try:
        entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
    except OSError:  # no folder
        return []
    return [
        (entry.name, original)
        for entry in entries
        if entry.is_file(follow_symlinks=False)
        and (original := set_aside_original(entry.name)) is not None
    ]


def _committed_folders(ws: Workspace) -> dict[str, set[str]]:
    """File name -> the folders under `blocks/` (`""`: the top) where HEAD holds one."""
    rel = ws.blocks_dir.relative_to(ws.root).as_posix()
    try:
        listing = run_git(ws.root, "ls-tree", "-r", "-z", "--name-only", "HEAD", "--", rel)
    except CodememError:  # no commit yet
        return {}
    homes: dict[str, set[str]] = {}
    for path in os.fsdecode(listing).split("\0"):
        if path:
            inside = Path(path).relative_to(rel)
            folder = "" if inside.parent == Path() else inside.parent.as_posix()
            homes.setdefault(inside.name, set()).add(folder)
    return homes


def _move(left: Path, folder: Path) -> None:
    """`left` into `folder`, never over a file there; one moved meanwhile stays where it went."""
    with suppress(OSError, CodememError):
        rename_new(left, private_dir(folder) / left.name)
