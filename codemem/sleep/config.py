"""The `sleep:` section of the configuration, validated here (the core config keeps it free-form)."""

from __future__ import annotations

from pydantic import Field, ValidationError

from codemem.config import Config, Section
from codemem.errors import ConfigError


class SleepConfig(Section):
    """Settings of the sleep-time pass (`codemem digest`, later `codemem watch`)."""

    initial_commits: int = Field(default=50, ge=1)
    max_commits: int = Field(default=200, ge=1)
    max_diff_bytes: int = Field(default=20_000, ge=1_000)
    max_symbol_files: int = Field(default=50, ge=0)
    recent_changes: int = Field(default=10, ge=0)
    project_map_files: int = Field(default=8, ge=0)
    commit_history: int = Field(default=200, ge=0)
    min_samples: int = Field(default=5, ge=1)
    max_scan_files: int = Field(default=2_000, ge=1)
    sessions: bool = True
    conventions: bool = True
    project: bool = True
    consolidate: bool = True
    idle_minutes: int = Field(default=15, ge=1)


def sleep_config(config: Config) -> SleepConfig:
    """The validated `sleep:` section; a bad key is a `ConfigError` naming `sleep.<key>`."""
    try:
        return SleepConfig.model_validate(config.sleep or {})
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(part) for part in ("sleep", *first["loc"]))
        message = first["msg"]
        if first["type"] == "extra_forbidden":
            message = "unknown key (see .codemem.example.yml for every key)"
        raise ConfigError(f"{key}: {message}") from None
