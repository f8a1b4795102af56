"""A watch over a streamed answer that ends it when the server stops sending anything new.

httpx's read timeout restarts with every byte, and a server keeps a stream alive with bytes
that carry nothing: Anthropic's `ping` events, an OpenAI-compatible server's SSE comments
(`: keep-alive`), which the SDKs drop before the adapters see them. An upstream that hangs
behind such a server (a proxy, a gateway, the API itself under load) would hold the answer
forever. `StallWatch` closes the stream once no event came for `seconds`; the adapter then
reports the silence as a timeout.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from types import TracebackType

log = logging.getLogger("codemem")


class StallWatch:
    """Calls `close` once `progress` has not been called for `seconds` (then `fired` is True).

    Used as a context manager around reading a stream; a daemon thread keeps the time, and
    leaving the block stops it.
    """

    def __init__(self, seconds: float, close: Callable[[], object]) -> None:
        self.seconds = seconds
        self.close = close
        self.fired = False
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

    def _watch(self) -> None:
        while not self._done.wait(max(0.0, self._last + self.seconds - time.monotonic())):
            if time.monotonic() - self._last >= self.seconds:
                self.fired = True  # before the close, which the reading thread then sees
                try:
                    self.close()
                except Exception as exc:  # the reader ends anyway, at the server's next byte
                    log.debug("closing a stalled stream failed: %s", exc)
                return
