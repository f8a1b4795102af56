"""Two teammates editing memory at once, as a clone without the merge driver meets it: git's
conflict markers in a block, and git operations (merge, rebase, cherry-pick, revert, bisect)
stopped for the user while codemem would write `.codemem/`."""

from __future__ import annotations

import json
import threading
import time
import unicodedata
from pathlib import Path

import pytest
from memory_helpers import run_cli

from codemem.infra import git_state
from codemem.memory import Archive, ConflictMarkersError, MemoryStore, has_conflict
from codemem.memory.render import CONFLICT_NOTE
from codemem.workspace import Workspace
from tests.helpers import git

BLOCK = "---\ndescription: The project.\nlimit: 2000\nread_only: false\n---\nA shop.\n"


def two_sides(root: Path) -> None:
    """`blocks/project.md` committed, then changed in one place on `main` and on `other`."""
    (root / ".codemem" / "blocks").mkdir(parents=True, exist_ok=True)
    (root / ".codemem" / "blocks" / "project.md").write_text(BLOCK, encoding="utf-8")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "memory")
    git(root, "checkout", "-q", "-b", "other")
    with (root / ".codemem" / "blocks" / "project.md").open("a", encoding="utf-8") as file:
        file.write("Build with make.\n")
    git(root, "commit", "-q", "-am", "make")
    git(root, "checkout", "-q", "main")
    with (root / ".codemem" / "blocks" / "project.md").open("a", encoding="utf-8") as file:
        file.write("Build with tox.\n")
    git(root, "commit", "-q", "-am", "tox")


@pytest.fixture
def merging(repo_factory) -> Path:
    """A clone that never ran `codemem init` (no merge driver) in the middle of a merge that
    stopped on a conflict in `blocks/project.md`."""
    root = repo_factory()
    two_sides(root)
    assert git(root, "merge", "other", check=False).returncode == 1
    return root


@pytest.mark.parametrize(
    ("start", "end", "says"),
    [
        (("merge", "other"), ("merge", "--abort"), "a merge (end it with `git commit`"),
        (("rebase", "other"), ("rebase", "--abort"), "a rebase (end it with `git rebase"),
        (("cherry-pick", "other"), ("cherry-pick", "--abort"), "a cherry-pick (end it"),
        (("revert", "--no-edit", "HEAD"), ("revert", "--abort"), "a revert (end it"),
        (("bisect", "start"), ("bisect", "reset"), "a bisect (end it with `git bisect reset`"),
    ],
)
def test_the_git_operation_waiting_for_the_user_is_named(repo_factory, start, end, says):
    root = repo_factory()
    two_sides(root)
    if start[0] == "revert":  # a revert conflicts with a later edit of the same line
        with (root / ".codemem" / "blocks" / "project.md").open("a", encoding="utf-8") as file:
            file.write("Deploy on Fridays.\n")
        git(root, "commit", "-q", "-am", "later")
        start = ("revert", "--no-edit", "HEAD~1")
    ws = Workspace(root)
    assert ws.git_operation() is None
    git(root, *start, check=False)
    busy = ws.git_operation()
    assert busy is not None and busy.startswith(f"git is in the middle of {says}")
    git(root, *end)
    assert ws.git_operation() is None


def test_a_cherry_pick_of_several_commits_is_under_way_after_its_conflict_is_committed(
    repo_factory,
):
    root = repo_factory()
    two_sides(root)
    git(root, "checkout", "-q", "other")
    (root / "NOTES.md").write_text("two\n", encoding="utf-8")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "notes")
    git(root, "checkout", "-q", "main")
    ws = Workspace(root)
    assert git(root, "cherry-pick", "other~1", "other", check=False).returncode != 0
    block = root / ".codemem" / "blocks" / "project.md"
    block.write_text(BLOCK + "Build with tox or make.\n", encoding="utf-8")
    git(root, "-c", "core.editor=true", "commit", "-q", "-a")  # no CHERRY_PICK_HEAD now
    assert "Cherry-pick currently in progress." in git(root, "status").stdout
    assert ws.git_operation() == (
        "git is in the middle of a cherry-pick or revert of several commits (end it with "
        "`git cherry-pick --continue` or `--abort`, or `git revert`'s)"
    )
    git(root, "cherry-pick", "--continue")  # the second pick, then done
    assert (root / "NOTES.md").read_text(encoding="utf-8") == "two\n"
    assert ws.git_operation() is None


