"""Who is at the keyboard: the active user's slug and personal block.

The active user's block is `users/<slug>`: the slug comes from `CODEMEM_USER` if set, else
from the local part of `git config user.email` (`alice.smith@example.com` -> `alice-smith`),
else from the login name. The block is created on first use (`MemoryStore.ensure_user_block`,
called wherever a prompt or tool names it), so a teammate who clones a repository with
`.codemem/` committed has theirs without running `codemem init`. A personal block, `personal.md` in the user's codemem home folder
(`~/.config/codemem/`, `CODEMEM_HOME` overrides), follows a person across repositories.
"""

from __future__ import annotations

import getpass
import os
import re
from collections.abc import Mapping
from pathlib import Path

from codemem.config import user_config_dir
from codemem.infra import git_config

PERSONAL_LABEL = "personal"


def slugify(text: str) -> str:
    """Lower-case letters, digits, `-` and `_`; anything else becomes one `-`."""
    slug = re.sub(r"[^a-z0-9_-]+", "-", text.strip().lower())
    return re.sub(r"-{2,}", "-", slug).strip("-_")


def user_slug(root: Path, environ: Mapping[str, str] | None = None) -> str:
    """The active user's slug (never empty: falls back to `default`)."""
    env = os.environ if environ is None else environ
    override = env.get("CODEMEM_USER")
    if override and slugify(override):
        return slugify(override)
    email = git_config(root, "user.email")
    if email and slugify(email.split("@", 1)[0]):
        return slugify(email.split("@", 1)[0])
    try:
        login = getpass.getuser()
    except (KeyError, OSError):
        login = ""
    return slugify(login) or "default"


def user_label(slug: str) -> str:
    """The block label of a user's preferences."""
    return f"users/{slug}"


def personal_block_path(home: Path | None = None) -> Path:
    """Where the personal block lives (it may not exist)."""
    return (home or user_config_dir()) / f"{PERSONAL_LABEL}.md"
