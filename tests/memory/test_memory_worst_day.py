"""Core memory blocks on their worst day: damaged files, kills, links, another process at once.

Each test here failed on the code before its fix; a committed block is never lost, torn, or
changed when what it says did not change.
"""

from __future__ import annotations

import pytest

from codemem.memory import MemoryStore

HEADER = "---\ndescription: Facts.\nlimit: 100\nread_only: false\n---\n"


@pytest.mark.parametrize(
    ("on_disk", "edit"),
    [
        (HEADER + "abc", lambda store: store.replace("facts", "abc", "abc")),
        (HEADER + "abc", lambda store: store.rethink("facts", "abc")),
        (HEADER.removesuffix("\n"), lambda store: store.rethink("facts", "")),
        (HEADER + "\n", lambda store: store.rethink("facts", "")),
    ],
    ids=["replace-no-final-newline", "same-value", "no-newline-after-fence", "blank-body"],
)
def test_an_edit_that_changes_nothing_writes_nothing(ws, store: MemoryStore, on_disk, edit):
    # A value written back as it was still had its file rewritten from the value: a final
    # newline added, a blank body dropped.
    path = ws.blocks_dir / "facts.md"
    path.parent.mkdir(parents=True)
    path.write_bytes(on_disk.encode())
    edit(store)
    assert path.read_bytes() == on_disk.encode()
