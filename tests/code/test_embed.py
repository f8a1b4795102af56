"""Embedders, offline: the real openai SDK against a local /v1/embeddings server, and a tiny
model2vec model built in the test."""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from codemem.code.embed import (
    OLLAMA_BASE_URL,
    Model2VecEmbedder,
    OpenAIEmbedder,
    clean_text,
    embedding_text,
    identifier_words,
    make_embedder,
)
from codemem.config import IndexConfig
from codemem.errors import ConfigError, ProviderError

DIMS = 8


def raw_vector(text: str, dims: int = DIMS) -> np.ndarray:
    """The server's deterministic, deliberately not normalized, vector for a text."""
    digest = hashlib.sha256(text.encode()).digest()
    return np.frombuffer(digest, dtype=np.uint8)[:dims].astype(np.float32) - 127.5


def unit(vector: np.ndarray) -> np.ndarray:
    return (vector / np.linalg.norm(vector)).astype(np.float32)


def expected(texts: list[str]) -> np.ndarray:
    return np.vstack([unit(raw_vector(text)) for text in texts])


class EmbeddingServer:
    """A local server speaking OpenAI's POST /v1/embeddings (float or base64 encoding)."""

    def __init__(self) -> None:
        self.requests: list[dict] = []  # {"path", "auth", "body"}
        self.script: list[tuple[int, dict, dict]] = []  # (status, json, headers), served first
        self.float_only = False  # ignore encoding_format, like servers without base64
        self.reverse = False  # return data in reverse order (clients must sort by index)
        self.honour_dimensions = True
        self.max_input_chars: int | None = None  # longer input -> 400 "maximum context length"
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append(
                    {"path": self.path, "auth": self.headers.get("Authorization"), "body": body}
                )
                status, payload, headers = server.respond(self.path, body)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def respond(self, path: str, body: dict) -> tuple[int, dict, dict]:
        if self.script:
            return self.script.pop(0)
        if path != "/v1/embeddings":
            return 404, error(f"no route {path}"), {}
        inputs = body["input"]
        if self.max_input_chars and any(len(t) > self.max_input_chars for t in inputs):
            return 400, error("This model's maximum context length is 8192 tokens"), {}
        dims = body.get("dimensions") if self.honour_dimensions else None
        items = []
        for index, text in enumerate(inputs):
            vector = raw_vector(text, dims or DIMS)
            if body.get("encoding_format") == "base64" and not self.float_only:
                encoded = base64.b64encode(vector.astype("<f4").tobytes()).decode()
            else:
                encoded = [float(x) for x in vector]
            items.append({"object": "embedding", "index": index, "embedding": encoded})
        if self.reverse:
            items.reverse()
        tokens = sum(len(text.split()) for text in inputs)
        usage = {"prompt_tokens": tokens, "total_tokens": tokens}
        return 200, {"object": "list", "data": items, "model": body["model"], "usage": usage}, {}


def error(message: str, kind: str = "invalid_request_error") -> dict:
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


@pytest.fixture
def server():
    srv = EmbeddingServer()
    srv.thread.start()
    yield srv
    srv.httpd.shutdown()
    srv.httpd.server_close()


def embedder(server: EmbeddingServer, **options) -> OpenAIEmbedder:
    sleeps: list[float] = []
    options.setdefault("sleep", sleeps.append)
    made = OpenAIEmbedder("test-embed", api_key="sk-test", base_url=server.url, **options)
    made.sleeps = sleeps  # type: ignore[attr-defined]
    return made


TEXTS = [f"def function_{i}(): return {i}" for i in range(7)]


# --- make_embedder ------------------------------------------------------------------------


def test_none_is_the_default_and_gives_no_embedder():
    assert make_embedder(IndexConfig()) is None
    assert make_embedder(IndexConfig(embeddings="None")) is None


@pytest.mark.parametrize("spec", ["bert", "sentence-transformers/all-MiniLM", "openai/", "openai"])
def test_unknown_form_is_a_config_error_listing_valid_forms(spec):
    with pytest.raises(ConfigError) as caught:
        make_embedder(IndexConfig(embeddings=spec))
    assert "none, openai/<model>, ollama/<model>, model2vec/<hub name or local path>" in str(
        caught.value
    )


def test_missing_key_names_the_variable():
    with pytest.raises(ProviderError, match=r"\$OPENAI_API_KEY is not set"):
        make_embedder(IndexConfig(embeddings="openai/text-embedding-3-small"), environ={})
    config = IndexConfig(
        embeddings="openai/text-embedding-3-small", embeddings_api_key_env="MY_KEY"
    )
    with pytest.raises(ProviderError, match=r"\$MY_KEY is not set"):
        make_embedder(config, environ={"OPENAI_API_KEY": "sk-other"})


