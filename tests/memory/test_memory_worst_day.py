"""Core memory blocks on their worst day: damaged files, kills, links, another process at once.

Each test here failed on the code before its fix; a committed block is never lost, torn, or
changed when what it says did not change.
"""

from __future__ import annotations

import pytest
from memory_helpers import run_cli

from codemem.memory import BlockFormatError, MemoryStore
from codemem.workspace import Workspace

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


NOT_UTF8 = b"---\ndescription: Team.\n---\nD\xe9ploy on Tuesdays.\n"


NOT_UTF8_LINE = (
    ".codemem/blocks/project.md: not UTF-8 text (invalid continuation byte at byte 28): "
    "re-save it as UTF-8, or restore it with `git checkout -- .codemem/blocks/project.md`"
)


def test_an_edit_of_a_block_that_is_not_utf8_is_refused_in_one_line(repo):
    # The edit read the file with a strict decode of its own: `internal error:
    # UnicodeDecodeError` and exit code 3, where a read of the block names the file and the fix.
    path = repo / ".codemem" / "blocks" / "project.md"
    path.write_bytes(NOT_UTF8)
    result = run_cli(repo, "memory", "set", "project", "--value", "New.")
    assert (result.exit_code, result.output) == (2, f"codemem: error: {NOT_UTF8_LINE}\n")
    with pytest.raises(BlockFormatError) as refused:  # the agent's memory_append
        MemoryStore(Workspace(repo)).append("project", "More.")
    assert str(refused.value) == NOT_UTF8_LINE
    assert path.read_bytes() == NOT_UTF8
