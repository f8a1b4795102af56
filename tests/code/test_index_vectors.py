"""Optional vectors: the index stores one per chunk and search can use them alone."""

from __future__ import annotations

import pytest

from codemem.code.indexer import refresh_index
from codemem.code.search import Searcher
from codemem.code.store import CodeStore
from codemem.config import load_config
from codemem.workspace import Workspace
from tests.code.test_embed import build_tiny_model2vec


def test_model2vec_vectors_are_indexed_and_searchable(repo_factory, tmp_path):
    pytest.importorskip("model2vec")
    build_tiny_model2vec(tmp_path / "tiny")
    repo = repo_factory("shop")
    ws = Workspace(repo)
    (repo / ".codemem").mkdir()
    (repo / ".codemem" / "config.yml").write_text(
        f"index:\n  embeddings: model2vec/{tmp_path / 'tiny'}\n"
    )
    config = load_config(ws.config_file)
    summary = refresh_index(ws, config)
    assert summary.files == 12
    chunks = CodeStore(ws.index_dir).table("chunks").to_arrow()
    assert "vector" in chunks.schema.names
    assert chunks.schema.field("vector").type.list_size == 16
    assert chunks.num_rows == summary.chunks

    only_vectors = config.model_copy(
        update={
            "search": config.search.model_copy(
                update={"bm25": False, "symbols": False, "paths": False}
            )
        }
    )
    hits = Searcher(ws, only_vectors).search("search index query code", k=3, level="chunk")
    assert len(hits) == 3
    assert all(hit.path in {row for row in chunks.column("path").to_pylist()} for hit in hits)

    # Switching embeddings off rebuilds without vectors.
    (repo / ".codemem" / "config.yml").write_text("index:\n  embeddings: none\n")
    assert refresh_index(ws, load_config(ws.config_file)).full
    assert "vector" not in CodeStore(ws.index_dir).table("chunks").to_arrow().schema.names
