"""Sleep-time learning: the digest pass and the project learner.

- `run_digest(ws, config, DigestOptions(...))`: one pass (`codemem digest`, and `codemem watch`
  when the repository rests).
- `push_branch(ws, branch)`: the branch a push goes to (a detached HEAD without one: a usage
  error, asked before the pass); `push_memory(ws, remote, branch)`: commit `.codemem/` and
  push it, rebasing on a moved branch (`codemem digest --push`, the CI job).
- `learn_project(ws, config)`: fill `blocks/project.md`'s overview (`codemem init`).
"""

from __future__ import annotations

from codemem.sleep.digest import DigestOptions, DigestResult, Summarizer, learn_project, run_digest
from codemem.sleep.publish import Pushed, PushError, push_branch, push_memory
from codemem.sleep.state import state_file_damage

__all__ = [
    "DigestOptions",
    "DigestResult",
    "PushError",
    "Pushed",
    "Summarizer",
    "learn_project",
    "push_branch",
    "push_memory",
    "run_digest",
    "state_file_damage",
]
