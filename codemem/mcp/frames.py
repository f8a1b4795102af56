"""The client's JSON-RPC frames, read from stdin with a bound on each one's size.

MCP over stdio is newline-delimited JSON (no `Content-Length` headers: such a header is just a
line that is not JSON, answered by nothing, as the SDK does). The SDK's own reader holds a
whole line however long it is, and then its text and its parsed form: one 300 MB frame costs
the server over a gigabyte, and a frame that never ends, all the memory there is. Here a frame
of more than `MAX_FRAME_BYTES` is refused: the rest of it is read in small pieces and dropped,
keeping only its first and last few KiB, from which its request id is read when it can be
(`frame_id`), and the server answers that id with an Invalid Request error
(`refusal`) and goes on with the next frame. A frame that is not JSON, or not a JSON-RPC
message, which the SDK would drop unanswered, is answered Parse error or Invalid Request
(`malformed`), as JSON-RPC asks; a blank line is skipped.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

log = logging.getLogger("codemem")

# The largest frame the server reads (its newline not counted). A memory file is at most
# 4 MiB (`memory.read_memory_file`), and JSON can write a character in up to six bytes; more
# than that is no request codemem's tools take.
MAX_FRAME_BYTES = 16 * 1024 * 1024
# The piece the rest of a refused frame is read (and dropped) in.
_DROP_CHUNK = 64 * 1024
# How much of a refused frame's start and end is kept to find its id in.
_EDGE_BYTES = 4096
# JSON-RPC's "Invalid Request" (the JSON sent is not a valid Request object).
INVALID_REQUEST = -32600
# JSON-RPC's "Parse error" (the frame is not JSON).
PARSE_ERROR = -32700

# A member whose value is a plain string or an integer (no escapes, no nesting), and a request
# id. Only a member of the top-level object is ever read as the id: the ones right after its
# opening brace, or the ones right before its closing one (a frame's last `}` closes it, and
# going back from there, the members of plain values before it are its own).
_ID = rb'(-?[0-9]{1,18}|"[^"\\]{0,256}")'
_PLAIN = rb'"[^"\\]{0,256}"\s*:\s*(?:"[^"\\]{0,256}"|-?[0-9]{1,18})'
_ID_FIRST = re.compile(rb"\A\s*\{\s*(?:" + _PLAIN + rb'\s*,\s*){0,8}"id"\s*:\s*' + _ID)
_ID_LAST = re.compile(rb'[{,]\s*"id"\s*:\s*' + _ID + rb"\s*(?:,\s*" + _PLAIN + rb"\s*){0,8}\}\s*\Z")


@dataclass(frozen=True)
class Refused:
    """A frame over the limit, read to its end and dropped."""

    size: int  # its bytes, newline not counted
    request_id: int | str | None  # its id, when its kept edges show it


def read_frame(source: BinaryIO, limit: int = MAX_FRAME_BYTES) -> bytes | Refused | None:
    """The next frame from `source` (its newline left on), `Refused` for one over `limit`
    bytes, None at the end of input. Holds at most `limit` bytes plus a few KiB."""
    line = source.readline(limit + 1)
    if not line:
        return None
    if len(line) <= limit or line.endswith(b"\n"):
        return line
    head, tail, size = line[:_EDGE_BYTES], line[-_EDGE_BYTES:], len(line)
    del line
    while True:  # the rest, piece by piece, to its newline or the end of input
        piece = source.readline(_DROP_CHUNK)
        if not piece:
            break
        size += len(piece)
        tail = (tail + piece)[-_EDGE_BYTES:]
        if piece.endswith(b"\n"):
            size -= 1
            break
    return Refused(size, frame_id(head, tail))


def frame_id(head: bytes, tail: bytes) -> int | str | None:
    """The id of the request whose frame starts with `head` and ends with `tail`, where it is a
    member of plain values away from the start or end (as clients write requests: `jsonrpc`
    and `id` first, or last); None when it is not found there."""
    found = _ID_FIRST.match(head) or _ID_LAST.search(tail)
    if found is None:
        return None
    value = found.group(1)
    if value.startswith(b'"'):
        return value[1:-1].decode("utf-8", "replace")
    return int(value)


def refusal(refused: Refused, limit: int = MAX_FRAME_BYTES) -> dict[str, object]:
    """The JSON-RPC error that answers a refused frame (`id` null when it was not found)."""
    message = (
        f"request of {refused.size:,} bytes refused: codemem's MCP server reads requests "
        f"of at most {limit:,} bytes"
    )
    return _error(refused.request_id, INVALID_REQUEST, message)


def malformed(text: str, *, parse_error: str | None) -> dict[str, object]:
    """The JSON-RPC error that answers a frame the SDK cannot take (which it drops unanswered,
    leaving the client waiting): Parse error, id null, for one its JSON parser refused (with
    the parser's reason, `parse_error`), else Invalid Request with the frame's id when it has
    a plain one."""
    if parse_error is not None:
        return _error(None, PARSE_ERROR, f"Parse error: {parse_error}")
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):  # JSON to the SDK's parser, not to Python's: NaN
        value = None
    request_id = value.get("id") if isinstance(value, dict) else None
    if isinstance(request_id, bool) or not isinstance(request_id, int | str):
        request_id = None
    return _error(request_id, INVALID_REQUEST, "Invalid Request: not a JSON-RPC 2.0 message")


def _error(request_id: int | str | None, code: int, message: str) -> dict[str, object]:
    return {"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}}


@contextlib.contextmanager
def claimed_stdin() -> Iterator[BinaryIO]:
    """The client's end of fd 0, read through a private copy, while fd 0 itself points at the
    null device (as the SDK's own reader does), so a child process reads no frame.

    The copy is never closed: a reading thread the server no longer waits for may still be
    blocked on it."""
    private = fcntl.fcntl(0, fcntl.F_DUPFD_CLOEXEC, 3)
    null = os.open(os.devnull, os.O_RDONLY)
    try:
        os.dup2(null, 0)
    finally:
        os.close(null)
    try:
        yield os.fdopen(private, "rb", closefd=False)
    finally:
        with contextlib.suppress(OSError):
            os.dup2(private, 0)


def log_refused(refused: Refused) -> None:
    """One line on stderr for the person looking at the host's log."""
    log.warning(
        "refused an MCP request of %s bytes (at most %s; id %s)",
        f"{refused.size:,}",
        f"{MAX_FRAME_BYTES:,}",
        "unknown" if refused.request_id is None else repr(refused.request_id),
    )
