"""Sleep-time learning: the digest pass, the conventions miner and the project learner.

- `run_digest(ws, config, DigestOptions(...))`: one pass (`codemem digest`).
- `learn_project(ws, config)`: fill `blocks/project.md`'s overview (`codemem init`).
- `mine_conventions(gather_facts(ws, config, settings))`: the learned rules, without writing.
- `sleep_config(config)`: the validated `sleep:` settings.
"""

from __future__ import annotations

from codemem.sleep.config import SleepConfig, sleep_config
from codemem.sleep.conventions import gather_facts, mine_conventions
from codemem.sleep.digest import DigestOptions, DigestResult, Summarizer, learn_project, run_digest
from codemem.sleep.rules import Evidence, Rule

__all__ = [
    "DigestOptions", "DigestResult", "Evidence", "Rule", "SleepConfig", "Summarizer",
    "gather_facts", "learn_project", "mine_conventions", "run_digest", "sleep_config",
]
