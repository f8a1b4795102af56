"""A watch over a request that ends it when the server stops sending anything new.

httpx's read timeout restarts with every byte, and a server keeps a stream alive with bytes
that carry nothing: Anthropic's `ping` events, an OpenAI-compatible server's SSE comments
(`: keep-alive`), which the SDKs drop before the adapters see them. An upstream that hangs
behind such a server (a proxy, a gateway, the API itself under load) would hold the answer
forever. `StallWatch` closes the stream once no event came for `seconds`; the adapter then
reports the silence as a timeout. With `until` it also closes it at that time (a model
call's deadline: a server that trickles its answer a byte or an event at a time ends there).
`Attempt` is one request under such a watch, which it ends by shutting the answer's socket.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

from codemem.agent.providers.retry import Deadline

log = logging.getLogger("codemem")


class StallWatch:
    """Calls `close` once `progress` has not been called for `seconds`, or at `until` (a
    `time.monotonic()` time), whichever comes first; then `fired` is True and `cause` says
    which ("silence" or "deadline").

    Used as a context manager around reading a stream; a daemon thread keeps the time, and
    leaving the block stops it.
    """

    def __init__(
        self, seconds: float, close: Callable[[], object], until: float | None = None
    ) -> None:
        self.seconds = seconds
        self.close = close
        self.until = until
        self.fired = False
        self.cause = ""
        self._last = time.monotonic()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="codemem-stall", daemon=True)

    def __enter__(self) -> StallWatch:
        self._last = time.monotonic()
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._done.set()

    def progress(self) -> None:
        """An event came: the silence starts again from now."""
        self._last = time.monotonic()

    def _due(self) -> float:
        due = self._last + self.seconds
        return due if self.until is None else min(due, self.until)

    def _watch(self) -> None:
        while not self._done.wait(max(0.0, self._due() - time.monotonic())):
            now = time.monotonic()
            if now >= self._due():
                late = self.until is not None and self.until <= self._last + self.seconds
                self.cause = "deadline" if late else "silence"
                self.fired = True  # before the close, which the reading thread then sees
                try:
                    self.close()
                except Exception as exc:  # the reader ends anyway, at the server's next byte
                    log.debug("closing a stalled stream failed: %s", exc)
                return


def _socket_of(response: Any) -> socket.socket | None:
    """The socket an httpx response is read from (None when the transport hides it)."""
    stream = getattr(response, "extensions", {}).get("network_stream")
    found = stream.get_extra_info("socket") if stream is not None else None
    return found if isinstance(found, socket.socket) else None


class Attempt:
    """One request of a model call: its time limit, and the sockets its answers come on.

    The watch ends the attempt by shutting those sockets down, which wakes a read blocked
    on one at once (closing a stream only ends it at the server's next byte).
    """

    def __init__(self, timeout: float, deadline: Deadline) -> None:
        self.deadline = deadline
        self.limit = min(timeout, deadline.left())  # what one read may wait
        self.sockets: list[socket.socket] = []
        self.streams: list[Any] = []
        self.content_type = ""  # of the last answer's headers: a proxy's page says text/html
        self.watch = StallWatch(timeout, self.cut, until=deadline.end)

    def attach(self, response: Any) -> None:
        """An answer's headers came: its socket is cut when the watch fires."""
        self.content_type = str(response.headers.get("content-type", ""))
        found = _socket_of(response)
        if found is not None:
            self.sockets.append(found)
            if self.watch.fired:  # it fired while the headers came
                self.cut()

    def cut(self) -> None:
        for open_socket in self.sockets:
            # the plain socket's shutdown, never an SSL socket's (which drops its state)
            with contextlib.suppress(OSError):
                socket.socket.shutdown(open_socket, socket.SHUT_RDWR)
        if not self.sockets:
            for stream in self.streams:
                stream.close()
