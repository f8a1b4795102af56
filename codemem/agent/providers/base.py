"""The `Provider` contract and what the SDK adapters share.

A provider answers one request: `complete(system, messages, tools)` returns a `Response`;
with `on_text` it streams and calls `on_text` with each text delta as it arrives.
`count_tokens` sizes a prompt (exactly where the provider can, else a calibrated estimate).
Every call's usage and cost land in `provider.meter`, so one provider = one session's bill.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from codemem.agent.messages import Message, Response, ToolSpec
from codemem.agent.providers.errors import (
    AuthenticationFailed,
    BadRequest,
    ConnectionFailed,
    ContextOverflow,
    ModelNotFound,
    ProviderFailure,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
    StreamDropped,
)
from codemem.agent.providers.models import CostMeter, ModelInfo
from codemem.agent.providers.retry import Deadline, RetryPolicy, parse_retry_after
from codemem.agent.providers.stall import Attempt
from codemem.agent.providers.tokens import TokenEstimator, prompt_chars
from codemem.errors import CodememError

log = logging.getLogger("codemem")

System = str | Sequence[str]
TextCallback = Callable[[str], None]

DEFAULT_MAX_TOKENS = 8_192
CONNECT_TIMEOUT = 10.0  # seconds; the others are per provider (`timeout`, `deadline`)
DEFAULT_TIMEOUT = 300.0  # seconds one request may wait (providers.<name>.timeout)
DEFAULT_DEADLINE = 600.0  # seconds one model call may take, all tries (providers.<name>.deadline)

_OVERFLOW = re.compile(
    r"prompt is too long|context_length_exceeded|maximum context length|"
    r"exceed context limit|exceeds the available context size|context window|"
    r"too many tokens|input is too long",
    re.IGNORECASE,
)


@runtime_checkable
class Provider(Protocol):
    """One model behind one API. `model` is the full string, e.g. "anthropic/claude-opus-4-6"."""

    model: str
    info: ModelInfo
    meter: CostMeter

    def complete(
        self,
        system: System,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec] = (),
        *,
        max_tokens: int | None = None,
        on_text: TextCallback | None = None,
    ) -> Response:
        """Ask the model for its next turn; stream text deltas to `on_text` if given."""
        ...

    def count_tokens(
        self, system: System, messages: Sequence[Message], tools: Sequence[ToolSpec] = ()
    ) -> int:
        """Prompt tokens this request would use."""
        ...


def transport_errors() -> tuple[type[BaseException], ...]:
    """Errors of the SDKs' HTTP library (httpx2 now, httpx in older SDKs) plus OSError.

    Imported here, not at module level, so importing the provider package stays cheap.
    """
    try:
        import httpx2 as httpx
    except ImportError:  # pragma: no cover - older SDK releases
        import httpx  # type: ignore[no-redef]  # the same library under its older name
    return (httpx.TransportError, OSError)


def is_timeout(error: BaseException) -> bool:
    """Whether `error`, or an error it wraps, is a timeout (the SDKs', httpx's, a socket's)."""
    try:
        import httpx2 as httpx
    except ImportError:  # pragma: no cover - older SDK releases
        import httpx  # type: ignore[no-redef]  # the same library under its older name
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, (httpx.TimeoutException, TimeoutError)):
            return True
        if type(current).__name__ == "APITimeoutError":  # either SDK's
            return True
        current = current.__cause__ or current.__context__
    return False


def raise_own_error(exc: BaseException) -> None:
    """Raise again an error of codemem's own that an SDK wrapped as a connection failure.

    The SDKs turn any `Exception` raised while a request waits into `APIConnectionError`,
    and so would the review's time limit (`ReviewTimeout`, raised by its alarm): reported as
    a server that cannot be reached, and retried past the limit.
    """
    cause = exc.__cause__
    if isinstance(cause, CodememError) and not isinstance(cause, ProviderFailure):
        raise cause


