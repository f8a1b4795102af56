"""A block's history, from git: the commits that changed its file, following renames."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from codemem.infra import git_text, has_head
from codemem.memory.errors import MemoryEditError


@dataclass
class Change:
    """One commit that touched a block file."""

    commit: str
    author: str
    date: str  # ISO 8601, as git prints it
    subject: str
    patch: str = ""


def file_history(
    root: Path, path: Path, limit: int | None = None, patch: bool = False
) -> list[Change]:
    """Commits that changed `path`, newest first (with `patch`, each one's diff of the file)."""
    try:
        relative = path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        raise MemoryEditError(
            f"{path} is not in the repository, so git keeps no history of it"
        ) from None
    if not has_head(root):
        return []
    # Records and fields are told apart by marks no commit can hold: a subject or a patch can
    # hold any byte a person types, but not this run's random token.
    token = secrets.token_hex(8)
    record_mark, field_mark = f"\x1e{token}", f"\x1f{token}"
    fields = field_mark.join(("%H", "%an", "%aI", "%s"))
    args = ["log", "--follow", f"--format={record_mark}{fields}"]
    if limit:
        args.append(f"-n{limit}")
    if patch:
        args.append("-p")
    out = git_text(root, *args, "--", relative)
    changes = []
    for record in out.split(record_mark)[1:]:
        commit, author, date, rest = record.split(field_mark, 3)
        subject, _, diff = rest.partition("\n")
        changes.append(Change(commit, author, date, subject, diff.strip("\n")))
    return changes
