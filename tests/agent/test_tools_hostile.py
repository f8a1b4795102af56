"""File tools in a repository written by someone else: FIFOs, huge files, link loops, absurd
names, nested `.git` folders, codemem's private state, and a file that changes under an edit.

Every refusal is one line returned to the model; nothing hangs and nothing is written.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from codemem.agent.tools import PermissionPolicy, ToolContext, build_tools
from codemem.config import PermissionsConfig
from tests.helpers import git

MAX_READ_BYTES = 10_000_000  # file_tools.MAX_READ_BYTES
CART = "shop/cart.py"
OLD = "    def total(self) -> float:"
NEW = "    def total(self) -> float:  # euros"


def call(tools, name, **arguments):
    result = tools.call(name, arguments)
    return result.content, result.is_error


@pytest.fixture
def deadline():
    """Five seconds for the test: a tool stuck opening a FIFO fails it instead of hanging it."""

    def expire(signum, frame):
        raise TimeoutError("the tool waited for a FIFO's writer")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(5)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        ("read_file", {}),
        ("edit_file", {"old_string": "a", "new_string": "b"}),
        ("write_file", {"content": "b\n"}),
    ],
)
def test_a_fifo_is_refused_without_waiting_for_a_writer(ws, tools, deadline, tool, arguments):
    os.mkfifo(ws.root / "pipe")
    assert call(tools, tool, path="pipe", **arguments) == (
        f"{tool}: pipe is not a regular file (a FIFO, a device or a link); it cannot be read",
        True,
    )


def test_a_file_too_large_to_read_whole_is_refused(ws, tools):
    (ws.root / "huge.log").write_bytes(b"x" * (MAX_READ_BYTES + 1))
    refusal = (
        "huge.log is over 10 MB: too large to read whole; use grep, or run_command with head "
        "or sed -n to see parts of it"
    )
    assert call(tools, "read_file", path="huge.log") == (f"read_file: {refusal}", True)
    assert call(tools, "edit_file", path="huge.log", old_string="x", new_string="y") == (
        f"edit_file: {refusal}",
        True,
    )
    assert (ws.root / "huge.log").stat().st_size == MAX_READ_BYTES + 1


def test_a_link_loop_and_an_absurd_name_are_one_line_refusals(ws, tools):
    os.symlink("loop2", ws.root / "loop1")
    os.symlink("loop1", ws.root / "loop2")
    loop = "cannot be resolved: a symbolic link in it loops back on itself"
    assert call(tools, "read_file", path="loop1") == (f"read_file: loop1 {loop}", True)
    assert call(tools, "write_file", path="loop1/x.py", content="x = 1\n") == (
        f"write_file: loop1/x.py {loop}",
        True,
    )
    long = "a" * 300
    assert call(tools, "read_file", path=f"src/{long}") == (
        f"read_file: invalid path src/{'a' * 196}...: a name in it is longer than 255 bytes",
        True,
    )


@pytest.mark.parametrize(
    "path", [".GIT/config", ".Git/hooks/pre-commit", "vendor/lib/.git/config", "x/.git/hooks/a"]
)
def test_no_write_into_any_git_folder_in_any_case(ws, tools, path):
    # On a case-insensitive disk (macOS, Windows) .GIT/config is .git/config; a nested
    # repository's hooks run when git works there.
    assert call(tools, "write_file", path=path, content="[core]\n\tfsmonitor = evil\n") == (
        f"write_file: {path}: writing there is not allowed (git's own files)",
        True,
    )
    assert not (ws.root / path).exists()


@pytest.mark.parametrize(
    "path", [".codemem/local/index/tags.bin", ".CODEMEM/Local/recall.sqlite", ".codemem/.gitignore"]
)
def test_no_write_into_codemems_private_state(ws, tools, path):
    before = (ws.root / ".codemem/.gitignore").read_text()
    assert call(tools, "write_file", path=path, content="x\n") == (
        f"write_file: {path}: codemem's private state (its index, conversations and locks, kept "
        "out of git by .codemem/.gitignore) is not written by the file tools",
        True,
    )
    assert (ws.root / ".codemem/.gitignore").read_text() == before
    assert not (ws.root / ".codemem/local/index/tags.bin").exists()


CHANGE = {"edit_file": {"old_string": OLD, "new_string": NEW}, "write_file": {"content": "x = 1\n"}}


def asking(ws, config, prompter):
    """The tools, with every write asked of `prompter`."""
    policy = PermissionPolicy(PermissionsConfig(mode="ask"), prompter=prompter)
    return build_tools(ToolContext(ws, config, policy))


class EditsWhileAsked:
    """A person who, while the diff is on screen, saves their own change to the file."""

    def __init__(self, path, text):
        self.path, self.text = path, text

    def approve(self, request):
        self.path.write_text(self.text)
        return "yes"


@pytest.mark.parametrize("tool", ["edit_file", "write_file"])
def test_a_change_made_while_waiting_for_approval_is_not_overwritten(ws, config, tool):
    cart = ws.root / CART
    theirs = cart.read_text().replace('"""The shopping cart."""', '"""Their docstring."""')
    tools = asking(ws, config, EditsWhileAsked(cart, theirs))
    assert call(tools, tool, path=CART, **CHANGE[tool]) == (
        f"{tool}: {CART} changed after it was read (while the change waited for approval?); "
        "nothing was written: read it again and redo the change",
        True,
    )
    assert cart.read_text() == theirs
    assert sorted(p.name for p in cart.parent.iterdir() if p.name.endswith(".tmp")) == []


def test_a_file_created_while_waiting_for_approval_is_not_overwritten(ws, config):
    new = ws.root / "shop/new.py"
    tools = asking(ws, config, EditsWhileAsked(new, "y\n"))
    content, error = call(tools, "write_file", path="shop/new.py", content="x = 1\n")
    assert (content.split(" (")[0], error) == (
        "write_file: shop/new.py changed after it was read",
        True,
    )
    assert new.read_text() == "y\n"


@pytest.mark.parametrize("tool", ["edit_file", "write_file"])
@pytest.mark.parametrize("swaps", [True, False], ids=["swapped-in", "no-swap-on-this-system"])
def test_a_save_just_before_the_rename_is_not_overwritten(ws, tools, monkeypatch, tool, swaps):
    """The file was compared, then renamed over: a save between the two was lost."""
    import codemem.infra.files as files_module
    import codemem.infra.swaps as swaps_module

    if not swaps:
        monkeypatch.setattr(swaps_module, "_exchange", lambda one, other: False)
    cart = ws.root / CART
    os.chmod(cart, 0o640)
    theirs = cart.read_bytes().replace(b"The shopping cart.", b"Their docstring.")
    real_link = files_module._link_unnamed

    def save_before_the_rename(fd, target):  # the temp file is whole: the rename comes next
        cart.write_bytes(theirs)
        return real_link(fd, target)

    monkeypatch.setattr(files_module, "_link_unnamed", save_before_the_rename)
    assert call(tools, tool, path=CART, **CHANGE[tool]) == (
        f"{tool}: {CART} changed after it was read (while the change waited for approval?); "
        "nothing was written: read it again and redo the change",
        True,
    )
    assert cart.read_bytes() == theirs
    assert cart.stat().st_mode & 0o777 == 0o640
    assert git(ws.root, "status", "--porcelain").stdout == " M shop/cart.py\n"


@pytest.mark.parametrize("tool", ["edit_file", "write_file"])
def test_a_save_that_changes_only_line_ends_is_not_overwritten(ws, tools, monkeypatch, tool):
    """Compared byte for byte: a save that only turned LF into CRLF is a change."""
    import codemem.infra.files as files_module

    cart = ws.root / CART
    theirs = cart.read_bytes().replace(b"\n", b"\r\n")
    real_link = files_module._link_unnamed

    def save_before_the_rename(fd, target):
        cart.write_bytes(theirs)
        return real_link(fd, target)

    monkeypatch.setattr(files_module, "_link_unnamed", save_before_the_rename)
    content, error = call(tools, tool, path=CART, **CHANGE[tool])
    assert (content.split(" (")[0], error) == (f"{tool}: {CART} changed after it was read", True)
    assert cart.read_bytes() == theirs


def test_a_write_keeps_the_files_mode(ws, tools):
    cart = ws.root / CART
    os.chmod(cart, 0o751)
    call(tools, "edit_file", path=CART, **CHANGE["edit_file"])
    assert NEW in cart.read_text()
    assert cart.stat().st_mode & 0o777 == 0o751


GREP_IN_A_CHILD = """
import sys
from pathlib import Path
from codemem.agent.tools import ToolContext, build_tools, file_tools
from codemem.workspace import Workspace
file_tools.GREP_SECONDS = 1.0
result = build_tools(ToolContext(Workspace(Path(sys.argv[1])))).call("grep", {"pattern": sys.argv[2]})
print(result.content)
"""


def test_a_pattern_that_backtracks_without_end_is_stopped(ws):
    # Python's re cannot be interrupted (not even by Ctrl-C) while it backtracks: in a
    # child process, so that the old code fails this test instead of hanging it.
    (ws.root / "long.txt").write_text("a" * 60 + "!\n")
    child = subprocess.run(
        [sys.executable, "-c", GREP_IN_A_CHILD, str(ws.root), "(a|aa)+$"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert (child.stdout, child.returncode) == (
        "grep: the pattern '(a|aa)+$' took over 1 seconds: nested repetition like (a|aa)+ can "
        "backtrack without end on a long line; simplify it\n",
        0,
    )


class SwapsFolderForLink:
    """While the diff is on screen, something replaces a folder on the path by a symlink."""

    def __init__(self, folder, target):
        self.folder, self.target = folder, target

    def approve(self, request):
        self.folder.rename(self.folder.with_name("shop-old"))
        self.folder.symlink_to(self.target)
        return "yes"


@pytest.mark.parametrize("tool", ["edit_file", "write_file"])
def test_a_folder_replaced_by_a_link_while_waiting_for_approval_is_not_written_through(
    ws, config, tmp_path, tool
):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "cart.py").write_text((ws.root / CART).read_text())
    tools = asking(ws, config, SwapsFolderForLink(ws.root / "shop", outside))
    assert call(tools, tool, path=CART, **CHANGE[tool]) == (
        f"{tool}: {CART} no longer leads where it did when it was read (a folder on its path "
        "was replaced, perhaps by a symbolic link); nothing was written",
        True,
    )
    assert (outside / "cart.py").read_text() == (ws.root / "shop-old/cart.py").read_text()
    assert sorted(p.name for p in outside.iterdir()) == ["cart.py"]


def test_a_glob_or_revision_no_path_can_hold_is_a_plain_answer(tools):
    assert call(tools, "list_files", glob="x" * 5000) == (f"No files match {'x' * 5000!r}.", False)
    assert call(tools, "git_diff", rev="HEAD\0") == (
        "git_diff: invalid revision 'HEAD\\x00': give a commit, branch or range like HEAD~1",
        True,
    )


@pytest.mark.parametrize("rev", [None, "HEAD"])
def test_git_diff_leaves_out_a_pipe_and_a_sparse_giant_a_pull_left_in_the_work_tree(
    ws, tools, deadline, rev
):
    # git reads a changed work-tree file whole to diff it: on a FIFO the whole diff failed
    # ("git diff failed: fatal: cannot hash shop/cart.py") and a 50 GB sparse file kept the
    # tool reading for minutes (past the five seconds here).
    (ws.root / CART).unlink()
    os.mkfifo(ws.root / CART)
    with (ws.root / "README.md").open("r+b") as readme:
        readme.truncate(50 << 30)
    (ws.root / "shop" / "__init__.py").write_text('"""Changed."""\n')
    text, is_error = call(tools, "git_diff", **({"rev": rev} if rev else {}))
    assert is_error is False
    assert text.startswith("diff --git a/shop/__init__.py b/shop/__init__.py\n")
    assert '+"""Changed."""\n' in text
    assert text.endswith(
        "\nLeft out (not a regular file, or over 10 MB): README.md, shop/cart.py\n"
    )


GREP_AFTER_A_SWAP = """
import os, resource, sys
from pathlib import Path
from codemem.agent.tools import ToolContext, build_tools, file_tools
from codemem.workspace import Workspace
resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))  # /dev/zero fails fast, not the machine
ctx = ToolContext(Workspace(Path(sys.argv[1])))
listed = file_tools.repo_files(ctx)
file_tools.repo_files = lambda ctx: listed  # the listing taken before a checkout swapped:
root = ctx.ws.root
(root / "shop" / "cart.py").unlink()
os.mkfifo(root / "shop" / "cart.py")
(root / "shop" / "inventory.py").unlink()
(root / "shop" / "inventory.py").symlink_to("/dev/zero")
print(build_tools(ctx).call("grep", {"pattern": "A tiny shop"}).content)
"""


def test_grep_reads_no_file_swapped_for_a_pipe_or_a_link_to_a_device_after_listing(ws):
    # grep lists the files, then reads each: a checkout in between that made one a FIFO
    # left the call waiting for a writer, one made a link to /dev/zero was read until memory
    # ran out. In a child process under 4 GB, so the old code fails instead of hanging.
    child = subprocess.run(
        [sys.executable, "-c", GREP_AFTER_A_SWAP, str(ws.root)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert (child.stdout, child.returncode) == (
        "README.md:3: A tiny shop: cart, inventory, payments and auth tokens.\n",
        0,
    )


@pytest.mark.parametrize("tool", ["edit_file", "write_file"])
@pytest.mark.parametrize("fresh", [False, True], ids=["existing-file", "new-file-in-new-folder"])
def test_a_folder_replaced_by_a_link_after_the_last_check_is_not_written_through(
    ws, tools, tmp_path, monkeypatch, tool, fresh
):
    """The path is checked again just before the write; a folder on it swapped for a link to
    a folder outside between that check and the rename led the write out of the repository."""
    import codemem.infra.swaps as swaps_module

    if fresh and tool == "edit_file":
        pytest.skip("edit_file edits only a file that exists")
    outside = tmp_path / "outside"
    outside.mkdir()
    theirs = (ws.root / CART).read_text()  # the same text: a compare-and-swap cannot tell
    (outside / "cart.py").write_text(theirs)
    path = "shop/new/fresh.py" if fresh else CART
    folder = ws.root / path.rsplit("/", 1)[0]
    real_settle = swaps_module._settle_leftovers

    def swap_then_settle(target, swap_folder):  # the write has begun: the check is behind it
        moved = folder.with_name(folder.name + "-old")
        if folder.is_dir() and not folder.is_symlink():
            folder.rename(moved)
        folder.symlink_to(outside)
        return real_settle(target, swap_folder)

    monkeypatch.setattr(swaps_module, "_settle_leftovers", swap_then_settle)
    content, error = call(tools, tool, path=path, **CHANGE[tool])
    assert sorted(p.name for p in outside.iterdir()) == ["cart.py"]
    assert (outside / "cart.py").read_text() == theirs
    written = folder.with_name(folder.name + "-old") / path.rsplit("/", 1)[1]
    # written into the folder that was checked, wherever it went since: never through the link
    expected = NEW in written.read_text() if tool == "edit_file" else written.read_text()
    assert (error, expected) == (False, True if tool == "edit_file" else "x = 1\n")


@pytest.mark.parametrize("tool", ["read_file", "edit_file", "write_file"])
def test_a_folder_replaced_by_a_link_after_the_check_is_not_read_through(
    ws, tools, tmp_path, monkeypatch, tool
):
    """Between `confine` and the read, a folder on the path becomes a link to a folder outside:
    the file there (a key, say) was read into the tool's result, or into the diff."""
    from codemem.agent.tools import file_tools

    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "cart.py").write_text("SECRET = 'outside the repository'\n")
    real_confine = file_tools.confine

    def confine_then_swap(root, path, **kwargs):
        where = real_confine(root, path, **kwargs)
        shop = ws.root / "shop"
        if not shop.is_symlink():
            shop.rename(ws.root / "shop-old")
            shop.symlink_to(outside)
        return where

    monkeypatch.setattr(file_tools, "confine", confine_then_swap)
    arguments = {"old_string": "SECRET", "new_string": "X"} if tool == "edit_file" else {}
    if tool == "write_file":
        arguments = {"content": "x = 1\n"}
    assert call(tools, tool, path=CART, **arguments) == (
        f"{tool}: {CART} no longer leads where it did when it was read (a folder on its path "
        "was replaced, perhaps by a symbolic link); nothing was read",
        True,
    )
    assert (outside / "cart.py").read_text() == "SECRET = 'outside the repository'\n"


def test_a_path_through_a_file_is_one_plain_line(ws, tools):
    assert call(tools, "read_file", path=f"{CART}/x.py") == (
        f"read_file: no such file: {CART}/x.py; use list_files or search_code to find the right "
        "path",
        True,
    )
    assert call(tools, "write_file", path=f"{CART}/x.py", content="x = 1\n") == (
        f"write_file: {CART}/x.py: cart.py on its path is a file, not a folder; nothing was "
        "written",
        True,
    )
