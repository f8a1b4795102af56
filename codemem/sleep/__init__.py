"""Sleep-time learning: the digest pass and the project learner.

- `run_digest(ws, config, DigestOptions(...))`: one pass (`codemem digest`, and `codemem watch`
  when the repository rests).
- `push_branch(ws, branch)`: the branch a push goes to (a detached HEAD without one: a usage
  error, asked before the pass); `push_memory(ws, remote, branch)`: commit `.codemem/` and
  push it, rebasing on a moved branch (`codemem digest --push`, the CI job).
- `digest_lock(ws, wait)`: one pass at a time per clone (`run_digest` takes it; `--push`
  holds it across the push); `digest_running(ws)`: who holds it now (the daemon postpones).
- `learn_project(ws, config)`: fill `blocks/project.md`'s overview (`codemem init`).
"""

from __future__ import annotations

from codemem.sleep.digest import learn_project, run_digest
from codemem.sleep.digest_run import DigestOptions, DigestResult, Summarizer
from codemem.sleep.pass_lock import digest_lock, digest_running
from codemem.sleep.publish import Pushed, PushError, push_branch, push_memory
from codemem.sleep.state import state_file_damage

__all__ = [
    "DigestOptions",
    "DigestResult",
    "PushError",
    "Pushed",
    "Summarizer",
    "digest_lock",
    "digest_running",
    "learn_project",
    "push_branch",
    "push_memory",
    "run_digest",
    "state_file_damage",
]
