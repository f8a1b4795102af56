"""First-time setup of a repository's memory: `.codemem/` with its files and starting blocks."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from codemem.errors import GitError
from codemem.infra import atomic_write, git_config, run_git
from codemem.memory.archive import Archive
from codemem.memory.blocks import MemoryStore
from codemem.memory.errors import BlockExistsError
from codemem.memory.instructions import import_instructions
from codemem.memory.labels import default_description
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
GITATTRIBUTES = """\
# Concurrent edits to memory are merged by `codemem merge-file` (set up by any codemem command).
* merge=codemem
.gitattributes -merge
.gitignore -merge
"""
MERGE_DRIVER_KEY = "merge.codemem.driver"


def _create(path: Path, text: str, created: list[Path]) -> None:
    if not path.exists():
        atomic_write(path, text)
        created.append(path)


def initialize_memory(ws: Workspace, store: MemoryStore | None = None) -> list[Path]:
    """Create what is missing of `.codemem/` and import instruction files; returns new files.

    Creates `config.yml` (commented), `.gitignore` (`local/`), the blocks
    `project`, `conventions` and `users/<slug>`, then imports CLAUDE.md, AGENTS.md and the
    other instruction files into them. A second call creates nothing.
    """
    store = store or MemoryStore(ws)
    created: list[Path] = []
    ws.dir.mkdir(parents=True, exist_ok=True)
    _create(ws.config_file, CONFIG_TEMPLATE, created)
    _create(ws.dir / ".gitignore", GITIGNORE, created)
    _create(ws.dir / ".gitattributes", GITATTRIBUTES, created)
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


def merge_driver_command() -> str:
    """The driver line for this clone: the Python running codemem now, so no PATH is needed."""
    return f"{shlex.quote(sys.executable)} -m codemem merge-file %O %A %B %P"


def configure_merge_driver(ws: Workspace) -> bool:
    """Register `codemem merge-file` as this clone's `merge=codemem` driver if it is not yet.

    Git keeps drivers in the clone's own config (never in a committed file), so each clone
    sets it once. Only a repository whose `.codemem/.gitattributes` asks for the driver is
    changed. Returns whether it was set now; a repository git cannot configure is left alone.
    """
    attributes = ws.dir / ".gitattributes"
    try:
        wanted = "merge=codemem" in attributes.read_text(encoding="utf-8")
    except OSError:
        return False
    if not wanted or git_config(ws.root, MERGE_DRIVER_KEY) is not None:
        return False
    try:
        # the command first: a driver with a name but no command is a fatal error to git
        run_git(ws.root, "config", "--local", MERGE_DRIVER_KEY, merge_driver_command())
        run_git(ws.root, "config", "--local", "merge.codemem.name", "codemem memory merge")
    except GitError:
        return False
    return True
