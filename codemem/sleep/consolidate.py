"""Consolidation: memory stays small, deduplicated and dated, and nothing is dropped.

- Blocks over their limit (a person's edit, a lowered limit) move whole sections to
  archival notes, largest first, each replaced by a one-line pointer to its note. Marked
  regions are never moved (codemem sizes them itself).
- Duplicate archival notes merge: notes with the same text (up to whitespace), or whose
  text is contained in another's, fold into the oldest/longest one; tags and sources are
  kept on the survivor, whose `merged:` names exactly the notes folded into it (a duplicate
  edited since the pass read it stays, and is not named; `Archive.fold`).
- Relative dates become absolute: in notes relative to when the note was created, in
  blocks relative to when git says each line was written (uncommitted lines: now).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from functools import partial

from codemem.infra import git_path, run_git
from codemem.memory import Block, Note, normalize
from codemem.sleep.dates import RELATIVE, absolute_dates
from codemem.sleep.writer import MemoryWriter

_HEADING = re.compile(r"^#{1,6} \S")
_REGION = re.compile(r"<!-- codemem:([\w-]+):start -->.*?<!-- codemem:\1:end -->", re.S)
POINTER_CHARS = 60


@dataclass
class ConsolidationReport:
    """What consolidation did."""

    moved: list[str] = field(default_factory=list)  # "label: title -> note id"
    merged: list[str] = field(default_factory=list)  # "id into id"
    dated: list[str] = field(default_factory=list)  # block labels and note ids rewritten

    def to_json(self) -> dict:
        return {"moved": self.moved, "merged": self.merged, "dated": self.dated}


def consolidate(writer: MemoryWriter, now: datetime) -> ConsolidationReport:
    """Run every consolidation step once."""
    report = ConsolidationReport()
    merge_duplicate_notes(writer, report)
    date_notes(writer, report)
    for block in writer.blocks():
        if block.label == "personal" or block.read_only:
            continue
        dated = len(report.dated)
        date_block(writer, block, now, report)
        # read again only what may not fit: a block listed within its limit and left as listed
        # has nothing to move (each of 20,000 blocks was read a second time here)
        if block.chars > block.limit or len(report.dated) > dated:
            fit_block(writer, block.label, report)
    return report


# -- notes --------------------------------------------------------------------------------------


def merge_duplicate_notes(writer: MemoryWriter, report: ConsolidationReport) -> None:
    """Fold notes whose text equals or is contained in another note's text into that note."""
    notes = writer.settled_notes()  # oldest first
    texts = {note.id: normalize(note.content).lower() for note in notes}
    absorbed: dict[str, list] = {}
    gone: set[str] = set()
    # Longest first, so a note contained in several folds into the longest (then oldest).
    survivors = sorted(notes, key=lambda n: (-len(texts[n.id]), n.created, n.id))
    for note in sorted(notes, key=lambda n: (len(texts[n.id]), n.created, n.id)):
        if note.id in gone:
            continue
        for keeper in survivors:
            if keeper.id == note.id or keeper.id in gone:
                continue
            same = texts[keeper.id] == texts[note.id]
            if (same and (keeper.created, keeper.id) < (note.created, note.id)) or (
                not same and texts[note.id] in texts[keeper.id]
            ):
                absorbed.setdefault(keeper.id, []).append(note)
                gone.add(note.id)
                break
    by_id = {note.id: note for note in notes}
    for keeper_id in sorted(absorbed):
        values = partial(folded_values, by_id[keeper_id])
        for note in writer.fold_notes(by_id[keeper_id], absorbed[keeper_id], values):
            report.merged.append(f"{note.id} into {keeper_id}")


def folded_values(keeper: Note, folded: list[Note]) -> tuple[list[str], dict[str, list[str]]]:
    """The tags and `merged:`/`merged_sources:` of `keeper` once `folded` are in it: what it
    named before (a hand-written single value as a list of one) and those, no others."""
    tags = list(dict.fromkeys([*keeper.tags, *(t for n in folded for t in n.tags)]))
    merged = {*_listed(keeper.extra.get("merged")), *(n.id for n in folded)}
    extra = {"merged": sorted(merged)}
    sources = {n.source for n in folded if n.source and n.source != keeper.source}
    if sources:
        extra["merged_sources"] = sorted({*_listed(keeper.extra.get("merged_sources")), *sources})
    return tags, extra


def _listed(value: object) -> list[str]:
    if value is None:
        return []
    return [str(item) for item in value] if isinstance(value, list) else [str(value)]


def _every_line(day: date) -> Callable[[int], date]:
    """A `date_of_line` that answers `day` for every line."""
    return lambda _i: day


def date_notes(writer: MemoryWriter, report: ConsolidationReport) -> None:
    for note in writer.settled_notes():
        if not RELATIVE.search(note.content):
            continue
        content = absolute_dates(note.content, _every_line(note.created.date()))
        if content != note.content and writer.rewrite_note(note, content, note.tags):
            report.dated.append(note.id)


# -- blocks -------------------------------------------------------------------------------------