def test_no_memory_is_written_while_a_merge_waits(merging):
    before = (merging / ".codemem" / "blocks" / "project.md").read_bytes()
    busy = (
        "git is in the middle of a merge (end it with `git commit` once it is resolved, or "
        "`git merge --abort`)"
    )
    result = run_cli(merging, "remember", "--block", "project", "Run tests with pytest.")
    assert result.exit_code == 2 and "holds git conflict markers" in result.output
    assert (merging / ".codemem" / "blocks" / "project.md").read_bytes() == before
    result = run_cli(merging, "remember", "Prices are in cents.")
    assert result.exit_code == 2 and "not written: git is in the middle of a merge" in result.output
    assert not (merging / ".codemem" / "archive").exists()
    result = run_cli(merging, "digest")
    assert result.exit_code == 2
    assert result.output == f"codemem: error: nothing digested: {busy}, then run it again\n"
    status = git(merging, "status", "--porcelain", "--untracked-files=no").stdout
    assert status == "UU .codemem/blocks/project.md\n"
    # the user's own block is created once the merge ends, not swept into it
    assert MemoryStore(Workspace(merging), user="alice").ensure_user_block() is None
    # the edit that resolves the block's markers is the merge's own work: it may go on
    resolved = "A shop.\nBuild with tox; make wraps it."
    assert run_cli(merging, "memory", "set", "project", "--value", resolved).exit_code == 0
    assert (merging / ".codemem" / "blocks" / "project.md").read_text() == (
        BLOCK.replace("A shop.\n", resolved + "\n")
    )
    result = run_cli(merging, "remember", "--block", "project", "Run tests with pytest.")
    assert result.exit_code == 2
    assert result.output == (
        f"codemem: error: .codemem/blocks/project.md not written: {busy}; try again once it "
        "ends (memory written now would go into that operation's commit)\n"
    )
    result = run_cli(merging, "init", "--no-index")
    assert (
        result.output == f"codemem: error: nothing set up: {busy}, then run `codemem init` again\n"
    )
    assert not (merging / ".codemem" / "config.yml").exists()
    git(merging, "merge", "--abort")
    assert run_cli(merging, "remember", "Prices are in cents.").exit_code == 0


UNMERGED = (
    "git holds .codemem/blocks/project.md unmerged (a `git stash pop`, `git stash apply` or "
    "`git checkout -m` stopped on a conflict; end it with `git add` once it is resolved)"
)


@pytest.mark.parametrize("how", ["stash pop", "stash apply", "checkout -m"])
def test_no_memory_is_written_while_a_stash_or_checkout_leaves_memory_unmerged(repo_factory, how):
    # These leave unmerged index entries but no file in .git naming an operation.
    root = repo_factory()
    two_sides(root)
    block = root / ".codemem" / "blocks" / "project.md"
    if how == "checkout -m":
        with block.open("a", encoding="utf-8") as file:
            file.write("Deploy on Fridays.\n")
        git(root, "checkout", "-m", "other")  # exits 0, the conflict left in the index
    else:  # the throwaway repository's own stash
        git(root, "checkout", "-q", "other")
        with block.open("a", encoding="utf-8") as file:
            file.write("Deploy on Fridays.\n")
        git(root, "stash", "-q")
        git(root, "checkout", "-q", "main")
        assert git(root, "stash", *how.split()[1:], check=False).returncode == 1
    assert git(root, "status", "--porcelain", "--untracked-files=no").stdout == (
        "UU .codemem/blocks/project.md\n"
    )
    assert has_conflict(block.read_text(encoding="utf-8"))
    ws = Workspace(root)
    assert ws.git_operation() == UNMERGED
    result = run_cli(root, "remember", "Prices are in cents.")
    note, said = result.output.removeprefix("codemem: error: .codemem/archive/").split(" ", 1)
    assert (result.exit_code, note.endswith(".md"), said) == (
        2,
        True,
        f"not written: {UNMERGED}; try again once it ends (memory written now would go into "
        "that operation's commit)\n",
    )
    assert not (root / ".codemem" / "archive").exists()
    result = run_cli(root, "digest")
    assert (result.exit_code, result.output) == (
        2,
        f"codemem: error: nothing digested: {UNMERGED}, then run it again\n",
    )
    assert MemoryStore(ws, user="alice").ensure_user_block() is None
    # the person resolves the block and tells git so: memory is written again
    block.write_text(BLOCK + "Build with tox.\n", encoding="utf-8")
    git(root, "add", ".codemem/blocks/project.md")
    assert ws.git_operation() is None
    assert run_cli(root, "remember", "Prices are in cents.").exit_code == 0


