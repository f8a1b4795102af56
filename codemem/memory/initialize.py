"""First-time setup of a repository's memory: `.codemem/` with its files and starting blocks."""

from __future__ import annotations

import os
from pathlib import Path

from codemem.infra import atomic_file
from codemem.memory.archive import Archive
from codemem.memory.blocks import MemoryStore
from codemem.memory.errors import BlockExistsError, GitBusyError
from codemem.memory.instructions import import_instructions
from codemem.memory.labels import default_description
from codemem.merge_driver import GITATTRIBUTES
from codemem.workspace import Workspace

CONFIG_TEMPLATE = """\
# codemem project settings, shared through git. `codemem config example` shows every
# key, `codemem config show` where each value comes from. Precedence: built-in defaults
# < ~/.config/codemem/config.yml < this file < CODEMEM_* environment variables
# < command-line flags.

# model: anthropic/claude-sonnet-4-5
# index:
#   exclude: ["vendor/**", "*.min.js"]
"""
GITIGNORE = "local/\n"


def _create(ws: Workspace, path: Path, text: str, created: list[Path]) -> None:
    """Write `path` only where nothing is: a link a clone committed (even one leading nowhere)
    is left as it is, and a file made meanwhile (a second `init`, a `config set`) is never
    written over. In the line ends git would check it out with (CRLF in a Windows clone)."""
    if os.path.lexists(path):
        return
    text = text.replace("\n", ws.new_file_line_ends(path))
    try:
        with atomic_file(path, new_only=True) as handle:  # never under a temp name
            handle.write(text.encode("utf-8"))
    except FileExistsError:
        return
    created.append(path)


def initialize_memory(ws: Workspace, store: MemoryStore | None = None) -> list[Path]:
    """Create what is missing of `.codemem/` and import instruction files; returns new files.

    Creates `config.yml` (commented), `.gitignore` (`local/`), `.gitattributes` (memory
    merged by `codemem merge-file`, see `configure_merge_driver`), the blocks
    `project`, `conventions` and `users/<slug>`, then imports CLAUDE.md, AGENTS.md and the
    other instruction files into them. A second call creates nothing. Nothing is created
    while a git merge, rebase, cherry-pick, revert or bisect waits for the user.
    """
    busy = ws.git_operation()
    if busy is not None:  # what it creates would go into that operation's commit
        raise GitBusyError(f"nothing set up: {busy}, then run `codemem init` again")
    store = store or MemoryStore(ws)
    created: list[Path] = []
    ws.check_inside()
    ws.dir.mkdir(parents=True, exist_ok=True)
    _create(ws, ws.config_file, CONFIG_TEMPLATE, created)
    _create(ws, ws.dir / ".gitignore", GITIGNORE, created)
    _create(ws, ws.dir / ".gitattributes", GITATTRIBUTES, created)
    for label in ("project", "conventions", store.user_label):
        try:
            block = store.create(label, default_description(label))
        except BlockExistsError:
            continue
        assert block.path is not None
        created.append(block.path)
    for part in import_instructions(store, Archive(ws)):
        if part.status == "archived" and part.path is not None:
            created.append(part.path)
    return created
