"""Git's conflict markers in a memory file.

A clone without codemem's merge driver (one that has not yet run a codemem command) merges a
block as plain text, and a conflict leaves `<<<<<<<`, `=======` and `>>>>>>>` lines in it.
Such a block, or an archival note (two clones that edited one note), is still read (both
sides are the team's text), but no edit keeps the markers and builds on them: people resolve
them first.
"""

from __future__ import annotations

CONFLICTED = "holds git conflict markers (<<<<<<<, =======, >>>>>>>) from a merge"


def has_conflict(text: str) -> bool:
    """Whether `text` holds a conflict as git writes one: a `<<<<<<<` line, later a `=======`
    line, later a `>>>>>>>` line (with either line end)."""
    seen = 0  # 1: after <<<<<<<, 2: after =======
    for line in text.split("\n"):
        line = line.removesuffix("\r")
        if line == "<<<<<<<" or line.startswith("<<<<<<< "):
            seen = max(seen, 1)
        elif seen == 1 and line == "=======":
            seen = 2
        elif seen == 2 and (line == ">>>>>>>" or line.startswith(">>>>>>> ")):
            return True
    return False
