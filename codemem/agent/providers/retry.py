"""Retries with exponential backoff and jitter, honouring `Retry-After`.

The SDKs' own retries are switched off (`max_retries=0`) so this is the only retry layer:
one policy, one log line per retry, and a sleep that tests replace.
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from codemem.agent.providers.errors import ProviderFailure

log = logging.getLogger("codemem")

T = TypeVar("T")


def parse_retry_after(headers: Mapping[str, str] | None, now: float | None = None) -> float | None:
    """Seconds to wait from `retry-after-ms` or `Retry-After` (seconds or an HTTP date)."""
    if not headers:
        return None
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


@dataclass(frozen=True)
class Deadline:
    """When a model call must be over, all its tries and the waits between them included."""

    seconds: float
    setting: str  # where the user changes it: "providers.anthropic.deadline"
    end: float  # a `time.monotonic()` time

    @classmethod
    def starting_now(cls, seconds: float, setting: str) -> Deadline:
        return cls(seconds, setting, time.monotonic() + seconds)

    def left(self) -> float:
        """Seconds left (never below 0)."""
        return max(0.0, self.end - time.monotonic())

    def describe(self) -> str:
        """ "600 s (providers.anthropic.deadline)"."""
        return f"{self.seconds:g} s ({self.setting})"


@dataclass
class RetryPolicy:
    """How often and how long to retry a retryable `ProviderFailure`.

    Delay for attempt n (1-based) without `Retry-After`: `base_delay * 2**(n-1)`, capped at
    `max_delay`, times a jitter factor in [0.5, 1). A `Retry-After` longer than `max_wait`
    is not waited for: the error is raised at once.
    """

    max_attempts: int = 5
    base_delay: float = 1.0
    max_delay: float = 30.0
    max_wait: float = 120.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    jitter: Callable[[], float] = field(default=random.random, repr=False)
    quiet: bool = False  # retries logged at debug level (the hook: one line says it all)
    # The failure being retried now, None once an attempt succeeds: what a caller that
    # cuts the retries short (the hook's time limit) names.
    retrying: ProviderFailure | None = field(default=None, repr=False)

    def delay(self, attempt: int, retry_after: float | None = None) -> float | None:
        """Seconds to sleep before the next attempt, or None to give up."""
        if retry_after is not None:
            return retry_after if retry_after <= self.max_wait else None
        backoff = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return backoff * (0.5 + self.jitter() / 2)

    def run(self, attempt: Callable[[], T], deadline: Deadline | None = None) -> T:
        """Call `attempt()` until it succeeds, fails for good, attempts run out, or the next
        one would start past `deadline`."""
        number = 1
        while True:
            try:
                result = attempt()
            except ProviderFailure as exc:
                limit = min(self.max_attempts, exc.max_attempts or self.max_attempts)
                wait = self.delay(number, exc.retry_after) if exc.retryable else None
                if (
                    wait is not None
                    and number < limit
                    and deadline is not None
                    and wait >= deadline.left()
                ):
                    exc.args = (
                        f"{exc} (gave up after {number} attempt{'s' if number > 1 else ''}: "
                        f"no time left to try again within {deadline.describe()})",
                    )
                    raise
                if wait is None or number >= limit:
                    if exc.retryable and wait is None and exc.retry_after is not None:
                        exc.args = (
                            f"{exc} (the server asks to wait {exc.retry_after:,.0f} s before "
                            f"trying again; codemem waits at most {self.max_wait:,.0f} s)",
                        )
                    elif exc.retryable and number > 1:
                        exc.args = (f"{exc} (gave up after {number} attempts)",)
                    raise
                self.retrying = exc
                level = logging.DEBUG if self.quiet else logging.WARNING
                log.log(level, "%s; retrying in %.1fs (%d/%d)", exc, wait, number, limit)
                self.sleep(wait)
                number += 1
            else:
                self.retrying = None
                return result