def one_line(text: object, limit: int = 300) -> str:
    """Collapse whitespace and cut long text, for error messages."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def root_cause(error: object) -> object:
    """The underlying transport error, if `error` wraps one."""
    return getattr(error, "__cause__", None) or error


def error_detail(body: object, fallback: str) -> tuple[str, str]:
    """(message, type-or-code) from a JSON error body in either provider's format."""
    error = body.get("error", body) if isinstance(body, Mapping) else body
    if isinstance(error, Mapping):
        message = error.get("message") or fallback
        kind = error.get("code") or error.get("type") or ""
        return one_line(message), str(kind)
    if isinstance(error, str) and error:
        return one_line(error), ""
    return one_line(fallback), ""


def is_context_overflow(message: str, kind: str = "") -> bool:
    """Whether an error says the prompt does not fit the context window."""
    return bool(_OVERFLOW.search(message) or _OVERFLOW.search(kind))


class SDKProvider:
    """Shared by the Anthropic and OpenAI adapters: retries, metering, errors, estimates.

    Subclasses implement `_attempt` (one request, SDK errors already translated), build
    their SDK client with `http_client_options()` and send each request with
    `request_timeout()`, and may override `count_tokens`.

    Time: each request may wait `timeout` seconds, for a whole answer or, streamed, for its
    next event (keep-alives aside); one call, all its tries and the waits between them, ends
    at `deadline` seconds, however the server trickles its answer.
    """

    timeout = DEFAULT_TIMEOUT
    deadline = DEFAULT_DEADLINE

    def __init__(
        self,
        model: str,
        api_model: str,
        info: ModelInfo,
        *,
        base_url: str,
        key_env: str | None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.model = model
        self.api_model = api_model
        self.info = info
        self.base_url = base_url.rstrip("/")
        self.key_env = key_env
        self.retry = retry or RetryPolicy()
        self.meter = CostMeter()
        self.estimator = TokenEstimator()
        self._current = threading.local()  # this thread's `Attempt`, while one runs

    def setting(self, name: str) -> str:
        """Where the user sets `name` for this provider: "providers.anthropic.timeout"."""
        return f"providers.{self.model.split('/', 1)[0]}.{name}"

    def http_client_options(self) -> dict[str, Any]:
        """Keyword arguments of the SDK's `DefaultHttpxClient`: a hook that hands each
        answer's socket to the attempt waiting for it."""
        return {"event_hooks": {"response": [self._on_response]}}

    def _running(self) -> Attempt | None:
        """This thread's attempt, while `complete` runs one."""
        return getattr(self._current, "attempt", None)

    def _on_response(self, response: Any) -> None:
        attempt = self._running()
        if attempt is not None:
            attempt.attach(response)

    def request_timeout(self) -> Any:
        """The per-request timeout to send with the current attempt (httpx's `Timeout`):
        `timeout`, less when the deadline is nearer."""
        try:
            import httpx2 as httpx
        except ImportError:  # pragma: no cover - older SDK releases
            import httpx  # type: ignore[no-redef]  # the same library under its older name
        attempt = self._running()
        limit = self.timeout if attempt is None else max(attempt.limit, 0.001)
        return httpx.Timeout(limit, connect=min(CONNECT_TIMEOUT, limit))

    def complete(
        self,
        system: System,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec] = (),
        *,
        max_tokens: int | None = None,
        on_text: TextCallback | None = None,
    ) -> Response:
        """Ask the model for its next turn; see `Provider.complete`."""
        limit = max_tokens or min(self.info.max_output, DEFAULT_MAX_TOKENS)
        deadline = Deadline.starting_now(self.deadline, self.setting("deadline"))
        response = self.retry.run(
            lambda: self._timed(
                deadline, lambda: self._attempt(system, messages, tools, limit, on_text)
            ),
            deadline,
        )
        self.meter.add(response.usage, self.info)
        self.estimator.calibrate(
            prompt_chars(system, messages, tools),
            self.estimator.overhead(messages, tools),
            response.usage.context_tokens,
        )
        return response

    def count_tokens(
        self, system: System, messages: Sequence[Message], tools: Sequence[ToolSpec] = ()
    ) -> int:
        """A calibrated estimate; adapters with an exact endpoint override this."""
        return self.estimator.estimate(system, messages, tools)

    def _timed(self, deadline: Deadline, attempt: Callable[[], Response]) -> Response:
        """Run one attempt under its watch (see `Attempt`)."""
        if deadline.left() <= 0:
            raise self.timeout_error("deadline", deadline)
        current = Attempt(self.timeout, deadline)
        self._current.attempt = current
        try:
            with current.watch:
                return attempt()
        finally:
            self._current.attempt = None

    def cut_short(self) -> bool:
        """Whether the current attempt's watch ended it (a read error is then its doing)."""
        attempt = self._running()
        return attempt is not None and attempt.watch.fired

    def _cause(self) -> tuple[str, Deadline | None]:
        """Why the current attempt timed out: "silence" (`timeout`) or "deadline"."""
        attempt = self._running()
        if attempt is None:
            return "silence", None
        if attempt.watch.fired:
            return attempt.watch.cause, attempt.deadline
        # httpx's own read timeout, set to the time left when that was less than `timeout`
        return ("deadline" if attempt.limit < self.timeout else "silence"), attempt.deadline

    def timeout_error(self, cause: str, deadline: Deadline | None) -> ProviderTimeout:
        """No answer in time: within `timeout` (tried again), or by the deadline (not)."""
        if cause == "deadline" and deadline is not None:
            return ProviderTimeout(
                f"{self.model}: no answer from {self.base_url} within {deadline.describe()}, "
                "all tries included",
                retryable=False,
            )
        return ProviderTimeout(
            f"{self.model}: no answer from {self.base_url} within {self.timeout:g} s "
            f"({self.setting('timeout')})"
        )

    def _attempt(
        self,
        system: System,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec],
        max_tokens: int,
        on_text: TextCallback | None,
    ) -> Response:
        raise NotImplementedError

    def status_error(
        self, status: int, body: object, headers: Mapping[str, str] | None, fallback: str
    ) -> ProviderFailure:
        """Translate an HTTP error status and body into a one-line typed error."""
        message, kind = error_detail(body, fallback)
        name = self.model
        retry_after = parse_retry_after(headers)
        if status == 401:
            hint = f"; check {self.key_env}" if self.key_env else ""
            return AuthenticationFailed(f"{name}: authentication failed (401): {message}{hint}")
        if status == 403:
            return AuthenticationFailed(f"{name}: permission denied (403): {message}")
        if status in (400, 413, 422) and (status == 413 or is_context_overflow(message, kind)):
            return ContextOverflow(f"{name}: the prompt does not fit the context window: {message}")
        if status == 404:
            return ModelNotFound(
                f"{name}: model not found at {self.base_url} (404): {message}; "
                "check --model and the provider's base_url"
            )
        if status == 429:
            if "quota" in kind or "billing" in kind:
                return RateLimited(f"{name}: quota exhausted (429): {message}", retryable=False)
            return RateLimited(f"{name}: rate limited (429): {message}", retry_after=retry_after)
        if status == 408:
            return ProviderTimeout(f"{name}: the server timed out (408): {message}")
        if status >= 500:
            what = "overloaded" if status == 529 or "overloaded" in kind else "server error"
            return ProviderUnavailable(
                f"{name}: {what} ({status}): {message}", retry_after=retry_after
            )
        return BadRequest(f"{name}: request refused ({status}): {message}")

    def not_an_answer(self, what: str) -> ProviderUnavailable:
        """A 200 whose body is no answer of the API (a proxy's page, an empty or broken body):
        retried as a failing server is."""
        return ProviderUnavailable(f"{self.model}: the server's answer is not one: {what}")

    def unreadable(self, exc: ValueError) -> ProviderUnavailable:
        """The SDK could not read the body: not UTF-8, or not JSON."""
        if isinstance(exc, UnicodeDecodeError):
            byte = exc.object[exc.start : exc.start + 1].hex()
            return self.not_an_answer(f"not UTF-8 (byte 0x{byte} at {exc.start})")
        doc = getattr(exc, "doc", None)  # a JSONDecodeError's text
        if isinstance(doc, str):
            return self._not_json(doc)
        return self.not_an_answer(one_line(exc, 160))

    def answer_of(self, request: Callable[[], Any]) -> Any:
        """The SDK's parsed answer to an unstreamed `request`, or a `not_an_answer` failure:
        the SDK hands back a body that is not JSON as text, and raises on one not UTF-8."""
        try:
            answer = request()
        except ValueError as exc:
            raise self.unreadable(exc) from exc
        if isinstance(answer, (str, bytes)):
            text = answer.decode("utf-8", "replace") if isinstance(answer, bytes) else answer
            raise self._not_json(text)
        return answer

    def _not_json(self, text: str) -> ProviderUnavailable:
        return self.not_an_answer(
            f"not JSON: {one_line(text, 120)}" if text.strip() else "an empty body"
        )

    def ended_early(self, detail: str) -> str | ProviderFailure:
        """Why a stream ended before its last event: `detail`, or that the server answered
        something else than an event stream (a proxy's page)."""
        attempt = self._running()
        kind = attempt.content_type.split(";")[0].strip() if attempt is not None else ""
        if kind and kind != "text/event-stream":
            return self.not_an_answer(f"{kind} where an event stream was expected")
        return detail

    def connection_error(self, exc: BaseException, timeout: bool) -> ProviderFailure:
        """Translate a failure to reach the server."""
        if timeout:
            return self.timeout_error(*self._cause())
        cause = one_line(root_cause(exc), 160)
        return ConnectionFailed(f"{self.model}: cannot reach {self.base_url}: {cause}")

    def stalled(self, exc: BaseException, emitted: bool) -> ProviderFailure | None:
        """A stream that timed out waiting for its next event, or None if `exc` is no timeout.

        Before any text it is the server's silence, retried once as a timeout (not five
        times as a dropped stream: with the default timeout, the best part of an hour); after
        text, the answer is cut off and not retried.
        """
        if isinstance(exc, ProviderTimeout) or is_timeout(exc):
            return self.silence(exc, emitted)
        return None

    def watched(self, stream: Any) -> Iterator[Any]:
        """The events of `stream` (an SDK's), ended by a `ProviderTimeout` when none comes for
        `timeout` seconds, or at the call's deadline: keep-alive pings and comments, which
        reset httpx's read timeout but never reach an adapter, do not count (see `stall`)."""
        attempt = self._running()
        if attempt is None:  # outside `complete`: no watch
            yield from stream
            return
        watch = attempt.watch
        attempt.streams.append(stream)
        try:
            for event in stream:
                watch.progress()
                yield event
        except Exception as exc:
            if watch.fired:  # it cut the stream: whatever the read raised, it was that
                raise self.connection_error(exc, timeout=True) from exc
            raise

    def silence(self, exc: BaseException, emitted: bool) -> ProviderFailure:
        """A stream the server stopped feeding for `timeout` seconds, or still streaming at
        the deadline (see `stalled`)."""
        if not emitted:
            return exc if isinstance(exc, ProviderTimeout) else self.connection_error(exc, True)
        cause, deadline = self._cause()
        if cause == "deadline" and deadline is not None:
            return StreamDropped(
                f"{self.model}: answer cut off: still streaming after {deadline.describe()}"
            )
        return StreamDropped(
            f"{self.model}: stream dropped: no data for {self.timeout:g} s "
            f"({self.setting('timeout')})"
        )
