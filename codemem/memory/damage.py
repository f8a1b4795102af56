"""Damage to memory's files that `codemem status` reports, each with its fix.

Committed files (blocks, archival notes) are the team's: codemem never rewrites a damaged
one, it names the file and says how to fix it, and loads the others. The recall database is
this machine's own: the next command that opens it moves a damaged one aside and starts anew.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from codemem.errors import CodememError
from codemem.infra import kept_saves, printable
from codemem.memory.archive import Archive
from codemem.memory.blocks import MemoryStore
from codemem.memory.files import folder_in_the_way
from codemem.memory.recall_schema import recall_damage
from codemem.memory.users import personal_block_path
from codemem.merge_driver import read_attributes
from codemem.workspace import Workspace


@dataclass(frozen=True)
class Damage:
    """One damaged file: which kind of file, and one line naming it and the fix."""

    kind: str  # "index", "recall", "block", "note", "digest", "state", "conventions", "config", "gitattributes", "merge", "kept"
    message: str

    def to_json(self) -> dict[str, str]:
        return asdict(self)


def memory_damage(ws: Workspace) -> list[Damage]:
    """Every damaged block, archival note and recall database of `ws`."""
    store = MemoryStore(ws)
    blocks, problems = store.scan()
    found = [Damage("block", str(problem)) for problem in problems]
    found += [Damage("block", conflict) for conflict in store.conflicts(blocks)]
    found += [Damage("block", over) for over in store.over_limit(blocks)]
    archive = Archive(ws)
    notes, note_problems = archive.scan()
    found += [Damage("note", str(problem)) for problem in note_problems]
    found += [Damage("note", conflict) for conflict in archive.conflicts(notes)]
    if in_the_way := folder_in_the_way(ws, ws.digests_dir):
        found.append(Damage("digest", str(in_the_way)))
    damage = recall_damage(ws.recall_db)
    if damage is not None:
        found.append(
            Damage(
                "recall",
                f"{ws.relative(ws.recall_db)}: damaged ({damage}): the next command that reads it "
                "moves it aside and starts a new one",
            )
        )
    try:
        read_attributes(ws)
    except CodememError as exc:
        found.append(Damage("gitattributes", str(exc)))
    except OSError:  # none: a repository that never asked for the merge driver
        pass
    found += [Damage("kept", line) for line in kept_lines(ws)]
    return found


def kept_lines(ws: Workspace) -> list[str]:
    """One line per save codemem kept rather than remove, a person's text nobody else will
    look for: one a killed write took out of place (`<temp>.tmp.kept`) or one an editor made
    in place into a file codemem was removing (`….removing.kept`). Looked for where codemem
    keeps them, never in the whole repository: `local/swapping/` (and those its writes
    recorded as kept beside a file, the swap folder being on another file system),
    `local/removing/`, the rest of `.codemem/` (an older codemem's, another file system's),
    and beside the personal block in the home folder."""
    home = personal_block_path().parent
    kept = (
        kept_saves(ws.swap_dir)
        + kept_saves(ws.local_dir / "removing")
        + kept_saves(ws.dir, skip=ws.local_dir)
        + kept_saves(home, walk=False)
    )
    lines = []
    for save in dict.fromkeys(kept):
        where = save.path.parent
        if where != home and not where.resolve().is_relative_to(ws.root.resolve()):
            continue  # a ledger a clone committed names files of no concern here
        shown = printable(str(save.path) if where == home else ws.relative(save.path))
        name = printable(save.name)
        came = (
            "made while codemem was removing it"
            if save.removing
            else "that a killed write took out of place"
        )
        lines.append(
            f"{shown}: a save of {name} {came}, kept: compare it with {name}, keep what you "
            "mean, then delete it"
        )
    return lines
