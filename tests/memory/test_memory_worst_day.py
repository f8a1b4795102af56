"""Core memory blocks on their worst day: damaged files, kills, links, another process at once.

Each test here failed on the code before its fix; a committed block is never lost, torn, or
changed when what it says did not change.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from memory_helpers import run_cli

from codemem.memory import BlockExistsError, BlockFormatError, MemoryEditError, MemoryStore
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


KILLED_MID_DELETE = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    import codemem.infra.removals as removals
    from codemem.memory import MemoryStore
    from codemem.workspace import Workspace

    def die(self):  # set aside, compared, not yet removed
        os.kill(os.getpid(), signal.SIGKILL)

    removals.SetAside.remove = die
    MemoryStore(Workspace(Path(sys.argv[1])), user="alice").delete("team")
    """
)


@pytest.mark.parametrize("then", ["get", "append", "create", "rename"])
def test_a_block_a_killed_delete_left_set_aside_is_there_for_the_next_command(ws, store, then):
    # Only a load of every block put it back: `get` said the block was unknown while listing
    # it; an edit waited 30 s on its own lock, then said so too; `create` made a new block
    # over the label, and the old one stayed set aside for good.
    store.create("team", "Team notes.", value="Deploy on Tuesdays.")
    killed = subprocess.run([sys.executable, "-c", KILLED_MID_DELETE, str(ws.root)])
    assert killed.returncode == -signal.SIGKILL
    assert not (ws.blocks_dir / "team.md").exists()  # set aside in local/removing/blocks/
    fresh = MemoryStore(ws, user="alice")
    started = time.monotonic()
    if then == "get":
        assert fresh.get("team").value == "Deploy on Tuesdays."
    elif then == "append":
        assert fresh.append("team", "And Thursdays.").value == "Deploy on Tuesdays.\nAnd Thursdays."
    elif then == "create":
        with pytest.raises(BlockExistsError):
            fresh.create("team", "Another team.", value="New.")
    else:
        assert fresh.rename("team", "crew").value == "Deploy on Tuesdays."
    assert time.monotonic() - started < 10  # never waits on a lock it holds itself
    label = "crew" if then == "rename" else "team"
    assert fresh.get(label).value.startswith("Deploy on Tuesdays.")
    assert list((ws.local_dir / "removing" / "blocks").iterdir()) == []


