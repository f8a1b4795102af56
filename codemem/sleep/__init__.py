"""Sleep-time learning: the digest pass, the conventions miner and the project learner.

- `run_digest(ws, config, DigestOptions(...))`: one pass (`codemem digest`).
- `learn_project(ws, config)`: fill `blocks/project.md`'s overview (`codemem init`).
- `mine_conventions(gather_facts(ws, config, settings))`: the learned rules, without writing.

Names are imported on first use, so importing one light submodule (the watch daemon's
search client, say) does not pay for the whole pass.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "gather_facts": "codemem.sleep.conventions",
    "mine_conventions": "codemem.sleep.conventions",
    "DigestOptions": "codemem.sleep.digest",
    "DigestResult": "codemem.sleep.digest",
    "Summarizer": "codemem.sleep.digest",
    "learn_project": "codemem.sleep.digest",
    "run_digest": "codemem.sleep.digest",
    "Evidence": "codemem.sleep.rules",
    "Rule": "codemem.sleep.rules",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'codemem.sleep' has no attribute {name!r}")
