"""The MCP server's parts without a client: index freshness, start-up cost, the raw wire, the CLI."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from mcp_helpers import INITIALIZE, child_env, run_session

from codemem.cli import cli
from codemem.config import load_config
from codemem.mcp.resources import latest_digest
from codemem.mcp.server import McpSession
from codemem.workspace import Workspace
from tests.helpers import index_held_elsewhere, run_codemem


def _env() -> dict[str, str]:
    return {"PATH": os.environ["PATH"], "HOME": os.environ["HOME"], **child_env()}


def start_server(repo, stderr, env=None, **popen) -> subprocess.Popen:
    """`codemem --repo REPO mcp` in a subprocess, its stdin and stdout pipes of text."""
    return subprocess.Popen(
        [sys.executable, "-m", "codemem", "--repo", str(repo), "mcp"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
        env=env or _env(),
        **popen,
    )


def test_each_search_refreshes_the_index_incrementally(repo):
    ws = Workspace(repo)
    session = McpSession(ws, load_config(ws.config_file))

    def search(query: str) -> str:
        result = session.call_tool("search_code", {"query": query, "k": 1, "level": "file"})
        assert not result.is_error
        return result.content

    def last() -> tuple:
        s = session.freshness.last
        return s.full, s.up_to_date, s.added, s.changed, s.removed

    assert search("Inventory").startswith("1. shop/inventory.py:")
    assert last() == (True, False, 12, 0, 0)  # the first search builds the index
    (repo / "shop" / "coupons.py").write_text("def apply_coupon_code(total):\n    return total\n")
    assert search("apply_coupon_code").startswith("1. shop/coupons.py:1-2 file (score ")
    assert last() == (False, False, 1, 0, 0)  # only the saved file was parsed
    (repo / "shop" / "coupons.py").write_text("def redeem_gift_card(total):\n    return 0\n")
    assert search("redeem_gift_card").startswith("1. shop/coupons.py:1-2 file (score ")
    assert last() == (False, False, 0, 1, 0)
    (repo / "shop" / "coupons.py").unlink()
    assert "shop/coupons.py" not in session.call_tool("repo_map", {"tokens": 8192}).content
    assert last() == (False, False, 0, 0, 1)
    search("Inventory")
    assert last() == (False, True, 0, 0, 0)  # nothing changed: nothing re-indexed


def test_a_code_call_while_another_process_holds_the_index_waits_once(repo, monkeypatch, caplog):
    """`codemem index --full` elsewhere holds the index: an MCP code call waits `INDEX_WAIT`
    once (its tool's refresh), as the agent's does, not once more before it, and answers from
    the index as last built with the tool's note; once the lock is free the next call
    refreshes and logs what it re-indexed."""
    from codemem.agent.tools import toolbox
    from codemem.code import CodeIndex, indexer
    from codemem.errors import LockTimeout

    ws = Workspace(repo)
    session = McpSession(ws, load_config(ws.config_file))
    with caplog.at_level(logging.INFO, logger="codemem"):
        assert not session.call_tool("search_code", {"query": "Cart", "k": 1}).is_error
    assert "indexed 12 files in " in caplog.text  # the first search built the index
    monkeypatch.setattr(toolbox, "INDEX_WAIT", 0.3)
    timed_out: list[float | None] = []
    refresh = CodeIndex.refresh

    def counted(self, **kwargs):
        try:
            return refresh(self, **kwargs)
        except LockTimeout:
            timed_out.append(kwargs.get("lock_wait"))
            raise

    monkeypatch.setattr(CodeIndex, "refresh", counted)
    (repo / "shop" / "coupons.py").write_text("def apply_coupon_code(total):\n    return total\n")
    with index_held_elsewhere(ws.local_dir / indexer.LOCK_NAME):
        for name, arguments in [
            ("search_code", {"query": "Cart", "k": 1}),
            ("repo_map", {"tokens": 200}),
        ]:
            timed_out.clear()
            result = session.call_tool(name, arguments)
            assert not result.is_error, result.content
            assert timed_out == [0.3]  # one wait, the tool's
            assert result.content.rsplit("\n\n", 1)[1].startswith(
                f"[not refreshed: {ws.local_dir / indexer.LOCK_NAME} is held by"
            )
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="codemem"):
        result = session.call_tool("search_code", {"query": "apply_coupon_code", "k": 1})
    assert result.content.startswith("1. shop/coupons.py:1-2 function apply_coupon_code ")
    assert "not refreshed" not in result.content
    assert "re-indexed 1 changed files in " in caplog.text
    assert session.freshness.last.added == 1


def test_memory_tools_do_not_refresh_or_load_the_index(repo):
    ws = Workspace(repo)
    session = McpSession(ws, load_config(ws.config_file))
    assert not session.call_tool("memory_read", {}).is_error
    assert session.freshness.last is None
    assert not ws.index_dir.exists()


def test_memory_calls_go_on_while_a_search_builds_the_index(repo):
    ws = Workspace(repo)
    session = McpSession(ws, load_config(ws.config_file))
    indexing, done = threading.Event(), threading.Event()

    def slow_refresh() -> str:
        indexing.set()
        done.wait(30)
        return ""

    session.ctx.ensure_index = slow_refresh
    search = threading.Thread(target=session.call_tool, args=("search_code", {"query": "Cart"}))
    search.start()
    assert indexing.wait(30)
    result = session.call_tool("memory_append", {"label": "project", "content": "Build: make."})
    assert (result.content, result.is_error) == (
        "Appended to project: now 12 / 8,000 characters.",
        False,
    )
    assert search.is_alive()  # still "indexing"
    done.set()
    search.join(30)


def test_start_up_imports_neither_lancedb_nor_pyarrow(repo):
    script = (
        "import sys\n"
        "from codemem.config import load_config\n"
        "from codemem.mcp.server import McpSession, build_server\n"
        "from codemem.workspace import Workspace\n"
        f"ws = Workspace.discover({str(repo)!r})\n"
        "session = McpSession(ws, load_config(ws.config_file))\n"
        "build_server(session)\n"
        "session.call_tool('memory_read', {})\n"
        "session.list_resources()\n"
        "print([name in sys.modules for name in ('lancedb', 'pyarrow')])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, env=_env()
    )
    assert out.stdout == "[False, False]\n"


def test_stdout_carries_only_protocol_messages(repo):
    requests = [
        INITIALIZE,
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "tools/call",
            "params": {"name": "search_code", "arguments": {"query": "add_item"}},
        },
        {
            "jsonrpc": "2.0",
            "id": 3,
            "method": "tools/call",
            "params": {"name": "memory_append", "arguments": {"label": "nope", "content": "x"}},
        },
        {"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {"name": "nope"}},
        {"jsonrpc": "2.0", "id": 5, "method": "resources/read", "params": {}},
    ]
    server = start_server(repo, stderr=subprocess.PIPE)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(
        target=lambda: [lines.put(line) for line in server.stdout], daemon=True
    ).start()
    replies = {}
    try:
        for request in requests:
            server.stdin.write(json.dumps(request) + "\n")
            server.stdin.flush()
            if "id" in request:  # one line per request: nothing else may reach stdout
                reply = json.loads(lines.get(timeout=120))
                assert reply["jsonrpc"] == "2.0"
                replies[reply["id"]] = reply
        server.stdin.write("this is not json\n")  # answered, as JSON-RPC asks
        server.stdin.flush()
        assert json.loads(lines.get(timeout=60))["error"]["code"] == -32700
        server.stdin.close()
        assert server.wait(timeout=60) == 0
    finally:
        server.kill()
    assert lines.empty()
    assert sorted(replies) == [1, 2, 3, 4, 5]
    assert replies[1]["result"]["serverInfo"]["name"] == "codemem"
    assert replies[2]["result"]["isError"] is False
    assert replies[2]["result"]["content"][0]["text"].startswith("1. ")
    assert replies[3]["result"]["isError"] is True
    assert replies[4]["result"] == {
        "content": [
            {
                "type": "text",
                "text": (
                    "unknown tool 'nope': the tools are search_code, repo_map, memory_read, archival_search, "
                    "conversation_search, memory_append, memory_replace, memory_rethink, archival_insert, "
                    "remember"
                ),
            }
        ],
        "isError": True,
    }
    assert replies[5]["error"]["code"] == -32602  # no uri: refused by the SDK, the server lives on


def test_memory_is_set_up_when_the_repository_has_none(repo_factory):
    root = repo_factory("shop")

    async def script(session):
        return [r.uri for r in (await session.list_resources()).resources]

    assert run_session(root, script) == [
        "codemem://blocks/conventions",
        "codemem://blocks/project",
        "codemem://blocks/users/dev-example-com",
        "codemem://repo-map",
    ]
    assert (root.parent / "server-stderr.txt").read_text() == (
        "codemem: set up memory in .codemem/ (commit it to share it with your team)\n"
    )


def test_outside_a_repository_the_command_fails_before_serving(tmp_path):
    result = CliRunner().invoke(cli, ["mcp", "--repo", str(tmp_path)])
    assert result.exit_code == 2
    assert result.stderr == (
        f"codemem: error: {tmp_path} is not inside a git repository: run `git init` there first, "
        "or pass --repo DIR pointing at one\n"
    )


@pytest.mark.parametrize(
    ("closed", "said"),
    [
        (0, "codemem mcp speaks over stdin and stdout: start it with both open"),
        (
            1,
            "standard output is closed: run codemem with it open (`>/dev/null` discards what it prints)",
        ),
    ],
    ids=["stdin", "stdout"],
)
def test_a_server_started_without_its_pipes_says_so(repo, closed, said):
    done = run_codemem(repo, "mcp", timeout=60, preexec_fn=lambda: os.close(closed))
    assert (done.returncode, done.stderr) == (2, f"codemem: error: {said}\n")


def test_latest_digest_is_the_last_by_name(repo):
    ws = Workspace(repo)
    assert latest_digest(ws) is None
    ws.digests_dir.mkdir()
    for name in ("2025-03-01-aaaaaaa.md", "2025-03-02-bbbbbbb.md", "2025-03-02-0000000.md"):
        (ws.digests_dir / name).write_text(f"# {name}\n")
    assert latest_digest(ws) == ws.digests_dir / "2025-03-02-bbbbbbb.md"  # by name: date first
    ws.state_file.write_text(  # an old state.json names nothing any more
        json.dumps({"sleep": {"last_digest": "digests/2025-03-02-0000000.md"}})
    )
    assert latest_digest(ws) == ws.digests_dir / "2025-03-02-bbbbbbb.md"


def test_warm_up_opens_an_existing_index_and_builds_none(repo):
    ws = Workspace(repo)
    session = McpSession(ws, load_config(ws.config_file))
    session.warm_up()
    assert session.freshness.last is None
    assert not ws.index_dir.exists()  # no index without a search asking for it

    assert not session.call_tool("search_code", {"query": "Cart"}).is_error  # builds it
    later = McpSession(ws, load_config(ws.config_file))
    later.warm_up()
    assert (later.freshness.last.full, later.freshness.last.up_to_date) == (False, True)


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_stops_the_server_while_stdin_stays_open(repo, signum, code):
    server = start_server(repo, stderr=subprocess.DEVNULL)
    try:
        server.stdin.write(json.dumps(INITIALIZE) + "\n")
        server.stdin.flush()
        assert json.loads(server.stdout.readline())["id"] == 1  # serving, stdin still open
        server.send_signal(signum)
        assert server.wait(timeout=10) == code
    finally:
        server.kill()


UNWATCHED = (  # the server without the thread that watches its stdout (`_exit_when_unread`)
    "import sys, codemem.cli.mcp as m; m._exit_when_unread = lambda fd: None; "
    "from codemem.cli import main; sys.argv[0] = 'codemem'; main()"
)


@pytest.mark.parametrize("watched", [True, False], ids=["watched", "reply-first"])
def test_a_client_that_stops_reading_ends_the_server_quietly(repo, tmp_path, watched):
    """The host closed its end of the server's stdout (it died; its stdin may be held open by
    something else): the first reply breaks the pipe and the server leaves at once, without
    an "internal error" line and without waiting for a stdin that may never close.

    Unwatched, the reply always meets the closed pipe before the watch thread would wake, as
    it once did on a loaded machine ("internal error: ExceptionGroup: unhandled errors in a
    TaskGroup"; the code before that fix hung there instead)."""
    stderr = tmp_path / "stderr.txt"
    with stderr.open("w") as err:
        if watched:
            server = start_server(repo, stderr=err)
        else:
            command = [sys.executable, "-c", UNWATCHED, "--repo", str(repo), "mcp"]
            server = subprocess.Popen(
                command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, text=True,
                env=_env(),
            )  # fmt: skip
    try:
        server.stdin.write(json.dumps(INITIALIZE) + "\n")
        server.stdin.flush()
        assert json.loads(server.stdout.readline())["id"] == 1
        server.stdout.close()
        server.stdin.write(json.dumps({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}) + "\n")
        server.stdin.flush()
        assert server.wait(timeout=10) == 141  # 128 + SIGPIPE, as the command line's rule
    finally:
        server.kill()
    assert stderr.read_text() == ""


def group_gone(pgid: int, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


@contextlib.contextmanager
def searching_while_indexing(repo, tmp_path) -> Iterator[subprocess.Popen]:
    """A server (in its own process group) whose first search is building the index with
    parser workers forked by multiprocessing's fork server, stalled after its first batch;
    the group is killed on the way out."""
    for n in range(120):
        (repo / f"module_{n}.py").write_text(f"def func_{n}(x):\n    return x + {n}\n")
    stall = tmp_path / "stalled"
    env = {
        **_env(),
        "CODEMEM_TEST_STALL_AT": "batch",
        "CODEMEM_TEST_STALL_FILE": str(stall),
        "CODEMEM_INDEX__WORKERS": "2",
        "CODEMEM_INDEX__BATCH_FILES": "10",
    }
    server = start_server(repo, stderr=subprocess.DEVNULL, env=env, start_new_session=True)
    try:
        search = {"name": "search_code", "arguments": {"query": "func_7"}}
        for request in (
            INITIALIZE,
            {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": search},
        ):
            server.stdin.write(json.dumps(request) + "\n")
            server.stdin.flush()
        deadline = time.monotonic() + 120
        while not stall.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert stall.exists(), "the index build never reached its first batch"
        yield server
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_a_server_killed_while_indexing_leaves_no_parser_behind(repo, tmp_path, signum):
    """The host quits: the server, stopped, must take the fork server and workers with it."""
    with searching_while_indexing(repo, tmp_path) as server:
        server.send_signal(signum)
        server.wait(timeout=10)
        assert group_gone(server.pid), "a parser worker or the fork server outlived the server"


def test_a_client_that_leaves_mid_search_does_not_wait_for_the_index(repo, tmp_path):
    """The host closes stdin while a search builds the index (minutes, in a large repository):
    the server leaves at once, its workers with it, as it would on a signal."""
    with searching_while_indexing(repo, tmp_path) as server:
        server.stdin.close()
        assert server.wait(timeout=20) == 0
        assert group_gone(server.pid), "a parser worker or the fork server outlived the server"


def test_search_code_and_repo_map_never_show_a_secret(repo):
    aws_key, token = (
        "AKIA" + "Q7XZ2KJH4MPL9WRT",
        "gh" + "p_" + "q7Xz2KjH4mPl9WrTa8VbN3cD5eF6gH1iJ0kL",
    )  # codemem: ignore[secrets]
    (repo / "settings.py").write_text(
        f'AWS_ACCESS_KEY_ID = "{aws_key}"\nINVOICE_REGION = "eu-west-1"\n'
    )
    (repo / "deploy.sh").write_text(
        f"export GITHUB_TOKEN={token}\ncanary_rollout() {{\n  echo go\n}}\n"
    )
    ws = Workspace(repo)
    session = McpSession(ws, load_config(ws.config_file))
    for query in [
        "AWS_ACCESS_KEY_ID INVOICE_REGION",
        aws_key,
        "GITHUB_TOKEN canary_rollout",
        token,
    ]:
        result = session.call_tool("search_code", {"query": query, "k": 10})
        assert not result.is_error
        assert aws_key not in result.content and token not in result.content
    found = session.call_tool(
        "search_code", {"query": "AWS_ACCESS_KEY_ID INVOICE_REGION", "k": 1}
    ).content
    assert found.startswith("1. settings.py:1-")
    assert 'AWS_ACCESS_KEY_ID = "«redacted:aws-access-key»"' in found
    shown = session.call_tool("repo_map", {"tokens": 8192}).content
    assert aws_key not in shown and "«redacted:aws-access-key»" in shown
