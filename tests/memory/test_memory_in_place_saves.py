"""An editor that saves in place (the same path opened and written over, its inode kept, as
vim with `backupcopy=yes` and many IDEs do) while codemem removes or replaces that file.

The editor opened the file before codemem moved it aside (or swapped it out): its save goes
into the file codemem holds, after codemem compared it. That file was then removed, and the
save with it. Now the last step checks that the file still holds what codemem compared: a save
is put back where it was made, or kept beside as `.kept` when a file is there, named in one
warning.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
from contextlib import nullcontext
from pathlib import Path

import pytest

import codemem.infra.removals as removals_module
import codemem.infra.swaps as swaps_module
from codemem.infra import held_path, printable, replace_bytes
from codemem.infra.held_paths import real_name
from codemem.memory import ConflictError, MemoryStore


class Editor:
    """An editor holding `path` open (since before codemem moved it) that saves in place."""

    def __init__(self, path: Path) -> None:
        self.fd = os.open(path, os.O_WRONLY)
        self.saves: list[str] = []

    def save(self, text: str) -> None:
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, text.encode(), 0)
        self.saves.append(text)

    def close(self) -> None:
        os.close(self.fd)


@pytest.fixture
def editor_of():
    opened: list[Editor] = []

    def open_editor(path: Path) -> Editor:
        opened.append(Editor(path))
        return opened[-1]

    yield open_editor
    for editor in opened:
        editor.close()


def the_kept_save(ws, path: Path, caplog) -> Path:
    """The one save kept in the swap folder, named in the one warning."""
    [kept] = [p for p in ws.swap_dir.iterdir() if p.name.endswith(".kept")]
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == [
        f"{path}: saved while codemem was removing it: the save is kept in {kept}"
    ]
    return kept


def save_after_the_check(
    monkeypatch, editor: Editor, text: str, module=removals_module, suffix: str = ".removing"
) -> None:
    """The editor saves right after codemem read the file it set aside (to compare it), or
    another file named `*<suffix>` that `module` reads."""
    real = module.read_regular_bytes

    def read_then_save(path, *args, **kwargs):
        data = real(path, *args, **kwargs)
        if path.name.endswith(suffix) and not editor.saves:
            editor.save(text)
        return data

    monkeypatch.setattr(module, "read_regular_bytes", read_then_save)


def test_a_block_saved_in_place_while_it_is_deleted_is_put_back(
    store, ws, monkeypatch, editor_of, caplog
):
    store.create("team", "Team notes.", "Deploy on Tuesdays.")
    path = ws.blocks_dir / "team.md"
    edited = path.read_text().replace("Tuesdays.", "Tuesdays and Thursdays (Dana).")
    save_after_the_check(monkeypatch, editor_of(path), edited)
    with pytest.raises(ConflictError, match="changed while it was being deleted"):
        store.delete("team")
    assert path.read_text() == edited  # before: gone, with Dana's save
    assert sorted(p.name for p in ws.blocks_dir.iterdir()) == ["team.md"]
    assert list((ws.local_dir / "removing" / "blocks").iterdir()) == []
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == [
        f"{path}: saved while codemem was removing it: the save is put back"
    ]


def test_a_note_saved_in_place_while_it_is_deleted_is_put_back(archive, ws, monkeypatch, editor_of):
    note = archive.insert("Deploys go through staging.").note
    edited = note.path.read_text().replace("staging.", "staging, then canary (Dana).")
    save_after_the_check(monkeypatch, editor_of(note.path), edited)
    with pytest.raises(ConflictError):
        archive.delete(note.id, note)
    assert note.path.read_text() == edited
    assert sorted(p.name for p in ws.archive_dir.iterdir()) == [f"{note.id}.md"]


def test_a_save_in_place_when_a_new_file_took_the_name_is_kept_beside(
    store, ws, monkeypatch, editor_of, caplog
):
    store.create("team", "Team notes.", "Deploy on Tuesdays.")
    path = ws.blocks_dir / "team.md"
    edited = path.read_text().replace("Tuesdays.", "Tuesdays (Dana).")
    editor = editor_of(path)
    real = removals_module.read_regular_bytes

    def read_then_save(where, *args, **kwargs):
        data = real(where, *args, **kwargs)
        if where.name.endswith(".removing") and not editor.saves:
            editor.save(edited)  # into the file set aside
            path.write_text("Written anew by Eve.\n")  # and a new file where it was
        return data

    monkeypatch.setattr(removals_module, "read_regular_bytes", read_then_save)
    with pytest.raises(ConflictError):
        store.delete("team")
    assert path.read_text() == "Written anew by Eve.\n"
    [kept] = (ws.local_dir / "removing" / "blocks").iterdir()
    assert (kept.name.endswith(".removing.kept"), kept.read_text()) == (True, edited)
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == [
        f"{path}: saved while codemem was removing it: the save is kept in {kept}"
    ]
    assert store.get("team").value == "Written anew by Eve."  # never put back by a later load


def test_a_save_in_place_between_the_last_check_and_the_unlink_is_kept(
    store, ws, monkeypatch, editor_of
):
    import codemem.infra.discards as discards_module

    store.create("team", "Team notes.", "Deploy on Tuesdays.")
    path = ws.blocks_dir / "team.md"
    edited = path.read_text().replace("Tuesdays.", "Mondays (Dana).")
    editor = editor_of(path)
    real = discards_module.os.unlink

    def save_then_unlink(where, *args, **kwargs):
        if str(where).endswith(".removing") and not editor.saves:
            editor.save(edited)  # after the file's last comparison, before it is gone
        return real(where, *args, **kwargs)

    monkeypatch.setattr(discards_module.os, "unlink", save_then_unlink)
    with pytest.raises(ConflictError):
        store.delete("team")
    assert path.read_text() == edited


def test_a_block_saved_in_place_while_codemem_writes_it_is_kept(
    store, ws, monkeypatch, editor_of, caplog
):
    """`update_text` swaps its new file in, compares what it swapped out, then removes that:
    a save into it after the comparison went with it."""
    store.create("team", "Team notes.", "Deploy on Tuesdays.")
    path = ws.blocks_dir / "team.md"
    edited = path.read_text().replace("Tuesdays.", "Tuesdays (Dana).")
    editor = editor_of(path)
    real = swaps_module._holds

    def compare_then_save(where):
        text = real(where)
        if where != path and not editor.saves:  # what was swapped out, compared
            editor.save(edited)
        return text

    monkeypatch.setattr(swaps_module, "_holds", compare_then_save)
    store.append("team", "Freeze on Fridays.")
    assert store.get("team").value == "Deploy on Tuesdays.\nFreeze on Fridays."
    kept = the_kept_save(ws, path, caplog)
    assert kept.read_text() == edited
    caplog.clear()
    store.append("team", "Tag releases.")  # the next write leaves it as it is, unnamed again
    assert [p for p in ws.swap_dir.iterdir() if p.name.endswith(".kept")] == [kept]
    assert caplog.records == []


def kept_in_status(ws) -> tuple[list[str], str]:
    """The `kept` lines of `codemem status --json`, and its text."""
    from click.testing import CliRunner

    from codemem.cli import cli

    runner = CliRunner()
    status = runner.invoke(cli, ["--repo", str(ws.root), "status", "--json"])
    lines = [d["message"] for d in json.loads(status.stdout)["damage"] if d["kind"] == "kept"]
    return lines, runner.invoke(cli, ["--repo", str(ws.root), "status"]).stdout


def new_file_and_save_in_place(monkeypatch, editor: Editor, path: Path, edited: str) -> None:
    """The editor saves into the file set aside, and another file is written where it was."""
    real = removals_module.read_regular_bytes

    def read_then_save(where, *args, **kwargs):
        data = real(where, *args, **kwargs)
        if where.name.endswith(".removing") and not editor.saves:
            editor.save(edited)
            path.write_text("Written anew by Eve.\n")
        return data

    monkeypatch.setattr(removals_module, "read_regular_bytes", read_then_save)


@pytest.mark.parametrize("label", ["team", "personal"])
def test_status_names_a_save_kept_from_a_removal(
    store, ws, monkeypatch, editor_of, isolated_home, label
):
    """Kept as `<name>.<hex>.removing.kept` in `local/removing/blocks/` (the personal block's
    beside it, in the home folder), where `codemem status` never looked: a person's text
    nobody would find."""
    store.create(label, "Notes.", "Deploy on Tuesdays.")
    path = store.path_for(label)
    edited = path.read_text().replace("Tuesdays.", "Tuesdays (Dana).")
    new_file_and_save_in_place(monkeypatch, editor_of(path), path, edited)
    with pytest.raises(ConflictError):
        store.delete(label)
    [kept] = (
        [p for p in path.parent.parent.rglob("*.kept")]
        if label == "personal"
        else [p for p in (ws.local_dir / "removing").rglob("*.kept")]
    )
    shown = printable(str(kept)) if label == "personal" else ws.relative(kept)
    line = (
        f"{shown}: a save of {path.name} made while codemem was removing it, kept: compare it "
        f"with {path.name}, keep what you mean, then delete it"
    )
    lines, text = kept_in_status(ws)
    assert (lines, f"  - {line}\n" in text) == ([line], True)


KILLED_WRITING_A_SOURCE_FILE = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    import codemem.infra.swaps as swaps
    from codemem.infra import replace_bytes

    source, lock, folder = (Path(arg) for arg in sys.argv[1:4])
    swaps.same_file_system = lambda folder, other: False  # a source file under a mount point
    real_exchange = swaps._exchange

    def save_then_swap_then_die(one, other):
        source.write_bytes(b"print('saved by Dana')\\n")  # a save lands just before the swap
        real_exchange(one, other)
        os.kill(os.getpid(), signal.SIGKILL)  # and codemem dies before it compares

    swaps._exchange = save_then_swap_then_die
    replace_bytes(source, b"print('old')\\n", b"print('new')\\n", lock, folder=folder)
    """
)