def test_unmerged_files_elsewhere_hold_no_memory_write_back(repo_factory):
    root = repo_factory()
    assert run_cli(root, "init", "--no-index").exit_code == 0  # a note needs `.codemem/`
    (root / "app.py").write_text("x = 1\n", encoding="utf-8")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "app")
    (root / "app.py").write_text("x = 2\n", encoding="utf-8")
    git(root, "stash", "-q")
    (root / "app.py").write_text("x = 3\n", encoding="utf-8")
    git(root, "commit", "-q", "-am", "three")
    assert git(root, "stash", "pop", check=False).returncode == 1
    assert Workspace(root).git_operation() is None
    assert run_cli(root, "remember", "Prices are in cents.").exit_code == 0


def test_unmerged_paths_are_read_from_git_once_per_index(repo_factory, monkeypatch):
    root = repo_factory()
    two_sides(root)
    ws = Workspace(root)
    assert ws.git_dir == root / ".git"  # found once, before counting
    runs: list[tuple[str, ...]] = []
    real = git_state.run_git

    def counted(where, *args, **kwargs):
        runs.append(args)
        return real(where, *args, **kwargs)

    monkeypatch.setattr(git_state, "run_git", counted)
    for _ in range(3):
        assert ws.git_operation() is None
    assert [args[:2] for args in runs] == [("ls-files", "-u")]
    git(root, "checkout", "-q", "other")  # a new index: git is asked again
    assert ws.git_operation() is None
    assert [args[:2] for args in runs] == [("ls-files", "-u")] * 2


@pytest.fixture
def conflicted(merging) -> Path:
    """The merge committed with git's markers in `blocks/project.md`, as a hurried pull does."""
    git(merging, "commit", "-q", "-a", "--no-edit")
    return merging


CONFLICTED_TEXT = "holds git conflict markers (<<<<<<<, =======, >>>>>>>) from a merge"
MARKED = f".codemem/blocks/project.md: {CONFLICTED_TEXT}"
NAMED = f"{MARKED}: resolve them in that file, keeping what each side should still say (an edit that keeps them is refused)"


def test_no_edit_builds_on_a_blocks_conflict_markers(conflicted):
    before = (conflicted / ".codemem" / "blocks" / "project.md").read_bytes()
    assert b"\n<<<<<<< HEAD\nBuild with tox.\n=======\nBuild with make.\n>>>>>>> other\n" in before
    result = run_cli(conflicted, "remember", "--block", "project", "Run tests with pytest.")
    assert (result.exit_code, result.output) == (
        2,
        "codemem: error: project not changed: .codemem/blocks/project.md holds git conflict "
        "markers (<<<<<<<, =======, >>>>>>>) from a merge: resolve them in that file first (or "
        "rewrite the whole value without them)\n",
    )
    store = MemoryStore(Workspace(conflicted), user="alice")
    value = store.get("project").value
    with pytest.raises(ConflictMarkersError):
        store.rethink("project", value.replace("A shop.", "A bookshop."))
    with pytest.raises(ConflictMarkersError, match="the new text holds git conflict markers"):
        store.create("notes", "Notes.", "<<<<<<< a\nx\n=======\ny\n>>>>>>> b")
    assert (conflicted / ".codemem" / "blocks" / "project.md").read_bytes() == before
    # the person (or the agent, told so) writes what it should say: that resolves it
    store.rethink("project", "A shop.\nBuild with tox; make wraps it.")
    assert store.conflicts(store.list()) == []
    assert run_cli(conflicted, "remember", "--block", "project", "Pytest.").exit_code == 0


