"""Core memory blocks: every operation and every refusal, with exact file contents."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from memory_helpers import editor_saves_after_the_read, read_block, write_block

import codemem.memory.block_rename as blocks_module
from codemem.memory import (
    BlockExistsError,
    BlockFormatError,
    ConflictError,
    InvalidLabelError,
    LimitExceededError,
    LineOutOfRangeError,
    MemoryEditError,
    MemoryStore,
    OldTextError,
    ReadOnlyError,
    UnknownLabelError,
    render_blocks,
)

HEADER = "---\ndescription: Facts.\nlimit: 100\nread_only: false\n---\n"


def make(store: MemoryStore, value: str = "", label: str = "facts", **kwargs) -> None:
    store.create(label, "Facts.", value=value, limit=kwargs.pop("limit", 100), **kwargs)


# -- create -----------------------------------------------------------------------------------


def test_create_writes_frontmatter_and_value(store, ws):
    block = store.create("facts", "Facts.", value="one\ntwo", limit=100)
    assert read_block(ws, "facts") == HEADER + "one\ntwo\n"
    assert (block.label, block.value, block.chars, block.limit, block.read_only) == (
        "facts",
        "one\ntwo",
        7,
        100,
        False,
    )
    assert block.path == ws.blocks_dir / "facts.md"


def test_create_empty_block_has_no_body(store, ws):
    make(store)
    assert read_block(ws, "facts") == HEADER
    assert store.get("facts").value == ""


def test_create_nested_label_and_read_only(store, ws):
    store.create("users/bob", "Bob's preferences.", read_only=True)
    assert read_block(ws, "users/bob") == (
        "---\ndescription: Bob's preferences.\nlimit: 4000\nread_only: true\n---\n"
    )


@pytest.mark.parametrize(
    ("label", "limit"),
    [("project", 8000), ("conventions", 6000), ("users/bob", 4000), ("notes", 4000)],
)
def test_default_limits(store, label, limit):
    assert store.create(label, "x").limit == limit


def test_create_refuses_an_existing_label(store, ws):
    make(store, "keep")
    with pytest.raises(
        BlockExistsError,
        match="a block labelled 'facts' already exists: edit it, or choose another label",
    ):
        store.create("facts", "Other.")
    assert read_block(ws, "facts") == HEADER + "keep\n"


def test_create_refuses_a_value_past_the_limit(store, ws):
    with pytest.raises(LimitExceededError) as error:
        store.create("facts", "Facts.", value="x" * 101, limit=100)
    assert (
        str(error.value)
        == "facts would be 101 / 100 characters: shorten it or move detail to archival memory"
    )
    assert not (ws.blocks_dir / "facts.md").exists()


@pytest.mark.parametrize("limit", [0, -5, True])
def test_create_refuses_a_bad_limit(store, limit):
    with pytest.raises(MemoryEditError, match="limit must be a positive number of characters"):
        store.create("facts", "Facts.", limit=limit)


@pytest.mark.parametrize(
    ("label", "message"),
    [
        ("", "a block label is required: use lower-case words"),
        (
            "Project",
            "invalid label 'Project': use lower-case words, digits, '-', '_' and '/', like 'project' or 'users/alice'",
        ),
        ("/etc/passwd", "invalid label '/etc/passwd': labels are relative paths"),
        ("users/../../x", "invalid label 'users/../../x': '..' is not allowed"),
        ("notes.md", "invalid label 'notes.md': drop the '.md' (use 'notes')"),
        ("a//b", "invalid label 'a//b'"),
        ("a b", "invalid label 'a b'"),
        ("x" * 101, "invalid label 'xxx"),
    ],
)
def test_labels_are_validated(store, label, message):
    with pytest.raises(InvalidLabelError) as error:
        store.create(label, "x")
    assert str(error.value).startswith(message)


# -- append / replace / insert / rethink ------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "added", "after"),
    [
        ("", "first", "first"),
        ("one", "two", "one\ntwo"),
        ("one\n", "two", "one\ntwo"),
        ("a", "b\nc", "a\nb\nc"),
    ],
)
def test_append(store, ws, before, added, after):
    make(store, before)
    assert store.append("facts", added).value == after
    assert read_block(ws, "facts") == HEADER + after + "\n"


def test_append_refuses_empty_text(store, ws):
    make(store, "one")
    with pytest.raises(MemoryEditError, match="nothing to append to facts: give the text to add"):
        store.append("facts", "")
    assert read_block(ws, "facts") == HEADER + "one\n"


def test_replace_the_one_occurrence(store, ws):
    make(store, "build with make\ntest with pytest")
    store.replace("facts", "make", "uv run make")
    assert read_block(ws, "facts") == HEADER + "build with uv run make\ntest with pytest\n"


def test_replace_with_empty_text_deletes(store, ws):
    make(store, "keep\ndrop me\nkeep too")
    store.replace("facts", "drop me\n", "")
    assert read_block(ws, "facts") == HEADER + "keep\nkeep too\n"


def test_replace_refuses_missing_old_text(store, ws):
    make(store, "alpha")
    with pytest.raises(OldTextError) as error:
        store.replace("facts", "beta", "gamma")
    assert str(error.value) == (
        "old text occurs 0 times in facts; it must occur exactly once: copy it exactly from the "
        "block, including spaces and line breaks"
    )
    assert read_block(ws, "facts") == HEADER + "alpha\n"


def test_replace_refuses_ambiguous_old_text(store, ws):
    make(store, "x = 1\nx = 1\nx = 1")
    with pytest.raises(OldTextError) as error:
        store.replace("facts", "x = 1", "x = 2")
    assert str(error.value) == (
        "old text occurs 3 times in facts; it must occur exactly once: include more of the "
        "surrounding text so it matches one place"
    )
    assert read_block(ws, "facts") == HEADER + "x = 1\nx = 1\nx = 1\n"


def test_replace_refuses_empty_old_text(store):
    make(store, "alpha")
    with pytest.raises(OldTextError, match="the old text is empty"):
        store.replace("facts", "", "x")


@pytest.mark.parametrize(
    ("line", "after"),
    [(0, "new\na\nb\nc"), (1, "a\nnew\nb\nc"), (3, "a\nb\nc\nnew"), (-1, "a\nb\nc\nnew")],
)
def test_insert_after_line(store, ws, line, after):
    make(store, "a\nb\nc")
    store.insert("facts", "new\n", line)  # one trailing newline of the text is ignored
    assert read_block(ws, "facts") == HEADER + after + "\n"


def test_insert_into_an_empty_block(store):
    make(store)
    assert store.insert("facts", "only").value == "only"


@pytest.mark.parametrize("line", [4, -2])
def test_insert_refuses_a_line_out_of_range(store, ws, line):
    make(store, "a\nb\nc")
    with pytest.raises(LineOutOfRangeError) as error:
        store.insert("facts", "new", line)
    assert str(error.value) == (
        f"line {line} is out of range: facts has 3 lines; use 0 (the start) to 3, or -1 for the end"
    )
    assert read_block(ws, "facts") == HEADER + "a\nb\nc\n"


def test_rethink_replaces_the_whole_value(store, ws):
    make(store, "old")
    store.rethink("facts", "brand\nnew")
    assert read_block(ws, "facts") == HEADER + "brand\nnew\n"
    store.rethink("facts", "")
    assert read_block(ws, "facts") == HEADER


def test_rethink_with_expected_refuses_a_changed_block(store, ws):
    make(store, "what I read")
    store.append("facts", "someone else's line")
    with pytest.raises(
        ConflictError, match="facts changed since you read it: read it again and redo the edit"
    ):
        store.rethink("facts", "mine", expected="what I read")
    assert read_block(ws, "facts") == HEADER + "what I read\nsomeone else's line\n"
    store.rethink("facts", "mine", expected="what I read\nsomeone else's line")
    assert store.get("facts").value == "mine"


def test_the_limit_message_is_exact(store, ws):
    store.create("project", "Project.", value="x" * 7990)
    with pytest.raises(LimitExceededError) as error:
        store.append("project", "y" * 249)
    assert str(error.value) == (
        "project would be 8,240 / 8,000 characters: shorten it or move detail to archival memory"
    )
    assert store.get("project").value == "x" * 7990


@pytest.mark.parametrize(
    "edit",
    [
        lambda s: s.append("facts", "y"),
        lambda s: s.replace("facts", "z", "yy"),
        lambda s: s.insert("facts", "y" * 100, 0),
        lambda s: s.rethink("facts", "y" * 101),
    ],
)
def test_every_edit_refuses_to_pass_the_limit(store, ws, edit):
    make(store, "x" * 99 + "z")
    with pytest.raises(LimitExceededError, match=r"^facts would be \d+ / 100 characters"):
        edit(store)
    assert read_block(ws, "facts") == HEADER + "x" * 99 + "z\n"


@pytest.mark.parametrize(
    "edit",
    [
        lambda s: s.append("facts", "y"),
        lambda s: s.replace("facts", "fixed", "y"),
        lambda s: s.insert("facts", "y"),
        lambda s: s.rethink("facts", "y"),
        lambda s: s.delete("facts"),
        lambda s: s.rename("facts", "other"),
    ],
)
def test_read_only_blocks_refuse_every_edit(store, ws, edit):
    make(store, "fixed", read_only=True)
    before = read_block(ws, "facts")
    with pytest.raises(ReadOnlyError) as error:
        edit(store)
    assert str(error.value) == (
        "facts is read-only (read_only: true in .codemem/blocks/facts.md): only a person editing "
        "that file can change it; put the text in another block or in archival memory"
    )
    assert read_block(ws, "facts") == before


@pytest.mark.parametrize(
    "edit",
    [
        lambda s: s.get("nope"),
        lambda s: s.append("nope", "y"),
        lambda s: s.replace("nope", "a", "b"),
        lambda s: s.insert("nope", "y"),
        lambda s: s.rethink("nope", "y"),
        lambda s: s.delete("nope"),
        lambda s: s.rename("nope", "other"),
    ],
)
def test_unknown_labels_list_the_existing_ones(store, ws, edit):
    make(store)
    store.create("project", "Project.")
    with pytest.raises(UnknownLabelError) as error:
        edit(store)
    assert str(error.value) == (
        "unknown block 'nope': the blocks are facts, project; create it first to use a new label"
    )
    assert not (ws.blocks_dir / "nope.md").exists()


# -- delete / rename --------------------------------------------------------------------------


def test_delete_removes_the_file_and_empty_folders(store, ws):
    store.create("team/backend/api", "API notes.")
    removed = store.delete("team/backend/api")
    assert removed.label == "team/backend/api"
    assert not (ws.blocks_dir / "team").exists()
    assert ws.blocks_dir.is_dir()


def test_rename_moves_the_file_unchanged(store, ws):
    make(store, "content")
    block = store.rename("facts", "archive/facts-2025")
    assert block.label == "archive/facts-2025"
    assert read_block(ws, "archive/facts-2025") == HEADER + "content\n"
    assert not (ws.blocks_dir / "facts.md").exists()


def test_rename_refuses_an_existing_target(store, ws):
    make(store, "a")
    make(store, "b", label="other")
    with pytest.raises(
        BlockExistsError, match="a block labelled 'other' already exists: delete or rename it first"
    ):
        store.rename("facts", "other")
    assert read_block(ws, "facts") == HEADER + "a\n"
    assert read_block(ws, "other") == HEADER + "b\n"


def test_rename_never_moves_over_a_block_saved_at_the_new_label_meanwhile(store, ws, monkeypatch):
    make(store, "mine")
    target = ws.blocks_dir / "team" / "facts.md"
    real_make_folder = blocks_module.make_folder

    def make_folder_then_save(path, *args, **kwargs):  # the rename's folder is made; Dana saves
        made = real_make_folder(path, *args, **kwargs)
        if path == target.parent and not target.exists():
            target.write_text("---\ndescription: Dana's.\n---\nhers\n")
        return made

    monkeypatch.setattr(blocks_module, "make_folder", make_folder_then_save)
    with pytest.raises(BlockExistsError, match="a block labelled 'team/facts' already exists"):
        store.rename("facts", "team/facts")
    assert target.read_text() == "---\ndescription: Dana's.\n---\nhers\n"
    assert read_block(ws, "facts") == HEADER + "mine\n"


def test_rename_refuses_bad_labels_and_the_same_label(store):
    make(store)
    with pytest.raises(InvalidLabelError):
        store.rename("facts", "../escape")
    with pytest.raises(MemoryEditError, match="'facts' already has that label"):
        store.rename("facts", "facts")


# -- hand edits and broken files --------------------------------------------------------------


def test_hand_written_frontmatter_is_kept_as_written(store, ws):
    header = (
        "---\n"
        "description: Conventions this codebase follows.\n"
        "limit: 6000          # characters; an edit past it is refused\n"
        "read_only: false\n"
        "owner: platform-team\n"
        "---\n"
    )
    write_block(ws, "conventions", header + "text of the block\n")
    store.append("conventions", "more")
    assert read_block(ws, "conventions") == header + "text of the block\nmore\n"
    assert store.get("conventions").extra == {"owner": "platform-team"}


def test_a_description_yaml_1_1_reads_as_a_boolean_is_the_text_written(store, ws):
    # `description: no` (YAML 1.1's false) made the block unreadable ("description must be
    # text"); `description: [a list]` still is.
    header = "---\ndescription: no\nread_only: yes\n---\n"
    write_block(ws, "flags", header + "text of the block\n")
    block = store.get("flags")
    assert (block.description, block.read_only) == ("no", True)
    write_block(ws, "listed", "---\ndescription: [a, b]\n---\nx\n")
    with pytest.raises(BlockFormatError, match="description must be text"):
        store.get("listed")


def test_a_file_without_frontmatter_is_a_block_with_defaults(store, ws):
    write_block(ws, "notes", "just markdown\n")
    block = store.get("notes")
    assert (block.value, block.description, block.limit, block.read_only) == (
        "just markdown",
        "",
        4000,
        False,
    )
    # edited, it stays plain Markdown: the edit is its one change (no header of defaults that
    # would pin the limit codemem gives such a block today)
    store.append("notes", "more")
    assert read_block(ws, "notes") == "just markdown\nmore\n"
    assert store.get("notes").limit == 4000
    # a value whose first line would read as the frontmatter's fence gets a header, to stay text
    store.rethink("notes", "---\nnot a header\n---\nmore")
    assert read_block(ws, "notes") == (
        "---\ndescription: ''\nlimit: 4000\nread_only: false\n---\n---\nnot a header\n---\nmore\n"
    )
    assert store.get("notes").value == "---\nnot a header\n---\nmore"


def test_windows_line_endings_are_read_as_newlines(store, ws):
    (ws.blocks_dir).mkdir(parents=True)
    (ws.blocks_dir / "facts.md").write_bytes(
        b"---\r\ndescription: Facts.\r\nlimit: 100\r\n---\r\na\r\nb\r\n"
    )
    assert store.get("facts").value == "a\nb"


@pytest.mark.parametrize("ends", ["\n", "\r\n"])
def test_a_block_saved_with_a_byte_order_mark_keeps_its_header(store, ws, ends):
    """Notepad saves UTF-8 with a BOM: the header was read as body, its limit and description
    ignored, and an edit wrote a fresh header over them."""
    ws.blocks_dir.mkdir(parents=True)
    text = "\ufeff---\ndescription: Facts.\nlimit: 100  # Dana\n---\na\nb\n".replace("\n", ends)
    (ws.blocks_dir / "facts.md").write_bytes(text.encode("utf-8"))
    block = store.get("facts")
    assert (block.value, block.description, block.limit) == ("a\nb", "Facts.", 100)
    store.rethink("facts", "c")
    assert (ws.blocks_dir / "facts.md").read_bytes() == text.replace(
        f"a{ends}b{ends}", f"c{ends}"
    ).encode("utf-8")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "---\ndescription: [unclosed\nlimit: 10\n---\nbody\n",
            ".codemem/blocks/broken.md:3: invalid frontmatter",
        ),
        (
            "---\ndescription: fine\nlimit: lots\n---\nbody\n",
            ".codemem/blocks/broken.md:3: limit must be a positive number of characters, not 'lots'",
        ),
        (
            "---\nread_only: maybe\n---\n",
            ".codemem/blocks/broken.md:2: read_only must be true or false, not 'maybe'",
        ),
        (
            "---\n- a list\n---\n",
            ".codemem/blocks/broken.md:2: the frontmatter must be 'key: value' lines, not a list",
        ),
        (
            "---\ndescription: never closed\n",
            ".codemem/blocks/broken.md:1: the frontmatter opened by '---' is never closed",
        ),
    ],
)
def test_broken_frontmatter_names_the_file_and_line(store, ws, text, message):
    make(store, "still fine")
    write_block(ws, "broken", text)
    with pytest.raises(BlockFormatError) as error:
        store.get("broken")
    assert str(error.value).startswith(message)
    blocks, problems = store.scan()
    assert [block.label for block in blocks] == ["facts"]
    assert [str(problem) for problem in problems] == [str(error.value)]
    assert store.append("facts", "works").value == "still fine\nworks"
    assert "<unreadable_block>" + str(error.value) in store.render_blocks()
    with pytest.raises(BlockFormatError):
        store.append("broken", "x")
    store.delete("broken")  # a broken file can still be removed
    assert store.problems() == []


def test_files_that_cannot_be_labels_are_reported(store, ws):
    write_block(ws, "README", "about this folder\n")
    assert store.list() == []
    assert [str(p) for p in store.problems()] == [
        ".codemem/blocks/README.md: 'README' cannot be a block label: rename the file to "
        "lower-case words, digits, '-' and '_' ('personal' is reserved)"
    ]


# -- users, the personal block, rendering -----------------------------------------------------


def test_personal_block_lives_in_the_home_folder(ws, isolated_home):
    store = MemoryStore(ws, user="alice")
    store.create("personal", "My habits, in every repository.", value="I like short answers.")
    path = isolated_home / "codemem" / "personal.md"
    assert path.read_text() == (
        "---\ndescription: My habits, in every repository.\nlimit: 4000\nread_only: false\n---\n"
        "I like short answers.\n"
    )
    other_repo_store = MemoryStore(ws, user="bob")
    assert other_repo_store.get("personal").value == "I like short answers."
    with pytest.raises(MemoryEditError, match="the personal block cannot be renamed"):
        store.rename("personal", "mine")


def test_context_blocks_show_only_the_active_users_block(ws):
    store = MemoryStore(ws, user="alice")
    for label in ("zeta", "users/bob", "conventions", "users/alice", "project", "personal"):
        store.create(label, f"{label} block")
    assert [b.label for b in store.context_blocks()] == [
        "project",
        "conventions",
        "zeta",
        "users/alice",
        "personal",
    ]
    assert [b.label for b in store.list()] == [
        "conventions",
        "personal",
        "project",
        "users/alice",
        "users/bob",
        "zeta",
    ]


def test_render_blocks_shows_label_description_usage_and_value(store):
    store.create("project", "What the project is.", value="A shop.\nBuilt with make.")
    store.create("facts", "Facts.", value="", limit=1500, read_only=True)
    assert store.render_blocks() == (
        "<memory_blocks>\n"
        '<block label="project" chars="24 / 8,000">\n'
        "<description>What the project is.</description>\n"
        "<value>\nA shop.\nBuilt with make.\n</value>\n"
        "</block>\n"
        '<block label="facts" chars="0 / 1,500" read_only="true">\n'
        "<description>Facts.</description>\n"
        "<value>\n\n</value>\n"
        "</block>\n"
        "</memory_blocks>"
    )
    assert render_blocks([store.get("facts")])[0] == store.render_blocks(["facts"])


def test_edits_by_other_stores_are_seen_at_once(ws):
    first, second = MemoryStore(ws, user="alice"), MemoryStore(ws, user="alice")
    first.create("facts", "Facts.")
    second.append("facts", "from the second process")
    assert first.get("facts").value == "from the second process"


# -- the active user's block ------------------------------------------------------------------


def test_the_active_users_block_is_created_on_first_use(store, ws):
    assert store.ensure_user_block() is None  # no .codemem/: nothing is created
    ws.dir.mkdir()
    block = store.ensure_user_block()
    assert (block.label, block.value, block.path) == (
        "users/alice",
        "",
        ws.blocks_dir / "users/alice.md",
    )
    assert store.ensure_user_block() == block
    store.delete("users/alice")
    store.append("users/alice", "Likes tabs.")  # an edit of one's own block creates it too
    assert store.get("users/alice").value == "Likes tabs."
    with pytest.raises(UnknownLabelError):
        store.append("users/bob", "not mine")  # someone else's block is never made up


def test_delete_never_removes_an_edit_saved_after_the_block_was_read(store, ws, monkeypatch):
    import codemem.memory.block_folder as blocks_module

    store.create("team", "Team notes.", "Deploy on Tuesdays.")
    path = ws.blocks_dir / "team.md"
    edited = path.read_text().replace("Tuesdays.", "Tuesdays and Thursdays (Dana).")
    saved = editor_saves_after_the_read(monkeypatch, blocks_module, path, edited)
    with pytest.raises(ConflictError) as error:
        store.delete("team")
    assert saved == [path]
    assert path.read_text() == edited
    assert str(error.value) == (
        ".codemem/blocks/team.md changed while it was being deleted: left as it is now; read it "
        "again"
    )
    assert sorted(p.name for p in ws.blocks_dir.iterdir()) == ["team.md"]


DOTFILE_TEXT = "---\ndescription: Mine.\n---\nShort answers.\n"


def personal_link(home: Path) -> tuple[Path, Path]:
    """The personal block kept in dotfiles: (the dotfile, the link to it in codemem's home)."""
    dotfile = home / "dotfiles" / "personal.md"
    dotfile.parent.mkdir()
    dotfile.write_text(DOTFILE_TEXT)
    link = home / "codemem" / "personal.md"
    link.parent.mkdir(exist_ok=True)
    link.symlink_to(dotfile)
    return dotfile, link


def test_a_personal_block_kept_as_a_link_in_dotfiles_is_deleted_as_the_link(ws, isolated_home):
    dotfiles, link = personal_link(isolated_home)
    store = MemoryStore(ws, user="tester")
    assert store.delete("personal").value == "Short answers."
    assert (os.path.lexists(link), dotfiles.read_text()) == (
        False,
        "---\ndescription: Mine.\n---\nShort answers.\n",
    )


KILLED_BEFORE_THE_LINK_GOES = """
import os, signal, sys
import codemem.infra.removals as removals
from codemem.cli import cli

real_unlink = os.unlink

def die_at_the_unlink(path, *args, **kwargs):
    if str(path).endswith(".removing"):  # moved aside, not yet removed
        os.kill(os.getpid(), signal.SIGKILL)
    return real_unlink(path, *args, **kwargs)

removals.os.unlink = die_at_the_unlink
cli(["--repo", sys.argv[1], "memory", "rm", "personal", "--yes"])
"""


@pytest.mark.parametrize("saved_meanwhile", [False, True])
def test_a_personal_link_left_aside_by_a_killed_delete_is_settled_by_the_next_command(
    ws, isolated_home, saved_meanwhile
):
    # the link was moved aside as a hidden `.personal.md.<hex>.removing` and no later command
    # looked for a link there: the block stayed unknown and the hidden link stayed for good
    dotfile, link = personal_link(isolated_home)
    program = [sys.executable, "-c", KILLED_BEFORE_THE_LINK_GOES, str(ws.root)]
    assert subprocess.run(program, capture_output=True).returncode == -signal.SIGKILL
    assert [p.name.endswith(".removing") for p in link.parent.iterdir() if p.is_symlink()] == [True]
    if saved_meanwhile:  # a new personal block, written since: it stays, the old link goes
        link.write_text("---\ndescription: New.\n---\nLong answers.\n")
    listed = subprocess.run(
        [sys.executable, "-m", "codemem", "--repo", str(ws.root), "memory", "list"],
        capture_output=True,
        text=True,
    )
    assert (listed.returncode, listed.stderr) == (0, "")
    value = "Long answers." if saved_meanwhile else "Short answers."
    assert MemoryStore(ws, user="tester").get("personal").value == value
    assert link.is_symlink() is not saved_meanwhile
    assert sorted(p.name for p in link.parent.iterdir()) == ["locks", "personal.md"]
    assert dotfile.read_text() == DOTFILE_TEXT


def test_a_block_too_large_to_read_can_still_be_deleted(store, ws, monkeypatch):
    import codemem.memory.files as memory_files

    monkeypatch.setattr(memory_files, "MAX_MEMORY_BYTES", 100)
    ws.blocks_dir.mkdir(parents=True)
    (ws.blocks_dir / "huge.md").write_text("x" * 500)
    store.delete("huge")
    assert not (ws.blocks_dir / "huge.md").exists()


def test_a_block_whose_delete_was_killed_never_comes_back_as_a_note(store, ws, monkeypatch):
    import codemem.infra.removals as removals_module
    from codemem.memory import Archive

    store.create("team", "Team notes.", "Deploy on Tuesdays.")

    def killed(self):
        raise KeyboardInterrupt  # after the block was set aside, before it was removed

    monkeypatch.setattr(removals_module.SetAside, "remove", killed)
    with pytest.raises(KeyboardInterrupt):
        store.delete("team")
    monkeypatch.undo()
    archive = Archive(ws)
    archive.delete(archive.insert("A note.").id)  # puts back the notes a kill left set aside
    assert (archive.notes(), [p.name for p in ws.archive_dir.iterdir()]) == ([], [])