@pytest.mark.parametrize("held", [False, True], ids=["by its path", "through its held folder"])
def test_status_names_a_save_kept_beside_a_source_file(ws, monkeypatch, held):
    """Where the swap folder is on another file system than the file (a source file under a
    mount point), a write's new file is made beside the file, and so is the `.kept` of a
    save a killed write took out of place: `codemem status` looked only in `.codemem/`. The
    file tools write through the file's folder held open (`held_path`): the save is recorded
    by its real path, not by the descriptor's (`/proc/self/fd/N/...`, gone with the write)."""
    source = ws.root / "src" / "app.py"
    source.parent.mkdir()
    source.write_bytes(b"print('old')\n")
    lock = ws.ensure_local() / "locks" / "files.lock"
    args = [str(source), str(lock), str(ws.swap_dir)]
    killed = subprocess.run([sys.executable, "-c", KILLED_WRITING_A_SOURCE_FILE, *args])
    assert killed.returncode == -signal.SIGKILL
    monkeypatch.setattr(swaps_module, "same_file_system", lambda folder, other: False)
    with held_path(ws.root, "src/app.py") if held else nullcontext(source) as target:
        assert replace_bytes(
            target, b"print('new')\n", b"print('next')\n", lock, folder=ws.swap_dir
        )
    [kept] = source.parent.glob(".*.kept")
    assert kept.read_bytes() == b"print('saved by Dana')\n"
    line = (
        f"src/{kept.name}: a save of app.py that a killed write took out of place, kept: "
        "compare it with app.py, keep what you mean, then delete it"
    )
    assert kept_in_status(ws)[0] == [line]
    kept.unlink()
    assert kept_in_status(ws)[0] == []


