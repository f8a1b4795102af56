"""A local HTTP server that speaks the Anthropic and OpenAI wire formats, for tests.

Point the real SDKs at it (`base_url=server.anthropic_url` / `server.openai_url`), queue
what the "model" should answer, then assert on what the SDK sent:

    with FakeServer() as server:
        server.push(Turn(tool_calls=[Call("read_file", {"path": "a.py"})]), Turn(text="done"))
        ...  # run the provider or the agent loop
        assert server.requests[0].body["tools"][0]["name"] == "read_file"

A `Turn` is rendered in whichever format the request asks for: Anthropic `/v1/messages`
or OpenAI `/v1/chat/completions`, as JSON or as server-sent events when the request says
`"stream": true`. `Error` renders each provider's error body; `Raw` sends bytes as given.
Replies are taken in order; a reply with `path` set waits for a request to that path. A
`responder(request)` set on the server answers first (None: fall back to the queue), for
clients such as a whole agent host whose requests cannot be predicted in order.
`/v1/messages/count_tokens` answers by itself (about 4 bytes per token) unless a reply for
that path is queued. An unexpected request gets a 400 naming it. Nothing listens beyond
127.0.0.1. The reply values and wire rendering live in `fakewire`.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from fakewire import (
    COUNT_TOKENS,
    Call,
    Error,
    Raw,
    Turn,
    anthropic_events,
    anthropic_message,
    error_body,
    error_events,
    openai_completion,
    openai_events,
    tokens_reply,
)

__all__ = ["COUNT_TOKENS", "Call", "Error", "FakeServer", "Raw", "Request", "Turn", "tokens_reply"]

Reply = Turn | Error | Raw
JSON = {"content-type": "application/json"}
PING = b'event: ping\ndata: {"type": "ping"}\n\n'


@dataclass
class Request:
    """One request the server received; `headers` keys are lower-case."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    raw: bytes

    @property
    def streamed(self) -> bool:
        return isinstance(self.body, dict) and bool(self.body.get("stream"))


class FakeServer:
    """A threaded HTTP server on 127.0.0.1 with a queue of replies and a request log."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.queue: list[Reply] = []
        self.responder: Callable[[Request], Reply | None] | None = None
        self._lock = threading.Lock()
        self.stopped = threading.Event()  # lets a stalled reply go when the server stops
        self._http = _HTTPServer(("127.0.0.1", 0), _Handler)
        self._http.fake = self
        self._thread = threading.Thread(
            target=self._http.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._http.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def anthropic_url(self) -> str:
        """base_url for the Anthropic SDK (it adds /v1/...)."""
        return self.url

    @property
    def openai_url(self) -> str:
        """base_url for the OpenAI SDK and OpenAI-compatible providers."""
        return self.url + "/v1"

    def start(self) -> FakeServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopped.set()
        self._http.shutdown()
        self._http.server_close()

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def push(self, *replies: Reply) -> None:
        """Queue replies, answered in order."""
        with self._lock:
            self.queue.extend(replies)

    @property
    def last(self) -> Request:
        """The most recent request."""
        return self.requests[-1]

    def requests_to(self, suffix: str) -> list[Request]:
        """Requests whose path ends with `suffix`."""
        return [r for r in self.requests if r.path.endswith(suffix)]

    def _take(self, path: str) -> Reply | None:
        with self._lock:
            for index, reply in enumerate(self.queue):
                if reply.path == path or (reply.path is None and path != COUNT_TOKENS):
                    return self.queue.pop(index)
        return None

    def handle(self, handler: _Handler) -> None:
        """Record one request and send the next queued reply in the request's format."""
        length = int(handler.headers.get("content-length") or 0)
        raw = handler.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        path = urlsplit(handler.path).path
        headers = {k.lower(): v for k, v in handler.headers.items()}
        request = Request(handler.command, path, headers, body, raw)
        with self._lock:
            self.requests.append(request)

        reply = self.responder(request) if self.responder else None
        reply = reply or self._take(path)
        if reply is None and path == COUNT_TOKENS:
            reply = Raw(body={"input_tokens": max(1, len(raw) // 4)})
        if reply is None:
            reply = Error(400, f"fakeserver: nothing queued for {handler.command} {path}")
        flavor = "anthropic" if "/messages" in path else "openai"
        model = body.get("model", "fake-model") if isinstance(body, dict) else "fake-model"

        if isinstance(reply, Raw):
            _send(handler, reply.status, reply.data(), {**JSON, **reply.headers}, reply.every)
        elif isinstance(reply, Error) and reply.in_stream:
            _send_stream(handler, error_events(flavor, reply), None)
        elif isinstance(reply, Error):
            data = json.dumps(error_body(flavor, reply)).encode()
            _send(handler, reply.status, data, {**JSON, **reply.headers})
        elif request.streamed and flavor == "anthropic":
            _send_stream(handler, anthropic_events(reply, model), reply.drop_after, reply, PING)
        elif request.streamed:
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            events = openai_events(reply, model, include_usage)
            _send_stream(handler, events, reply.drop_after, reply, b": keep-alive\n\n")
        else:
            render = anthropic_message if flavor == "anthropic" else openai_completion
            _send(handler, 200, json.dumps(render(reply, model)).encode(), JSON)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], OSError):
            return  # a client that hung up, or a connection cut on purpose
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # small writes go out at once: no delayed-ACK stalls
    server: _HTTPServer

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        self.server.fake.handle(self)

    do_GET = do_POST

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass


def _send(
    handler: _Handler,
    status: int,
    data: bytes,
    headers: dict[str, str],
    every: float | None = None,
) -> None:
    handler.send_response(status)
    for name, value in headers.items():
        handler.send_header(name, value)
    handler.send_header("content-length", str(len(data)))
    handler.end_headers()
    if every is None:
        handler.wfile.write(data)
        return
    handler.wfile.flush()
    for number in range(len(data)):  # a byte at a time, until the server stops
        if handler.server.fake.stopped.wait(every):
            break
        handler.wfile.write(data[number : number + 1])
        handler.wfile.flush()
    handler.close_connection = True


def _send_stream(
    handler: _Handler,
    events: list[bytes],
    drop_after: int | None,
    turn: Turn | None = None,
    keepalive: bytes = b"",
) -> None:
    handler.send_response(200)
    handler.send_header("content-type", "text/event-stream")
    handler.send_header("transfer-encoding", "chunked")
    handler.end_headers()
    stall_after = turn.stall_after if turn is not None else None
    every = turn.every if turn is not None else None
    for number, event in enumerate(events):
        if every is not None and number and handler.server.fake.stopped.wait(every):
            handler.close_connection = True
            return
        if stall_after is not None and number >= stall_after:
            stopped = handler.server.fake.stopped
            if turn is not None and turn.keepalive:  # alive, and saying nothing (for 10 s:
                give_up = time.monotonic() + 10  # a client that waits for ever fails a test)
                while not stopped.wait(0.05) and time.monotonic() < give_up:
                    try:
                        _write_chunk(handler, keepalive)
                    except OSError:  # the client gave up
                        break
            else:
                handler.wfile.flush()
                stopped.wait(60)  # hold the connection open, send nothing
            handler.close_connection = True
            return
        if drop_after is not None and number >= drop_after:
            handler.close_connection = True
            handler.connection.shutdown(socket.SHUT_RDWR)  # mid-body: an incomplete read
            return
        _write_chunk(handler, event)
    handler.wfile.write(b"0\r\n\r\n")


def _write_chunk(handler: _Handler, data: bytes) -> None:
    handler.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
    handler.wfile.flush()
