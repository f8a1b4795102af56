"""The git merge driver for `.codemem/` files (`codemem merge-file BASE OURS THEIRS PATH`).

Git hands a driver three versions of a file and keeps what it writes to OURS; a non-zero exit
marks the file conflicted. By kind of file:

- files codemem derives whole (digests, one per commit range; `*.json` learned records) keep
  our side: the same inputs give the same bytes, and the next digest derives them again;
- Markdown (blocks, archive notes): the frontmatter is merged key by key (each key's lines
  kept as the side whose value wins wrote them, comments and all, when the lines can be told
  apart by key), the body line by line; a conflict in a learned region keeps our side (the next digest re-derives it), two
  lists appended to at one place become their union in a deterministic order, and conflict
  markers are left only where two people wrote different text in one place (a file both
  sides added, with no ancestor, is that too);
- anything else (`config.yml`) is merged line by line as git would: two settings both sides
  added at one place are a conflict (united, the second `model:` would silently win).

Line ends are not text: when a side saved the file with Windows line ends, the three versions
are merged as lines and the result takes the line end our side mostly uses (else a side
converted whole would change every line, and a learned region's conflict would take our
side's text for all of them, dropping the other side's edits).

A file outside `.codemem/` is never merged by these rules, whatever a `.gitattributes` says:
a repository that names the driver for `*.json` would otherwise make every conflict in its
`package.json` resolve silently to our side. Such a file is merged exactly as git's own
text merge does (conflict markers where the sides differ; a binary file keeps our side and
is conflicted).
"""

from __future__ import annotations

import logging
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from codemem.conventions.conflicts import resolve_learned_conflicts, resolve_memory_conflicts
from codemem.errors import CodememError
from codemem.infra import line_ends, run_git
from codemem.memory import FRONTMATTER_FENCE as FENCE
from codemem.memory import FrontmatterDocument as Document
from codemem.memory import dump_frontmatter as dump
from codemem.memory import split_frontmatter as split

log = logging.getLogger("codemem")
_MISSING = object()


@dataclass
class Merged:
    """The merged text and how many conflicts are left in it (0: clean)."""

    text: str
    conflicts: int = 0


def merge_memory_file(base: str, ours: str, theirs: str, path: str) -> Merged:
    """Merge three versions of the `.codemem/` file at `path` (relative to the repository)."""
    if ours == theirs or theirs == base:
        return Merged(ours)
    if ours == base:
        return Merged(theirs)
    if PurePosixPath(path).parts[:1] != (".codemem",):
        if "\0" in base + ours + theirs:  # as git: a binary file keeps our side, conflicted
            return Merged(ours, 1)
        return _merge_lines(base, ours, theirs, memory=False)
    parts = PurePosixPath(path).parts
    if "digests" in parts or path.endswith(".json"):
        return Merged(ours)
    if "\r\n" in base + ours + theirs:  # saved from Windows: merge the lines, not their ends
        end = line_ends(ours.encode("utf-8", "surrogateescape"))
        merged = merge_memory_file(_lf(base), _lf(ours), _lf(theirs), path)
        return Merged(
            merged.text.replace("\n", end) if end != "\n" else merged.text, merged.conflicts
        )
    if path.endswith(".md"):
        return _merge_markdown(base, ours, theirs, path)
    # config.yml: two keys appended at one place are two settings, not a list to unite
    return _merge_lines(base, ours, theirs, memory=False)


def _lf(text: str) -> str:
    return text.replace("\r\n", "\n")


def merge_files(base: Path, ours: Path, theirs: Path, path: str) -> int:
    """Run the driver on git's three files: the result goes to `ours`; returns the conflicts.

    An ancestor that is missing or cannot be read is none: the file is merged as one both
    sides added, so whatever differs is left conflicted, never taken from one side.
    """
    try:
        ancestor = _read(base)
    except OSError as exc:
        log.warning("%s: cannot read the common ancestor (%s): merged as without one", path, exc)
        ancestor = ""
    merged = merge_memory_file(ancestor, _read(ours), _read(theirs), path)
    with ours.open(
        "w", encoding="utf-8", errors="surrogateescape", newline=""
    ) as out:  # line endings as they came
        out.write(merged.text)
    return merged.conflicts


def _read(path: Path) -> str:
    if not path.exists():
        return ""
    with path.open(encoding="utf-8", errors="surrogateescape", newline="") as file:
        return file.read()


def _merge_markdown(base: str, ours: str, theirs: str, path: str) -> Merged:
    try:
        docs = [split(text, path) for text in (base, ours, theirs)]
    except CodememError:  # a broken header: merge the file as plain lines
        return _merge_lines(base, ours, theirs)
    header, header_conflicts = _merge_header(*docs)
    body = _merge_lines(docs[0].body, docs[1].body, docs[2].body, added=not base)
    return Merged(header + body.text, header_conflicts + body.conflicts)


