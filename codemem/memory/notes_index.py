"""The LanceDB mirror of the archival notes: the `notes` table under `.codemem/local/index/`.

Rows: id, created (ISO text), tags, source, content, path (repository-relative), hash (of
everything mirrored) and, when an embedder is given, `vector`. The sync compares ids and
hashes, so a run with nothing new reads one small column pair and writes nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from codemem.memory.archive import NOTES_TABLE, Embed, Note, SyncStats

if TYPE_CHECKING:
    import pyarrow as pa


def _schema(dimensions: int | None) -> pa.Schema:
    import pyarrow as pa

    fields = [
        pa.field("id", pa.string()),
        pa.field("created", pa.string()),
        pa.field("tags", pa.list_(pa.string())),
        pa.field("source", pa.string()),
        pa.field("content", pa.string()),
        pa.field("path", pa.string()),
        pa.field("hash", pa.string()),
    ]
    if dimensions is not None:
        fields.append(pa.field("vector", pa.list_(pa.float32(), dimensions)))
    return pa.schema(fields)


def _open(db: Any) -> Any | None:
    try:
        return db.open_table(NOTES_TABLE)
    except (ValueError, FileNotFoundError):
        return None


def _dimensions(table: Any) -> int | None:
    if "vector" not in table.schema.names:
        return None
    return table.schema.field("vector").type.list_size


def _rows(notes: list[Note], root: Path, embed: Embed | None) -> tuple[list[dict[str, Any]], int | None]:
    vectors = [list(map(float, vector)) for vector in embed([n.content for n in notes])] if embed and notes else []
    rows = []
    for index, note in enumerate(notes):
        path = note.path.relative_to(root).as_posix() if note.path else ""
        row = {
            "id": note.id,
            "created": note.created.isoformat(),
            "tags": note.tags,
            "source": note.source,
            "content": note.content,
            "path": path,
            "hash": note.digest,
        }
        if vectors:
            row["vector"] = vectors[index]
        rows.append(row)
    return rows, (len(vectors[0]) if vectors else None)


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def sync_notes(db: Any, notes: list[Note], root: Path, embed: Embed | None = None) -> SyncStats:
    """Make the `notes` table hold exactly `notes`; returns what changed."""
    import pyarrow as pa
    from lancedb.index import FTS

    table = _open(db)
    if table is not None and (_dimensions(table) is None) != (embed is None):
        db.drop_table(NOTES_TABLE)
        table = None
    existing: dict[str, str] = {}
    if table is not None:
        for row in table.search().select(["id", "hash"]).limit(None).to_arrow().to_pylist():
            existing[row["id"]] = row["hash"]
    current = {note.id: note for note in notes}
    new = [note for note in notes if note.id not in existing]
    changed = [note for note in notes if note.id in existing and existing[note.id] != note.digest]
    gone = [id for id in existing if id not in current]
    stats = SyncStats(len(new), len(changed), len(gone), len(notes) - len(new) - len(changed))
    if table is not None and not (new or changed or gone):
        return stats
    rows, dimensions = _rows(new + changed, root, embed)
    if table is not None and dimensions is not None and dimensions != _dimensions(table):
        db.drop_table(NOTES_TABLE)  # a different embedding model: re-embed everything
        table = None
        rows, dimensions = _rows(notes, root, embed)
        stats = SyncStats(added=len(notes))
    schema = _schema(dimensions if embed else None)
    if table is None:
        if not rows and embed is not None:
            return stats  # no vectors yet to size the column; create it with the first note
        table = db.create_table(NOTES_TABLE, data=pa.Table.from_pylist(rows, schema=schema), schema=schema)
    else:
        stale = [note.id for note in changed] + gone
        if stale:
            table.delete(f"id IN ({', '.join(_quote(id) for id in stale)})")
        if rows:
            table.add(pa.Table.from_pylist(rows, schema=schema))
    if table.count_rows():
        table.create_index("content", config=FTS(), replace=True)
    return stats
