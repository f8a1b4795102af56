"""The recall database's schema and health: numbered migrations, and the damage check.

The schema is built by numbered migrations, each applied once, in a transaction, and recorded
in `schema_migrations` (version, name, applied); a database from an older codemem is brought
up to date when opened. Times are stored as ISO 8601 in UTC, to the second (`stamp`).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
from collections.abc import Callable
from contextlib import closing
from datetime import datetime, timezone
from functools import cache
from pathlib import Path

from codemem.infra import FileLock, as_utc, odd_sqlite_files
from codemem.memory.errors import MemoryEditError

log = logging.getLogger("codemem")

MIGRATIONS: list[tuple[int, str, str]] = [
    (
        1,
        "sessions and messages",
        """
        CREATE TABLE sessions (
            id TEXT PRIMARY KEY,
            started TEXT NOT NULL,
            model TEXT,
            title TEXT
        );
        CREATE TABLE messages (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
            seq INTEGER NOT NULL,
            role TEXT NOT NULL,
            content TEXT NOT NULL DEFAULT '',
            tool_calls TEXT,
            tool_results TEXT,
            tokens INTEGER,
            created TEXT NOT NULL
        );
        CREATE UNIQUE INDEX messages_session_seq ON messages(session_id, seq);
    """,
    ),
    (
        2,
        "full-text index over message content",
        """
        CREATE VIRTUAL TABLE messages_fts USING fts5(
            content, content='messages', content_rowid='id'
        );
        CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
            INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content);
        END;
        CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
            INSERT INTO messages_fts(messages_fts, rowid, content)
            VALUES ('delete', old.id, old.content);
        END;
        CREATE TRIGGER messages_fts_update AFTER UPDATE OF content ON messages BEGIN
            INSERT INTO messages_fts(messages_fts, rowid, content)
            VALUES ('delete', old.id, old.content);
            INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content);
        END;
        INSERT INTO messages_fts(messages_fts) VALUES ('rebuild');
    """,
    ),
    (
        3,
        "index for date filters",
        """
        CREATE INDEX messages_created ON messages(created);
        CREATE INDEX sessions_started ON sessions(started);
    """,
    ),
]
SCHEMA_VERSION = MIGRATIONS[-1][0]


def stamp(moment: datetime) -> str:
    """How a time is stored: ISO 8601 in UTC, to the second."""
    return as_utc(moment).astimezone(timezone.utc).isoformat(timespec="seconds")


def apply_migrations(
    conn: sqlite3.Connection, now: datetime, upto: int = SCHEMA_VERSION
) -> list[int]:
    """Apply the migrations not yet recorded (up to `upto`); returns the versions applied."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations "
        "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied TEXT NOT NULL)"
    )
    done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
    if done and max(done) > SCHEMA_VERSION:
        raise MemoryEditError(
            f"recall.sqlite has schema version {max(done)}, newer than this codemem knows "
            f"({SCHEMA_VERSION}): upgrade codemem"
        )
    applied = []
    for version, name, sql in MIGRATIONS:
        if version in done or version > upto:
            continue
        record = (
            "INSERT INTO schema_migrations (version, name, applied) VALUES "
            f"({version}, '{name}', '{stamp(now)}');"
        )
        try:
            conn.executescript(f"BEGIN IMMEDIATE;\n{sql}\n{record}\nCOMMIT;")
        except sqlite3.Error:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        applied.append(version)
    return applied


def is_damage(exc: sqlite3.DatabaseError) -> bool:
    """Whether the error says the file itself is damaged (corrupt, not a database), as
    opposed to locked, read-only or out of space (`OperationalError` and others)."""
    return type(exc) is sqlite3.DatabaseError


def check_database(conn: sqlite3.Connection) -> None:
    """Raise `sqlite3.DatabaseError` when SQLite's quick check finds the file damaged, or when
    it holds a trigger or view the migrations did not create (a database copied in from
    elsewhere: SQL that would run on this user's next message). Before any write."""
    result = conn.execute("PRAGMA quick_check(1)").fetchone()[0]
    if result != "ok":
        # SQLite's report is several lines (`*** in database main ***\nPage 7: ...`): one here
        raise sqlite3.DatabaseError(f"quick check: {' '.join(str(result).split())}")
    for kind, name, sql in conn.execute(_SQL_OBJECTS).fetchall():
        if (kind, name, " ".join((sql or "").split())) not in _created():
            raise sqlite3.DatabaseError(f"it holds a {kind} codemem did not create ({name})")


_SQL_OBJECTS = "SELECT type, name, sql FROM sqlite_master WHERE type IN ('trigger', 'view')"


@cache
def _created() -> frozenset[tuple[str, str, str]]:
    """The triggers and views the migrations create, their SQL with spaces collapsed."""
    with closing(sqlite3.connect(":memory:")) as conn:
        apply_migrations(conn, datetime.now(timezone.utc))
        rows = conn.execute(_SQL_OBJECTS).fetchall()
    return frozenset((kind, name, " ".join(sql.split())) for kind, name, sql in rows)


NOT_A_FILE = "not a regular file"


def not_a_file(path: Path) -> bool:
    """Whether `path` is there as a folder, a FIFO, a socket or a device (a link is refused
    elsewhere, `create_private`): SQLite cannot open it, or would wait on it."""
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISLNK(mode))


def set_aside_sidecars(path: Path, lock: Path, clock: Callable[[], datetime]) -> None:
    """Move each of `infra.odd_sqlite_files` aside as `<name>.damaged-<time>`, saying so: nothing SQLite
    wrote is in one, and the database keeps its conversations."""
    for sidecar in odd_sqlite_files(path):
        with FileLock(lock):
            if sidecar not in odd_sqlite_files(path):
                continue  # another process set it aside meanwhile
            aside = sidecar.with_name(f"{sidecar.name}.damaged-{as_utc(clock()):%Y%m%d-%H%M%S}")
            sidecar.replace(aside)
        log.warning(
            "%s is not a regular file: moved it to %s (SQLite cannot open it)", sidecar, aside.name
        )


def recall_damage(path: Path) -> str | None:
    """What is wrong with the recall database at `path` (read only), or None (also if missing)."""
    if not path.exists():
        return None
    if not_a_file(path):
        return NOT_A_FILE
    try:
        conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=5)
    except sqlite3.DatabaseError as exc:
        return str(exc) if is_damage(exc) else None
    try:
        check_database(conn)
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as exc:
        return str(exc) if is_damage(exc) else None
    finally:
        conn.close()
    return None
