"""The file layer: atomic replace, compare-and-swap, reading text, confinement to the repository."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from codemem.errors import FileTooLarge, NotARegularFile, PathOutsideRepository, WriteConflict
from codemem.infra import (
    KeptSave,
    RepoPath,
    atomic_write,
    confine,
    kept_saves,
    read_at_most,
    read_regular_bytes,
    read_text,
    remove_file,
    replace_bytes,
    replace_text,
    update_text,
)
from codemem.infra.files import READ_PIECE


def test_atomic_write_replaces_and_keeps_the_mode(tmp_path):
    target = tmp_path / "sub" / "file.md"
    atomic_write(target, "one\n")
    assert target.read_text() == "one\n"
    os.chmod(target, 0o640)
    atomic_write(target, b"two\n")
    assert target.read_text() == "two\n"
    assert target.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in target.parent.iterdir()) == ["file.md"]


def test_a_failure_between_the_temp_write_and_the_rename_leaves_the_old_content(
    tmp_path, monkeypatch
):
    target = tmp_path / "file.txt"
    target.write_text("old\n")

    def fail(*args):
        raise OSError("disk gone")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk gone"):
        atomic_write(target, "new\n")
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt"]  # no temp file left


KILLED_AT = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from codemem.infra import atomic_write

    target, where = Path(sys.argv[1]), sys.argv[2]
    def kill(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)

    setattr(os, where, kill)
    if where == "replace":  # the rename that puts the file in place, or the swap that does
        import codemem.infra.swaps

        codemem.infra.swaps._exchange = kill
    atomic_write(target, "new content\\n")
    """
)


@pytest.mark.parametrize("where", ["fsync", "replace"])
def test_a_writer_killed_before_the_rename_leaves_the_old_file(tmp_path, where):
    target = tmp_path / "file.txt"
    target.write_text("old content\n")
    killed = subprocess.run([sys.executable, "-c", KILLED_AT, str(target), where], check=False)
    assert killed.returncode == -signal.SIGKILL
    assert target.read_text() == "old content\n"
    left = sorted(p.name for p in tmp_path.iterdir() if p != target)
    if where == "fsync" and sys.platform.startswith("linux"):  # still writing: no name yet
        assert left == []
    else:  # named (whole) only for the rename
        assert [(name[:10], name[-4:]) for name in left] == [(".file.txt.", ".tmp")]
    atomic_write(target, "next\n")  # a stray temp file does not get in the way
    assert target.read_text() == "next\n"


def test_where_the_unnamed_temp_file_cannot_be_linked_it_is_copied(tmp_path, monkeypatch):
    target = tmp_path / "file.txt"
    target.write_text("old\n")
    os.chmod(target, 0o640)

    def refuse(*args, **kwargs):
        raise PermissionError("linkat refused")

    monkeypatch.setattr(os, "link", refuse)
    atomic_write(target, "new\n" * 500_000)
    assert target.read_text() == "new\n" * 500_000
    assert target.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt"]


def test_read_text_normalizes_line_ends_and_reports_a_missing_file(tmp_path):
    path = tmp_path / "crlf.txt"
    path.write_bytes(b"one\r\ntwo\n")
    assert read_text(path) == "one\ntwo\n"
    assert read_text(tmp_path / "missing.txt") is None


@pytest.mark.parametrize("swaps", [True, False], ids=["swapped-in", "no-swap-on-this-system"])
def test_update_text_reapplies_the_edit_when_someone_writes_without_the_lock(
    tmp_path, monkeypatch, swaps
):
    import codemem.infra.swaps as swaps_module

    if not swaps:
        monkeypatch.setattr(swaps_module, "_exchange", lambda one, other: False)
    path, lock = tmp_path / "block.md", tmp_path / "locks" / "block.lock"
    path.write_text("base\n")
    seen = []

    def edit(text):
        seen.append(text)
        if len(seen) == 1:
            path.write_text(text + "editor\n")  # a person saves between our read and our rename
        return text + "agent\n"

    assert update_text(path, edit, lock) == ("base\neditor\n", "base\neditor\nagent\n")
    assert path.read_text() == "base\neditor\nagent\n"
    assert seen == ["base\n", "base\neditor\n"]


