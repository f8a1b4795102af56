"""Sleep-time learning: the digest pass and the project learner.

- `run_digest(ws, config, DigestOptions(...))`: one pass (`codemem digest`, and `codemem watch`
  when the repository rests).
- `learn_project(ws, config)`: fill `blocks/project.md`'s overview (`codemem init`).
"""

from __future__ import annotations

from codemem.sleep.digest import DigestOptions, DigestResult, Summarizer, learn_project, run_digest
from codemem.sleep.state import state_file_damage

__all__ = [
    "DigestOptions",
    "DigestResult",
    "Summarizer",
    "learn_project",
    "run_digest",
    "state_file_damage",
]
