"""Typed provider failures, all `ProviderError`s with one-line messages.

`retryable` errors are retried by `retry.RetryPolicy`; `retry_after` carries the server's
`Retry-After` (seconds) when it sent one. `ContextOverflow` is never retried here: the agent
loop compacts the conversation and tries once more.
"""

from __future__ import annotations

from codemem.errors import ProviderError


class ProviderFailure(ProviderError):
    """Base for the typed failures below (a `ProviderError` with retry metadata)."""

    retryable = False
    max_attempts: int | None = None  # a tighter cap than the policy's, if set

    def __init__(
        self, message: str, *, retry_after: float | None = None, retryable: bool | None = None
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        if retryable is not None:
            self.retryable = retryable


class AuthenticationFailed(ProviderFailure):
    """401/403: the key is wrong, expired or lacks permission."""


class MissingAPIKey(AuthenticationFailed):
    """The environment variable holding the key is not set."""

    exit_code = 2


class RateLimited(ProviderFailure):
    """429: too many requests or tokens; retried after `Retry-After` or a backoff."""

    retryable = True


class ProviderUnavailable(ProviderFailure):
    """5xx or 529 (overloaded): the service failed; retried with backoff."""

    retryable = True


class ConnectionFailed(ProviderFailure):
    """The server could not be reached (refused, DNS, TLS); retried once."""

    retryable = True
    max_attempts = 2


class ProviderTimeout(ProviderFailure):
    """The request took longer than the configured timeout; retried once."""

    retryable = True
    max_attempts = 2


class ContextOverflow(ProviderFailure):
    """The prompt does not fit the model's context window."""


class ModelNotFound(ProviderFailure):
    """404 or an unknown model name."""


class StreamDropped(ProviderFailure):
    """A streamed answer stopped before it was complete.

    Retried only when no text had been shown yet (the adapter decides per instance).
    """


class BadRequest(ProviderFailure):
    """Any other 4xx: the request was refused as malformed."""