def test_openai_embeds_through_the_sdk(server):
    config = IndexConfig(embeddings="openai/test-embed", embeddings_base_url=server.url)
    made = make_embedder(config, environ={"OPENAI_API_KEY": "sk-live"})
    assert made.name == "openai/test-embed"
    vectors = made.embed_documents(TEXTS)
    assert vectors.dtype == np.float32
    assert vectors.shape == (7, DIMS)
    np.testing.assert_allclose(vectors, expected(TEXTS), rtol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), np.ones(7), rtol=1e-6)
    assert made.dimensions == DIMS
    assert made.tokens_used == sum(len(t.split()) for t in TEXTS)
    [request] = server.requests
    assert request["path"] == "/v1/embeddings"
    assert request["auth"] == "Bearer sk-live"
    assert request["body"] == {
        "model": "test-embed",
        "input": TEXTS,
        "encoding_format": "base64",
    }


def test_base_url_from_environment(server):
    made = make_embedder(
        IndexConfig(embeddings="openai/test-embed"),
        environ={"OPENAI_API_KEY": "sk-x", "OPENAI_BASE_URL": server.url},
    )
    assert made.base_url == server.url
    assert made.embed_query("hello").shape == (DIMS,)


def test_local_base_url_needs_no_key(server):
    config = IndexConfig(embeddings="openai/test-embed", embeddings_base_url=server.url)
    made = make_embedder(config, environ={})
    made.embed_documents(["x"])
    assert server.requests[0]["auth"] == "Bearer codemem-no-key"


def test_ollama_shortcut_points_at_localhost_and_keeps_the_openai_key_private(server):
    made = make_embedder(
        IndexConfig(embeddings="ollama/nomic-embed-text"), environ={"OPENAI_API_KEY": "sk-secret"}
    )
    assert (made.name, made.base_url, made.model) == (
        "ollama/nomic-embed-text",
        OLLAMA_BASE_URL,
        "nomic-embed-text",
    )
    config = IndexConfig(embeddings="ollama/nomic-embed-text", embeddings_base_url=server.url)
    made = make_embedder(config, environ={"OPENAI_API_KEY": "sk-secret"})
    made.embed_documents(["x"])
    assert server.requests[0]["auth"] == "Bearer codemem-no-key"
    assert server.requests[0]["body"]["model"] == "nomic-embed-text"


def test_float_encoding_from_servers_without_base64(server):
    server.float_only = True
    vectors = embedder(server).embed_documents(TEXTS[:3])
    np.testing.assert_allclose(vectors, expected(TEXTS[:3]), rtol=1e-6)


def test_rows_follow_input_order_not_response_order(server):
    server.reverse = True
    vectors = embedder(server).embed_documents(TEXTS)
    np.testing.assert_allclose(vectors, expected(TEXTS), rtol=1e-6)


def test_batches_by_count_and_by_characters(server):
    vectors = embedder(server, batch_size=3).embed_documents(TEXTS)
    assert [r["body"]["input"] for r in server.requests] == [TEXTS[0:3], TEXTS[3:6], TEXTS[6:]]
    np.testing.assert_allclose(vectors, expected(TEXTS), rtol=1e-6)
    server.requests.clear()
    texts = ["a" * 50, "b" * 50, "c" * 50, "d" * 50, "e" * 200]
    embedder(server, batch_chars=120).embed_documents(texts)
    assert [r["body"]["input"] for r in server.requests] == [texts[0:2], texts[2:4], texts[4:]]


def test_inputs_are_cut_and_empty_texts_replaced(server):
    vectors = embedder(server, max_input_chars=10).embed_documents(["x" * 25, "", "short"])
    assert server.requests[0]["body"]["input"] == ["x" * 10, "(empty)", "short"]
    assert vectors.shape == (3, DIMS)


def test_empty_list_makes_no_request(server):
    assert embedder(server, requested_dimensions=DIMS).embed_documents([]).shape == (0, DIMS)
    assert server.requests == []


def test_too_long_input_is_retried_shorter(server):
    server.max_input_chars = 1000
    made = embedder(server)
    vectors = made.embed_documents(["y" * 3000, "short"])
    assert [len(r["body"]["input"][0]) for r in server.requests] == [3000, 1500, 750]
    np.testing.assert_allclose(vectors[0], unit(raw_vector("y" * 750)), rtol=1e-6)
    np.testing.assert_allclose(vectors[1], unit(raw_vector("short")), rtol=1e-6)
    assert made.sleeps == []