def test_a_conflicted_block_is_named_wherever_it_is_read_and_never_exported(conflicted):
    listed = run_cli(conflicted, "memory", "list")
    assert listed.exit_code == 0 and listed.stderr == f"codemem: warning: {NAMED}\n"
    shown = run_cli(conflicted, "memory", "show", "project", "--raw")
    assert shown.stderr == f"codemem: warning: {NAMED}\n"
    assert "=======\nBuild with make.\n>>>>>>> other" in shown.stdout  # both sides, as written
    status = run_cli(conflicted, "status", "--json")
    assert {"kind": "block", "message": NAMED} in json.loads(status.stdout)["damage"]
    context = MemoryStore(Workspace(conflicted), user="alice").render_blocks()
    assert f'</block>\n<merge_conflict label="project">{CONFLICT_NOTE}</merge_conflict>' in context
    exported = run_cli(conflicted, "memory", "export", "--format", "agents-md")
    assert (exported.exit_code, exported.output) == (
        2,
        f"codemem: error: nothing exported: {NAMED}\n",
    )
    assert not (conflicted / "AGENTS.md").exists()


NOTE = "---\nid: n1\ncreated: 2026-01-01T00:00:00+00:00\ntags: []\n---\nDeploys run on Fridays.\n"


@pytest.fixture
def conflicted_note(repo_factory) -> Path:
    """Two clones edited one archival note; a clone without the merge driver merged and
    committed git's markers in it."""
    root = repo_factory()
    note = root / ".codemem" / "archive" / "n1.md"
    note.parent.mkdir(parents=True)
    note.write_text(NOTE, encoding="utf-8")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "note")
    for branch, day in (("other", "Mondays."), ("main", "Tuesdays since yesterday.")):
        git(root, "checkout", "-q", *(("-b",) if branch == "other" else ()), branch)
        note.write_text(NOTE.replace("Fridays.", day), encoding="utf-8")
        git(root, "commit", "-q", "-am", day)
    assert git(root, "merge", "other", check=False).returncode == 1
    git(root, "commit", "-q", "-a", "--no-edit")
    return root


NOTE_NAMED = (
    f".codemem/archive/n1.md: {CONFLICTED_TEXT}: resolve them in that file, keeping what each "
    "side should still say (the digest leaves the note alone until then)"
)


def test_a_conflicted_note_is_named_and_left_alone(conflicted_note):
    path = conflicted_note / ".codemem" / "archive" / "n1.md"
    before = path.read_bytes()
    assert b"<<<<<<< HEAD\nDeploys run on Tuesdays since yesterday.\n=======\n" in before
    status = run_cli(conflicted_note, "status", "--json")
    assert {"kind": "note", "message": NOTE_NAMED} in json.loads(status.stdout)["damage"]
    found = run_cli(conflicted_note, "recall", "--archive", "deploys")
    assert found.exit_code == 0 and found.stderr == f"codemem: warning: {NOTE_NAMED}\n"
    # one side of it, saved again as its own note, is not folded into the conflicted one
    assert run_cli(conflicted_note, "remember", "Deploys run on Mondays.").exit_code == 0
    result = run_cli(conflicted_note, "digest")
    assert result.exit_code == 0 and f"codemem: warning: {NOTE_NAMED}\n" in result.stderr
    assert path.read_bytes() == before  # "yesterday" left as written, on both sides
    notes = Archive(Workspace(conflicted_note)).notes()
    assert [(note.id, has_conflict(note.content)) for note in notes][0] == ("n1", True)
    assert [note.content for note in notes][1:] == ["Deploys run on Mondays."]


