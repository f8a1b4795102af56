"""An OpenAI-compatible `/embeddings` endpoint as an embedder (OpenAI, Ollama, vLLM, LM Studio).

Batching, retries with backoff, and one-line errors that say what to do. The `openai` SDK and
numpy are imported inside the methods that use them, so importing this module costs nothing
when embeddings are off.
"""

from __future__ import annotations

import base64
import logging
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from codemem.code.embed_text import clean_text, unit_rows
from codemem.errors import ProviderError

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger("codemem")

OPENAI_BASE_URL = "https://api.openai.com/v1"
PLACEHOLDER_KEY = "codemem-no-key"  # sent to servers that want no key (the SDK insists on one)
_EMPTY_TEXT = "(empty)"  # endpoints reject "" as input
_TOO_LONG = re.compile(r"too long|context length|maximum|too many tokens", re.IGNORECASE)


class _InputTooLong(Exception):
    """The endpoint refused a batch because an input has too many tokens."""


@dataclass(eq=False)
class OpenAIEmbedder:
    """Embeddings from an OpenAI-compatible `/embeddings` endpoint (OpenAI, Ollama, vLLM...).

    Texts go in batches of at most `batch_size` texts and `batch_chars` characters, each
    cut to `max_input_chars` (halved again if the endpoint still says an input is too long).
    429, 5xx, timeouts and refused connections are retried `max_retries` times with
    exponential backoff (or the server's Retry-After), using the injectable `sleep`.
    `dimensions` is `requested_dimensions` (sent to the endpoint) if set, else read from
    the first response (one tiny probe request if asked before anything was embedded).
    """

    model: str
    api_key: str = field(repr=False)
    base_url: str | None = None
    name: str = ""  # default: openai/<model>
    requested_dimensions: int | None = None
    key_env: str = "OPENAI_API_KEY"  # named in error messages
    batch_size: int = 128
    batch_chars: int = 200_000
    max_input_chars: int = 12_000
    max_retries: int = 5
    backoff: float = 0.5
    timeout: float = 60.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    tokens_used: int = 0  # sum of `usage.total_tokens` over all responses

    def __post_init__(self) -> None:
        self.name = self.name or f"openai/{self.model}"
        self._dimensions = self.requested_dimensions
        self._client: Any = None

    @property
    def dimensions(self) -> int:
        """Vector length: requested, seen in a response, or probed with one request."""
        if self._dimensions is None:
            self.embed_documents(["dimension probe"])
        assert self._dimensions is not None
        return self._dimensions

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        """Embed texts in batches; rows come back in input order, unit length."""
        import numpy as np

        if not texts:
            return np.zeros((0, self._dimensions or 0), dtype=np.float32)
        inputs = [text[: self.max_input_chars] if text.strip() else _EMPTY_TEXT for text in texts]
        return np.vstack([self._embed_batch(batch) for batch in self._batches(inputs)])

    def embed_query(self, text: str) -> np.ndarray:
        """Embed one query the way documents are embedded (cleaned, same truncation)."""
        row: np.ndarray = self.embed_documents([clean_text(text, self.max_input_chars)])[0]
        return row

    def _batches(self, texts: list[str]) -> Iterator[list[str]]:
        batch: list[str] = []
        chars = 0
        for text in texts:
            if batch and (len(batch) >= self.batch_size or chars + len(text) > self.batch_chars):
                yield batch
                batch, chars = [], 0
            batch.append(text)
            chars += len(text)
        if batch:
            yield batch

    def _embed_batch(self, batch: list[str]) -> np.ndarray:
        limit = self.max_input_chars
        while True:
            try:
                return self._vectors(self._create(batch), len(batch))
            except _InputTooLong as exc:
                longest = max(len(text) for text in batch)
                limit = min(limit, longest) // 2
                if limit < 256:
                    raise ProviderError(
                        f"embeddings endpoint {self._where()} refused the input as too long "
                        f"even at {limit * 2} characters: {exc}"
                    ) from None
                log.debug("embeddings input too long; retrying cut to %d characters", limit)
                batch = [text[:limit] for text in batch]

    def _create(self, batch: list[str]) -> Any:
        """One request, retried on 429, 5xx, timeouts and refused connections."""
        import openai

        params: dict[str, Any] = {"model": self.model, "input": batch, "encoding_format": "base64"}
        if self.requested_dimensions:
            params["dimensions"] = self.requested_dimensions
        attempts = self.max_retries + 1
        for attempt in range(1, attempts + 1):
            try:
                return self._openai_client().embeddings.create(**params)
            except openai.APIStatusError as exc:
                if exc.status_code != 429 and exc.status_code < 500:
                    raise self._status_error(exc) from None
                if attempt == attempts:
                    raise ProviderError(
                        f"embeddings endpoint {self._where()} still failing after {attempts} "
                        f"attempts: HTTP {exc.status_code}: {_api_message(exc)}"
                    ) from None
                delay = _retry_after(exc)
            except openai.APIConnectionError as exc:
                if attempt == attempts:
                    hint = (
                        " (is `ollama serve` running?)" if self.name.startswith("ollama/") else ""
                    )
                    raise ProviderError(
                        f"cannot reach embeddings endpoint {self._where()}: "
                        f"{_connection_problem(exc)}{hint}"
                    ) from None
                delay = None
            delay = self.backoff * 2 ** (attempt - 1) if delay is None else delay
            log.debug("embeddings request failed; retry %d in %.1fs", attempt, delay)
            self.sleep(delay)
        raise AssertionError("unreachable")

    def _openai_client(self) -> Any:
        if self._client is None:
            import openai

            # Our own retry loop owns backoff (and its sleep is injectable in tests).
            self._client = openai.OpenAI(
                api_key=self.api_key, base_url=self.base_url, max_retries=0, timeout=self.timeout
            )
        return self._client

    def _status_error(self, exc: Any) -> Exception:
        status, message, where = exc.status_code, _api_message(exc), self._where()
        if status in (401, 403):
            if self.api_key == PLACEHOLDER_KEY:
                return ProviderError(
                    f"embeddings endpoint {where} needs an API key: set ${self.key_env}"
                )
            return ProviderError(
                f"embeddings endpoint {where} rejected the API key from ${self.key_env} "
                f"(HTTP {status}): {message}"
            )
        if status == 404:
            hint = f"; run `ollama pull {self.model}`" if self.name.startswith("ollama/") else ""
            return ProviderError(
                f"embeddings model '{self.model}' not found at {where} (HTTP 404){hint}"
            )
        if status == 413 or (status in (400, 422) and _TOO_LONG.search(message)):
            return _InputTooLong(message)
        return ProviderError(f"embeddings request to {where} failed (HTTP {status}): {message}")

    def _vectors(self, response: Any, count: int) -> np.ndarray:
        import numpy as np

        data = list(response.data or [])
        if len(data) != count:
            raise ProviderError(
                f"embeddings endpoint {self._where()} returned {len(data)} vectors for {count} texts"
            )
        data.sort(key=lambda item: getattr(item, "index", 0) or 0)
        rows = [_decode_vector(item.embedding) for item in data]
        sizes = {len(row) for row in rows}
        if len(sizes) != 1 or 0 in sizes:
            raise ProviderError(
                f"embeddings endpoint {self._where()} returned vectors of sizes {sorted(sizes)}"
            )
        size = sizes.pop()
        if self._dimensions is None:
            self._dimensions = size
        elif size != self._dimensions:
            raise ProviderError(
                f"embeddings endpoint {self._where()} returned {size}-dimensional vectors, "
                f"expected {self._dimensions} (the endpoint may ignore index.embeddings_dimensions)"
            )
        usage = getattr(response, "usage", None)
        self.tokens_used += int(getattr(usage, "total_tokens", 0) or 0)
        return unit_rows(np.vstack(rows))

    def _where(self) -> str:
        return self.base_url or OPENAI_BASE_URL


