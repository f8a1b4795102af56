"""Merge conflicts in memory files, as `git pull` leaves them, resolved where codemem can.

Two clones that both digest may still leave conflict markers in a block (people's own text,
or an old version's learned region). A conflicted file never stops a digest: a conflict
inside (or across the markers of) a learned region is resolved by taking either side, since
the region is re-derived by the same pass right after; a conflict in text people wrote is
left exactly as it is, for people, and reported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_REGION_MARKER = re.compile(r"<!-- codemem:([\w-]+):(start|end) -->")
_LIST_ITEM = re.compile(r"\s*(?:[-*+]|\d+[.)])\s")  # a Markdown bullet or numbered item


@dataclass
class Resolved:
    """A text with its learned conflicts resolved, and how many others are left."""

    text: str
    resolved: int = 0
    left: int = 0


def resolve_learned_conflicts(text: str) -> Resolved:
    """Resolve the conflicts inside learned regions (keeping our side); leave the others.

    A conflict is learned when it starts inside a region or either side holds a region
    marker. Our side is kept, so the markers of every region stay paired for the rewrite.
    """
    return _resolve(text, union_lists=False)


def resolve_memory_conflicts(text: str) -> Resolved:
    """Resolve what codemem can of the conflicts in a memory file; leave the others.

    Learned conflicts are resolved as `resolve_learned_conflicts` does; lines both sides
    appended to the end of the file, or to the same list (every added line a bullet or
    numbered item), become their union, the group whose text sorts first first, so either clone merging gets the
    same bytes. What is left is two people writing different text in one place.
    """
    return _resolve(text, union_lists=True)


def _resolve(text: str, union_lists: bool) -> Resolved:
    out: list[str] = []
    result = Resolved("")
    lines = text.split("\n")
    inside = False
    i = 0
    while i < len(lines):
        line = lines[i]
        if not (line.startswith("<<<<<<< ") or line == "<<<<<<<"):
            inside = _after(line, inside)
            out.append(line)
            i += 1
            continue
        ours: list[str] = []
        base: list[str] = []
        theirs: list[str] = []
        part = "ours"
        j = i + 1
        while j < len(lines) and not lines[j].startswith(">>>>>>>"):
            current = lines[j]
            if current.startswith("|||||||"):
                part = "base"
            elif current == "=======" and part in ("ours", "base"):
                part = "theirs"
            else:
                {"ours": ours, "base": base, "theirs": theirs}[part].append(current)
            j += 1
        if j == len(lines):  # no end marker: not a conflict codemem understands
            out.extend(lines[i:])
            break
        learned = inside or any(_REGION_MARKER.search(x) for x in (*ours, *base, *theirs))
        at_end = not any(rest.strip() for rest in lines[j + 1 :])
        union = _union(ours, base, theirs, at_end) if union_lists and not learned else None
        if learned:
            out.extend(ours)
            for kept in ours:
                inside = _after(kept, inside)
            result.resolved += 1
        elif union is not None:
            out.extend(union)
            result.resolved += 1
        else:
            out.extend(lines[i : j + 1])
            result.left += 1
        i = j + 1
    result.text = "\n".join(out)
    return result


def _union(ours: list[str], base: list[str], theirs: list[str], at_end: bool) -> list[str] | None:
    """Both sides' lines appended after the common `base` lines, or None if not that case.

    Appended means at the end of the file (how memory_append and `remember --block` add) or
    list items added to the same list. An item both sides added is kept once; other lines are
    kept whole (both wrote `- check the logs`, under `Staging:` and under `Production:`).
    """
    if ours[: len(base)] != base or theirs[: len(base)] != base:
        return None
    added = [ours[len(base) :], theirs[len(base) :]]
    items = all(_LIST_ITEM.match(line) for group in added for line in group if line.strip())
    if not at_end and not items:
        return None
    first, second = sorted(added, key="\n".join)
    if first == second:
        return base + first
    if not items:  # text whose lines belong together: a line both wrote can mean two things
        return base + first + second
    return base + first + [line for line in second if line not in first]


def ours_side(text: str) -> str:
    """`text` with every conflict resolved to our side (for files codemem rewrites whole)."""
    out, part = [], None
    for line in text.split("\n"):
        if line.startswith("<<<<<<< ") or line == "<<<<<<<":
            part = "ours"
        elif part is not None and line.startswith("|||||||"):
            part = "base"
        elif part is not None and line == "=======":
            part = "theirs"
        elif part is not None and line.startswith(">>>>>>>"):
            part = None
        elif part in (None, "ours"):
            out.append(line)
    return "\n".join(out)


def _after(line: str, inside: bool) -> bool:
    """Whether a line leaves us inside a learned region."""
    for match in _REGION_MARKER.finditer(line):
        inside = match.group(2) == "start"
    return inside
