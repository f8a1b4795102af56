"""Memory never reads or writes outside the repository: links in blocks/, archive/ and digests/
are skipped with one warning, never followed; private data is the owner's alone."""

from __future__ import annotations

import logging
import os
import stat

import pytest
from click.testing import CliRunner
from memory_helpers import write_block

from codemem.cli import cli
from codemem.errors import PathOutsideRepository
from codemem.mcp.resources import DIGEST_URI, latest_digest, read_resource
from codemem.memory import Archive, MemoryEditError, MemoryStore, Recall, UnknownLabelError
from codemem.workspace import Workspace
from tests.helpers import git

SECRET = "root:x:0:0:SECRET\n"
BLOCK = "---\ndescription: Facts.\nlimit: 500\nread_only: false\n---\n{}\n"
NOTE = "---\nid: {id}\ncreated: 2025-03-01T12:00:00+00:00\ntags: [build]\n---\n{text}\n"


@pytest.fixture
def outside(tmp_path):
    """A file outside every repository, standing in for /etc/passwd."""
    path = tmp_path / "outside" / "passwd"
    path.parent.mkdir()
    path.write_text(SECRET, encoding="utf-8")
    return path


@pytest.fixture
def hostile(repo_factory, outside, tmp_path):
    """A clone of a repository that committed `.codemem/blocks/x.md -> <outside>/passwd`."""
    origin = repo_factory()
    write_block(Workspace(origin), "project", BLOCK.format("A shop."))
    (origin / ".codemem" / "blocks" / "x.md").symlink_to(outside)
    git(origin, "add", "-A")
    git(origin, "commit", "-q", "-m", "memory")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(origin), str(clone))
    assert (clone / ".codemem" / "blocks" / "x.md").is_symlink()
    return Workspace(clone)


def warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


SKIPPED_X = (
    "skipped .codemem/blocks/x.md: it leads outside the repository; codemem reads memory only "
    "from regular files in the repository and never follows links"
)


def test_a_committed_link_in_blocks_is_skipped_with_one_warning(hostile, caplog):
    store = MemoryStore(hostile, user="alice")
    assert [block.label for block in store.list()] == ["project"]
    assert store.problems() == []
    with pytest.raises(UnknownLabelError) as caught:
        store.get("x")
    assert str(caught.value) == (
        "unknown block 'x': the blocks are project; create it first to use a new label"
    )
    assert "SECRET" not in store.render_blocks()
    assert warnings(caplog) == [SKIPPED_X]


def test_memory_show_does_not_print_a_linked_file(hostile, caplog):
    result = CliRunner().invoke(cli, ["--repo", str(hostile.root), "memory", "show"])
    assert result.exit_code == 0, result.output
    assert "SECRET" not in result.output
    result = CliRunner().invoke(cli, ["--repo", str(hostile.root), "memory", "show", "x"])
    assert result.exit_code == 2  # a refused read: the exit-code rule
    assert "SECRET" not in result.output


def test_a_link_inside_the_repository_is_not_followed_either(ws, caplog):
    write_block(ws, "project", BLOCK.format("A shop."))
    (ws.blocks_dir / "copy.md").symlink_to(ws.blocks_dir / "project.md")
    store = MemoryStore(ws, user="alice")
    assert [block.label for block in store.list()] == ["project"]
    assert warnings(caplog) == [
        "skipped .codemem/blocks/copy.md: it is a symbolic link; codemem reads memory only from "
        "regular files in the repository and never follows links"
    ]


def test_edits_refuse_to_write_through_a_link(hostile, outside):
    store = MemoryStore(hostile, user="alice")
    expected = (
        ".codemem/blocks/x.md: it leads outside the repository; codemem does not write memory "
        "through links: replace it with a regular file first"
    )
    for edit in (
        lambda: store.append("x", "more"),
        lambda: store.rethink("x", "new"),
        lambda: store.delete("x"),
        lambda: store.rename("x", "y"),
        lambda: store.rename("project", "x"),
    ):
        with pytest.raises(MemoryEditError) as caught:
            edit()
        assert str(caught.value) == expected
    assert outside.read_text(encoding="utf-8") == SECRET
    assert (hostile.blocks_dir / "x.md").is_symlink()