def test_a_save_in_place_into_the_new_file_a_write_swapped_back_out_is_kept(
    store, ws, monkeypatch, editor_of, caplog
):
    """A save landed just before the swap, so the write swapped its own new file back out, and
    `atomic_file` removed that file unchecked: an editor that opened the block while the new
    file was in place saved into it, and the save went with it."""
    store.create("team", "Team notes.", "Deploy on Tuesdays.")
    path = ws.blocks_dir / "team.md"
    before_swap = path.read_text().replace("Tuesdays.", "Tuesdays (Eve).")
    in_place = path.read_text().replace("Tuesdays.", "Tuesdays (Dana).")
    real_exchange, real_holds_bytes = swaps_module._exchange, swaps_module._holds_bytes
    editors: list[Editor] = []

    def save_then_swap(one, other):
        if not editors and real_name(Path(other)) == path:  # through a held folder
            path.write_text(before_swap)  # Eve's save, just before the swap: swapped back
        return real_exchange(one, other)

    def read_then_save(where):
        held = real_holds_bytes(where)
        if not editors:
            editors.append(editor_of(path))  # opens the block: codemem's new file, for now
        elif not editors[0].saves:
            editors[0].save(in_place)  # saves into it, swapped back out meanwhile
        return held

    monkeypatch.setattr(swaps_module, "_exchange", save_then_swap)
    monkeypatch.setattr(swaps_module, "_holds_bytes", read_then_save)
    store.append("team", "Freeze on Fridays.")
    assert store.get("team").value == "Deploy on Tuesdays (Eve).\nFreeze on Fridays."
    kept = the_kept_save(ws, path, caplog)
    assert kept.read_text() == in_place


