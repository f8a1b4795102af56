"""Every path a tool touches stays inside the repository.

A path is taken relative to the repository root (an absolute path is accepted only if it
points inside it), resolved through symlinks, and refused if the result lies outside the
root: `..` cannot climb out and a symlink cannot point out. `.git/` is never written.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from codemem.errors import CodememError


class PathOutsideRepository(CodememError):
    """A tool was given a path that leads outside the repository."""


@dataclass(frozen=True)
class RepoPath:
    """A checked path: `full` on disk and `rel` as the repository names it (`/`-separated)."""

    full: Path
    rel: str


def resolve_path(root: Path, path: str, *, for_write: bool = False) -> RepoPath:
    """Check `path` against the repository `root`; `PathOutsideRepository` if it escapes."""
    if not isinstance(path, str) or not path.strip():
        raise PathOutsideRepository(
            "a path is required: give a repository-relative path like src/app.py"
        )
    if "\0" in path:
        raise PathOutsideRepository(f"invalid path {path!r}: it contains a NUL character")
    real_root = root.resolve()
    candidate = Path(os.path.expanduser(path)) if path.startswith("~") else Path(path)
    full = candidate if candidate.is_absolute() else real_root / candidate
    resolved = full.resolve()  # follows symlinks, also through not-yet-existing tails
    if resolved != real_root and real_root not in resolved.parents:
        raise PathOutsideRepository(
            f"{path} is outside the repository: paths are relative to its root ({real_root.name}/)"
        )
    rel = resolved.relative_to(real_root).as_posix() if resolved != real_root else "."
    if for_write:
        if rel == "." or rel == ".git" or rel.startswith(".git/"):
            raise PathOutsideRepository(f"{path}: writing there is not allowed (git's own files)")
        if resolved.is_dir():
            raise PathOutsideRepository(f"{path} is a directory: give a file path")
    return RepoPath(resolved, rel)