def test_a_blocks_folder_linked_out_of_the_repository_is_not_read_or_written(ws, outside, caplog):
    ws.dir.mkdir()
    (outside.parent / "project.md").write_text(BLOCK.format("SECRET"), encoding="utf-8")
    ws.blocks_dir.symlink_to(outside.parent, target_is_directory=True)
    store = MemoryStore(ws, user="alice")
    assert store.list() == []
    with pytest.raises(MemoryEditError):
        store.create("notes", "Notes.")
    assert sorted(p.name for p in outside.parent.iterdir()) == ["passwd", "project.md"]


def test_a_linked_note_is_not_returned_by_search(ws, outside, caplog):
    archive = Archive(ws)
    ws.archive_dir.mkdir(parents=True)
    (ws.archive_dir / "20250301-120000-aaaaaaaa.md").write_text(
        NOTE.format(id="20250301-120000-aaaaaaaa", text="The build uses make."), encoding="utf-8"
    )
    outside.write_text(NOTE.format(id="evil", text="SECRET build token"), encoding="utf-8")
    (ws.archive_dir / "evil.md").symlink_to(outside)
    assert [note.id for note in archive.notes()] == ["20250301-120000-aaaaaaaa"]
    assert [hit.note.id for hit in archive.search("build")] == ["20250301-120000-aaaaaaaa"]
    assert warnings(caplog) == [
        "skipped .codemem/archive/evil.md: it leads outside the repository; codemem reads memory "
        "only from regular files in the repository and never follows links"
    ]


def test_recall_cli_does_not_show_a_linked_note(ws, outside):
    ws.archive_dir.mkdir(parents=True)
    outside.write_text(NOTE.format(id="evil", text="SECRET build token"), encoding="utf-8")
    (ws.archive_dir / "evil.md").symlink_to(outside)
    result = CliRunner().invoke(cli, ["--repo", str(ws.root), "recall", "build"])
    assert "SECRET" not in result.output


def test_a_fifo_in_the_archive_does_not_hang_the_scan(ws, caplog):
    ws.archive_dir.mkdir(parents=True)
    os.mkfifo(ws.archive_dir / "pipe.md")
    assert Archive(ws).notes() == []
    assert warnings(caplog) == [
        "skipped .codemem/archive/pipe.md: it is not a regular file; codemem reads memory only "
        "from regular files in the repository and never follows links"
    ]


def test_a_linked_digest_is_not_served(ws, outside, caplog):
    ws.digests_dir.mkdir(parents=True)
    (ws.digests_dir / "2025-03-01-aaaaaaa-bbbbbbb.md").write_text("# Digest\n", encoding="utf-8")
    (ws.digests_dir / "2025-03-02-ccccccc-ddddddd.md").symlink_to(outside)
    assert latest_digest(ws) == ws.digests_dir / "2025-03-01-aaaaaaa-bbbbbbb.md"

    class Ctx:
        pass

    ctx = Ctx()
    ctx.ws = ws
    assert read_resource(ctx, DIGEST_URI).text == "# Digest\n"


# -- private data -------------------------------------------------------------------------------