def test_ask_without_a_model_names_a_conflicted_note_it_shows(conflicted_note, monkeypatch):
    monkeypatch.setenv("CODEMEM_AGENT__REFRESH_INDEX", "false")
    for args in (("deploys",), ("deploys", "--json")):
        found = run_cli(conflicted_note, "ask", *args)
        assert found.exit_code == 0, found.output
        assert f"codemem: warning: {NOTE_NAMED}\n" in found.stderr
    assert run_cli(conflicted_note, "ask", "deploys").stdout == (
        "\nWhat retrieval found:\n  note n1 (git conflict markers): <<<<<<< HEAD Deploys run on "
        "Tuesdays since yesterday. ======= Deploys run on Mondays. >>>>>>> other\n"
    )
    # a cloned note's terminal codes are shown escaped, as `recall` shows them
    Archive(Workspace(conflicted_note)).insert("Deploys \x1b]52;c;cm0gLXJmIH4=\x07 on demand.")
    shown = run_cli(conflicted_note, "ask", "deploys on demand").stdout
    assert "Deploys \\x1b]52;c;cm0gLXJmIH4=\\x07 on demand." in shown and "\x1b" not in shown


def test_no_note_is_saved_holding_conflict_markers(repo_factory):
    root = repo_factory()
    marked = "Deploys:\n<<<<<<< HEAD\nFridays\n=======\nMondays\n>>>>>>> other"
    assert run_cli(root, "init", "--no-index").exit_code == 0  # a note needs `.codemem/`
    result = run_cli(root, "remember", marked)
    assert (result.exit_code, result.output) == (
        2,
        "codemem: error: note not saved: the text holds git conflict markers (<<<<<<<, "
        "=======, >>>>>>>): write it without them\n",
    )
    with pytest.raises(ConflictMarkersError):
        Archive(Workspace(root)).insert(marked)
    assert not (root / ".codemem" / "archive").exists()


def test_only_markers_as_git_writes_them_are_a_conflict():
    assert has_conflict("a\r\n<<<<<<< HEAD\r\nx\r\n=======\r\ny\r\n>>>>>>> b\r\n")
    assert has_conflict("<<<<<<<\nx\n|||||||\nw\n=======\ny\n>>>>>>>")
    assert not has_conflict("Resolve `<<<<<<<` lines by hand.\n=======\n")
    assert not has_conflict("<<<<<<< HEAD\nx\n>>>>>>> b\n=======\n")
    assert not has_conflict("Title\n=======\n")


def test_markers_in_the_frontmatter_are_named_as_such_and_stop_an_export(repo_factory):
    root = repo_factory()
    two_sides(root)
    for branch, words in (("other", "The shop."), ("main", "Our shop.")):
        git(root, "checkout", "-q", branch)
        path = root / ".codemem" / "blocks" / "project.md"
        path.write_text(path.read_text().replace("The project.", words), encoding="utf-8")
        git(root, "commit", "-q", "-am", words)
    assert git(root, "merge", "other", check=False).returncode == 1
    git(root, "commit", "-q", "-a", "--no-edit")
    named = (
        ".codemem/blocks/project.md:2: git conflict markers (<<<<<<<, =======, >>>>>>>) from a "
        "merge in the frontmatter: keep one value of each key between the '---' lines and "
        "remove the markers"
    )
    assert run_cli(root, "memory", "list").stderr == f"codemem: warning: {named}\n"
    exported = run_cli(root, "memory", "export", "--format", "claude-md")
    assert (exported.exit_code, exported.output) == (
        2,
        f"codemem: error: nothing exported: {named}\n",
    )  # left out, the block would silently vanish from CLAUDE.md
    assert not (root / "CLAUDE.md").exists()