@pytest.mark.parametrize("later_save", [False, True], ids=["save-before", "and-one-after"])
def test_update_text_never_renames_over_a_save_made_after_its_last_check(
    tmp_path, monkeypatch, later_save
):
    """The file was compared, then renamed over: a save between the two was lost."""
    import codemem.infra.files as files_module

    path, lock = tmp_path / "block.md", tmp_path / "block.lock"
    path.write_text("base\n")
    saves: list[str] = []
    import codemem.infra.swaps as swaps_module

    real_link, real_exchange = files_module._link_unnamed, swaps_module._exchange

    def save_before_the_rename(fd, target):  # the temp file is whole: the rename comes next
        if not saves:
            saves.append("base\neditor\n")
            path.write_text(saves[-1])
        return real_link(fd, target)

    def exchange_then_save(one, other):
        swapped = real_exchange(one, other)
        if later_save and len(saves) == 1:  # and her next save lands right after the swap
            saves.append("base\neditor\nagain\n")
            path.write_text(saves[-1])
        return swapped

    monkeypatch.setattr(files_module, "_link_unnamed", save_before_the_rename)
    monkeypatch.setattr(swaps_module, "_exchange", exchange_then_save)
    newest = "base\neditor\nagain\n" if later_save else "base\neditor\n"
    assert update_text(path, lambda text: text + "agent\n", lock) == (newest, newest + "agent\n")
    assert path.read_text() == newest + "agent\n"
    assert [p.name for p in tmp_path.iterdir() if p.name != "block.lock"] == ["block.md"]


@pytest.mark.parametrize("later_save", [False, True], ids=["save-before", "and-one-after"])
def test_replace_bytes_compares_byte_for_byte_up_to_the_swap(tmp_path, monkeypatch, later_save):
    import codemem.infra.swaps as swaps_module

    path, lock = tmp_path / "src" / "app.py", tmp_path / "app.lock"
    path.parent.mkdir()
    path.write_bytes(b"x = 1\n")
    os.chmod(path, 0o751)
    saves = [b"x = 1\r\n", b"x = 2\r\n"]  # the first changes its line end only
    real_exchange = swaps_module._exchange

    def save_around_the_swap(one, other):
        if len(saves) == 2:  # a save just before the swap
            path.write_bytes(saves.pop(0))
            swapped = real_exchange(one, other)
            if later_save:  # and her next one right after it
                path.write_bytes(saves.pop(0))
            return swapped
        return real_exchange(one, other)

    monkeypatch.setattr(swaps_module, "_exchange", save_around_the_swap)
    assert replace_bytes(path, b"x = 1\n", b"x = 3\n", lock) is False
    assert path.read_bytes() == (b"x = 2\r\n" if later_save else b"x = 1\r\n")
    assert [p.name for p in path.parent.iterdir()] == ["app.py"]
    monkeypatch.undo()
    assert replace_bytes(path, path.read_bytes(), b"x = 3\n", lock) is True
    assert (path.read_bytes(), path.stat().st_mode & 0o777) == (b"x = 3\n", 0o751)
    assert replace_bytes(path.with_name("new.py"), None, b"y\n", lock) is True
    assert replace_bytes(path.with_name("new.py"), None, b"z\n", lock) is False
    assert path.with_name("new.py").read_bytes() == b"y\n"


