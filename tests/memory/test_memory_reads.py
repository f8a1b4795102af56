"""How much a read of memory does: each file's path looked at once, each file read once."""

from __future__ import annotations

from pathlib import Path

from memory_helpers import write_block

import codemem.memory.files as files_module
from codemem.memory import read_memory_file

BLOCK = "---\ndescription: Facts.\nlimit: 500\nread_only: false\n---\nFacts.\n"


def test_a_memory_file_is_looked_at_once_per_read(ws, monkeypatch):
    # The check resolved the path (`confine`) and looked whether it exists, and the read
    # through the held folders resolved it once more: three looks where one does.
    write_block(ws, "facts", BLOCK)
    path = ws.blocks_dir / "facts.md"
    looks: list[str] = []
    real_confine, real_exists = files_module.confine, Path.exists

    def confine(root, rel, **kwargs):
        looks.append(f"confine {rel}")
        return real_confine(root, rel, **kwargs)

    def exists(self, *args, **kwargs):
        if self == path:
            looks.append("exists")
        return real_exists(self, *args, **kwargs)

    monkeypatch.setattr(files_module, "confine", confine)
    monkeypatch.setattr(Path, "exists", exists)
    assert read_memory_file(ws, path) == BLOCK
    assert looks == ["confine .codemem/blocks/facts.md"]
