"""Frames over the size limit: refused with JSON-RPC's Invalid Request, dropped unbuffered, and
the next frame served."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import threading

from mcp_helpers import INITIALIZE, child_env

from codemem.mcp.frames import MAX_FRAME_BYTES, Refused, frame_id, malformed, read_frame

INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}


def call_frame(request_id: object, size: int, id_first: bool) -> bytes:
    """A `tools/call` of `size` bytes or more, its id first (as the Python SDK writes it) or
    last (as the TypeScript SDK does)."""
    content = "a" * size
    params = {"name": "memory_read", "arguments": {"label": content}}
    if id_first:
        message = {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params}
    else:
        message = {"method": "tools/call", "params": params, "jsonrpc": "2.0", "id": request_id}
    return json.dumps(message).encode() + b"\n"


def exchange(repo, frames: list[bytes], until: set[object]) -> tuple[dict[object, dict], str]:
    """Send `frames` to `codemem mcp` and read its replies (by id) until those to the ids
    `until` have come; with its stderr."""
    server = subprocess.Popen(
        [sys.executable, "-m", "codemem", "--repo", str(repo), "mcp", "--read-only"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**child_env(), "PATH": "/usr/bin:/bin", "HOME": str(repo.parent)},
        cwd=repo.parent,
    )
    replies: dict[object, dict] = {}
    answered = threading.Event()

    def read_replies() -> None:
        assert server.stdout is not None
        for line in server.stdout:
            reply = json.loads(line)
            replies.setdefault(reply.get("id"), reply)
            if until <= replies.keys():
                answered.set()
        answered.set()

    reader = threading.Thread(target=read_replies, daemon=True)
    reader.start()
    assert server.stdin is not None
    try:
        for frame in frames:
            server.stdin.write(frame)
        server.stdin.flush()
        assert answered.wait(60)
    finally:
        server.stdin.close()
        server.wait(60)
        reader.join(60)  # replies the server wrote before `until`'s, still being read
        assert server.stderr is not None
        stderr = server.stderr.read().decode()
    return replies, stderr


def test_a_frame_over_the_limit_is_refused_with_its_id_and_the_next_one_served(repo):
    frames = [
        json.dumps(INITIALIZE).encode() + b"\n",
        json.dumps(INITIALIZED).encode() + b"\n",
        call_frame(2, MAX_FRAME_BYTES, id_first=True),
        call_frame("last", MAX_FRAME_BYTES, id_first=False),
        # No id where it can be read: answered with a null id.
        b'{"params": {"big": [' + b"1," * (MAX_FRAME_BYTES // 2) + b"1]}}\n",
        call_frame(3, 1000, id_first=True),  # under the limit: served
        json.dumps({"jsonrpc": "2.0", "id": "ping", "method": "ping"}).encode() + b"\n",
    ]
    replies, stderr = exchange(repo, frames, {3, "ping"})
    assert set(replies) == {1, 2, 3, "last", None, "ping"}
    for request_id, size in ((2, len(frames[2])), ("last", len(frames[3])), (None, len(frames[4]))):
        assert replies[request_id]["error"] == {
            "code": -32600,
            "message": f"request of {size - 1:,} bytes refused: codemem's MCP server reads "
            f"requests of at most {MAX_FRAME_BYTES:,} bytes",
        }
    assert replies[3]["result"]["isError"] is True  # an unknown block, but read and answered
    assert replies["ping"]["result"] == {}
    assert stderr.count("refused an MCP request") == 3


def test_a_frame_that_is_not_json_or_not_json_rpc_is_answered_and_the_next_one_served(repo):
    ping = json.dumps({"jsonrpc": "2.0", "id": "ping", "method": "ping"}).encode() + b"\n"
    frames = [
        json.dumps(INITIALIZE).encode() + b"\n",
        json.dumps(INITIALIZED).encode() + b"\n",
        b"this is not JSON\n",
        b"\n",  # a blank line: skipped
        b'{"jsonrpc": "2.0", "id": 7, "method": 5}\n',  # JSON, not a JSON-RPC request
        b'{"jsonrpc": "2.0", "id": true, "method": 5}\n',  # no id JSON-RPC allows
        b"[]\n",
        ping,
    ]
    replies, stderr = exchange(repo, frames, {"ping"})
    assert replies[None]["error"] == {
        "code": -32700,
        "message": "Parse error: Invalid JSON: expected ident at line 1 column 2",
    }
    assert replies[7] == {
        "jsonrpc": "2.0",
        "id": 7,
        "error": {"code": -32600, "message": "Invalid Request: not a JSON-RPC 2.0 message"},
    }
    assert set(replies) == {1, None, 7, "ping"} and replies["ping"]["result"] == {}
    assert stderr.count("answered an MCP frame that is not JSON-RPC") == 3
    assert stderr.count("answered an MCP frame that is not JSON\n") == 1


def test_a_malformed_frame_is_answered_as_json_rpc_asks():
    assert malformed("{oops", parse_error="Invalid JSON: key must be a string") == {
        "jsonrpc": "2.0",
        "id": None,
        "error": {"code": -32700, "message": "Parse error: Invalid JSON: key must be a string"},
    }
    invalid = {"code": -32600, "message": "Invalid Request: not a JSON-RPC 2.0 message"}
    for text, request_id in (
        ('{"id": "a", "method": 1}', "a"),
        ('{"id": 12, "result": 1, "error": {}}', 12),
        ('{"id": 1.5}', None),
        ('{"id": false}', None),
        ('{"id": {"x": 1}}', None),
        ("[1, 2]", None),
        ("NaN", None),
        ("[" * 100_000 + "]" * 100_000, None),  # deeper than Python's parser goes
    ):
        assert malformed(text, parse_error=None) == {
            "jsonrpc": "2.0",
            "id": request_id,
            "error": invalid,
        }


def test_read_frame_drops_what_is_over_the_limit():
    source = io.BytesIO(
        b'{"id": 1}\n'
        + b'{"jsonrpc": "2.0", "id": 7, "params": "'
        + b"x" * 100
        + b'"}\n'
        + b"0123456789\n"  # exactly the limit, newline not counted
        + b'{"id": "t", "x": "'
        + b"y" * 50  # over the limit and never ended
    )
    read = [read_frame(source, limit=10) for _ in range(5)]
    assert read == [
        b'{"id": 1}\n',
        Refused(141, 7),
        b"0123456789\n",
        Refused(68, "t"),
        None,
    ]


def test_frame_id_reads_only_a_member_of_the_top_level_object():
    assert frame_id(b'{"jsonrpc":"2.0","id":42,"method":"x","params":{', b"") == 42
    assert frame_id(b' { "id" : "a-b" , ', b"") == "a-b"
    assert frame_id(b"", b'aaa"}},"jsonrpc":"2.0","id":-3}\n') == -3
    assert frame_id(b"", b'aaa"}},"id":"q","jsonrpc":"2.0"}') == "q"
    # Nested ids, an id after a nested value at the start, one inside a string: not read.
    assert frame_id(b'{"params":{"id":5},"id":6', b"") is None
    assert frame_id(b"", b'{"a":{"id":7}}') is None
    assert frame_id(b"", b'"x":"\\",\\"id\\":8}"}') is None
    assert frame_id(b"", b'[{"id":9}]') is None


def test_the_end_of_input_is_told_once_the_answers_to_bad_frames_are_sent():
    # The server stops at the end of input; the answers to frames it cannot take go out on
    # a task of their own, and one still waiting there was lost: a client that closed once
    # its last request was answered never got the answer to a bad frame before it.
    import anyio

    from codemem.mcp.server import ClientFrames, _send_answers

    out: list[object] = []

    async def main() -> list[str]:
        answers_in, answers_out = anyio.create_memory_object_stream[dict[str, object]](16)
        sent = anyio.Event()
        frames = ClientFrames(io.BytesIO(b"this is not JSON\n"), answers_in, sent)

        async def slow_send(message: object) -> None:
            await anyio.sleep(0.2)  # a loaded machine's scheduling
            out.append(message)

        async with anyio.create_task_group() as answering:
            answering.start_soon(_send_answers, answers_out, slow_send, sent)
            return [frame async for frame in frames]

    assert anyio.run(main) == []
    assert len(out) == 1  # sent before the end of input was told
