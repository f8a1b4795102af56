"""Configuration: defaults < user config < project config < environment < CLI flags.

Every key is documented in `.codemem.example.yml`. Files are validated with pydantic; a
broken file is reported in one line that names the file, the key and what is wrong.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from codemem.errors import ConfigError

ENV_PREFIX = "CODEMEM_"


class Section(BaseModel):
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


class SearchConfig(Section):
    k: int = Field(default=10, ge=1)
    bm25: bool = True
    symbols: bool = True
    paths: bool = True
    vectors: bool = True
    graph_prior: bool = True
    test_prior: bool = True
    query_analysis: bool = True
    rrf_k: int = Field(default=20, ge=1)


class MapConfig(Section):
    tokens: int = Field(default=1024, ge=64)


class Config(Section):
    model: str | None = None
    index: IndexConfig = Field(default_factory=IndexConfig)
    search: SearchConfig = Field(default_factory=SearchConfig)
    map: MapConfig = Field(default_factory=MapConfig)
    # Sections owned by later parts (memory, agent, sleep, review) are free-form here and
    # validated by their own modules, so an older codemem reading a newer file still works.
    memory: dict[str, Any] = Field(default_factory=dict)
    agent: dict[str, Any] = Field(default_factory=dict)
    providers: dict[str, Any] = Field(default_factory=dict)
    permissions: dict[str, Any] = Field(default_factory=dict)
    sleep: dict[str, Any] = Field(default_factory=dict)
    review: dict[str, Any] = Field(default_factory=dict)


LayerName = Literal["user", "project", "environment", "flags"]


def user_config_dir() -> Path:
    """The user's codemem folder: $CODEMEM_HOME, else ~/.config/codemem."""
    home = os.environ.get("CODEMEM_HOME")
    if home:
        return Path(home).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "codemem"


def read_yaml_file(path: Path) -> dict[str, Any]:
    """Read a YAML mapping; an empty file is an empty mapping."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{path}:{where}: invalid YAML: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of keys at the top level")
    return data


def environment_overrides(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """Map CODEMEM_MODEL and CODEMEM_<SECTION>__<KEY> variables to config keys."""
    environ = os.environ if environ is None else environ
    out: dict[str, Any] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        rest = name[len(ENV_PREFIX):]
        if rest == "MODEL":
            out["model"] = value
        elif "__" in rest:
            section, key = rest.lower().split("__", 1)
            out.setdefault(section, {})[key] = yaml.safe_load(value) if value else value
    return out


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge `over` into a copy of `base` (mappings merge, everything else replaces)."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def _describe(error: ValidationError) -> str:
    first = error.errors()[0]
    key = ".".join(str(part) for part in first["loc"])
    message = first["msg"]
    if first["type"] == "extra_forbidden":
        message = "unknown key (see .codemem.example.yml for every key)"
    return f"{key}: {message}"


def validate_layer(data: dict[str, Any], source: str) -> None:
    """Validate one layer on its own, so the error names the file it came from."""
    try:
        Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{source}: {_describe(exc)}") from None


def load_config(
    project_file: Path | None = None,
    flags: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
) -> Config:
    """Load the effective configuration for one run."""
    layers: list[tuple[str, dict[str, Any]]] = []
    user_file = user_config_dir() / "config.yml"
    layers.append((str(user_file), read_yaml_file(user_file)))
    if project_file is not None:
        layers.append((str(project_file), read_yaml_file(project_file)))
    layers.append(("environment", environment_overrides(environ)))
    layers.append(("command-line flags", flags or {}))
    merged: dict[str, Any] = {}
    for source, data in layers:
        if data:
            validate_layer(data, source)
            merged = merge(merged, data)
    return Config.model_validate(merged)
