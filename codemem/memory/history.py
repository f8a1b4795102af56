"""A block's history, from git: the commits that changed its file, following renames."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from codemem.infra import git_text, has_head
from codemem.memory.errors import MemoryEditError

_FIELDS = "%x1e%H%x1f%an%x1f%aI%x1f%s"


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
    args = ["log", "--follow", f"--format={_FIELDS}"]
    if limit:
        args.append(f"-n{limit}")
    if patch:
        args.append("-p")
    out = git_text(root, *args, "--", relative)
    changes = []
    for record in out.split("\x1e")[1:]:
        head, _, diff = record.partition("\n")
        commit, author, date, subject = head.split("\x1f", 3)
        changes.append(Change(commit, author, date, subject, diff.strip("\n")))
    return changes