def _merge_header(base: Document, ours: Document, theirs: Document) -> tuple[str, int]:
    """The merged frontmatter, key by key, and how many keys both sides set differently."""
    if ours.header == theirs.header or theirs.header == base.header:
        return ours.header, 0
    if ours.header == base.header:
        return theirs.header, 0
    merged: dict[str, Any] = {}
    clashes: dict[str, tuple[Any, Any]] = {}
    for key in [*ours.meta, *(k for k in theirs.meta if k not in ours.meta)]:
        mine = ours.meta.get(key, _MISSING)
        other = theirs.meta.get(key, _MISSING)
        was = base.meta.get(key, _MISSING)
        if mine == other or other == was:
            value = mine
        elif mine == was:
            value = other
        else:
            clashes[key] = (mine, other)
            value = mine
        if value is not _MISSING:
            merged[key] = value
    if not clashes:
        by_lines = _merge_lines(base.header, ours.header, theirs.header, memory=False)
        if not by_lines.conflicts and _reads_as(by_lines.text, merged):  # a comment edit too
            return by_lines.text, 0
        return _as_written(ours, theirs, merged) or dump(merged), 0
    lines = dump(merged).split("\n")
    for key, (mine, other) in clashes.items():
        ours_lines = _key_lines(key, mine)
        at = lines.index(ours_lines[0]) if ours_lines and ours_lines[0] in lines else len(lines) - 2
        hunk = ["<<<<<<< ours", *ours_lines, "=======", *_key_lines(key, other), ">>>>>>> theirs"]
        lines[at : at + len(ours_lines)] = hunk
    return "\n".join(lines), len(clashes)


_TOP_KEY = re.compile(r"([^\s#\-'\"][^:#]*?)\s*:(?:\s|$)")


def _key_spans(header: str) -> dict[str, tuple[int, int]]:
    """Where each top-level key's lines are in `header` (its lines, fences included): from the
    key's line up to the next key, comment or fence line."""
    lines = header.splitlines(keepends=True)
    spans: dict[str, tuple[int, int]] = {}
    key, start = None, 0
    for index in range(1, len(lines)):
        line = lines[index]
        found = _TOP_KEY.match(line)
        if found or line.startswith("#") or index == len(lines) - 1:
            if key is not None:
                spans[key] = (start, index)
            key, start = (found.group(1), index) if found else (None, index)
    return spans


def _as_written(ours: Document, theirs: Document, merged: dict[str, Any]) -> str | None:
    """Our header as written (comments, quoting, order) with each key whose merged value is
    theirs written as they wrote it; None when its lines cannot be told apart by key (the
    result must read back as exactly `merged`)."""
    lines = ours.header.splitlines(keepends=True)
    if not lines:  # our side has no frontmatter: nothing of ours to keep
        return None
    theirs_lines = theirs.header.splitlines(keepends=True)
    spans, theirs_spans = _key_spans(ours.header), _key_spans(theirs.header)
    if set(spans) != set(map(str, ours.meta)):
        return None
    starts = {start: (key, end) for key, (start, end) in spans.items()}
    out: list[str] = []
    index = 0
    while index < len(lines) - 1:
        if index not in starts:
            out.append(lines[index])
            index += 1
            continue
        key, end = starts[index]
        if key in merged and merged[key] == ours.meta.get(key, _MISSING):
            out.extend(lines[index:end])
        elif key in merged:
            if key not in theirs_spans:
                return None
            out.extend(theirs_lines[slice(*theirs_spans[key])])
        index = end
    for key in merged:
        if key not in ours.meta:
            if key not in theirs_spans:
                return None
            out.extend(theirs_lines[slice(*theirs_spans[key])])
    text = "".join(out) + lines[-1]
    return text if _reads_as(text, merged) else None


def _reads_as(header: str, meta: dict[str, Any]) -> bool:
    """Whether the frontmatter `header` holds exactly `meta`."""
    try:
        return split(header, "").meta == meta
    except CodememError:
        return False


def _key_lines(key: str, value: Any) -> list[str]:
    """The frontmatter lines of one key (none for a missing key)."""
    if value is _MISSING:
        return []
    text = dump({key: value})
    return text[len(FENCE) + 1 : -(len(FENCE) + 1)].rstrip("\n").split("\n")


def _merge_lines(
    base: str, ours: str, theirs: str, *, memory: bool = True, added: bool = False
) -> Merged:
    """`git merge-file --diff3`, then (a memory file) codemem's own resolutions (learned
    regions; lists, unless the file was `added` on both sides: two people who each created a
    block of one name wrote different text in one place, not two appends)."""
    with tempfile.TemporaryDirectory(prefix="codemem-merge-") as folder:
        files = []
        for name, text in (("ours", ours), ("base", base), ("theirs", theirs)):
            file = Path(folder) / name
            file.write_bytes(text.encode("utf-8", "surrogateescape"))
            files.append(str(file))
        out = run_git(
            Path(folder),
            "merge-file",
            "-p",
            "--diff3",
            "-L",
            "ours",
            "-L",
            "base",
            "-L",
            "theirs",
            *files,
            ok=tuple(range(128)),
        )
    text = out.decode("utf-8", "surrogateescape")
    if not memory:
        return Merged(text, sum(line.startswith("<<<<<<< ours") for line in text.split("\n")))
    resolved = resolve_learned_conflicts(text) if added else resolve_memory_conflicts(text)
    return Merged(resolved.text, resolved.left)
