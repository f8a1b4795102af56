"""What an embedder sees and gives back: the text of a code chunk or a query (deterministic),
and vectors scaled to unit length."""

from __future__ import annotations

import re
import textwrap
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

DEFAULT_MAX_CHARS = 8_000  # one prepared chunk; ~2-4k tokens of code

_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")
_BLANK_RUNS = re.compile(r"\n{3,}")


def identifier_words(name: str) -> list[str]:
    """Split an identifier into lower-case words: `HTTPServer.load_config` -> http server load config."""
    return [word.lower() for word in _WORD.findall(name)]


def clean_text(text: str, max_chars: int = DEFAULT_MAX_CHARS) -> str:
    """Dedent, drop trailing spaces and extra blank lines, then cut to `max_chars`.

    The cut falls on a line break when one lies in the last half of the budget.
    """
    lines = [line.rstrip() for line in textwrap.dedent(text.expandtabs(4)).splitlines()]
    out = _BLANK_RUNS.sub("\n\n", "\n".join(lines)).strip("\n")
    if len(out) <= max_chars:
        return out
    cut = out.rfind("\n", 0, max_chars + 1)
    return out[:cut] if cut >= max_chars // 2 else out[:max_chars]


def embedding_text(
    path: str, symbol: str | None, text: str, max_chars: int = DEFAULT_MAX_CHARS
) -> str:
    """The text embedded for one code chunk: a path line, a symbol line, then the code.

    Deterministic, so a chunk re-embedded later gets the same vector. The symbol line adds
    the identifier's words (`load_config (load config)`) because static embedders see
    `load_config` as one unknown token. The result is at most `max_chars` long.
    """
    header = path
    if symbol:
        words = " ".join(identifier_words(symbol))
        header += f"\n{symbol} ({words})" if words and words != symbol else f"\n{symbol}"
    header = header[: max_chars // 2]
    body = clean_text(text, max_chars - len(header) - 1)
    return f"{header}\n{body}" if body else header


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """float32 rows scaled to length 1 (an all-zero row stays zero)."""
    import numpy as np

    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit: np.ndarray = vectors / np.maximum(norms, np.float32(1e-12))
    return unit
