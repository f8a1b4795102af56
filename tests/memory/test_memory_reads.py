"""How much a read of memory does: each file's path looked at once, each file read once."""

from __future__ import annotations

import re
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


def test_a_block_is_read_once_to_be_deleted(ws, store, monkeypatch):
    # The delete read the block's bytes (for a block that cannot be read as text), then its
    # text: two reads where one does. The third open is the comparison of what was set aside.
    import codemem.infra.files as infra_files

    store.create("facts", "Facts.", value="Old.")
    opened: list[str] = []
    real = infra_files.open_regular

    def open_regular(path, **kwargs):
        name = re.sub(r"\.[0-9a-f]{8}\.removing$", ".<hex>.removing", Path(path).name)
        if name.startswith("facts"):  # not `local/.gitignore`
            opened.append(name)
        return real(path, **kwargs)

    monkeypatch.setattr(infra_files, "open_regular", open_regular)
    assert store.delete("facts").value == "Old."
    assert opened == ["facts.md", "facts.md.<hex>.removing"]
    assert not (ws.blocks_dir / "facts.md").exists()


def test_each_block_is_read_once_for_the_agent(ws, store, monkeypatch):
    # The agent's view read every block twice: once for the blocks, once for the problems.
    import codemem.infra.files as infra_files

    store.create("project", "The project.", value="A shop.")
    store.create("facts", "Facts.", value="Old.")
    opened: list[str] = []
    real = infra_files.open_regular

    def open_regular(path, **kwargs):
        if Path(path).suffix == ".md":
            opened.append(Path(path).name)
        return real(path, **kwargs)

    monkeypatch.setattr(infra_files, "open_regular", open_regular)
    assert "A shop." in store.render_blocks()
    assert sorted(opened) == ["facts.md", "project.md"]
