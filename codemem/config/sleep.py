"""The `sleep:` section: the sleep-time pass (`codemem digest` and `codemem watch`)."""

from __future__ import annotations

from pydantic import Field

from codemem.config.core import Section


class SleepConfig(Section):
    """Settings of the sleep-time pass (`codemem digest` and `codemem watch`)."""

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
    # The model path (codemem/sleep/llm.py): used when a model is configured and --no-llm is
    # not given. `llm: false` keeps every pass extractive; `model` overrides the top-level
    # `model` for sleep-time work (a cheaper one, say).
    llm: bool = True
    model: str | None = None
    summary_tokens: int = Field(default=300, ge=32)  # longest answer per commit summary
    max_cost: float | None = Field(default=None, gt=0)  # dollars per pass, every model call
    agent_max_steps: int = Field(default=12, ge=1)  # model calls of the sleep-time agent
    agent_max_seconds: float | None = Field(default=300, gt=0)  # its wall time per pass
    session_chars: int = Field(default=30_000, ge=1_000)  # transcript text per pass
    init_llm: bool = False  # `codemem init` also writes the model's project summary
    project_summary_chars: int = Field(default=1_500, ge=200)
    # `codemem watch` digests after this many minutes without a file change (fractions allowed).
    idle_minutes: float = Field(default=10, gt=0)
    # An unattended daemon spends no money unless asked: `codemem watch` digests without a
    # model unless this is true (`codemem digest` by hand uses the model when configured).
    watch_llm: bool = False
    # Whether `codemem watch` digests when idle. Its pass writes .codemem/ (digests, learned
    # regions) and leaves them uncommitted, for you to review and commit: `watch --status`
    # and the daemon's log say so. false: the daemon only keeps the index fresh.
    watch_digest: bool = True
