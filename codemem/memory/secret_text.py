"""Text holding a secret never goes into committed memory.

Blocks and notes are committed and shared with everyone who clones the repository, so every
write a person or a model asks for (the memory tools, MCP's `remember`, `codemem remember`,
`memory set`, `memory edit`, `memory create`, chat's `/remember`, and each part `memory import`
brings in from an instruction file) is refused before anything is written when its text holds
a recognised secret. The commit hook would catch it later, but
by then the secret is in a file on disk, and a pushed `--no-verify` commit shares it.
"""

from __future__ import annotations

from codemem.errors import MemoryEditError
from codemem.infra import find_secrets, secret_hint


def refuse_secret(*texts: str) -> None:
    """Raise `MemoryEditError` when a text holds a recognised secret (a known key format, a
    secret-looking value assigned to a secret-like name, a private key): memory is committed
    and shared with everyone who clones the repository, and a repository's own text may have
    steered a model to copy a key from `.env` into it."""
    for text in texts:
        found = next((s for s in find_secrets(text) if s.severity == "error"), None)
        if found is not None:
            raise MemoryEditError(
                f"the text holds what looks like a secret ({found.what}, "
                f"{secret_hint(found.value)}): memory is committed and shared with the team, so "
                "nothing was saved; leave the secret out and say where it is kept instead"
            )
