"""Sleep-time learning: the digest pass and the project learner.

- `run_digest(ws, config, DigestOptions(...))`: one pass (`codemem digest`, and `codemem watch`
  when the repository rests).
- `learn_project(ws, config)`: fill `blocks/project.md`'s overview (`codemem init`).
- `sleep_config(config)`: the validated `sleep:` settings.
"""

from __future__ import annotations

from codemem.sleep.config import SleepConfig, sleep_config
from codemem.sleep.digest import DigestOptions, DigestResult, Summarizer, learn_project, run_digest

__all__ = [
    "DigestOptions",
    "DigestResult",
    "SleepConfig",
    "Summarizer",
    "learn_project",
    "run_digest",
    "sleep_config",
]