def test_429_then_success_is_retried_with_backoff(server):
    server.script = [
        (429, error("Rate limit reached", "rate_limit_error"), {}),
        (503, error("overloaded", "server_error"), {}),
    ]
    made = embedder(server)
    vectors = made.embed_documents(TEXTS[:2])
    assert made.sleeps == [0.5, 1.0]
    assert len(server.requests) == 3
    np.testing.assert_allclose(vectors, expected(TEXTS[:2]), rtol=1e-6)


def test_retry_after_header_is_honoured(server):
    server.script = [(429, error("slow down", "rate_limit_error"), {"Retry-After": "3"})]
    made = embedder(server)
    made.embed_documents(["x"])
    assert made.sleeps == [3.0]


def test_retries_give_up_with_a_clear_error(server):
    server.script = [(500, error("boom", "server_error"), {})] * 3
    made = embedder(server, max_retries=2)
    with pytest.raises(ProviderError) as caught:
        made.embed_documents(["x"])
    assert str(caught.value) == (
        f"embeddings endpoint {server.url} still failing after 3 attempts: HTTP 500: boom"
    )
    assert made.sleeps == [0.5, 1.0]


def test_401_is_a_clear_error_naming_the_variable_and_not_retried(server):
    server.script = [(401, error("Incorrect API key provided", "invalid_api_key"), {})]
    made = embedder(server, key_env="EMBED_KEY")
    with pytest.raises(ProviderError) as caught:
        made.embed_documents(["x"])
    assert str(caught.value) == (
        f"embeddings endpoint {server.url} rejected the API key from $EMBED_KEY "
        "(HTTP 401): Incorrect API key provided"
    )
    assert len(server.requests) == 1
    assert made.sleeps == []


def test_404_for_an_ollama_model_suggests_pulling_it(server):
    server.script = [(404, error('model "nomic-embed-text" not found'), {})]
    config = IndexConfig(embeddings="ollama/nomic-embed-text", embeddings_base_url=server.url)
    with pytest.raises(ProviderError) as caught:
        make_embedder(config, environ={}).embed_documents(["x"])
    assert str(caught.value) == (
        f"embeddings model 'nomic-embed-text' not found at {server.url} (HTTP 404); "
        "run `ollama pull nomic-embed-text`"
    )


def test_unreachable_endpoint_is_retried_then_reported():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    sleeps: list[float] = []
    url = f"http://127.0.0.1:{port}/v1"
    made = OpenAIEmbedder(
        "m", api_key="k", base_url=url, name="ollama/m", max_retries=1, sleep=sleeps.append
    )
    with pytest.raises(ProviderError, match=r"cannot reach embeddings endpoint .*ollama serve"):
        made.embed_documents(["x"])
    assert sleeps == [0.5]


def test_configured_dimensions_are_requested_and_checked(server):
    config = IndexConfig(
        embeddings="openai/test-embed", embeddings_base_url=server.url, embeddings_dimensions=4
    )
    made = make_embedder(config, environ={})
    assert made.dimensions == 4
    assert made.embed_documents(["x"]).shape == (1, 4)
    assert server.requests[0]["body"]["dimensions"] == 4
    server.honour_dimensions = False
    with pytest.raises(ProviderError, match=r"returned 8-dimensional vectors, expected 4"):
        made.embed_documents(["x"])


def test_dimensions_are_discovered_once(server):
    made = embedder(server)
    assert made.dimensions == DIMS
    assert made.dimensions == DIMS
    assert [r["body"]["input"] for r in server.requests] == [["dimension probe"]]


def test_query_is_cleaned_like_documents(server):
    made = embedder(server)
    query = made.embed_query("   where is the config loaded?  \n")
    np.testing.assert_allclose(query, unit(raw_vector("where is the config loaded?")), rtol=1e-6)


def test_module_import_stays_light():
    code = (
        "import sys, codemem.code.embed as e; "
        "from codemem.config import IndexConfig; e.make_embedder(IndexConfig()); "
        "print(sorted(m for m in ('openai', 'model2vec', 'numpy') if m in sys.modules))"
    )
    import subprocess

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --- text preparation -----------------------------------------------------------------------


def test_identifier_words():
    assert identifier_words("HTTPServer.load_config2") == ["http", "server", "load", "config", "2"]
    assert identifier_words("parseJSONFile") == ["parse", "json", "file"]


