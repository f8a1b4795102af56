"""Archival notes as values and files: `Note`, its id, its tags, and a note read from its file
(`parse_note`). The store that lists, searches and edits them is `archive.Archive`."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from codemem.infra import as_utc
from codemem.memory import frontmatter
from codemem.memory.ranking import normalize


@dataclass
class Note:
    """One archival note."""

    id: str
    content: str
    created: datetime
    tags: list[str] = field(default_factory=list)
    source: str | None = None
    path: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_text(self) -> str:
        meta: dict[str, Any] = {"id": self.id, "created": self.created, "tags": self.tags}
        if self.source:
            meta["source"] = self.source
        return frontmatter.dump(meta | self.extra) + frontmatter.value_to_body(self.content)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "created": self.created.isoformat(),
            "tags": self.tags,
            "source": self.source,
            "content": self.content,
            "path": str(self.path) if self.path else None,
        }


@dataclass
class NoteHit:
    """A note found by search (BM25 score) or by similarity (Jaccard)."""

    note: Note
    score: float

    def to_json(self) -> dict[str, Any]:
        return {"score": self.score} | self.note.to_json()


@dataclass
class InsertResult:
    """The saved note and the existing notes that say nearly the same thing."""

    note: Note
    near_duplicates: list[NoteHit] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.note.id


def normalize_tags(tags: Iterable[str] | str | None) -> list[str]:
    """Lower-case tags without `#`, spaces as `-`, duplicates dropped, order kept."""
    if tags is None:
        return []
    if isinstance(tags, str):
        tags = tags.split(",")
    out: list[str] = []
    for tag in tags:
        clean = "-".join(str(tag).strip().lstrip("#").lower().split())
        if clean and clean not in out:
            out.append(clean)
    return out


def note_id(created: datetime, content: str) -> str:
    """`YYYYMMDD-HHMMSS-<8 hex of the content>`: sortable, and stable for one text."""
    digest = hashlib.sha1(normalize(content).encode("utf-8")).hexdigest()[:8]
    return f"{as_utc(created):%Y%m%d-%H%M%S}-{digest}"


def parse_note(text: str, path: Path, source: str, mtime: float | None = None) -> Note:
    """A note from its file; `BlockFormatError` naming the file and line if it is broken.

    A note without `created:` is dated by the file's modification time (`mtime`, else read).
    """
    doc = frontmatter.split(text, source)
    meta = dict(doc.meta)
    created = meta.pop("created", None)
    if isinstance(created, str):
        try:
            created = datetime.fromisoformat(created)
        except ValueError:
            raise doc.error(
                "created", f"created must be an ISO timestamp, not {created!r}"
            ) from None
    elif isinstance(created, date) and not isinstance(created, datetime):
        created = datetime(created.year, created.month, created.day)
    elif created is None:  # a hand-written note: the file's time stands in
        when = path.stat().st_mtime if mtime is None else mtime
        created = datetime.fromtimestamp(when).astimezone().replace(microsecond=0)
    if not isinstance(created, datetime):
        raise doc.error("created", f"created must be an ISO timestamp, not {created!r}")
    tags = doc.as_text("tags") if meta.pop("tags", None) is not None else None
    if tags is not None and not isinstance(tags, (list, str)):
        raise doc.error("tags", "tags must be a list like [build, ci]")
    note_source = doc.as_text("source") if meta.pop("source", None) is not None else None
    return Note(
        id=str(meta.pop("id", None) or path.stem),
        content=frontmatter.body_to_value(doc.body),
        created=as_utc(created),
        tags=normalize_tags(tags),
        source=None if note_source is None else str(note_source),
        path=path,
        extra=meta,
    )
