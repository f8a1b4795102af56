"""The sections every command reads: `index:`, `search:` and `map:`, and the base of all sections."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Section(BaseModel):
    """A config section: unknown keys are errors, and assignments are validated too."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class IndexConfig(Section):
    include: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)
    max_file_bytes: int = Field(default=1_000_000, gt=0)
    max_line_chars: int = Field(default=2_000, gt=0)
    chunk_lines: int = Field(default=80, ge=10)
    embeddings: str = "none"
    embeddings_base_url: str | None = None
    embeddings_api_key_env: str = "OPENAI_API_KEY"
    embeddings_dimensions: int | None = None
    workers: int = Field(default=0, ge=0)
    compact_every: int = Field(default=20, ge=1)
    batch_files: int = Field(default=2000, ge=1)
    keep_versions_seconds: int = Field(default=300, ge=0)
    shared: str | None = None
    shared_max_bytes: int = Field(default=20 * 2**30, gt=0)
    shared_keep: int = Field(default=0, ge=0)


class SearchConfig(Section):
    k: int = Field(default=10, ge=1)
    bm25: bool = True
    symbols: bool = True
    paths: bool = True
    vectors: bool = True
    graph_prior: bool = True
    test_prior: bool = True
    depth_prior: bool = True  # of two files of one name, the one nearer the root first
    query_analysis: bool = True
    messages: bool = True
    callees: bool = True
    stems: bool = True
    cochange: bool = True  # files that usually change with the best ones join the file list
    uses: bool = True  # files the best one takes names from join an issue's file list
    untied: bool = True  # below an issue's first five: files never changed with the top down
    rrf_k: int = Field(default=20, ge=1)


class MapConfig(Section):
    tokens: int = Field(default=1024, ge=64)
