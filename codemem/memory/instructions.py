"""Other agents' instruction files: read them into blocks, write blocks back out.

Import reads `CLAUDE.md`, `AGENTS.md`, `CONVENTIONS.md`, `.cursorrules`, `.cursor/rules/*.mdc`
and `.github/copilot-instructions.md`, splits them at `#` and `##` headings, and appends each
part to the block it belongs in: the convention files and sections about style, rules or
naming go to `conventions`, everything else to `project`. Each part is preceded by a marker,
`<!-- imported from CLAUDE.md § Build (1a2b3c4d5e6f) -->`, naming its origin and a hash of its
text; a part whose hash is already in a block is not imported again. A part that does not fit
its block's limit becomes an archival note (tags `imported`, `instructions`) instead.

Export writes the shared blocks (not users' or the personal block) into `AGENTS.md` or
`CLAUDE.md` between `<!-- codemem:begin ... -->` and `<!-- codemem:end -->`, leaving the rest
of the file as it was; the region is skipped on import, parts imported from the file being
written (and still in it) are left out of its region, and an export that would change
nothing writes nothing: import and export round-trip without duplicating anything.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from codemem.errors import MemoryEditError, UsageError
from codemem.infra import confine, update_text
from codemem.memory import frontmatter
from codemem.memory.archive import Archive
from codemem.memory.blocks import MemoryStore
from codemem.memory.errors import (
    BlockFormatError,
    ConflictMarkersError,
    DuplicateNoteError,
    LimitExceededError,
    ReadOnlyError,
    UnknownLabelError,
)
from codemem.memory.files import read_memory_file
from codemem.memory.labels import default_description
from codemem.memory.ranking import normalize
from codemem.memory.secret_text import refuse_secret
from codemem.workspace import Workspace

log = logging.getLogger("codemem")

INSTRUCTION_FILES = (
    "CLAUDE.md",
    "AGENTS.md",
    "CONVENTIONS.md",
    ".cursorrules",
    ".github/copilot-instructions.md",
)
CONVENTION_SOURCES = ("CONVENTIONS.md", ".cursorrules", ".github/copilot-instructions.md")
EXPORT_FILES = {"agents-md": "AGENTS.md", "claude-md": "CLAUDE.md"}
REGION_BEGIN = (
    "<!-- codemem:begin (written by `codemem memory export` from .codemem/blocks/; "
    "edit those files, not this region) -->"
)
REGION_END = "<!-- codemem:end -->"
REGION_RE = re.compile(r"<!-- codemem:begin\b.*?-->.*?<!-- codemem:end -->\n?", re.DOTALL)
MARKER_RE = re.compile(r"<!-- imported from .*? \(([0-9a-f]{12})\) -->")
HEADING_RE = re.compile(r"^(#{1,2})\s+(.*?)\s*#*\s*$")
CONVENTION_WORDS = re.compile(
    r"\b(conventions?|style|guidelines?|rules?|naming|lint\w*|format\w*|best practices?|"
    r"code quality|patterns?|do not|don'?t)\b",
    re.IGNORECASE,
)


@dataclass
class Part:
    """One section of an instruction file and where it goes."""

    source: str  # repository-relative file
    heading: str
    text: str
    block: str

    @property
    def digest(self) -> str:
        return hashlib.sha1(normalize(self.text).encode("utf-8")).hexdigest()[:12]

    @property
    def marker(self) -> str:
        where = f"{self.source} § {self.heading}" if self.heading else self.source
        return f"<!-- imported from {where} ({self.digest}) -->"


@dataclass
class ImportedPart:
    """What happened to one part: `imported` into a block, `archived`, `skipped` (seen), or
    `refused` (it holds what looks like a secret, which committed memory never takes)."""

    source: str
    heading: str
    target: str  # a block label or "archive"
    status: str
    path: Path | None = None  # the block or note file written


def instruction_files(root: Path) -> list[Path]:
    """The instruction files present in the repository, in import order."""
    found = [root / name for name in INSTRUCTION_FILES if (root / name).is_file()]
    rules = root / ".cursor" / "rules"
    if rules.is_dir():
        found += sorted(path for path in rules.glob("*.mdc") if path.is_file())
    return found


def strip_region(text: str) -> str:
    """`text` without codemem's own exported region."""
    return REGION_RE.sub("", text)


def split_sections(text: str) -> list[tuple[str, str]]:
    """(heading, text) for each `#`/`##` section; headings inside code fences do not count.

    A section that is only a heading (a document title) is dropped.
    """
    sections: list[tuple[str, str]] = []
    lines: list[str] = []
    heading, fenced = "", False

    def flush() -> None:
        body = "\n".join(lines).strip("\n")
        content = body.split("\n", 1)[1] if heading and "\n" in body else ("" if heading else body)
        if content.strip():
            sections.append((heading, body))

    for line in text.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        match = None if fenced else HEADING_RE.match(line)
        if match:
            flush()
            heading, lines = match.group(2), [line]
        else:
            lines.append(line)
    flush()
    return sections


def target_block(source: str, heading: str) -> str:
    if source in CONVENTION_SOURCES or source.startswith(".cursor/rules/"):
        return "conventions"
    return "conventions" if CONVENTION_WORDS.search(heading) else "project"