def mode(path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_local_folder_and_recall_database_are_private(ws):
    with Recall(ws) as recall:
        recall.add_message(recall.start_session(), "user", "my password is hunter2")
        assert mode(ws.local_dir) == 0o700
        assert mode(ws.local_dir / "locks") == 0o700
        assert mode(ws.recall_db) == 0o600
        assert mode(ws.recall_db.with_name("recall.sqlite-wal")) == 0o600
        assert mode(ws.recall_db.with_name("recall.sqlite-shm")) == 0o600


def test_existing_private_data_is_tightened_on_open(ws):
    (ws.local_dir / "sessions").mkdir(parents=True)
    os.chmod(ws.local_dir, 0o755)
    os.chmod(ws.local_dir / "sessions", 0o755)
    with Recall(ws) as recall:
        recall.start_session()
    os.chmod(ws.recall_db, 0o644)
    os.chmod(ws.local_dir, 0o755)
    with Recall(ws):
        pass
    assert (mode(ws.local_dir), mode(ws.local_dir / "sessions"), mode(ws.recall_db)) == (
        0o700,
        0o700,
        0o600,
    )


def test_a_linked_local_folder_is_refused(ws, outside):
    ws.dir.mkdir()
    ws.local_dir.symlink_to(outside.parent, target_is_directory=True)
    with pytest.raises(PathOutsideRepository) as caught:
        Recall(ws)
    assert str(caught.value) == (
        f"{ws.local_dir} is a symbolic link: codemem keeps private data only in a real folder; "
        "remove the link and run the command again"
    )
    assert sorted(p.name for p in outside.parent.iterdir()) == ["passwd"]


def test_an_exported_transcript_is_private(ws, tmp_path, monkeypatch):
    with Recall(ws) as recall:
        session = recall.start_session()
        recall.add_message(session, "user", "hello")
    out = tmp_path / "session.md"
    result = CliRunner().invoke(
        cli, ["--repo", str(ws.root), "sessions", "export", session, "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert mode(out) == 0o600
    assert "hello" in out.read_text(encoding="utf-8")


def swap_for_a_link(folder, outside_folder):
    """`folder` replaced by a link to `outside_folder`, as a checkout of a commit that made it
    one would, the folder itself kept beside it."""
    folder.rename(folder.with_name(folder.name + "-old"))
    folder.symlink_to(outside_folder, target_is_directory=True)


def test_a_folder_swapped_for_a_link_after_the_check_is_not_read_through(
    ws, outside, monkeypatch, caplog
):
    # The check (no link, inside the repository) came first, then the read: a folder on the
    # path swapped for a link in between led the read out, into the agent's prompt.
    from codemem.memory import files as files_module

    write_block(ws, "facts", BLOCK.format("Facts."))
    (outside.parent / "facts.md").write_text(BLOCK.format("SECRET"), encoding="utf-8")
    real_check = files_module.memory_file

    def check_then_swap(ws_, path):
        checked = real_check(ws_, path)
        swap_for_a_link(ws.blocks_dir, outside.parent)
        return checked

    monkeypatch.setattr(files_module, "memory_file", check_then_swap)
    assert files_module.read_memory_file(ws, ws.blocks_dir / "facts.md") is None
    assert warnings(caplog) == [
        "skipped .codemem/blocks/facts.md: it leads outside the repository; codemem reads "
        "memory only from regular files in the repository and never follows links"
    ]


@pytest.mark.parametrize("into", ["outside", "git"])
@pytest.mark.parametrize("edit", ["block", "note", "digest"])
def test_a_folder_swapped_for_a_link_after_the_check_is_not_written_through(
    ws, outside, monkeypatch, edit, into
):
    # The check came first, then the compare-and-swap: a folder swapped for a link in between
    # led the write out of the repository, over a file there holding the same text. The write
    # resolved its path again, so a link into the repository's own `.git` was followed there,
    # never checked (memory is never written in a `.git` folder).
    from codemem.memory import archive as archive_module
    from codemem.memory import blocks as blocks_module
    from codemem.memory import files as files_module

    store = MemoryStore(ws, user="alice")
    store.create("facts", "Facts.", value="Old.")
    archive = Archive(ws)
    note = archive.insert("The build runs with make.").note
    digest = ws.dir / "digests" / "2025-03-01-a-b.md"
    digest.parent.mkdir()
    digest.write_text("# A digest\n", encoding="utf-8")
    path = {"block": ws.blocks_dir / "facts.md", "note": note.path, "digest": digest}[edit]
    text = path.read_bytes()
    target = outside.parent if into == "outside" else ws.root / ".git" / "refs" / "memory"
    target.mkdir(exist_ok=True)
    (target / path.name).write_bytes(text)  # what the compare-and-swap expects
    before = sorted(p.name for p in target.iterdir())
    # the step each write takes after its check and before it holds the path
    module, step = {
        "block": (blocks_module, "check_memory_size"),
        "note": (archive_module, "check_memory_size"),
        "digest": (files_module, "check_memory_text"),
    }[edit]
    real_step = getattr(module, step)

    def step_then_swap(*args):
        real_step(*args)
        swap_for_a_link(path.parent, target)

    monkeypatch.setattr(module, step, step_then_swap)
    with pytest.raises(MemoryEditError) as caught:
        if edit == "block":
            store.append("facts", "New.")
        elif edit == "note":
            archive.update(note, "The build runs with ninja.", note.tags)
        else:
            files_module.replace_memory_file(ws, path, text, "# Another digest\n")
    assert str(caught.value) == (
        f"{path.relative_to(ws.root).as_posix()}: a folder on its path is no longer a folder "
        "of the repository (replaced, perhaps by a symbolic link); nothing was written"
    )
    assert (target / path.name).read_bytes() == text
    assert sorted(p.name for p in target.iterdir()) == before
