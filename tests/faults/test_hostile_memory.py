"""A clone whose committed `.codemem/` was written to hurt: links out of the repository (to a
file, a folder, /dev/zero), files too large or too deeply nested to read whole, JSON of the
wrong shape, and names and texts holding terminal codes.

Every committed file codemem reads is read as a memory file (`codemem.memory.read_memory_file`:
no link followed, bounded, UTF-8 or a one-line error naming it), every file it writes under
`.codemem/` is refused when a link would carry the write out of the repository, and what it
prints of a block cannot drive the terminal.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from codemem.cli import cli
from codemem.conventions import read_records, records_damage
from codemem.errors import PathOutsideRepository, UsageError
from codemem.mcp.resources import DIGEST_URI, read_resource
from codemem.memory import BlockFormatError, MemoryStore, initialize_memory
from codemem.merge_driver import configure_merge_driver
from codemem.review.feedback import load_dismissals
from codemem.sleep.state import digest_heads, read_state
from codemem.workspace import Workspace
from tests.helpers import codemem_on_a_terminal, git, run_codemem

ROOT = Path(__file__).resolve().parents[2]
MAX_MEMORY_BYTES = 4 * 1024 * 1024
RULES = {
    "version": 2,
    "rules": [
        {
            "band": "almost-all",
            "evidence": {"detail": "", "examples": [], "exceptions": [], "sources": []},
            "kind": "naming",
            "language": "python",
            "statement": "SECRET statement from outside",
            "subject": "function",
            "topic": "naming",
            "value": "snake_case",
        }
    ],
}
DISMISSAL = {"id": "abcdef123456", "rule": "style/x", "file": "a.py", "reason": "", "by": "mallory"}


def clone(origin: Path, tmp_path: Path, name: str = "clone") -> Workspace:
    """Commit everything in `origin` and clone it, as a teammate would."""
    git(origin, "add", "-A")
    git(origin, "commit", "-q", "-m", "memory")
    target = tmp_path / name
    git(tmp_path, "clone", "-q", str(origin), str(target))
    git(target, "config", "user.email", "dev@example.com")
    git(target, "config", "user.name", "Dev")
    return Workspace(target)


@pytest.fixture
def origin(repo_factory) -> Path:
    root = repo_factory()
    (root / "a.py").write_text("def f():\n    return 1\n", encoding="utf-8")
    initialize_memory(Workspace(root))
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "init")
    return root


@pytest.fixture
def outside(tmp_path) -> Path:
    folder = tmp_path / "outside"
    folder.mkdir()
    return folder


def link(origin: Path, rel: str, target: Path | str) -> None:
    path = origin / ".codemem" / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    path.symlink_to(target)


def run(ws: Workspace, *args: str, color: bool = False):
    return CliRunner().invoke(cli, ["--repo", str(ws.root), *args], color=color)


# -- links out: nothing outside the repository is read ----------------------------------------


def test_linked_records_dismissals_state_and_digests_are_not_read(origin, outside, tmp_path):
    (outside / "conventions.json").write_text(json.dumps(RULES), encoding="utf-8")
    (outside / "dismissal.json").write_text(json.dumps(DISMISSAL), encoding="utf-8")
    (outside / "state.json").write_text(
        json.dumps({"sleep": {"last_commit": "0123456789abcdef"}}), encoding="utf-8"
    )
    (outside / "digest.md").write_text("---\nhead: fedcba9876543210\n---\nx\n", encoding="utf-8")
    link(origin, "conventions.json", outside / "conventions.json")
    link(origin, "review/dismissed/abcdef123456.json", outside / "dismissal.json")
    link(origin, "state.json", outside / "state.json")
    link(origin, "digests/2026-01-01-root-fedcba9.md", outside / "digest.md")
    ws = clone(origin, tmp_path)
    assert read_records(ws) is None
    assert records_damage(ws) is None
    assert load_dismissals(ws) == []
    assert digest_heads(ws) == []
    state = read_state(ws)
    assert (state.last_commit, state.digested) == (None, [])


def test_a_linked_gitattributes_is_not_read_and_named_once(origin, outside, tmp_path):
    (outside / "attributes").write_text("* merge=codemem\n", encoding="utf-8")
    link(origin, ".gitattributes", outside / "attributes")
    ws = clone(origin, tmp_path)
    git(ws.root, "config", "--unset", "merge.codemem.driver", check=False)
    assert configure_merge_driver(ws) is False
    assert git(ws.root, "config", "merge.codemem.driver", check=False).stdout == ""
    result = run(ws, "status")
    assert result.exit_code == 0, result.output
    assert (
        "  - .codemem/.gitattributes: not a regular file (a link?), ignored: restore it with "
        "`git checkout -- .codemem/.gitattributes` (it names the merge driver)\n"
    ) in result.stdout


@pytest.mark.parametrize(
    ("rel", "args"),
    [
        (".gitattributes", ("status",)),
        ("conventions.json", ("status",)),
        ("state.json", ("status",)),
        ("review/dismissed/abcdef123456.json", ("review", "--staged")),
        ("conventions.json", ("review", "--staged")),
        ("digests/2026-01-01-root-fedcba9.md", ("digest", "--no-llm", "--dry-run")),
    ],
    ids=lambda value: value if isinstance(value, str) else " ".join(value),
)
def test_a_link_to_dev_zero_neither_hangs_nor_fills_the_memory(origin, tmp_path, rel, args):
    """Read whole, /dev/zero never ends: the old reader died of MemoryError (or the OOM killer)."""
    link(origin, rel, "/dev/zero")
    ws = clone(origin, tmp_path)

    def small_address_space() -> None:
        limit = 1536 * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    result = run_codemem(ws.root, *args, timeout=120, preexec_fn=small_address_space)
    assert result.returncode in (0, 1), result.stderr
    assert "Error" not in result.stderr and "error" not in result.stderr, result.stderr
    assert f".codemem/{rel}" in result.stderr  # named in one warning line


# -- links out: nothing is written through one --------------------------------------------------


def test_a_dangling_gitignore_link_is_not_written_through(origin, outside, tmp_path):
    target = outside / "created-by-codemem"
    link(origin, ".gitignore", target)
    ws = clone(origin, tmp_path)
    ws.ensure_local()
    assert not target.exists()
    assert (ws.dir / ".gitignore").is_symlink()


def test_a_codemem_folder_linked_out_of_the_repository_is_refused(repo_factory, outside):
    root = repo_factory()
    (root / ".codemem").symlink_to(outside)
    ws = Workspace(root)
    message = (
        ".codemem is a link out of the repository: codemem keeps memory only inside it; remove "
        "the link (`git rm .codemem`) and run the command again"
    )
    with pytest.raises(PathOutsideRepository) as caught:
        ws.ensure_local()
    assert str(caught.value) == message
    result = run(ws, "init")
    assert result.exit_code == 2
    assert result.stderr == f"codemem: error: {message}\n"
    assert list(outside.iterdir()) == []


@pytest.mark.parametrize("name", ["config.yml", ".gitattributes"])
def test_init_leaves_a_committed_link_leading_nowhere_as_it_is(origin, outside, tmp_path, name):
    # `init` checked `exists()`, which a link to nothing fails, then replaced the committed
    # link with its template: a change to a committed file nobody asked for.
    link(origin, name, outside / "gone")
    ws = clone(origin, tmp_path)
    assert run(ws, "init", "--no-index").exit_code == 0
    assert (ws.dir / name).is_symlink()
    assert os.readlink(ws.dir / name) == str(outside / "gone")
    assert git(ws.root, "status", "--porcelain", "--", f".codemem/{name}").stdout == ""
    assert list(outside.iterdir()) == []


def test_the_digest_does_not_write_into_a_linked_folder(origin, outside, tmp_path):
    link(origin, "digests", outside)
    ws = clone(origin, tmp_path)
    (ws.root / "b.py").write_text("def g():\n    return 2\n", encoding="utf-8")
    git(ws.root, "add", "-A")
    git(ws.root, "commit", "-q", "-m", "feat: g")
    result = run(ws, "digest", "--no-llm")
    assert result.exit_code == 2
    assert result.stderr.startswith("codemem: error: .codemem/digests/")
    assert result.stderr.endswith(
        ": it leads outside the repository; codemem does not write memory through links: "
        "replace it with a regular file first\n"
    )
    assert list(outside.iterdir()) == []


def test_no_memory_is_written_into_git_folder_through_a_link_inside_the_repository(
    origin, tmp_path
):
    # Links inside the repository were followed: a note landed in .git/refs/heads, where git
    # takes it for a branch it cannot read, and a digest among the hooks.
    link(origin, "archive", "../.git/refs/heads")
    link(origin, "digests", "../.git/hooks")
    ws = clone(origin, tmp_path)
    refs = sorted(os.listdir(ws.root / ".git" / "refs" / "heads"))
    hooks = sorted(os.listdir(ws.root / ".git" / "hooks"))
    (ws.root / "b.py").write_text("def g():\n    return 2\n", encoding="utf-8")
    git(ws.root, "add", "-A")
    git(ws.root, "commit", "-q", "-m", "feat: g")
    remembered = run(ws, "remember", "a note")
    digested = run(ws, "digest", "--no-llm")
    for result, folder in ((remembered, "archive"), (digested, "digests")):
        assert result.exit_code == 2, result.output
        assert result.stderr.startswith(f"codemem: error: .codemem/{folder}/")
        assert result.stderr.endswith(
            ": it leads into git's own folder; codemem does not write memory through links: "
            "replace it with a regular file first\n"
        )
    assert sorted(os.listdir(ws.root / ".git" / "refs" / "heads")) == refs
    assert sorted(os.listdir(ws.root / ".git" / "hooks")) == hooks


def test_a_codemem_folder_linked_into_git_folder_is_refused(repo_factory):
    root = repo_factory()
    (root / ".codemem").symlink_to(".git")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "link")
    before = sorted(os.listdir(root / ".git"))
    result = run(Workspace(root), "init")
    assert result.exit_code == 2
    assert result.stderr == (
        "codemem: error: .codemem is a link into git's own folder (.git): codemem writes "
        "nothing there; remove the link (`git rm .codemem`) and run the command again\n"
    )
    assert sorted(os.listdir(root / ".git")) == before


# -- too large, too deep, the wrong shape -------------------------------------------------------


def test_a_block_too_large_to_read_is_named_and_the_others_load(origin, tmp_path):
    big = origin / ".codemem" / "blocks" / "big.md"
    big.write_text("---\nlimit: 1000000000000\n---\n" + "a" * MAX_MEMORY_BYTES, encoding="utf-8")
    ws = clone(origin, tmp_path)
    blocks, problems = MemoryStore(ws, user="dev-example-com").scan()
    assert [block.label for block in blocks] == ["conventions", "project", "users/dev-example-com"]
    assert [str(problem) for problem in problems] == [
        ".codemem/blocks/big.md: larger than 4,194,304 bytes, too large for a memory file: "
        "shorten it, or restore it with `git checkout -- .codemem/blocks/big.md`"
    ]
    result = run(ws, "memory", "show")
    assert result.exit_code == 0
    assert "aaaa" not in result.stdout
    store = MemoryStore(ws, user="dev-example-com")
    with pytest.raises(BlockFormatError) as caught:  # an edit would read it whole
        store.append("big", "more")
    assert str(caught.value) == str(problems[0])
    assert store.delete("big").label == "big"  # but it can be deleted
    assert not (ws.blocks_dir / "big.md").exists()


def file_for_folders(origin: Path, *folders: str) -> None:
    """A file committed where each memory folder belongs (its files gone)."""
    for folder in folders:
        path = origin / ".codemem" / folder
        if path.is_dir():
            for child in path.iterdir():
                child.unlink()
            path.rmdir()
        path.write_text("not a folder\n", encoding="utf-8")


def test_a_memory_folder_committed_as_a_file_is_one_line_and_nothing_is_written(
    origin, tmp_path, caplog
):
    file_for_folders(origin, "blocks/users", "archive")
    ws = clone(origin, tmp_path)
    fix = "is a file, not a folder; move that file away first\n"
    for args, said in (
        (("remember", "--block", "users/x", "Tabs."), ".codemem/blocks/users/x.md: "),
        (("memory", "create", "users/x", "--description", "X."), ".codemem/blocks/users/x.md: "),
        (("memory", "mv", "project", "users/x"), ".codemem/blocks/users/x.md: "),
    ):
        result = run(ws, *args)
        assert (result.exit_code, result.stderr) == (
            2,
            f"codemem: error: {said}.codemem/blocks/users {fix}",
        )
    result = run(ws, "remember", "Deploys on Fridays.")
    assert result.exit_code == 2
    assert result.stderr.startswith("codemem: error: .codemem/archive/")
    assert result.stderr.endswith(f": .codemem/archive {fix}")
    shown = run(ws, "memory", "show", "users/x")
    assert (shown.exit_code, shown.stderr) == (
        2,
        "codemem: error: .codemem/blocks/users is a file, not a folder: nothing under it can be "
        "read or written; move that file away (`git mv` it aside keeps its text)\n",
    )  # before: "unknown block 'users/x': the blocks are conventions, project; create it first"
    assert caplog.messages[0] == (
        "skipped what is under .codemem/blocks/users: .codemem/blocks/users is a file, not a "
        "folder; move that file away (`git mv` it aside keeps its text)"
    )  # before: "...; codemem reads memory only from regular files ... never follows links"
    assert git(ws.root, "status", "--porcelain").stdout == ""


def test_a_memory_folder_committed_as_a_file_is_named_by_every_command_that_lists_memory(
    origin, tmp_path
):
    file_for_folders(origin, "blocks/users", "archive", "digests")
    ws = clone(origin, tmp_path)
    said = {
        folder: f".codemem/{folder} is a file, not a folder: nothing under it can be read or "
        "written; move that file away (`git mv` it aside keeps its text)"
        for folder in ("blocks/users", "archive", "digests")
    }
    status = run(ws, "status")
    assert status.exit_code == 0, status.output
    assert [line for line in status.stdout.splitlines() if "not a folder" in line] == [
        f"  - {said['blocks/users']}",
        f"  - {said['archive']}",
        f"  - {said['digests']}",
    ]  # before: "Problems: none."
    recall = run(ws, "recall", "")
    assert (recall.exit_code, recall.stderr) == (
        1,  # nothing found: the notes cannot be read
        f"codemem: warning: {said['archive']}\nNothing found.\n",
    )
    listed = run(ws, "memory", "list")
    assert (listed.exit_code, listed.stderr) == (
        0,
        f"codemem: warning: {said['blocks/users']}\n",
    )

    class Ctx:
        pass

    ctx = Ctx()
    ctx.ws = ws
    with pytest.raises(UsageError) as raised:
        read_resource(ctx, DIGEST_URI)  # an MCP client's read of the latest digest
    assert str(raised.value) == said["digests"]  # before: "no digest yet: `codemem digest`..."
    assert git(ws.root, "status", "--porcelain").stdout == ""


def test_the_files_under_a_folder_committed_as_a_file_are_skipped_in_one_warning(
    origin, tmp_path, caplog
):
    blocks = origin / ".codemem" / "blocks"
    shutil.rmtree(blocks)
    blocks.write_text("not a folder\n", encoding="utf-8")
    ws = clone(origin, tmp_path)
    result = run(ws, "memory", "show", "project")
    assert result.exit_code == 2
    store = MemoryStore(ws, user="codemem")
    for label in ("project", "conventions", "project"):
        with pytest.raises(BlockFormatError):
            store.get(label)
    skipped = [m for m in caplog.messages if m.startswith("skipped")]
    assert skipped == [
        "skipped what is under .codemem/blocks: .codemem/blocks is a file, not a folder; move "
        "that file away (`git mv` it aside keeps its text)"
    ]  # before: one line for each block looked for


def test_records_nested_too_deep_and_dismissals_of_the_wrong_shape_are_named(
    origin, tmp_path, caplog
):
    deep = "[" * 100_000 + "]" * 100_000
    (origin / ".codemem" / "conventions.json").write_text(deep, encoding="utf-8")
    (origin / ".codemem" / "state.json").write_text(deep, encoding="utf-8")
    dismissed = origin / ".codemem" / "review" / "dismissed"
    dismissed.mkdir(parents=True)
    (dismissed / "a.json").write_text("[]\n", encoding="utf-8")
    (dismissed / "b.json").write_text(deep, encoding="utf-8")
    (dismissed / "c.json").write_text(json.dumps(DISMISSAL), encoding="utf-8")
    ws = clone(origin, tmp_path)
    assert [item.id for item in load_dismissals(ws)] == ["abcdef123456"]
    assert read_records(ws) is None
    result = run(ws, "status")
    assert result.exit_code == 0, result.output
    assert (
        "  - .codemem/conventions.json: unreadable (maximum recursion depth exceeded while "
        "decoding a JSON array from a unicode string): fix it, or delete it and run "
        "`codemem digest` to learn the conventions again\n"
    ) in result.stdout
    caplog.clear()
    result = run(ws, "review", "--staged")
    assert result.exit_code == 0, result.output
    assert (
        "skipped .codemem/review/dismissed/a.json: not a dismissal ('list' object has no "
        "attribute 'get')"
    ) in [record.getMessage() for record in caplog.records]


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("value", {"x": 1}, "value must be text, not dict"),
        ("language", 7, "language must be text, not int"),
        ("band", ["almost-all"], "band must be text, not list"),
        ("statement", None, "statement must be text, not NoneType"),
        ("evidence", {"examples": "abc"}, "examples must be a list of texts"),
        ("evidence", {"matched": "9"}, "matched must be a whole number, not str"),
        ("evidence", ["x"], "evidence must be an object, not list"),
    ],
)
def test_records_of_the_wrong_types_are_named_and_every_reader_goes_on(
    origin, tmp_path, field, value, problem
):
    rules = json.loads(json.dumps(RULES))
    rules["rules"][0][field] = value
    (origin / ".codemem" / "conventions.json").write_text(json.dumps(rules), encoding="utf-8")
    ws = clone(origin, tmp_path)
    (ws.root / "b.py").write_text("def BadName():\n    return 2\n", encoding="utf-8")
    git(ws.root, "add", "b.py")
    message = ws.root / "message.txt"
    message.write_text("fix: a thing\n", encoding="utf-8")
    damage = records_damage(ws)
    assert damage == (
        f".codemem/conventions.json: unreadable (a malformed rule: {problem}): fix it, or "
        "delete it and run `codemem digest` to learn the conventions again"
    )
    for args in (
        ["status", "--json"],
        ["review", "--staged"],
        ["hook", "check-message", str(message)],
        ["digest", "--no-llm", "--dry-run", "--json"],
    ):
        done = run_codemem(ws.root, *args)
        assert done.returncode == 0, (args, done.stderr)  # before: internal error, exit 3
        assert "internal error" not in done.stderr
    assert json.loads(run_codemem(ws.root, "status", "--json").stdout)["problems"] == [damage]


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (
            "1" + "0" * 5000,
            # Python's own words: "(4300 digits)" from 3.11, "(4300)" in 3.10
            "Exceeds the limit (4300",
        ),
        ("2025-02-30", "day is out of range for month"),
        ("!!int x", "invalid literal for int() with base 10: 'x'"),
        # where Python notices the depth ("… while calling a Python object") depends on the
        # calls between the scan and the YAML loader: only the start of the message is ours
        ("[" * 5000 + "]" * 5000, "maximum recursion depth exceeded"),
    ],
    ids=["huge number", "no such day", "wrong tag", "nested deep"],
)
def test_frontmatter_values_that_cannot_be_built_are_named(origin, tmp_path, value, problem):
    block = origin / ".codemem" / "blocks" / "odd.md"
    block.write_text(f"---\nstamp: {value}\n---\nx\n", encoding="utf-8")
    ws = clone(origin, tmp_path)
    blocks, problems = MemoryStore(ws, user="dev-example-com").scan()
    assert [block.label for block in blocks] == ["conventions", "project", "users/dev-example-com"]
    [message] = [str(problem) for problem in problems]
    head = f".codemem/blocks/odd.md:2: invalid frontmatter (a value that cannot be read: {problem}"
    assert message.startswith(head), message
    assert message.endswith("): fix the YAML between the '---' lines"), message
    assert "\n" not in message
    result = run(ws, "memory", "list")
    assert result.exit_code == 0, result.output


# -- terminal codes ---------------------------------------------------------------------------


def test_memory_list_and_show_print_no_terminal_codes_from_a_clone(origin, tmp_path):
    (origin / ".codemem" / "blocks" / "esc.md").write_text(
        '---\ndescription: "\\e]0;PWNED\\a"\n---\nbody \x1b]52;c;ZXZpbA==\x07\x1b[2J\n',
        encoding="utf-8",
    )
    (origin / ".codemem" / "blocks" / "e\x1b[31m.md").write_text("x\n", encoding="utf-8")
    ws = clone(origin, tmp_path)
    listed = run(ws, "memory", "list", color=True)
    shown = run(ws, "memory", "show", "esc", color=True)
    rendered = run(ws, "memory", "show", color=True)
    status = run(ws, "status", color=True)
    for result in (listed, shown, rendered, status):  # codemem's own colours are CSI "m" codes
        assert result.exit_code == 0, result.output
        assert all(code not in result.output for code in ("\x1b]", "\x1b[2J", "\x1b[31m"))
    assert "  \\x1b]0;PWNED\\x07\n" in listed.stdout
    assert "body \\x1b]52;c;ZXZpbA==\\x07\\x1b[2J\n" in shown.stdout
    assert (
        "  - .codemem/blocks/e\\x1b[31m.md: 'e\\x1b[31m' cannot be a block label" in status.stdout
    )
    raw = run(ws, "memory", "show", "esc", "--raw", color=True)
    assert raw.stdout == "body \x1b]52;c;ZXZpbA==\x07\x1b[2J\n"  # --raw is the value, exactly


def test_memory_show_raw_is_exact_through_a_pipe_and_drives_no_terminal(origin, tmp_path):
    # --raw printed a clone's codes to the terminal (OSC 52 writes the clipboard, ESC [2J
    # clears the screen), and through a pipe click stripped those that look like colour, so
    # `--raw > file` did not hold the value either
    value = "body \x1b]52;c;ZXZpbA==\x07\x1b[2J \x1b[31mred\x1b[0m \x9b2J"
    (origin / ".codemem" / "blocks" / "esc.md").write_text(
        f"---\ndescription: Codes.\n---\n{value}\n", encoding="utf-8"
    )
    ws = clone(origin, tmp_path)
    piped = run_codemem(ws.root, "memory", "show", "esc", "--raw")
    assert (piped.returncode, piped.stdout) == (0, value + "\n")
    shown = codemem_on_a_terminal(ws.root, "memory", "show", "esc", "--raw")
    assert shown.decode() == (
        "body \\x1b]52;c;ZXZpbA==\\x07\\x1b[2J \\x1b[31mred\\x1b[0m \\x9b2J\r\n"
    )


def test_json_output_carries_no_8_bit_terminal_codes_from_a_clone(origin, tmp_path):
    # JSON escapes ESC (\u001b) but not the 8-bit codes U+0080-U+009F, which a terminal that
    # reads UTF-8 may obey as ESC [ (CSI) and ESC ] (OSC): `--json` printed them as they came.
    body = "a \x9b2J b \x9d52;c;ZXZpbA==\x9c c"
    (origin / ".codemem" / "blocks" / "c1.md").write_text(
        f'---\ndescription: "\\x9b1A"\n---\n{body}\n', encoding="utf-8"
    )
    ws = clone(origin, tmp_path)
    shown = run(ws, "memory", "show", "c1", "--json")
    assert shown.exit_code == 0, shown.output
    assert not any("\x80" <= char <= "\x9f" for char in shown.stdout)
    assert "a \\u009b2J b \\u009d52;c;ZXZpbA==\\u009c c" in shown.stdout
    data = json.loads(shown.stdout)
    assert (data["value"], data["description"]) == (body, "\x9b1A")  # exact, once read


def test_recall_prints_a_cloned_notes_text_without_terminal_codes(origin, tmp_path):
    archive = origin / ".codemem" / "archive"
    archive.mkdir()
    (archive / "20250301-120000-abcdef12.md").write_text(
        "---\nid: 20250301-120000-abcdef12\ncreated: 2025-03-01T12:00:00+00:00\n"
        'tags: ["b\\e]0;T\\a"]\n---\nhello \x1b]52;c;ZXZpbA==\x07 world\n',
        encoding="utf-8",
    )
    ws = clone(origin, tmp_path)
    result = run(ws, "recall", "hello", "--archive", color=True)
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "note 20250301-120000-abcdef12 [b\\x1b]0;t\\x07]: hello \\x1b]52;c;ZXZpbA==\\x07 world\n"
    )
