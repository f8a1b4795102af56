"""Infrastructure under everything else: git, files, locks and the clock.

This package is the one face: import from `codemem.infra`, never from its modules.
GitPython is imported only when a git command first runs (see `codemem.infra.git`).
"""

from __future__ import annotations

from codemem.infra.clock import as_utc, in_range, iso_utc, parse_when, today, utc_date, utc_now
from codemem.infra.files import (
    RepoPath,
    atomic_file,
    atomic_write,
    confine,
    create_private,
    owner_only,
    printable,
    private_dir,
    read_regular,
    read_text,
    update_text,
)
from codemem.infra.git import (
    STREAM_CHUNK,
    BlobReader,
    empty_tree,
    git_config,
    git_dir,
    git_head,
    git_text,
    has_head,
    head_commit,
    read_blobs,
    resolve_commit,
    run_git,
)
from codemem.infra.locks import (
    DEFAULT_TIMEOUT,
    FileLock,
    LockHolder,
    SharedLock,
    lock_held,
    locked,
    read_holder,
)

__all__ = [
    "DEFAULT_TIMEOUT", "STREAM_CHUNK", "BlobReader", "FileLock", "LockHolder", "RepoPath", "SharedLock", "as_utc",
    "atomic_file", "atomic_write", "confine", "create_private", "empty_tree", "git_config", "git_dir",
    "git_head", "git_text", "has_head", "head_commit", "in_range", "iso_utc", "lock_held", "locked",
    "owner_only", "parse_when", "printable", "private_dir", "read_blobs", "read_holder", "read_regular",
    "read_text",
    "resolve_commit", "run_git", "today", "update_text", "utc_date", "utc_now",
]