def read_parts(ws: Workspace) -> list[Part]:
    """Every part of every instruction file, with the block it belongs in.

    Like memory files, an instruction file is read only if it lies inside the repository: a
    committed `CLAUDE.md -> ~/.ssh/id_rsa` is skipped with a warning (`CLAUDE.md -> AGENTS.md`
    is read). One too large or not UTF-8 is skipped with a warning too: the setup that imports
    them (`codemem init`, the first `chat`, `run` or `mcp`) goes on with the others.
    """
    parts = []
    for path in instruction_files(ws.root):
        source = path.relative_to(ws.root).as_posix()
        try:
            text = strip_region(read_memory_file(ws, path, inner_links=True) or "")
        except BlockFormatError as exc:  # too large, not UTF-8: the other files still count
            log.warning("%s; not imported", exc)
            continue
        title = ""
        if path.suffix == ".mdc":
            try:
                doc = frontmatter.split(text, source)
                text, title = doc.body, str(doc.meta.get("description") or path.stem)
            except BlockFormatError:
                title = path.stem
        for heading, section in split_sections(text):
            parts.append(Part(source, heading or title, section, target_block(source, heading)))
    return parts


def import_instructions(
    store: MemoryStore, archive: Archive, dry_run: bool = False
) -> list[ImportedPart]:
    """Bring the instruction files' parts into memory; parts seen before are skipped.

    A part holding what looks like a secret is refused, with a warning, and the others still
    come in: an instruction file is often kept out of git (a personal CLAUDE.md), and the
    blocks are committed and shared with everyone who clones the repository."""
    seen: set[str] = set()
    for block in store.list():
        seen.update(MARKER_RE.findall(block.value))
    results = []
    for part in read_parts(store.ws):
        result = ImportedPart(part.source, part.heading, part.block, "imported")
        if part.digest in seen:
            result.status = "skipped"
        elif _holds_secret(part):
            result.status = "refused"
        elif not dry_run:
            result = _import_part(store, archive, part)
        seen.add(part.digest)
        results.append(result)
    return results


def _holds_secret(part: Part) -> bool:
    try:
        refuse_secret(part.heading, part.text)
    except MemoryEditError as exc:
        where = f"{part.source} § {part.heading}" if part.heading else part.source
        log.warning("%s not imported: %s", where, exc)
        return True
    return False


def _import_part(store: MemoryStore, archive: Archive, part: Part) -> ImportedPart:
    entry = f"{part.marker}\n{part.text}"
    try:
        try:
            current = store.get(part.block).value
        except UnknownLabelError:
            store.create(part.block, default_description(part.block))
            current = ""
        block = store.append(part.block, f"\n{entry}" if current else entry)
        return ImportedPart(part.source, part.heading, part.block, "imported", block.path)
    except (LimitExceededError, ReadOnlyError):
        try:
            note = archive.insert(
                part.text, tags=["imported", "instructions"], source=part.source
            ).note
        except DuplicateNoteError:
            return ImportedPart(part.source, part.heading, "archive", "skipped")
        return ImportedPart(part.source, part.heading, "archive", "archived", note.path)


def render_region(store: MemoryStore, exclude: Sequence[Part] = ()) -> str:
    """The exported region: every shared block that has a value, as `## label` sections,
    without the entries imported from `exclude` (parts the target file still holds)."""
    entries = [f"{part.marker}\n{part.text}" for part in exclude]
    sections = []
    for problem in store.problems():  # left out, it would vanish from the exported file
        raise BlockFormatError(f"nothing exported: {problem}")
    for block in store.context_blocks():
        if block.label == "personal" or block.label.startswith("users/"):
            continue
        for conflict in store.conflicts([block]):  # never copied on to other agents' files
            raise ConflictMarkersError(f"nothing exported: {conflict}")
        value = block.value
        for entry in entries:
            if entry in value:
                value = re.sub(r"\n{3,}", "\n\n", value.replace(entry, ""))
        if value.strip():
            sections.append(f"## {block.label}\n\n{value.strip(chr(10))}\n")
    return REGION_BEGIN + "\n" + "\n".join(sections) + REGION_END + "\n"


def own_parts(text: str, source: str) -> list[Part]:
    """The parts of an instruction file's text outside codemem's region (named `source`)."""
    return [
        Part(source, heading, section, target_block(source, heading))
        for heading, section in split_sections(strip_region(text))
    ]


def with_region(text: str, region: str) -> str:
    """`text` with its codemem region replaced by `region` (appended if there is none)."""
    if REGION_RE.search(text):
        return REGION_RE.sub(lambda _: region, text, count=1)
    if not text.strip():
        return region
    return text.rstrip("\n") + "\n\n" + region


def export_instructions(
    store: MemoryStore, format: str, path: Path | None = None
) -> tuple[Path, bool]:
    """Write the blocks into AGENTS.md (`agents-md`) or CLAUDE.md (`claude-md`).

    Returns the file and whether it changed.
    """
    if format not in EXPORT_FILES:
        raise UsageError(f"unknown export format '{format}': use agents-md or claude-md")
    if path is None:  # through a link only to a file inside: its target's text is kept
        path = store.ws.root / confine(store.ws.root, EXPORT_FILES[format], for_write=True).rel
    try:
        source = path.resolve().relative_to(store.ws.root.resolve()).as_posix()
    except ValueError:  # outside the repository: nothing in it was imported
        source = ""

    def change(text: str | None) -> str:
        # What was imported from this very file is in it already: export it once, not twice.
        own = own_parts(text or "", source) if source else []
        return with_region(text or "", render_region(store, exclude=own))

    lock = store.ws.ensure_local() / "locks" / f"export-{path.name}.lock"
    # a new file inside: the line ends git would check it out with (CRLF in a Windows clone)
    ends = "\n" if os.path.lexists(path) or not source else store.ws.new_file_line_ends(path)
    before, after = update_text(path, change, lock, folder=store.ws.swap_dir, new_ends=ends)
    return path, before != after