def test_a_session_goes_on_when_the_users_own_block_cannot_be_read(repo_factory, tmp_path):
    root = repo_factory()
    assert run_cli(root, "init", "--no-index").exit_code == 0
    store = MemoryStore(Workspace(root))
    own = store.path_for(store.user_label)
    own.write_text(  # a merge left its markers in the frontmatter
        "---\ndescription: Mine.\n<<<<<<< HEAD\nowner: dev@example.com\n=======\n"
        "owner: [dev@example.com, dev@home.net]\n>>>>>>> other\n---\nTabs.\n",
        encoding="utf-8",
    )
    before = own.read_bytes()
    script = tmp_path / "script.yml"
    script.write_text('- "The answer."\n', encoding="utf-8")
    asked = run_cli(root, "ask", "-m", f"scripted/{script}", "what is it?")
    assert (asked.exit_code, asked.stdout) == (0, "The answer.\n"), asked.output
    assert own.read_bytes() == before
    # the agent is told, where its block would be
    assert "users/dev-example-com.md:3: git conflict markers" in store.render_blocks()


def test_names_that_collide_elsewhere_are_told_apart_and_never_renamed_over_a_block(repo):
    blocks = repo / ".codemem" / "blocks"
    (blocks / "Project.md").write_text("---\ndescription: Mac.\n---\nFrom a Mac.\n")
    for form in ("NFC", "NFD"):  # one name, as two teammates' systems wrote it
        (blocks / f"{unicodedata.normalize(form, 'café')}.md").write_text(f"{form}\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "teammates")
    listed = run_cli(repo, "memory", "list")
    assert listed.exit_code == 0
    nfd = unicodedata.normalize("NFD", "café")  # shown as the NFC name is, told apart after it
    rename = "rename the file to lower-case words, digits, '-' and '_' ('personal' is reserved)"
    assert sorted(listed.stderr.splitlines()) == [
        "codemem: warning: .codemem/blocks/Project.md: 'Project' cannot be a block label, and "
        "the block 'project' exists: move this file's text into .codemem/blocks/project.md and "
        "delete this file (renamed, it would replace that block)",
        f"codemem: warning: .codemem/blocks/{nfd}.md: 'cafe\\u0301' cannot be a block label: {rename}",
        f"codemem: warning: .codemem/blocks/café.md: 'caf\\xe9' cannot be a block label: {rename}",
    ]
    assert MemoryStore(Workspace(repo)).get("project").value == "A shop."


def test_a_block_edit_a_checkout_replaces_meanwhile_is_said_to_be_undone(repo_factory, monkeypatch):
    # `git switch` checks that the files it replaces hold no change, then replaces them: an
    # edit landing between the two is gone, and git switched without a word. Here the switch
    # comes right after the edit's write, as it did in the race (`-f`: past its check).
    root = repo_factory()
    two_sides(root)
    from codemem.memory import blocks, undone

    def write_then_switch(*args, **kwargs):
        done = update_text(*args, **kwargs)
        git(root, "switch", "-q", "-f", "other")
        return done

    update_text = blocks.update_text
    monkeypatch.setattr(blocks, "update_text", write_then_switch)
    ws = Workspace(root)
    with pytest.raises(undone.UndoneByGitError) as caught:
        MemoryStore(ws, user="alice").append("project", "Deploy on Fridays.")
    assert str(caught.value) == (
        ".codemem/blocks/project.md: the edit was undone by a git command that ran meanwhile (a "
        "checkout, a switch or a stash replaced the file with git's version): nothing of it is "
        "kept; make it again on what is checked out now"
    )
    assert "Deploy on Fridays." not in (root / ".codemem/blocks/project.md").read_text()
    # a git command that leaves the edit alone (a commit of other files) is no such thing
    (root / "notes.txt").write_text("x\n")
    git(root, "add", "notes.txt")

    def write_then_commit(*args, **kwargs):
        done = update_text(*args, **kwargs)
        git(root, "commit", "-q", "-m", "notes")
        return done

    monkeypatch.setattr(blocks, "update_text", write_then_commit)
    MemoryStore(ws, user="alice").append("project", "Deploy on Mondays.")
    assert "Deploy on Mondays." in (root / ".codemem/blocks/project.md").read_text()


def test_a_block_a_checkout_removes_for_a_moment_is_edited_once_it_is_back(repo_factory):
    # git replaces a file by removing it first: an edit then found no block, "unknown block".
    root = repo_factory()
    two_sides(root)
    block = root / ".codemem" / "blocks" / "project.md"
    text = block.read_text()
    lock = root / ".git" / "index.lock"
    lock.write_text("")  # a checkout under way
    block.unlink()

    def checkout_ends():
        time.sleep(0.3)
        block.write_text(text)
        lock.unlink()

    ends = threading.Thread(target=checkout_ends)
    ends.start()
    try:
        MemoryStore(Workspace(root), user="alice").append("project", "Deploy on Fridays.")
    finally:
        ends.join()
    assert block.read_text() == text + "Deploy on Fridays.\n"


LEFT_OUT = (
    "this sparse checkout leaves .codemem/ out of the work tree, and the team's memory with "
    "it: bring it in with `git sparse-checkout add .codemem`"
)


def test_no_memory_is_written_while_a_sparse_checkout_leaves_it_out(repo_factory, tmp_path):
    origin = repo_factory()
    (origin / "src").mkdir()
    (origin / "src" / "app.py").write_text("def app():\n    return 1\n", encoding="utf-8")
    two_sides(origin)
    (origin / ".codemem" / ".gitignore").write_text("local/\n*.bak\n", encoding="utf-8")
    git(origin, "add", "-A")
    git(origin, "commit", "-q", "-m", "team memory")
    root = tmp_path / "sparse"
    git(tmp_path, "clone", "-q", "--sparse", str(origin), str(root))
    git(root, "sparse-checkout", "set", "src")
    assert not (root / ".codemem").exists()
    # status said to run `codemem init`, which refuses here: it names the sparse fix instead
    problems = json.loads(run_cli(root, "status", "--json").stdout)["problems"]
    assert f"no .codemem/ folder: {LEFT_OUT}" in problems, problems
    for args in (["digest", "--no-llm", "--dry-run"], ["config", "set", "search.k", "5"]):
        no_folder = run_cli(root, *args)  # they too said to run `codemem init`
        assert (no_folder.exit_code, no_folder.output) == (
            2,
            f"codemem: error: no .codemem/ in {root}: {LEFT_OUT}\n",
        )
    dismiss = run_cli(root, "review", "--dismiss", "abcdef12")  # it said `codemem init` too
    assert (dismiss.exit_code, dismiss.output) == (
        2,
        f"codemem: error: --dismiss abcdef12: no .codemem/ in {root}: {LEFT_OUT}\n",
    )
    listed = run_cli(root, "memory", "list")
    assert (listed.exit_code, listed.output) == (0, f"No memory blocks yet: {LEFT_OUT}.\n")
    assert run_cli(root, "index").exit_code == 0  # the index is this clone's own
    # before: the dry run listed the blocks it would write, which no run could
    dry_run = run_cli(root, "digest", "--no-llm", "--dry-run")
    assert (dry_run.exit_code, dry_run.output) == (  # `local/` alone is no memory
        2,
        f"codemem: error: no memory in .codemem/ in {root}: {LEFT_OUT}\n",
    )
    refused = [
        run_cli(root, *args)
        for args in (
            ["digest", "--no-llm"],
            ["remember", "Prices are in cents."],
            ["memory", "set", "project", "--value", "A new project."],
            ["init"],
        )
    ]
    # before: the digest made the blocks anew over the team's, a diff for `git commit -a`
    assert git(root, "status", "--porcelain").stdout == ""
    assert sorted(p.name for p in (root / ".codemem").iterdir()) == ["local"]
    for result in refused:
        assert (result.exit_code, LEFT_OUT in result.output) == (2, True), result.output
    ws = Workspace(root)
    assert ws.git_operation() == LEFT_OUT
    status = run_cli(root, "status", "--json")
    assert json.loads(status.stdout)["git_operation"] == LEFT_OUT
    git(root, "sparse-checkout", "add", ".codemem")
    assert ws.git_operation() is None
    assert run_cli(root, "digest", "--no-llm").exit_code == 0
    assert (
        (root / ".codemem" / "blocks" / "project.md")
        .read_text(encoding="utf-8")
        .startswith(BLOCK + "Build with tox.\n")
    )
    assert (root / ".codemem" / ".gitignore").read_text(encoding="utf-8") == "local/\n*.bak\n"
