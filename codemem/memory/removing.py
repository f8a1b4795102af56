"""What an older codemem left set aside in `.codemem/local/removing/`, moved where today's
put-back reads it.

A removal moves its file aside before comparing it (`infra.set_aside`); what a kill left
there is put back by the next load, from `removing/blocks/<the label's folder>/`
(`block_removal.put_back_leftovers`) and `removing/archive/` (the archive's). Older codemems
set files aside elsewhere, where nothing looks now or where it reads wrong:

- in `removing/` itself, notes and blocks alike: read by nobody since notes and blocks each
  got their folder; a note's name (`YYYYMMDD-HHMMSS-<hex>.md`) tells it from a block's;
- in `removing/blocks/` flat, a `users/alice` block as `alice.md.<hex>.removing`: put back as
  the block `alice`. The folder is the one where HEAD holds a block of that file name, when
  HEAD holds it in exactly one folder and not at the top; where HEAD holds none (a block never
  committed), `users/` when its `owner:` names someone a block of that name is given to
  (`users.block_slugs`); else it stays where it is (the top).
"""

from __future__ import annotations

import os
import re
from contextlib import suppress
from pathlib import Path

from codemem.errors import CodememError
from codemem.infra import (
    private_dir,
    read_regular_bytes,
    rename_new,
    run_git,
    set_aside_original,
)
from codemem.memory import frontmatter
from codemem.memory.files import MAX_MEMORY_BYTES
from codemem.memory.labels import LABEL_RE
from codemem.memory.users import block_slugs, owners, user_label
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
        elif not folders and _a_users_block(blocks / name, original):
            _move(blocks / name, blocks / "users")


def _a_users_block(left: Path, original: str) -> bool:
    """Whether `left`, set aside from a file named `original`, is a `users/` block by its
    frontmatter: its owner is someone whose block is given that name."""
    if not original.endswith(".md"):
        return False
    try:
        text = read_regular_bytes(left, MAX_MEMORY_BYTES).decode("utf-8")
        named = owners(frontmatter.split(text, str(left)).meta) or []
    except (CodememError, OSError, UnicodeDecodeError):
        return False
    slug = original.removesuffix(".md")
    return LABEL_RE.fullmatch(user_label(slug)) is not None and any(
        slug in block_slugs(identity) for identity in named
    )


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
