"""Memory files a git merge left unmerged, held against what codemem's merge driver makes of
them, for `codemem status` to name with the way on.

A clone that never ran codemem has no `merge.codemem.driver` (git keeps drivers out of
committed files), and git then merges `.codemem/` with its own text merge: conflict markers
in `conventions.json` and in learned regions, which the driver keeps whole, and in lines both
teammates appended to a block, which it unites. The next codemem command sets the driver, and
`git checkout -m -- FILE` merges the file again with it. A driver git could not run (a Python
gone) leaves the file unmerged holding our side alone, and a teammate's edit is lost once that
is `git add`ed. But our side alone is also what the driver itself makes of a derived file and
of a learned region (the next digest derives them again): `git add` is the way on then.
A block one teammate deleted and the other changed is no driver's to merge: it is named with
the two ways on.
"""

from __future__ import annotations

from codemem.conventions.merge import merge_memory_file
from codemem.errors import CodememError, GitError
from codemem.infra import printable, run_git, unmerged_both_sides, unmerged_one_side
from codemem.memory import has_conflict, read_memory_file
from codemem.workspace import CODEMEM_DIR, Workspace


def unmerged_memory(ws: Workspace) -> list[str]:
    """One line per unmerged memory file that the merge driver would merge otherwise than it
    stands, naming the way on: markers the driver resolves (git merged without it), or our
    side alone where the driver keeps theirs too (git could not run it); and one per memory
    file one side deleted and the other changed."""
    try:
        paths = unmerged_both_sides(ws.root, ws.git_dir, CODEMEM_DIR)
        one_side = unmerged_one_side(ws.root, ws.git_dir, CODEMEM_DIR)
    except CodememError:
        return []  # no repository
    lines = [
        f"{printable(rel)}: unmerged, deleted on one side and changed on the other: "
        f"`git add {printable(rel)}` keeps it as the work tree holds it, `git rm "
        f"{printable(rel)}` deletes it"
        for rel in one_side
    ]
    for rel in paths:
        try:
            text = read_memory_file(ws, ws.root / rel)
            base, ours, theirs = (_stage(ws, stage, rel) for stage in (1, 2, 3))
        except (CodememError, OSError):
            continue
        if text is None:
            continue
        merged = merge_memory_file(base, ours, theirs, rel)
        shown = printable(rel)
        if has_conflict(text) and not merged.conflicts:
            lines.append(
                f"{shown}: git merged it without codemem's merge driver (none was set in this "
                "clone) and left conflict markers the driver resolves: `git checkout -m -- "
                f"{shown}` merges it again with the driver, now set (what you changed in it "
                "since is replaced), then `git add` it"
            )
        elif text == ours and not has_conflict(text) and merged.text != ours:
            lines.append(
                f"{shown}: unmerged, and it holds our side only, no conflict markers: if git "
                "could not run the merge driver, `git config --unset merge.codemem.driver`, "
                f"run any codemem command to set it again, then `git checkout -m -- {shown}` "
                "merges both sides; if our side is what you chose, `git add` it"
            )
    return lines


def _stage(ws: Workspace, stage: int, rel: str) -> str:
    """The text git's index holds for `rel` at `stage` (1: the ancestor, "" when there is
    none, as when both sides added the file)."""
    try:
        data = run_git(ws.root, "show", f":{stage}:{rel}")
    except GitError:
        if stage == 1:
            return ""
        raise
    return data.decode("utf-8", "surrogateescape")