def test_embedding_text_is_deterministic_and_dedented():
    code = "    def load_config(path):\n\n\n\n        return read(path)   \n"
    text = embedding_text("codemem/config.py", "Loader.load_config", code)
    assert text == (
        "codemem/config.py\n"
        "Loader.load_config (loader load config)\n"
        "def load_config(path):\n"
        "\n"
        "    return read(path)"
    )
    assert embedding_text("README.md", None, "# Title\n") == "README.md\n# Title"
    assert embedding_text("a.py", "main", "x = 1") == "a.py\nmain\nx = 1"


def test_embedding_text_cuts_at_a_line_break_within_budget():
    code = "\n".join(f"line_{i} = {i}" for i in range(100))
    text = embedding_text("a.py", None, code, max_chars=100)
    assert text == "a.py\n" + "\n".join(f"line_{i} = {i}" for i in range(8))  # whole lines
    assert clean_text("x" * 50, 20) == "x" * 20


# --- model2vec --------------------------------------------------------------------------------

VOCAB = ["[UNK]", "[PAD]"] + (
    "def class return import self config load save index search query code file path "
    "chunk symbol vector embed model token test repo git memory block note"
).split()


def build_tiny_model2vec(folder) -> np.ndarray:
    """A real model2vec model on disk: a WordLevel tokenizer and a random 16-d matrix."""
    pytest.importorskip("model2vec", reason="model2vec not installed (codemem[model2vec])")
    from model2vec import StaticModel
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

    tokenizer = Tokenizer(
        models.WordLevel(vocab={w: i for i, w in enumerate(VOCAB)}, unk_token="[UNK]")
    )
    tokenizer.normalizer = normalizers.Lowercase()
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    vectors = np.random.default_rng(7).normal(size=(len(VOCAB), 16)).astype(np.float32)
    StaticModel(vectors, tokenizer, normalize=False).save_pretrained(folder)
    return vectors


def expected_m2v(vectors: np.ndarray, text: str) -> np.ndarray:
    ids = [VOCAB.index(w) for w in text.lower().split() if w in VOCAB]
    return unit(vectors[ids].mean(axis=0))


def test_model2vec_tiny_model_through_make_embedder(tmp_path):
    vectors = build_tiny_model2vec(tmp_path / "tiny")
    spec = f"model2vec/{tmp_path / 'tiny'}"
    made = make_embedder(IndexConfig(embeddings=spec))
    assert isinstance(made, Model2VecEmbedder)
    assert (made.name, made.dimensions) == (spec, 16)
    texts = ["load config file", "search query vector", "Embed MODEL token zzz", "qqq www"]
    out = made.embed_documents(texts)
    assert out.dtype == np.float32 and out.shape == (4, 16)
    for row, text in zip(out[:3], texts[:3], strict=True):
        np.testing.assert_allclose(row, expected_m2v(vectors, text), rtol=1e-5, atol=1e-6)
    assert not out[3].any()  # nothing known: a zero vector, not NaN
    np.testing.assert_allclose(made.embed_query("  load config file "), out[0], rtol=1e-6)
    assert made.embed_documents([]).shape == (0, 16)


def test_model2vec_relative_path_resolves_against_root(tmp_path):
    build_tiny_model2vec(tmp_path / "models" / "tiny")
    made = make_embedder(IndexConfig(embeddings="model2vec/models/tiny"), root=tmp_path)
    assert (made.name, made.dimensions) == ("model2vec/models/tiny", 16)


def test_model2vec_wrong_dimensions_is_a_config_error(tmp_path):
    build_tiny_model2vec(tmp_path / "tiny")
    config = IndexConfig(embeddings=f"model2vec/{tmp_path / 'tiny'}", embeddings_dimensions=32)
    with pytest.raises(ConfigError, match="has 16 dimensions"):
        make_embedder(config)


def test_model2vec_unloadable_folder_is_a_provider_error(tmp_path):
    pytest.importorskip("model2vec", reason="model2vec not installed (codemem[model2vec])")
    (tmp_path / "empty").mkdir()
    with pytest.raises(
        ProviderError, match=r"cannot load model2vec model '.*empty': Could not find"
    ):
        make_embedder(IndexConfig(embeddings=f"model2vec/{tmp_path / 'empty'}"))


def test_model2vec_missing_package_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "model2vec", None)  # import model2vec -> ImportError
    with pytest.raises(ConfigError) as caught:
        make_embedder(IndexConfig(embeddings="model2vec/minishlab/potion-base-8M"))
    assert str(caught.value) == (
        "index.embeddings is model2vec/minishlab/potion-base-8M but model2vec is not installed: "
        "pip install 'codemem[model2vec]'"
    )