KILLED_AT_THE_SWAP = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    import codemem.infra.swaps as swaps

    path, folder, saved, when = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4]
    real_exchange = swaps._exchange

    def die_at_the_swap(one, other):
        if saved:
            path.write_text(saved)  # a person's save just before the swap
        if when == "after":
            real_exchange(one, other)
        os.kill(os.getpid(), signal.SIGKILL)

    swaps._exchange = die_at_the_swap
    swaps.update_text(path, lambda text: text + "agent\\n", path.with_name("lock"), folder=folder)
    """
)


@pytest.mark.parametrize(
    ("when", "saved", "saved_again", "left", "kept"),
    [
        ("before", "", "", "base\n", []),  # the temp held the new text: removed
        ("after", "", "", "base\nagent\n", []),  # it held the old text, replaced: removed
        ("after", "base\nmine\n", "", "base\nagent\n", ["base\nmine\n"]),
        ("after", "base\nmine\n", "base\nmine\nmore\n", "base\nmine\nmore\n", ["base\nmine\n"]),
    ],
    ids=["before-the-swap", "between-the-swaps", "over-a-save", "over-a-save-saved-again"],
)
def test_what_a_kill_at_the_swap_leaves_is_settled_by_the_next_write(
    tmp_path, caplog, when, saved, saved_again, left, kept
):
    path, folder = tmp_path / "work" / "block.md", tmp_path / "local" / "swapping"
    path.parent.mkdir()
    path.write_text("base\n")
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_AT_THE_SWAP, str(path), str(folder), saved, when],
        check=False,
    )
    assert killed.returncode == -signal.SIGKILL
    assert sorted(p.name for p in path.parent.iterdir()) == ["block.md", "lock"]
    temps = lambda: [p for p in folder.iterdir() if p.name != "locks"]  # noqa: E731
    assert len(temps()) == 1
    if saved_again:
        path.write_text(saved_again)
    assert update_text(path, lambda text: text, path.with_name("lock"), folder=folder)[0] == left
    assert path.read_text() == left
    assert [p.read_text() for p in temps()] == kept
    assert [p.name.endswith(".tmp.kept") for p in temps()] == [True] * len(kept)
    assert len(caplog.records) == len(kept)
    caplog.clear()  # a save kept is left as it is by the next write: once `.kept.kept`, warned again
    update_text(path, lambda text: (text or "") + "more\n", path.with_name("lock"), folder=folder)
    assert [p.read_text() for p in temps()] == kept
    assert [p.name.endswith(".tmp.kept") for p in temps()] == [True] * len(kept)
    assert caplog.records == []


def test_an_older_codemems_leftovers_beside_the_file_are_settled_by_the_next_write(
    tmp_path, caplog
):
    # Before writes waited in a swap folder under names holding their digests, a kill at the
    # swap left `.<name>.<random>.tmp` beside the file, maybe holding a person's save: the
    # next write left it there for `git add -A`, never named.
    path, folder = tmp_path / "work" / "block.md", tmp_path / "local" / "swapping"
    path.parent.mkdir()
    path.write_text("base\n")
    (path.parent / ".block.md.0a1b2c3d.tmp").write_text("base\nmine\n")  # a save it took
    (path.parent / ".block.md.k3_9x2pq.tmp").write_text("base\n")  # what the file holds
    (path.parent / ".other.md.0a1b2c3d.tmp").write_text("other\n")  # another file's
    for left in path.parent.iterdir():  # left by a killed process, a while ago
        os.utime(left, (time.time() - 120, time.time() - 120))
    (path.parent / ".block.md.fresh123.tmp").write_text("in flight\n")  # another program's
    assert update_text(path, lambda text: text + "agent\n", path.with_name("lock"), folder=folder)
    assert path.read_text() == "base\nagent\n"
    assert sorted(p.name for p in path.parent.iterdir()) == [
        ".block.md.fresh123.tmp",
        ".other.md.0a1b2c3d.tmp",
        "block.md",
        "lock",
    ]
    kept = folder / ".block.md.0a1b2c3d.tmp.kept"
    left_there = [p for p in folder.iterdir() if p.name != "locks"]  # the swaps' own locks
    assert [(p, p.read_text()) for p in left_there] == [(kept, "base\nmine\n")]
    assert kept_saves(folder) == [KeptSave(kept, "block.md", removing=False)]
    assert [r.getMessage() for r in caplog.records] == [
        f"{path}: what an older codemem's write of it left beside it when killed (a save it "
        f"took out of place, or the text it replaced) is kept in {kept}: compare the two and "
        "keep what you mean"
    ]


def test_update_text_writes_nothing_when_nothing_changes(tmp_path):
    path, lock = tmp_path / "block.md", tmp_path / "block.lock"
    path.write_text("same\n")
    mtime = path.stat().st_mtime_ns
    time.sleep(0.01)
    assert update_text(path, lambda text: text, lock) == ("same\n", "same\n")
    assert path.stat().st_mtime_ns == mtime


def test_update_text_gives_up_on_a_file_that_never_settles(tmp_path):
    path, lock = tmp_path / "busy.md", tmp_path / "busy.lock"
    path.write_text("0\n")

    def edit(text):
        path.write_text(text + "x\n")  # someone else writes every time we read
        return text + "mine\n"

    with pytest.raises(
        WriteConflict, match=f"^{path} kept changing while codemem was writing it: try again$"
    ):
        update_text(path, edit, lock, attempts=3)


# -- confinement --------------------------------------------------------------------------------


@pytest.fixture
def root(tmp_path):
    repo = tmp_path / "repo"
    (repo / "src").mkdir(parents=True)
    (repo / "src" / "app.py").write_text("print(1)\n")
    (tmp_path / "secret.txt").write_text("outside\n")
    return repo


def test_paths_inside_the_root_are_resolved(root):
    assert confine(root, "src/app.py") == RepoPath(root.resolve() / "src" / "app.py", "src/app.py")
    assert confine(root, "src/../src/app.py").rel == "src/app.py"
    assert confine(root, str(root / "src" / "app.py")).rel == "src/app.py"
    assert confine(root, "src/new.py", for_write=True).rel == "src/new.py"
    assert confine(root, ".").rel == "."


@pytest.mark.parametrize("path", ["../secret.txt", "src/../../secret.txt", "/etc/passwd"])
def test_dot_dot_and_absolute_paths_outside_are_refused(root, path):
    with pytest.raises(
        PathOutsideRepository,
        match=f"^{path} is outside the repository: paths are relative to its root \\(repo/\\)$",
    ):
        confine(root, path)


def test_a_symlink_pointing_out_is_refused(root, tmp_path):
    (root / "link.txt").symlink_to(tmp_path / "secret.txt")
    (root / "linkdir").symlink_to(tmp_path)
    with pytest.raises(PathOutsideRepository, match="^link.txt is outside the repository"):
        confine(root, "link.txt")
    with pytest.raises(
        PathOutsideRepository, match="^linkdir/secret.txt is outside the repository"
    ):
        confine(root, "linkdir/secret.txt")


def test_a_symlink_pointing_inside_is_followed(root):
    (root / "alias.py").symlink_to(root / "src" / "app.py")
    assert confine(root, "alias.py").rel == "src/app.py"


def test_writes_to_git_folders_and_directories_are_refused(root):
    with pytest.raises(
        PathOutsideRepository,
        match=r"^\.git/config: writing there is not allowed \(git's own files\)$",
    ):
        confine(root, ".git/config", for_write=True)
    with pytest.raises(PathOutsideRepository, match="^src is a directory: give a file path$"):
        confine(root, "src", for_write=True)
    with pytest.raises(PathOutsideRepository, match="^a path is required"):
        confine(root, "  ")


def test_read_regular_bytes_refuses_what_is_not_a_regular_file_and_what_is_too_large(tmp_path):
    (tmp_path / "folder").mkdir()
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "link").symlink_to(tmp_path / "small")
    (tmp_path / "small").write_bytes(b"12345")
    for name in ("folder", "pipe", "link"):  # not IsADirectoryError, no wait for a writer
        with pytest.raises(NotARegularFile):
            read_regular_bytes(tmp_path / name)
    assert read_regular_bytes(tmp_path / "small", max_bytes=5) == b"12345"
    with pytest.raises(FileTooLarge, match="small has 5 bytes, over the 4 read$"):
        read_regular_bytes(tmp_path / "small", max_bytes=4)


def test_read_at_most_reads_up_to_its_limit_in_pieces_and_never_asks_for_it_whole(tmp_path):
    data = bytes(range(256)) * 12_000  # 3 MB: more than one piece past the first
    asked: list[int] = []

    class Recorded(io.BytesIO):
        def read(self, size=-1):
            asked.append(size)
            return super().read(size)

    assert read_at_most(Recorded(data), 2**62, expected=100) == data  # grew since its stat
    assert asked == [101, READ_PIECE, READ_PIECE, READ_PIECE]  # the last one short: the end
    asked.clear()
    assert read_at_most(Recorded(data), 2_500_000, expected=len(data)) == data[:2_500_000]
    assert asked == [2_500_000]
    assert read_at_most(Recorded(b""), 10, expected=0) == b""
    assert read_at_most(Recorded(data), 5) == data[:5]
    path = tmp_path / "small.txt"
    path.write_bytes(b"abc")
    assert read_regular_bytes(path, 2**62) == b"abc"


def test_update_text_keeps_a_files_crlf_line_ends(tmp_path):
    # A block committed from Windows with CRLF: appending one line rewrote every line with
    # LF, so the pull request showed the whole file changed.
    path, lock = tmp_path / "block.md", tmp_path / "block.lock"
    path.write_bytes(b"---\r\nlimit: 8000\r\n---\r\nOne.   \r\n")
    assert update_text(path, lambda text: (text or "") + "Two.\n", lock) == (
        "---\nlimit: 8000\n---\nOne.   \n",
        "---\nlimit: 8000\n---\nOne.   \nTwo.\n",
    )
    assert path.read_bytes() == b"---\r\nlimit: 8000\r\n---\r\nOne.   \r\nTwo.\r\n"
    plain = tmp_path / "plain.md"
    plain.write_bytes(b"One.\n")
    update_text(plain, lambda text: (text or "") + "Two.\r\n", lock)
    assert plain.read_bytes() == b"One.\nTwo.\n"


class Refused(Exception):
    pass


@pytest.mark.parametrize(
    ("saved_again", "left"),
    [(False, "edited by Dana\n"), (True, "edited again by Dana\n")],
    ids=["put-back", "a-newer-save-stays"],
)
def test_remove_file_puts_back_what_the_check_refuses(tmp_path, saved_again, left):
    path = tmp_path / "note.md"
    path.write_text("edited by Dana\n")

    def refuse(data: bytes) -> None:
        assert data == b"edited by Dana\n"
        if saved_again:  # her next save lands after the move: it is never overwritten
            path.write_text("edited again by Dana\n")
        raise Refused

    with pytest.raises(Refused):
        remove_file(path, refuse)
    assert path.read_text() == left
    assert [p.name for p in tmp_path.iterdir()] == ["note.md"]


def test_remove_file_removes_what_the_check_accepts(tmp_path):
    path = tmp_path / "note.md"
    path.write_text("old\n")
    assert remove_file(path, lambda data: data.decode()) == "old\n"
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(FileNotFoundError):
        remove_file(path, lambda data: None)


def test_replace_text_writes_only_over_what_was_read_in_the_files_line_ends(tmp_path):
    path = tmp_path / "block.md"
    path.write_bytes(b"one\r\ntwo\r\n")
    assert replace_text(path, "one\ntwo\n", "one\nTWO\n") is True
    assert path.read_bytes() == b"one\r\nTWO\r\n"
    assert replace_text(path, "one\ntwo\n", "lost\n") is False  # it says TWO now
    assert path.read_bytes() == b"one\r\nTWO\r\n"


def test_a_writer_killed_before_the_rename_leaves_nothing_git_would_commit_in_codemem(repo_factory):
    """Its temp file waited beside the memory file, where `digest --push` (`git add -A --
    .codemem`) committed it."""
    from codemem.workspace import Workspace
    from tests.helpers import git

    ws = Workspace(repo_factory())
    ws.ensure_local()
    target = ws.dir / "digests" / "2026-12-06-a-b.md"
    target.parent.mkdir()
    target.write_text("old content\n")
    git(ws.root, "add", "-A")
    git(ws.root, "commit", "-qm", "digest")
    killed = subprocess.run([sys.executable, "-c", KILLED_AT, str(target), "replace"], check=False)
    assert killed.returncode == -signal.SIGKILL
    assert target.read_text() == "old content\n"
    assert git(ws.root, "status", "--porcelain", "--untracked-files=all").stdout == ""
    atomic_write(target, "next\n")
    assert (target.read_text(), sorted(p.name for p in target.parent.iterdir())) == (
        "next\n",
        ["2026-12-06-a-b.md"],
    )


@pytest.mark.parametrize("write", ["atomic_write", "update_text"])
def test_no_temp_file_goes_through_a_swapping_folder_a_clone_committed_as_a_link(
    repo_factory, tmp_path, monkeypatch, write
):
    import codemem.infra.files as files_module
    from codemem.workspace import Workspace

    ws = Workspace(repo_factory())
    ws.ensure_local()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    ws.swap_dir.symlink_to(elsewhere)
    target = ws.dir / "conventions.json"
    real_link, prefixes = files_module._link_unnamed, []

    def recorded(fd, prefix):
        prefixes.append(prefix)
        return real_link(fd, prefix)

    monkeypatch.setattr(files_module, "_link_unnamed", recorded)
    if write == "update_text":  # over a file: a new one is linked at its name, no temp at all
        target.write_text("[]\n")
    if write == "atomic_write":
        atomic_write(target, "{}\n")
    else:
        update_text(target, lambda text: "{}\n", tmp_path / "lock", folder=ws.swap_dir)
    assert target.read_text() == "{}\n"
    assert [prefix.parent for prefix in prefixes] == [ws.dir]
    assert list(elsewhere.iterdir()) == []


def test_a_leftover_planted_in_the_swapping_folder_never_becomes_the_files_text(tmp_path):
    """A clone can commit `.codemem/local/`: a leftover named for the file and for what it holds
    now was swapped into its place by the next write."""
    import codemem.infra.swaps as swaps_module

    path, folder = tmp_path / "work" / "block.md", tmp_path / "swapping"
    path.parent.mkdir()
    folder.mkdir()
    path.write_text("reviewed\n")
    key, now = swaps_module._key(path, folder), swaps_module._digest(b"reviewed\n")
    planted = folder / f".block.md.{key}.{'0' * 16}.{now}.abcd1234.tmp"
    planted.write_text("planted\n")
    update_text(path, lambda text: text + "agent\n", tmp_path / "lock", folder=folder)
    assert path.read_text() == "reviewed\nagent\n"
    kept = [p.read_text() for p in folder.iterdir() if p.name != "locks"]
    assert kept == ["planted\n"]  # kept, said, never used


def test_rename_new_without_hard_links_never_moves_over_a_file_made_after_its_check(
    tmp_path, monkeypatch
):
    # Where the file system has no hard links, `rename_new` looked for the target, then
    # renamed over it: a file made between the two was replaced. The move is now one
    # `renameat2(RENAME_NOREPLACE)`, which refuses any file there.
    from codemem.infra import rename_new

    source, target = tmp_path / "new.md", tmp_path / "note.md"
    source.write_text("ours\n")

    def no_hard_links(*args, **kwargs):
        raise PermissionError(1, "Operation not permitted")

    def saved_after_the_look(path):  # the target appears just after the check
        target.write_text("theirs\n")
        return False

    monkeypatch.setattr(os, "link", no_hard_links)
    monkeypatch.setattr(os.path, "lexists", saved_after_the_look)
    target.write_text("theirs\n")
    with pytest.raises(FileExistsError):
        rename_new(source, target)
    monkeypatch.undo()
    assert (source.read_text(), target.read_text()) == ("ours\n", "theirs\n")
    rename_new(source, tmp_path / "other.md")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["note.md", "other.md"]