def line_dates(writer: MemoryWriter, block: Block, now: datetime) -> Callable[[int], date | None]:
    """For each line of the block's value, the day it was written (git blame; uncommitted:
    now), or None for a line blamed on a shallow clone's boundary commit: it is at least as
    old as that commit, by how much nobody here knows (CI's checkouts are often one commit
    deep)."""
    today = now.date()
    if block.path is None:
        return lambda _i: today
    offset = block.header.count("\n")
    # The text the pass holds for the file, when it changed the block: blamed as if written.
    held = writer.held_text(block)
    contents = ("--contents", "-") if held is not None else ()
    # 128: a block not committed yet (or no commits at all): every line is from today.
    out = run_git(
        writer.ws.root,
        "blame",
        "--porcelain",
        *contents,
        "--",
        block.path.relative_to(writer.ws.root).as_posix(),
        input=held.encode("utf-8") if held is not None else None,
        ok=(0, 128),
    ).decode("utf-8", "replace")
    days: dict[int, date | None] = {}
    if out:
        shallow = git_path(writer.ws.root, "shallow")  # the commits whose parents are not here
        grafts = set(shallow.read_text().split()) if shallow.is_file() else set()
        commit_day: dict[str, date | None] = {}
        commit_stamp: dict[str, int] = {}
        current, line_no = "", 0
        for line in out.splitlines():
            parts = line.split(" ")
            if len(parts) >= 3 and len(parts[0]) in (40, 64) and parts[1].isdigit():
                current, line_no = parts[0], int(parts[2])
            elif line.startswith("author-time "):
                commit_stamp[current] = int(line.split(" ")[1])
            elif line.startswith("author-tz "):
                tz = line.split(" ")[1]
                sign = -1 if tz.startswith("-") else 1
                shift = timedelta(hours=int(tz[1:3]), minutes=int(tz[3:5])) * sign
                day = datetime.fromtimestamp(commit_stamp[current], timezone(shift)).date()
                commit_day[current] = None if current in grafts else day
            elif line.startswith("\t"):
                days[line_no] = today if set(current) == {"0"} else commit_day.get(current, today)
    return lambda i: days.get(i + 1 + offset, today)


def date_block(
    writer: MemoryWriter, block: Block, now: datetime, report: ConsolidationReport
) -> None:
    if not RELATIVE.search(block.value):
        return
    when = line_dates(writer, block, now)
    if writer.edit_block(
        block.label, lambda b: absolute_dates(b.value, when), "relative dates made absolute"
    ):
        report.dated.append(block.label)


def sections(value: str) -> list[tuple[int, int, str]]:
    """Movable spans (start, end, title): Markdown sections, or paragraphs when there are no
    headings; marked regions are never part of one."""
    regions = [(m.start(), m.end()) for m in _REGION.finditer(value)]
    lines = value.split("\n")
    starts, pos = [], 0
    offsets = []
    for line in lines:
        offsets.append(pos)
        pos += len(line) + 1
    has_headings = any(_HEADING.match(line) for line in lines)
    for i, line in enumerate(lines):
        begins = (
            _HEADING.match(line)
            if has_headings
            else (line.strip() and (i == 0 or not lines[i - 1].strip()))
        )
        if begins or i == 0:
            starts.append(i)
    spans = []
    for n, first in enumerate(starts):
        last = starts[n + 1] if n + 1 < len(starts) else len(lines)
        start, end = offsets[first], (offsets[last] - 1 if last < len(lines) else len(value))
        for r_start, r_end in regions:  # cut the span at a region inside it
            if start <= r_start < end:
                end = r_start
            if r_start <= start < r_end:
                start = min(r_end, end)
        text = value[start:end].strip("\n")
        if text.strip() and start < end:
            title = next((ln.lstrip("#").strip() for ln in text.split("\n") if ln.strip()), "")
            spans.append((start, end, title[:POINTER_CHARS]))
    return spans


def fit_block(writer: MemoryWriter, label: str, report: ConsolidationReport) -> None:
    """Move sections of an over-limit block to archival notes until it fits."""
    block = writer.read_block(label)
    if block is None or block.chars <= block.limit or block.read_only:
        return
    value = block.value
    moves: list[tuple[int, int, str]] = []
    excess = len(value) - block.limit
    for start, end, title in sorted(sections(value), key=lambda s: (-(s[1] - s[0]), s[0])):
        if excess <= 0:
            break
        moves.append((start, end, title))
        excess -= (end - start) - len(_pointer(title, "20250101-000000-00000000"))
    if excess > 0:
        writer.warnings.append(
            f"{label} is over its limit and has nothing more to move; shorten it by hand"
        )
        return
    new = value
    for start, end, title in sorted(moves, reverse=True):
        text = value[start:end].rstrip("\n")
        trailing = value[start + len(text) : end]  # blank lines after the section stay
        note_id = writer.insert_note(
            f"{text}\n\n(moved from the {label} block)",
            [label.replace("/", "-"), "moved-from-block"],
            f"blocks/{label}.md",
        )
        new = new[:start] + _pointer(title, note_id) + trailing + new[end:]
        report.moved.append(f"{label}: {title} -> {note_id}")
    writer.edit_block(
        label, lambda b: new if b.value == value else None, "sections moved to archival memory"
    )


def _pointer(title: str, note_id: str) -> str:
    return f"- {title}: moved to archival note {note_id}"