KILLED_AFTER_THE_SWAP = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    import codemem.infra.swaps as swaps
    from codemem.memory import MemoryStore
    from codemem.workspace import Workspace

    real_exchange = swaps._exchange

    def swap_then_die(one, other):
        real_exchange(one, other)
        os.kill(os.getpid(), signal.SIGKILL)  # before it compares what it swapped out

    swaps._exchange = swap_then_die
    MemoryStore(Workspace(Path(sys.argv[1])), user="w").append("team", "codemem's line")
    """
)


def test_a_save_in_place_into_what_a_killed_write_swapped_out_is_kept(
    store, ws, monkeypatch, editor_of, caplog
):
    """The next write removed what a killed write had swapped out once it held the text that
    write replaced, unchecked: an editor that had the block open since before saved into it in
    place, and the save went with it."""
    store.create("team", "Team notes.", "Deploy on Tuesdays.")
    path = ws.blocks_dir / "team.md"
    edited = path.read_text().replace("Tuesdays.", "Tuesdays (Dana).")
    editor = editor_of(path)  # open since before the write
    killed = subprocess.run([sys.executable, "-c", KILLED_AFTER_THE_SWAP, str(ws.root)])
    assert killed.returncode == -signal.SIGKILL
    # the save goes into the file the killed write swapped out, once it was compared
    save_after_the_check(monkeypatch, editor, edited, swaps_module, ".tmp")
    store.append("team", "Next.")
    assert store.get("team").value == "Deploy on Tuesdays.\ncodemem's line\nNext."
    kept = the_kept_save(ws, path, caplog)
    assert kept.read_text() == edited


def test_a_personal_block_link_replaced_by_a_save_as_it_is_deleted_stays(
    store, isolated_home, monkeypatch
):
    """A personal block kept in dotfiles is a link, and the delete removes the link, never what
    it leads to; but it removed whatever was at the name once it had seen a link there, so an
    editor that saves by writing a new file over the link lost that save."""
    dotfile = isolated_home / "dotfiles-personal.md"
    dotfile.write_text("---\ndescription: Mine.\n---\nShort answers.\n")
    path = store.path_for("personal")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(dotfile)
    saved = "---\ndescription: Mine.\n---\nShort answers, with sources.\n"
    real = Path.is_symlink

    def link_then_save(self):
        found = real(self)
        if self == path and found:
            path.with_name("new.md").write_text(saved)
            os.replace(path.with_name("new.md"), path)  # the editor's save, over the link
        return found

    monkeypatch.setattr(Path, "is_symlink", link_then_save)
    with pytest.raises(ConflictError, match="changed while it was being deleted"):
        store.delete("personal")
    monkeypatch.setattr(Path, "is_symlink", real)
    assert (path.is_symlink(), path.read_text()) == (False, saved)
    assert dotfile.read_text() == "---\ndescription: Mine.\n---\nShort answers.\n"


def test_a_broken_block_saved_anew_as_it_is_deleted_stays(store, ws, monkeypatch):
    """A block that is not UTF-8 (or too large) could not be compared, so it was removed
    unchecked: the save that repaired it, landing after codemem read it, went with it."""
    path = ws.blocks_dir / "team.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"---\ndescription: Team.\n---\nD\xe9ploy on Tuesdays.\n")
    saved = "---\ndescription: Team.\n---\nDéploy on Tuesdays.\n"
    real = MemoryStore._text

    def read_then_save(self, label, where):
        try:
            return real(self, label, where)
        finally:
            where.with_name("new.md").write_text(saved)
            os.replace(where.with_name("new.md"), where)  # the repair, saved as a new file

    monkeypatch.setattr(MemoryStore, "_text", read_then_save)
    with pytest.raises(ConflictError, match="changed while it was being deleted"):
        store.delete("team")
    assert path.read_text() == saved