def _decode_vector(value: Any) -> np.ndarray:
    """One embedding as float32: base64 of little-endian float32, or a list of numbers."""
    import numpy as np

    if isinstance(value, str):
        return np.frombuffer(base64.b64decode(value), dtype="<f4").astype(np.float32)
    return np.asarray(value, dtype=np.float32)


def first_line(message: object) -> str:
    text = str(message).strip().splitlines()
    return text[0][:300] if text else ""


def _api_message(exc: Any) -> str:
    """The server's own error message, without the SDK's "Error code: N - " prefix."""
    body = exc.body
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return first_line(body["message"])
    if isinstance(body, str) and body.strip():
        return first_line(body)
    return first_line(re.sub(r"^Error code: \d+( - )?", "", str(exc.message)))


def _retry_after(exc: Any) -> float | None:
    """Seconds from a Retry-After header (capped at a minute), if the server sent one."""
    try:
        value = float(exc.response.headers.get("retry-after", ""))
    except (AttributeError, TypeError, ValueError):
        return None
    return min(max(value, 0.0), 60.0)


def _connection_problem(exc: Any) -> str:
    cause = exc.__cause__ or exc.__context__
    return first_line(cause or exc) or type(exc).__name__


def is_local_url(url: str) -> bool:
    """True for a server on this machine (e.g. Ollama), which usually wants no API key."""
    host = (urlparse(url).hostname or "").lower()
    return host in ("localhost", "::1", "0.0.0.0") or host.startswith("127.")
