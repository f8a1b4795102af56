"""File tools: reading in parts, listing, grep, exact edits, writes, and path confinement."""

from __future__ import annotations

import os

import pytest

from codemem.agent.tools import build_tools
from codemem.config import AgentConfig

CART_HEAD = '''\
shop/cart.py (lines 1-3 of 34)
   1\t"""The shopping cart."""
   2\t
   3\tfrom shop.inventory import Inventory, OutOfStockError'''


def call(tools, name, **arguments):
    result = tools.call(name, arguments)
    return result.content, result.is_error


def test_read_file_range(tools):
    assert call(tools, "read_file", path="shop/cart.py", end_line=3) == (CART_HEAD, False)
    text, _ = call(tools, "read_file", path="./shop/cart.py", start_line=25, end_line=26)
    assert text == (
        "shop/cart.py (lines 25-26 of 34)\n"
        "  25\t    def total(self) -> float:\n"
        '  26\t        """The price of everything in the cart."""'
    )


def test_read_file_in_parts_says_how_to_continue(ws, ctx):
    (ws.root / "big.txt").write_text("".join(f"line {n}\n" for n in range(1, 1001)))
    ctx.settings = AgentConfig(tool_output_chars=1000)
    tools = build_tools(ctx)
    text, error = call(tools, "read_file", path="big.txt")
    lines = text.splitlines()
    assert not error
    assert lines[0] == "big.txt (lines 1-47 of 1000)"
    assert (
        lines[-1]
        == '[showing lines 1-47 of 1000; call read_file("big.txt", start_line=48) to see more]'
    )
    text, _ = call(tools, "read_file", path="big.txt", start_line=990)
    assert text.splitlines()[0] == "big.txt (lines 990-1000 of 1000)"
    assert text.splitlines()[-1] == "1000\tline 1000"


def test_read_file_errors(ws, tools):
    (ws.root / "blob.bin").write_bytes(b"\0\1\2")
    assert call(tools, "read_file", path="nope.py") == (
        "read_file: no such file: nope.py; use list_files or search_code to find the right path",
        True,
    )
    assert call(tools, "read_file", path="shop") == (
        'read_file: shop is a directory: use list_files(glob="shop/**")',
        True,
    )
    assert call(tools, "read_file", path="blob.bin") == (
        "read_file: blob.bin is a binary file (3 bytes); it cannot be shown as text",
        True,
    )
    assert call(tools, "read_file", path="shop/cart.py", start_line=99) == (
        "read_file: start_line 99 is out of range: shop/cart.py has 34 lines",
        True,
    )
    assert call(tools, "read_file", path="shop/cart.py", start_line=9, end_line=3) == (
        "read_file: end_line 3 is before start_line 9",
        True,
    )


@pytest.mark.parametrize("path", ["../outside.txt", "shop/../../outside.txt", "/etc/passwd", "~/x"])
def test_paths_cannot_leave_the_repository(ws, tools, path):
    text, error = call(tools, "read_file", path=path)
    assert error
    assert (
        text
        == f"read_file: {path} is outside the repository: paths are relative to its root ({ws.root.name}/)"
    )


