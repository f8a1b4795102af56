"""Optional embeddings for the code index: none, OpenAI-compatible endpoints, or model2vec.

`index.embeddings` picks one: `none` (the default), `openai/<model>` (any OpenAI-compatible
`/v1/embeddings` endpoint, `index.embeddings_base_url` or OPENAI_BASE_URL), `ollama/<model>`
(the same at http://localhost:11434/v1) or `model2vec/<hub name or local path>` (local static
embeddings, `pip install 'codemem[model2vec]'`). Nothing is fetched unless configured.

Every embedder returns float32 rows of unit length, in input order. numpy, openai and
model2vec are imported inside functions so that `codemem search` starts fast when
embeddings are off. The endpoint client is `embed_endpoint`; this module is the face.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from codemem.code.embed_endpoint import (
    OPENAI_BASE_URL,
    PLACEHOLDER_KEY,
    OpenAIEmbedder,
    first_line,
    is_local_url,
)
from codemem.code.embed_text import (
    DEFAULT_MAX_CHARS,
    clean_text,
    embedding_text,
    identifier_words,
    unit_rows,
)
from codemem.errors import ConfigError, ProviderError

if TYPE_CHECKING:
    import numpy as np

    from codemem.config import IndexConfig

__all__ = [
    "DEFAULT_MAX_CHARS",
    "EMBEDDING_FORMS",
    "OLLAMA_BASE_URL",
    "OPENAI_BASE_URL",
    "Embedder",
    "Model2VecEmbedder",
    "OpenAIEmbedder",
    "clean_text",
    "embedding_text",
    "identifier_words",
    "is_local_url",
    "make_embedder",
]

OLLAMA_BASE_URL = "http://localhost:11434/v1"
EMBEDDING_FORMS = "none, openai/<model>, ollama/<model>, model2vec/<hub name or local path>"


class Embedder(Protocol):
    """Turns texts into float32 vectors of length 1, `dimensions` long.

    `embed_documents(texts)` returns shape (len(texts), dimensions), rows in input order;
    `embed_query(text)` returns shape (dimensions,). `name` is the configured spec
    (`openai/text-embedding-3-small`): the index stores it to notice a change of model.
    """

    name: str

    @property
    def dimensions(self) -> int: ...

    def embed_documents(self, texts: list[str]) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...


# --- model2vec ------------------------------------------------------------------------------


class Model2VecEmbedder:
    """Local static embeddings (model2vec): token vectors averaged, no network at embed time."""

    def __init__(self, model: Any, name: str) -> None:
        self.model = model
        self.name = name
        self.dimensions = int(model.dim)

    @classmethod
    def load(
        cls, source: str, *, name: str | None = None, dimensions: int | None = None
    ) -> Model2VecEmbedder:
        """Load `source` (a local folder, else a hub name that is downloaded once and cached)."""
        try:
            from model2vec import StaticModel
        except ImportError:
            raise ConfigError(
                f"index.embeddings is model2vec/{source} but model2vec is not installed: "
                "pip install 'codemem[model2vec]'"
            ) from None
        options: dict[str, Any] = {}
        if "force_download" in inspect.signature(StaticModel.from_pretrained).parameters:
            options["force_download"] = False  # use the cached copy after the first download
        try:
            model = StaticModel.from_pretrained(source, **options)
        except Exception as exc:  # hub, file-format and I/O errors all mean "cannot load"
            raise ProviderError(
                f"cannot load model2vec model '{source}': {first_line(exc) or type(exc).__name__}"
            ) from None
        embedder = cls(model, name=name or f"model2vec/{source}")
        if dimensions and embedder.dimensions != dimensions:
            raise ConfigError(
                f"index.embeddings_dimensions is {dimensions} but {embedder.name} has "
                f"{embedder.dimensions} dimensions: remove the setting or make it {embedder.dimensions}"
            )
        return embedder

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        """Mean token vectors of each text, unit length (zero for text of unknown tokens)."""
        import numpy as np

        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        # max_length=None: average over the whole prepared text, already bounded in size.
        vectors = self.model.encode(
            list(texts), max_length=None, normalize=False, show_progress_bar=False
        )
        return unit_rows(np.asarray(vectors).reshape(len(texts), self.dimensions))

    def embed_query(self, text: str) -> np.ndarray:
        """Embed one query the way documents are embedded."""
        row: np.ndarray = self.embed_documents([clean_text(text)])[0]
        return row


# --- configuration ------------------------------------------------------------------------


def make_embedder(
    index_config: IndexConfig,
    *,
    environ: Mapping[str, str] | None = None,
    root: Path | None = None,
) -> Embedder | None:
    """The embedder `index.embeddings` asks for, or None for `none`.

    Args:
        index_config: the `index` section (embeddings, embeddings_base_url,
            embeddings_api_key_env, embeddings_dimensions).
        environ: environment to read keys and OPENAI_BASE_URL from (default os.environ).
        root: folder that a relative model2vec path is resolved against (the repository).

    Raises:
        ConfigError: an unknown form, or model2vec not installed.
        ProviderError: a missing API key, or a model2vec model that cannot be loaded.
    """
    environ = os.environ if environ is None else environ
    spec = (index_config.embeddings or "").strip()
    if spec.lower() in ("", "none"):
        return None
    scheme, _, model = spec.partition("/")
    scheme = scheme.lower()
    if not model.strip("/ "):
        raise ConfigError(
            f"index.embeddings: '{spec}' names no model; use one of: {EMBEDDING_FORMS}"
        )
    dimensions = index_config.embeddings_dimensions
    key_env = index_config.embeddings_api_key_env
    if scheme == "openai":
        base_url = index_config.embeddings_base_url or environ.get("OPENAI_BASE_URL") or None
        key = environ.get(key_env, "").strip()
        if not key:
            if not (base_url and is_local_url(base_url)):
                raise ProviderError(
                    f"index.embeddings is {spec} but ${key_env} is not set: export it, or set "
                    "index.embeddings_api_key_env to the variable that holds the key"
                )
            key = PLACEHOLDER_KEY
        base_url = base_url or OPENAI_BASE_URL  # explicit: the SDK never reads the env behind us
        return OpenAIEmbedder(
            model, key, base_url, requested_dimensions=dimensions, key_env=key_env
        )
    if scheme == "ollama":
        base_url = index_config.embeddings_base_url or OLLAMA_BASE_URL
        # Never send the default OPENAI_API_KEY to Ollama; a key only if one was named.
        named = "embeddings_api_key_env" in index_config.model_fields_set
        key = (environ.get(key_env, "").strip() if named else "") or PLACEHOLDER_KEY
        # Smaller batches and more patience: a local model often runs on the CPU.
        return OpenAIEmbedder(
            model, key, base_url, f"ollama/{model}", requested_dimensions=dimensions,
            key_env=key_env, batch_size=32, batch_chars=50_000, timeout=300.0,
        )  # fmt: skip
    if scheme == "model2vec":
        source = str(Path(model).expanduser()) if model.startswith("~") else model
        if root is not None and not Path(source).is_absolute() and (root / source).exists():
            source = str(root / source)
        return Model2VecEmbedder.load(source, name=spec, dimensions=dimensions)
    raise ConfigError(
        f"index.embeddings: unknown embeddings '{spec}'; use one of: {EMBEDDING_FORMS}"
    )
