"""The git merge driver for `.codemem/` files (`codemem merge-file BASE OURS THEIRS PATH`).

Git hands a driver three versions of a file and keeps what it writes to OURS; a non-zero exit
marks the file conflicted. By kind of file:

- files codemem derives whole (digests, one per commit range; `*.json` learned records) keep
  our side: the same inputs give the same bytes, and the next digest derives them again
  (records of a higher format `version`, a newer codemem's, are kept from either side);
- a review dismissal (`review/dismissed/<id>.json`) two teammates each wrote keeps both
  reasons (`dismissal_merge.merge_dismissals`); one that is not a dismissal's JSON on some
  side is merged line by line, conflicted;
- Markdown (blocks, archive notes): the frontmatter is merged key by key (each key's lines
  kept as the side whose value wins wrote them, comments and all, when the lines can be told
  apart by key; a list both sides only added to, such as the `tags:` and `merged:` of a note
  two clones' digests each folded a duplicate into, is their union), the body line by line; a conflict in a learned region keeps our side (the next digest re-derives it), two
  lists appended to at one place become their union in a deterministic order, and conflict
  markers are left only where two people wrote different text in one place (a file both
  sides added, with no ancestor, is that too);
- anything else (`config.yml`) is merged line by line as git would; where that conflicts (or
  sets one key twice: both added it at two places), `config_merge.merge_by_key` merges the
  parsed YAML key by key, and only a key both sides set to different values is left between
  markers (united, the second `model:` would silently win); a config it cannot merge so (one
  that does not parse) keeps the line merge, conflicted (one key set twice: no markers, the
  file names both lines when read).

A file holding a NUL byte (a block saved by a tool that wrote one) is binary to git, whose text
merge refuses it: as git does, our side is kept and the file left conflicted for people.

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

import json
import logging
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from codemem.conventions.config_merge import merge_by_key
from codemem.conventions.conflicts import resolve_learned_conflicts, resolve_memory_conflicts
from codemem.conventions.dismissal_merge import merge_dismissals
from codemem.conventions.three_way import CLASH, pick
from codemem.errors import CodememError
from codemem.infra import atomic_file, line_ends, load_yaml, make_folder, run_git
from codemem.memory import FrontmatterDocument as Document
from codemem.memory import dump_frontmatter as dump
from codemem.memory import frontmatter_key_lines as key_lines
from codemem.memory import frontmatter_key_spans as key_spans
from codemem.memory import frontmatter_reads_as as reads_as
from codemem.memory import frontmatter_with_values as with_values
from codemem.memory import same_frontmatter_value as same
from codemem.memory import split_frontmatter as split
from codemem.workspace import Workspace

log = logging.getLogger("codemem")
_MISSING = object()


@dataclass
class Merged:
    """The merged text and how many conflicts are left in it (0: clean)."""

    text: str
    conflicts: int = 0


def _format_version(text: str) -> int:
    """A learned records file's `version` (0: none to read): of two clones' records, the one
    a newer codemem wrote is kept, as the older one leaves it as it is (`NewerRecords`) and
    the newer one would write it again."""
    try:
        version = json.loads(text).get("version")
    except (ValueError, AttributeError, RecursionError):
        return 0
    return version if isinstance(version, int) and not isinstance(version, bool) else 0


def merge_memory_file(base: str, ours: str, theirs: str, path: str) -> Merged:
    """Merge three versions of the `.codemem/` file at `path` (relative to the repository)."""
    if ours == theirs or theirs == base:
        return Merged(ours)
    if ours == base:
        return Merged(theirs)
    parts = PurePosixPath(path).parts
    if parts[:3] == (".codemem", "review", "dismissed") and path.endswith(".json"):
        both = merge_dismissals(base, ours, theirs)  # both teammates' reasons kept
        return Merged(both) if both is not None else _merge_lines(base, ours, theirs, memory=False)
    if parts[:1] == (".codemem",) and ("digests" in parts or path.endswith(".json")):
        return Merged(theirs if _format_version(theirs) > _format_version(ours) else ours)
    if "\0" in base + ours + theirs:  # as git: a binary file keeps our side, conflicted
        log.warning("%s holds a NUL byte: not merged as text; our side kept, conflicted", path)
        return Merged(ours, 1)
    if parts[:1] != (".codemem",):
        return _merge_lines(base, ours, theirs, memory=False)
    if "\r\n" in base + ours + theirs:  # saved from Windows: merge the lines, not their ends
        end = line_ends(ours.encode("utf-8", "surrogateescape"))
        merged = merge_memory_file(_lf(base), _lf(ours), _lf(theirs), path)
        return Merged(
            merged.text.replace("\n", end) if end != "\n" else merged.text, merged.conflicts
        )
    if path.endswith(".md"):
        return _merge_markdown(base, ours, theirs, path)
    # config.yml: two keys appended at one place are two settings, not a list to unite
    merged = _merge_lines(base, ours, theirs, memory=False)
    if not merged.conflicts and not _sets_a_key_twice(merged.text):
        return merged
    if path.endswith((".yml", ".yaml")):
        by_key = merge_by_key(base, ours, theirs)
        if by_key is not None and not by_key.clashes:
            return Merged(by_key.resolved)
        if by_key is not None:  # markers around the clashing keys alone, each in its place
            clashed = _merge_lines(by_key.at_base, by_key.resolved, by_key.at_theirs, memory=False)
            if clashed.conflicts:
                return clashed
    # one key added at two places (a clean line merge): git stops for the person
    return merged if merged.conflicts else Merged(merged.text, 1)


def _sets_a_key_twice(text: str) -> bool:
    """Whether the YAML `text` sets one key twice in a mapping (a line merge clean, since the
    sides added it at two places, whose second value would silently win)."""
    import yaml  # PyYAML: only for a config.yml both sides changed

    try:
        load_yaml(text, unique_keys=True)
    except yaml.YAMLError as exc:
        return getattr(exc, "duplicate_key", None) is not None
    except (ValueError, TypeError, AttributeError, OverflowError, RecursionError):
        return False  # values YAML cannot build: the settings' own check names them
    return False


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
    # replaced whole (line endings as they came): a driver killed while writing leaves our
    # side as it was, never a torn file that git would take for the merge
    with atomic_file(ours, temp_prefix=_result_temp(ours)) as handle:
        handle.write(merged.text.encode("utf-8", "surrogateescape"))
    return merged.conflicts


def _result_temp(ours: Path) -> Path | None:
    """Where the merged file is written before it replaces OURS: in the clone's swap folder
    (`.codemem/local/swapping/`, when `.codemem/local/` is there and on OURS's file system),
    which `codemem watch` never looks at. Beside OURS, at the top of the work tree where git
    puts it, the daemon saw the write's temporaries (`#<inode>` while unnamed, then
    `..merge_file_XXXXXX.<hex>.tmp`) as saves, each an index run. None: beside it."""
    top = ours.absolute().parent
    ws = Workspace(top)
    try:
        if not stat.S_ISDIR(os.lstat(ws.local_dir).st_mode):  # never made here; no link
            return None
        swaps = make_folder(ws.swap_dir)
        folder = os.lstat(swaps)
        if not stat.S_ISDIR(folder.st_mode) or folder.st_dev != os.stat(top).st_dev:
            return None
    except (OSError, CodememError):
        return None
    return swaps / f".{ours.name}"


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
        value = pick(was, mine, other, same)
        if value is CLASH:
            value = _united(was, mine, other)  # both only added to a list (folds, tags)
            if value is None:
                clashes[key] = (mine, other)
                value = mine
        if value is not _MISSING:
            merged[key] = value
    if not clashes:
        by_lines = _merge_lines(base.header, ours.header, theirs.header, memory=False)
        if not by_lines.conflicts and reads_as(by_lines.text, merged):  # a comment edit too
            return by_lines.text, 0
        return _as_written(ours, theirs, merged) or dump(merged), 0
    as_written = _with_conflicts(ours, theirs, merged, clashes)
    if as_written is not None:
        return as_written, len(clashes)
    lines = dump(merged).split("\n")  # lines not told apart by key: the values, written afresh
    for key, (mine, other) in clashes.items():
        ours_lines = _key_lines(key, mine)
        at = lines.index(ours_lines[0]) if ours_lines and ours_lines[0] in lines else len(lines) - 2
        hunk = ["<<<<<<< ours", *ours_lines, "=======", *_key_lines(key, other), ">>>>>>> theirs"]
        lines[at : at + len(ours_lines)] = hunk
    return "\n".join(lines), len(clashes)


def _as_written(ours: Document, theirs: Document, merged: dict[str, Any]) -> str | None:
    """Our header as written (comments, quoting, order) with each key whose merged value is
    theirs written as they wrote it; None when its lines cannot be told apart by key (the
    result must read back as exactly `merged`)."""
    theirs_lines = theirs.header.splitlines(keepends=True)
    theirs_spans = key_spans(theirs.header)

    def written(key: str) -> list[str] | None:
        if not same(merged[key], theirs.meta.get(key, _MISSING)):  # neither side's: afresh
            return key_lines(key, merged[key])
        return theirs_lines[slice(*theirs_spans[key])] if key in theirs_spans else None

    return with_values(ours, merged, written)


def _with_conflicts(
    ours: Document, theirs: Document, merged: dict[str, Any], clashes: dict[str, tuple[Any, Any]]
) -> str | None:
    """Our header as `_as_written` keeps it, each clashing key's lines (ours as written, theirs
    as they wrote them) between conflict markers in its place (one only theirs still has, after
    the others); None when the lines cannot be told apart by key."""
    resolved = _as_written(ours, theirs, merged)  # a clashing key holds our value here
    theirs_spans = key_spans(theirs.header)
    if resolved is None or set(theirs_spans) != set(map(str, theirs.meta)):
        return None
    lines = resolved.splitlines(keepends=True)
    theirs_lines = theirs.header.splitlines(keepends=True)
    spans = key_spans(resolved)
    hunks: list[tuple[int, int, list[str]]] = []
    for key, (mine, other) in clashes.items():
        at = spans[key] if mine is not _MISSING else (len(lines) - 1, len(lines) - 1)
        other_lines = theirs_lines[slice(*theirs_spans[key])] if other is not _MISSING else []
        hunk = ["<<<<<<< ours\n", *lines[slice(*at)], "=======\n", *other_lines, ">>>>>>> theirs\n"]
        hunks.append((*at, hunk))
    for start, end, hunk in reversed(sorted(hunks, key=lambda h: h[0])):  # stable: clash order
        lines[start:end] = hunk
    return "".join(lines)


def _united(was: Any, mine: Any, other: Any) -> list[Any] | None:
    """Both sides' items, when each side's list holds every item of the ancestor's (they only
    added): ours, then what only theirs added, sorted when both sides were; else None."""
    if not (isinstance(mine, list) and isinstance(other, list)):
        return None
    ancestor = was if isinstance(was, list) else [] if was is _MISSING else None
    if ancestor is None or not all(_holds(mine, x) and _holds(other, x) for x in ancestor):
        return None
    united = [*mine, *(x for x in other if not _holds(mine, x))]
    try:
        if mine == sorted(mine) and other == sorted(other):
            return sorted(united)
    except TypeError:  # items that do not compare (a number and a word): as they came
        pass
    return united


def _holds(items: list[Any], item: Any) -> bool:
    return any(same(item, x) for x in items)


def _key_lines(key: str, value: Any) -> list[str]:
    """The frontmatter lines of one key (none for a missing key)."""
    if value is _MISSING:
        return []
    return [line.rstrip("\n") for line in key_lines(key, value)]


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