def test_symlinks_cannot_escape(ws, tools, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret\n")
    os.symlink(secret, ws.root / "link.txt")
    os.symlink(tmp_path, ws.root / "linkdir")
    assert call(tools, "read_file", path="link.txt")[1] is True
    text, error = call(tools, "write_file", path="linkdir/new.txt", content="x")
    assert error and "outside the repository" in text
    assert not (tmp_path / "new.txt").exists()


def test_absolute_path_inside_is_fine(ws, tools):
    text, error = call(tools, "read_file", path=str(ws.root / "shop/cart.py"), end_line=3)
    assert (text, error) == (CART_HEAD, False)


def test_list_files(ws, tools):
    (ws.root / "notes.md").write_text("untracked but not ignored\n")
    (ws.root / ".gitignore").write_text("ignored.txt\n")
    (ws.root / "ignored.txt").write_text("x\n")
    assert call(tools, "list_files", glob="shop") == (
        "shop/__init__.py\nshop/auth/__init__.py\nshop/auth/tokens.py\nshop/cart.py\n"
        "shop/inventory.py\nshop/payments.py",
        False,
    )
    assert call(tools, "list_files", glob="*.md")[0].splitlines() == [
        ".codemem/blocks/conventions.md",
        ".codemem/blocks/project.md",
        ".codemem/blocks/users/dev-example-com.md",
        "README.md",
        "docs/payments.md",
        "notes.md",
    ]
    assert "ignored.txt" not in call(tools, "list_files")[0]
    assert call(tools, "list_files", glob="*.rs") == ("No files match '*.rs'.", False)


def test_list_files_is_capped(ws, tools):
    folder = ws.root / "many"
    folder.mkdir()
    for n in range(510):
        (folder / f"f{n:03}.txt").write_text("x")
    text, _ = call(tools, "list_files", glob="many/**")
    lines = text.splitlines()
    assert len(lines) == 501
    assert lines[-1] == "[10 more files; narrow the glob to see them]"


def test_grep(tools):
    assert call(tools, "grep", pattern=r"def \w+_token", glob="*.py") == (
        "shop/auth/tokens.py:10: def issue_token(user_id: str, ttl_seconds: int = 3600) -> dict:\n"
        "shop/auth/tokens.py:15: def refresh_access_token(token: dict, ttl_seconds: int = 3600) -> dict:",
        False,
    )
    assert call(tools, "grep", pattern="NoSuchThing") == ("No matches for 'NoSuchThing'.", False)
    text, error = call(tools, "grep", pattern="(unclosed")
    assert error and text.startswith(
        "grep: invalid regular expression '(unclosed': missing ) at position 9"
    )


def test_grep_shows_a_match_once_under_the_file_a_link_leads_to(ws, tools):
    # A link inside the repository to a tracked file: each match came twice, once under the
    # link's path. `git grep` greps no link: the file's own path, once.
    os.symlink("shop/auth/tokens.py", ws.root / "tokens_link.py")
    os.symlink("tokens_link.py", ws.root / "link_to_link.py")
    assert call(tools, "grep", pattern=r"def issue_token") == (
        "shop/auth/tokens.py:10: def issue_token(user_id: str, ttl_seconds: int = 3600) -> dict:",
        False,
    )
    # Only the link among the files a glob picks: its path is the one that reaches the text.
    assert call(tools, "grep", pattern=r"def issue_token", glob="tokens_link.py") == (
        "tokens_link.py:10: def issue_token(user_id: str, ttl_seconds: int = 3600) -> dict:",
        False,
    )


def test_grep_is_capped(ws, tools):
    (ws.root / "many.txt").write_text("hit\n" * 250)
    text, _ = call(tools, "grep", pattern="^hit$")
    lines = text.splitlines()
    assert len(lines) == 201
    assert lines[-1] == "[50 more matches in 1 files; narrow the pattern or the glob to see them]"


def test_edit_file_exact_replace_with_diff(ws, tools, ctx):
    text, error = call(
        tools,
        "edit_file",
        path="shop/cart.py",
        old_string="    def total(self) -> float:",
        new_string="    def total(self) -> float:  # euros",
    )
    assert not error
    assert text == (
        "Edited shop/cart.py (lines 25-25 now).\n"
        "--- a/shop/cart.py\n+++ b/shop/cart.py\n@@ -22,7 +22,7 @@\n"
        "         quantity = self.items.pop(sku)\n"
        "         self.inventory.release(sku, quantity)\n"
        " \n"
        "-    def total(self) -> float:\n"
        "+    def total(self) -> float:  # euros\n"
        '         """The price of everything in the cart."""\n'
        "         return sum(self.inventory.price(sku) * qty for sku, qty in self.items.items())\n"
        " \n"
    )
    assert "    def total(self) -> float:  # euros\n" in (ws.root / "shop/cart.py").read_text()
    assert ctx.changed_files == {"shop/cart.py"} and ctx.index_stale


def test_edit_file_refusals(ws, tools):
    before = (ws.root / "shop/cart.py").read_text()
    assert call(tools, "edit_file", path="shop/cart.py", old_string="nowhere", new_string="x") == (
        "edit_file: old_string was not found in shop/cart.py; read the file and copy the text "
        "exactly, without the line numbers",
        True,
    )
    assert call(
        tools, "edit_file", path="shop/cart.py", old_string="quantity", new_string="qty"
    ) == (
        "edit_file: old_string occurs 8 times in shop/cart.py (lines 13, 14, 15, 16, 17): include "
        "more surrounding text so it matches exactly one place",
        True,
    )
    assert call(
        tools, "edit_file", path="shop/cart.py", old_string="def total", new_string="def total"
    ) == ("edit_file: old_string and new_string are the same: nothing would change", True)
    assert call(tools, "edit_file", path="new.py", old_string="a", new_string="b") == (
        "edit_file: no such file: new.py; use write_file to create a new file",
        True,
    )
    assert call(tools, "edit_file", path="shop/cart.py", old_string="def  total", new_string="x")[1]
    text, _ = call(
        tools,
        "edit_file",
        path="shop/cart.py",
        old_string="def total(self) -> float: ",
        new_string="x",
    )
    assert "(it occurs once without the surrounding whitespace: check indentation)" in text
    assert call(tools, "edit_file", path=".git/config", old_string="a", new_string="b") == (
        "edit_file: .git/config: writing there is not allowed (git's own files)",
        True,
    )
    assert (ws.root / "shop/cart.py").read_text() == before


def test_edit_file_keeps_crlf_and_mode(ws, tools):
    path = ws.root / "win.txt"
    path.write_bytes(b"one\r\ntwo\r\nthree\r\n")
    path.chmod(0o755)
    text, error = call(tools, "edit_file", path="win.txt", old_string="one\ntwo", new_string="1\n2")
    assert not error
    assert path.read_bytes() == b"1\r\n2\r\nthree\r\n"
    assert path.stat().st_mode & 0o777 == 0o755


def test_write_file_creates_and_overwrites(ws, tools):
    assert call(tools, "write_file", path="docs/new/guide.md", content="# Guide\nhello\n") == (
        "Created docs/new/guide.md (2 lines).",
        False,
    )
    assert (ws.root / "docs/new/guide.md").read_text() == "# Guide\nhello\n"
    assert call(tools, "write_file", path="docs/new/guide.md", content="# Guide\nbye\n") == (
        "Overwrote docs/new/guide.md (2 lines).\n--- a/docs/new/guide.md\n+++ b/docs/new/guide.md\n"
        "@@ -1,2 +1,2 @@\n # Guide\n-hello\n+bye\n",
        False,
    )
    assert call(tools, "write_file", path="docs/new/guide.md", content="# Guide\nbye\n") == (
        "docs/new/guide.md already has exactly this content; nothing changed.",
        False,
    )
    assert call(tools, "write_file", path="docs", content="x") == (
        "write_file: docs is a directory: give a file path",
        True,
    )


def test_non_utf8_files_are_read_but_not_edited(ws, tools):
    (ws.root / "latin.txt").write_bytes("café\n".encode("latin-1"))
    assert call(tools, "read_file", path="latin.txt") == (
        "latin.txt (lines 1-1 of 1)\n   1\tcafé",
        False,
    )
    assert call(tools, "edit_file", path="latin.txt", old_string="caf", new_string="tea") == (
        "edit_file: latin.txt is not UTF-8 text; it cannot be edited safely",
        True,
    )


def test_grep_and_list_files_do_not_follow_a_link_out_of_the_repository(ws, tools, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("api_key = hunter2\n")
    os.symlink(secret, ws.root / "leak.txt")
    os.symlink(tmp_path, ws.root / "leakdir")
    os.symlink(ws.root / "README.md", ws.root / "readme-link.md")  # inside: followed
    assert call(tools, "grep", pattern="hunter2") == ("No matches for 'hunter2'.", False)
    listed = call(tools, "list_files")[0].splitlines()
    assert "leak.txt" not in listed
    assert [p for p in listed if p.startswith("leakdir")] == []
    assert "readme-link.md" in listed
    assert call(tools, "read_file", path="leak.txt") == (
        f"read_file: leak.txt is outside the repository: paths are relative to its root ({ws.root.name}/)",
        True,
    )


BLOCK_REFUSAL = (
    "{tool}: {path} is a core memory block: the file tools do not write blocks; use the memory "
    "tools (memory_append, memory_replace, memory_insert, memory_rethink), which keep each "
    "block's limit and its read_only setting"
)
CONFIG_REFUSAL = (
    "{tool}: .codemem/config.yml is codemem's configuration, including the permissions that "
    "govern these tools: the agent cannot change it; tell the user what to change"
)


@pytest.mark.parametrize(
    "path",
    [
        ".codemem/blocks/project.md",
        ".codemem/blocks/users/dev-example-com.md",
        ".codemem/blocks/new.md",
        "./.codemem/blocks/../blocks/project.md",
    ],
)
def test_file_tools_refuse_memory_blocks(ws, tools, path):
    (ws.root / ".codemem/blocks/project.md").write_text(
        "---\ndescription: The project.\nlimit: 100\nread_only: true\n---\nA shop.\n"
    )
    before = (ws.root / ".codemem/blocks/project.md").read_text()
    shown = path.removeprefix("./").replace("blocks/../blocks/", "blocks/")
    assert call(tools, "write_file", path=path, content="read_only: false\n") == (
        BLOCK_REFUSAL.format(tool="write_file", path=shown),
        True,
    )
    assert call(tools, "edit_file", path=path, old_string="A shop.", new_string="Owned.") == (
        BLOCK_REFUSAL.format(tool="edit_file", path=shown),
        True,
    )
    assert (ws.root / ".codemem/blocks/project.md").read_text() == before
    assert not (ws.root / ".codemem/blocks/new.md").exists()


def test_file_tools_refuse_the_config_even_through_a_link(ws, tools):
    config = ws.root / ".codemem" / "config.yml"
    config.write_text("permissions:\n  mode: ask\n")
    os.symlink(config, ws.root / "settings.yml")
    assert call(
        tools, "write_file", path=".codemem/config.yml", content="permissions:\n  mode: allow\n"
    ) == (
        CONFIG_REFUSAL.format(tool="write_file"),
        True,
    )
    assert call(tools, "edit_file", path="settings.yml", old_string="ask", new_string="allow") == (
        CONFIG_REFUSAL.format(tool="edit_file"),
        True,
    )
    assert config.read_text() == "permissions:\n  mode: ask\n"


def test_tool_results_escape_control_characters_in_names(ws, tools):
    (ws.root / "evil\nshop").mkdir()
    (ws.root / "evil\nshop" / "x\x1b[2J.py").write_text("marker_42 = 1\n")
    assert call(tools, "list_files", glob="evil*/**") == ("evil\\nshop/x\\x1b[2J.py", False)
    assert call(tools, "grep", pattern="marker_42") == (
        "evil\\nshop/x\\x1b[2J.py:1: marker_42 = 1",
        False,
    )
    assert call(tools, "read_file", path="evil\nshop/x\x1b[2J.py") == (
        "evil\\nshop/x\\x1b[2J.py (lines 1-1 of 1)\n   1\tmarker_42 = 1",
        False,
    )


def test_an_agent_write_and_an_export_of_the_same_file_take_one_lock(ws, tools):
    # The file tools locked `locks/files.lock` and `codemem memory export` locked
    # `locks/export-AGENTS.md.lock`: both compare-and-swaps of AGENTS.md ran at once, and the
    # export, settling what it took for a killed write's leftovers, removed the agent's file
    # waiting to be compared (the write failed with an OSError, or its file was lost).
    import threading

    from codemem.agent.tools.file_tools import unified_diff
    from codemem.infra import swaps as swaps_module
    from codemem.memory import MemoryStore
    from codemem.memory.instructions import export_instructions, render_region

    agents = ws.root / "AGENTS.md"
    agents.write_text("# Agents\n")
    real_exchange = swaps_module._exchange
    swapped, go_on = threading.Event(), threading.Event()

    def pause_after_the_swap(one, other):
        done = real_exchange(one, other)
        if threading.current_thread().name == "agent" and not swapped.is_set():
            swapped.set()  # the agent's text is in place, the old one waits to be compared
            go_on.wait(10)
        return done

    results = {}

    def write():
        results["tool"] = call(tools, "write_file", path="AGENTS.md", content="# Agents\nmine\n")

    def export():
        results["export"] = export_instructions(MemoryStore(ws), "agents-md")[1]

    swaps_module._exchange = pause_after_the_swap
    try:
        agent = threading.Thread(target=write, name="agent")
        agent.start()
        assert swapped.wait(10)
        exporter = threading.Thread(target=export, name="export")
        exporter.start()
        exporter.join(1.0)  # waits for the agent's write: the same file, so the same lock
        go_on.set()
        agent.join(10)
        exporter.join(30)
    finally:
        swaps_module._exchange = real_exchange
        go_on.set()
    diff = unified_diff("AGENTS.md", "# Agents\n", "# Agents\nmine\n")
    assert results == {"tool": (f"Overwrote AGENTS.md (2 lines).\n{diff}", False), "export": True}
    assert agents.read_text() == "# Agents\nmine\n\n" + render_region(MemoryStore(ws))
    assert [name for name in os.listdir(ws.swap_dir) if name.endswith(".tmp")] == []