KILLED_AT_THE_OLD_NAMES_UNLINK = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from codemem.memory import MemoryStore
    from codemem.workspace import Workspace

    real_unlink = os.unlink

    def unlink(path, *args, **kwargs):  # the old label's name about to go: killed there
        if Path(path).name == "team.md":
            os.kill(os.getpid(), signal.SIGKILL)
        real_unlink(path, *args, **kwargs)

    os.unlink = unlink
    MemoryStore(Workspace(Path(sys.argv[1])), user="alice").rename("team", "crew")
    """
)


def test_a_killed_rename_leaves_the_block_under_one_label(ws, store):
    # The move was a hard link under the new label, then the old name unlinked: killed between
    # the two, the block was listed twice (both labels, one file), and `memory mv` again said
    # "a block labelled 'crew' already exists". It is now one renameat2(RENAME_NOREPLACE).
    store.create("team", "Team notes.", value="Deploy on Tuesdays.")
    subprocess.run([sys.executable, "-c", KILLED_AT_THE_OLD_NAMES_UNLINK, str(ws.root)])
    fresh = MemoryStore(ws, user="alice")
    labels = [block.label for block in fresh.list() if block.label in ("team", "crew")]
    assert len(labels) == 1
    if labels == ["team"]:  # killed before the move: it can be done again
        fresh.rename("team", "crew")
    assert fresh.get("crew").value == "Deploy on Tuesdays."
    assert not (ws.blocks_dir / "team.md").exists()


def test_a_personal_block_kept_as_a_link_in_dotfiles_is_edited_where_it_leads(ws, isolated_home):
    # The edit swapped its new file in for the link itself: the link was gone, the personal
    # block a file of its own the dotfiles no longer had, and the edit ended in `OSError: Too
    # many levels of symbolic links` on the link it had swapped out.
    dotfile = isolated_home / "dotfiles" / "personal.md"
    dotfile.parent.mkdir()
    dotfile.write_text("---\ndescription: Mine.\n---\nShort answers.\n")
    store = MemoryStore(ws, user="alice")
    link = store.personal_path
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(dotfile)
    assert store.append("personal", "With sources.").value == "Short answers.\nWith sources."
    assert (os.readlink(link), dotfile.read_text()) == (
        str(dotfile),
        "---\ndescription: Mine.\n---\nShort answers.\nWith sources.\n",
    )
    assert sorted(p.name for p in dotfile.parent.iterdir()) == ["personal.md"]
    assert sorted(p.name for p in link.parent.iterdir()) == ["locks", "personal.md"]


def test_a_personal_block_that_is_a_folder_is_named_in_one_line(ws, isolated_home):
    # It was read as a file wherever it was named: `IsADirectoryError` out of `get`, every
    # edit, `create` and `delete` (a FIFO there hung them instead).
    store = MemoryStore(ws, user="alice")
    folder = store.personal_path
    folder.mkdir(parents=True)
    (folder / "notes.txt").write_text("Kept.\n")
    shown = str(folder)
    with pytest.raises(BlockFormatError) as read:
        store.get("personal")
    assert str(read.value) == f"{shown}: it is not a regular file; move it away first"
    for edit in (
        lambda: store.append("personal", "More."),
        lambda: store.create("personal", "Mine."),
        lambda: store.delete("personal"),
    ):
        with pytest.raises(MemoryEditError) as refused:
            edit()
        assert str(refused.value) == f"{shown}: it is not a regular file; move it away first"
    assert [problem.args[0] for problem in store.problems()] == [
        f"{shown}: it is not a regular file; move it away first"
    ]
    assert [p.name for p in folder.iterdir()] == ["notes.txt"]


def test_a_personal_block_that_is_not_utf8_can_be_deleted(ws, isolated_home):
    # Deleting it ended in `UnicodeDecodeError`: its read raised that, not the error the
    # delete takes for a block that cannot be read as text (a shared one is deleted so).
    store = MemoryStore(ws, user="alice")
    path = store.personal_path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(NOT_UTF8)
    assert store.delete("personal").value == ""
    assert not os.path.lexists(path)


def test_a_save_that_changed_only_the_line_ends_is_not_written_over(ws, store, monkeypatch):
    # The compare-and-swap compared texts with their line ends made one: a teammate's editor
    # saving the block with CRLF line ends after codemem read it, and before codemem swapped
    # its edit in, saw that save replaced by the edit in the old LF line ends.
    import codemem.memory.blocks as blocks_module

    store.create("facts", "Facts.", value="One.", limit=100)
    path = ws.blocks_dir / "facts.md"
    crlf = path.read_bytes().replace(b"\n", b"\r\n")
    real = blocks_module.parse_block

    def read_then_save(*args):
        if not saved:  # the editor's save: a new file renamed over the block
            saved.append(True)
            path.with_name("new.md").write_bytes(crlf)
            os.replace(path.with_name("new.md"), path)
        return real(*args)

    saved: list[bool] = []
    monkeypatch.setattr(blocks_module, "parse_block", read_then_save)
    assert store.append("facts", "Two.").value == "One.\nTwo."
    assert path.read_bytes() == crlf.replace(b"One.\r\n", b"One.\r\nTwo.\r\n")


def test_a_block_too_large_to_compare_is_named_not_called_unknown(ws, store, monkeypatch):
    # A block over the size a delete reads to compare (64 MiB) was called unknown: "unknown
    # block 'huge': the blocks are none yet", of a file right there.
    import codemem.memory.block_removal as removal_module
    import codemem.memory.files as memory_files

    monkeypatch.setattr(memory_files, "MAX_MEMORY_BYTES", 100)
    monkeypatch.setattr(removal_module, "_MAX_BROKEN_BYTES", 200)
    ws.blocks_dir.mkdir(parents=True)
    (ws.blocks_dir / "huge.md").write_text("x" * 500)
    with pytest.raises(MemoryEditError) as refused:
        store.delete("huge")
    assert str(refused.value) == (
        ".codemem/blocks/huge.md: larger than 200 bytes, more than codemem reads to compare "
        "it before it deletes it: delete it with `git rm` (or `rm`)"
    )
    assert (ws.blocks_dir / "huge.md").read_text() == "x" * 500
