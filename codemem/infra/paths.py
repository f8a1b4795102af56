"""Keeping paths inside the repository: `confine` resolves a path a user, an agent or a
committed file names and refuses one that leaves the root, loops, or (for a write) leads into
git's own files.
"""

from __future__ import annotations

import errno
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from codemem.errors import PathOutsideRepository
from codemem.infra.printing import printable


@dataclass(frozen=True)
class RepoPath:
    """A checked path: `full` on disk and `rel` as the repository names it (`/`-separated)."""

    full: Path
    rel: str


MAX_NAME_BYTES = 255  # one file or folder name, on every common file system


def _loops(path: Path) -> bool:
    """Whether following `path` runs into a symbolic link loop."""
    try:
        os.stat(path)
    except OSError as exc:
        return exc.errno == errno.ELOOP
    return False


def in_git_folder(rel: str) -> bool:
    """Whether the repository-relative `rel` lies in a folder named `.git` (in any case: `.GIT`
    is `.git` on a case-insensitive disk), the repository's or a nested one's: git's own files,
    its config, refs and hooks, which nothing but git writes."""
    return ".git" in rel.lower().split("/")


def confine(root: Path, path: str, *, for_write: bool = False) -> RepoPath:
    """Check `path` against the repository `root`; `PathOutsideRepository` if it escapes.

    A path is taken relative to the root (an absolute path only if it points inside it),
    resolved through symlinks, and refused if the result lies outside the root: `..` cannot
    climb out and a symlink cannot point out. A symlink loop or a name too long for any file
    system is refused in one line too. With `for_write`, folders are refused, and so is any
    path through a folder named `.git` (in any case: `.GIT` is `.git` on a case-insensitive
    disk), the repository's or a nested one's: git's config and hooks are code git runs.
    """
    if not isinstance(path, str) or not path.strip():
        raise PathOutsideRepository(
            "a path is required: give a repository-relative path like src/app.py"
        )
    if "\0" in path:
        raise PathOutsideRepository(f"invalid path {path!r}: it contains a NUL character")
    shown = printable(path if len(path) <= 200 else path[:200] + "...")
    candidate = Path(os.path.expanduser(path)) if path.startswith("~") else Path(path)
    if any(len(os.fsencode(part)) > MAX_NAME_BYTES for part in candidate.parts):
        raise PathOutsideRepository(
            f"invalid path {shown}: a name in it is longer than {MAX_NAME_BYTES} bytes"
        )
    real_root = root.resolve()
    full = candidate if candidate.is_absolute() else real_root / candidate
    try:
        resolved = full.resolve()  # follows symlinks, also through not-yet-existing tails
        # From Python 3.13 a loop is no error (the loop is left in the path): one more stat
        # there, none on the older Pythons that raise.
        if sys.version_info >= (3, 13) and _loops(resolved):
            raise OSError(errno.ELOOP, os.strerror(errno.ELOOP))
    except (RuntimeError, OSError) as exc:  # RuntimeError: a symlink loop, before Python 3.13
        why = "a symbolic link in it loops back on itself"
        if isinstance(exc, OSError) and exc.errno != errno.ELOOP:
            why = exc.strerror or type(exc).__name__
        raise PathOutsideRepository(f"{shown} cannot be resolved: {why}") from None
    if resolved != real_root and real_root not in resolved.parents:
        raise PathOutsideRepository(
            f"{shown} is outside the repository: paths are relative to its root ({real_root.name}/)"
        )
    rel = resolved.relative_to(real_root).as_posix() if resolved != real_root else "."
    if for_write:
        if rel == "." or in_git_folder(rel):
            raise PathOutsideRepository(f"{shown}: writing there is not allowed (git's own files)")
        if resolved.is_dir():
            raise PathOutsideRepository(f"{shown} is a directory: give a file path")
    return RepoPath(resolved, rel)
