"""Recall memory: every conversation, searchable, in `.codemem/local/recall.sqlite`.

SQLite in WAL mode (readers never wait for the writer) with an FTS5 index over message text;
the schema, its migrations and the damage check are in `recall_schema.py`. A damaged
database is moved aside and a new one started.

Conversations are each clone's own. When git tracks the database (`git add -f` commits
`.codemem/local/` anyway), the file is another clone's history, or this one's about to be
published: it is moved aside unopened (none of its SQL runs, none of it is read as this
user's), and until it is untracked this process keeps conversations in memory only, so no
`git commit -a` carries them off. One line says so and names the fix.
"""

from __future__ import annotations

import functools
import json
import logging
import secrets
import sqlite3
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from codemem.errors import UsageError
from codemem.infra import (
    FileLock,
    as_utc,
    create_private,
    make_folder,
    owner_only,
    parse_when,
    utc_now,
)
from codemem.memory.errors import NotFoundError
from codemem.memory.ranking import tokenize
from codemem.memory.recall_rows import Message, RowReader, Session, text_or_bytes
from codemem.memory.recall_schema import (
    NOT_A_FILE,
    apply_migrations,
    check_database,
    is_damage,
    not_a_file,
    recall_damage,
    set_aside_sidecars,
    stamp,
)
from codemem.workspace import LOCAL_DIR, UNTRACK_LOCAL, Workspace

log = logging.getLogger("codemem")

# A time as codemem stores it (`stamp`: UTC, to the second). Only such text orders as the
# moments it names; any other ('garbage' sorts after every date) has no place in a date filter
# and comes after every readable time. A GLOB, not a date function: the index on `created`
# still serves "newest first" and the filters.
_STAMP_GLOB = "'[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9]+00:00'"


def _stamped(table: str) -> str:
    """The SQL test that `table`'s `created` is a time as codemem stores it."""
    return f"{table}.created GLOB {_STAMP_GLOB}"


_LAST = (  # a session's newest message time that can be read: what `last` means
    "(SELECT l.created FROM messages l WHERE l.session_id = s.id AND "
    f"{_stamped('l')} ORDER BY l.created DESC LIMIT 1) AS last"
)


@dataclass
class MessageHit:
    """A message found by `search`, with its session's title and a snippet around the match."""

    message: Message
    score: float
    snippet: str
    session_title: str | None = None

    def to_json(self) -> dict[str, Any]:
        from codemem.memory.transcripts import message_dict

        return {
            "session": self.message.session_id,
            "session_title": self.session_title,
            "score": self.score,
            "snippet": self.snippet,
        } | message_dict(self.message)


@dataclass
class Transcript:
    session: Session
    messages: list[Message]


def _names(path: Path) -> tuple[str, str, str]:
    """The database's file names: itself, its WAL and its shared-memory file."""
    return path.name, f"{path.name}-wal", f"{path.name}-shm"


P = ParamSpec("P")
T = TypeVar("T")


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False)


def _one_thread_at_a_time(
    method: Callable[Concatenate[Recall, P], T],
) -> Callable[Concatenate[Recall, P], T]:
    """`method` holds the recall's connection while it runs (see `Recall._busy`)."""

    def held(self: Recall, /, *args: P.args, **kwargs: P.kwargs) -> T:
        with self._busy:
            return method(self, *args, **kwargs)

    functools.update_wrapper(held, method)
    return held


class Recall:
    """The conversation history of one workspace."""

    def __init__(self, where: Workspace | Path, clock: Callable[[], datetime] = utc_now) -> None:
        self.path = where.recall_db if isinstance(where, Workspace) else Path(where)
        self.clock = clock
        if isinstance(where, Workspace):
            where.ensure_local()
        make_folder(self.path.parent)
        # One connection, shared by threads: one of them uses it at a time, each statement
        # with its rows fetched (from Python 3.13 a COMMIT in one thread ends another's
        # unfinished SELECT, which then reads as no rows) and each transaction whole.
        self._busy = threading.RLock()
        self._lock = self.path.parent / "locks" / "recall.migrate.lock"
        self._rows = RowReader(self.path)
        if isinstance(where, Workspace) and where.tracked_local(*_names(self.path)):
            self.conn = self._in_memory()
            return
        try:
            self.conn = self._open()
        except sqlite3.DatabaseError as exc:
            if not is_damage(exc):
                raise
            self._set_aside(exc)
            self.conn = self._open()

    def _open(self) -> sqlite3.Connection:
        create_private(self.path)  # every conversation: SQLite gives the WAL and SHM its mode
        set_aside_sidecars(self.path, self._lock, self.clock)
        if not_a_file(self.path):  # a folder or a FIFO in its place: damage, set aside
            raise sqlite3.DatabaseError(NOT_A_FILE)
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        try:
            conn.row_factory = sqlite3.Row
            conn.text_factory = text_or_bytes
            conn.execute("PRAGMA journal_mode=WAL")
            for suffix in ("-wal", "-shm"):  # left open by an older codemem
                owner_only(self.path.with_name(self.path.name + suffix))
            conn.execute("PRAGMA foreign_keys=ON")
            with FileLock(self._lock):
                check_database(conn)
                apply_migrations(conn, self.clock())
        except BaseException:
            conn.close()
            raise
        return conn

    def _in_memory(self) -> sqlite3.Connection:
        """Conversations for this process only, while git tracks the database: the tracked
        files are moved aside unopened, and one line says why and names the fix."""
        with FileLock(self._lock):
            aside = self._move_aside("committed")
        moved = f", moved aside to {aside.name} unread" if aside else ""
        log.warning(
            "%s is tracked by git (another clone's conversations%s); this session's are kept "
            "in memory only until it is untracked: `%s`",
            f"{LOCAL_DIR}/{self.path.name}",
            moved,
            UNTRACK_LOCAL,
        )
        conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA foreign_keys=ON")
        apply_migrations(conn, self.clock())
        return conn

    def _set_aside(self, exc: sqlite3.DatabaseError) -> None:
        """Move a damaged database aside (with its WAL) so a new one starts; says so once.

        Recall is this machine's own derived history: losing the index of past conversations
        is better than every command failing. The file is kept for anyone who wants to
        salvage it.
        """
        with FileLock(self._lock):
            if recall_damage(self.path) is None:
                return  # another process already set it aside
            aside = self._move_aside("damaged")
        if aside is not None:
            log.warning(
                "%s was damaged (%s); moved it to %s and started a new one",
                self.path,
                exc,
                aside.name,
            )

    def _move_aside(self, why: str) -> Path | None:
        """Rename the database and its WAL and SHM files to `<name>.<why>-<time>`; None when
        there was nothing to move. Hold the migration lock."""
        aside = self.path.with_name(f"{self.path.name}.{why}-{as_utc(self.clock()):%Y%m%d-%H%M%S}")
        moved = False
        for name in _names(self.path):
            source = self.path.with_name(name)
            if source.exists():
                source.replace(f"{aside}{name[len(self.path.name) :]}")
                moved = True
        return aside if moved else None

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Recall:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @_one_thread_at_a_time
    def start_session(self, model: str | None = None, title: str | None = None) -> str:
        """Record a new conversation; returns its id (`YYYYMMDD-HHMMSS-xxxx`, sortable)."""
        started = as_utc(self.clock())
        session_id = f"{started.astimezone(timezone.utc):%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"
        self.conn.execute(
            "INSERT INTO sessions (id, started, model, title) VALUES (?, ?, ?, ?)",
            (session_id, stamp(started), model, title),
        )
        return session_id

    @_one_thread_at_a_time
    def add_message(
        self,
        session_id: str,
        role: str,
        content: str,
        tool_calls: Any = None,
        tool_results: Any = None,
        tokens: int | None = None,
    ) -> int:
        """Append a message to a session; returns the message's id."""
        if not role:
            raise UsageError("a message needs a role (user, assistant, tool, system)")
        session_id = self._resolve(session_id)
        return self._insert_message(session_id, role, content, tool_calls, tool_results, tokens)

    def _insert_message(
        self,
        session_id: str,
        role: str,
        content: str,
        tool_calls: Any,
        tool_results: Any,
        tokens: int | None,
    ) -> int:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            (seq,) = self.conn.execute(
                "SELECT coalesce(max(seq), 0) + 1 FROM messages WHERE session_id = ?", (session_id,)
            ).fetchone()
            cursor = self.conn.execute(
                "INSERT INTO messages (session_id, seq, role, content, tool_calls, tool_results, "
                "tokens, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    session_id,
                    seq,
                    role,
                    content or "",
                    _json(tool_calls),
                    _json(tool_results),
                    tokens,
                    stamp(self.clock()),
                ),
            )
            self.conn.execute("COMMIT")
        except BaseException:
            if self.conn.in_transaction:  # not after COMMIT: a Ctrl-C then stays a Ctrl-C
                self.conn.execute("ROLLBACK")
            raise
        return int(cursor.lastrowid or 0)

    @_one_thread_at_a_time
    def search(
        self,
        query: str,
        roles: Iterable[str] | None = None,
        since: datetime | date | str | None = None,
        until: datetime | date | str | None = None,
        k: int = 10,
    ) -> list[MessageHit]:
        """Messages matching any word of `query`, best first (BM25); no words: newest first."""
        where, params = [], []
        roles = list(roles or [])
        if roles:
            where.append(f"m.role IN ({', '.join('?' * len(roles))})")
            params += roles
        start, end = parse_when(since), parse_when(until, end=True)
        if start or end:
            where.append(_stamped("m"))
        if start:
            where.append("m.created >= ?")
            params.append(stamp(start))
        if end:
            where.append("m.created <= ?")
            params.append(stamp(end))
        words = tokenize(query)
        if words:
            match = " OR ".join(f'"{word}"' for word in dict.fromkeys(words))
            sql = (
                "SELECT m.*, s.title AS session_title, bm25(messages_fts) AS rank, "
                "snippet(messages_fts, 0, '[', ']', '...', 16) AS snip "
                "FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid "
                "JOIN sessions s ON s.id = m.session_id WHERE messages_fts MATCH ?"
            )
            params.insert(0, match)
            order = "rank, m.id DESC"
        else:
            sql = (
                "SELECT m.*, s.title AS session_title, 0.0 AS rank, substr(m.content, 1, 200) AS snip "
                "FROM messages m JOIN sessions s ON s.id = m.session_id WHERE 1"
            )
            order = "m.created DESC, m.id DESC"
        if words or start or end:
            sql += "".join(f" AND {clause}" for clause in where) + f" ORDER BY {order} LIMIT ?"
            rows = self.conn.execute(sql, [*params, k]).fetchall()
        else:  # newest first, then the times that cannot be read (each pass by the index)
            stamped = _stamped("m")
            rows = []
            for clause, by in [(stamped, order), (f"NOT {stamped}", "m.id DESC")]:
                clauses = "".join(f" AND {c}" for c in [*where, clause])
                rows += self.conn.execute(
                    f"{sql}{clauses} ORDER BY {by} LIMIT ?", [*params, k - len(rows)]
                ).fetchall()
                if len(rows) >= k:
                    break
        read = self._rows
        hits = [
            MessageHit(
                read.message(row),
                -row["rank"],
                read.text(row["snip"], "messages.content", "") or "",
                read.text(row["session_title"], "sessions.title"),
            )
            for row in rows
        ]
        read.report()
        return hits

    @_one_thread_at_a_time
    def list_sessions(self) -> list[Session]:
        """Every session, newest first (one with no readable start last), with its message
        count and last message time."""
        rows = self.conn.execute(
            f"SELECT s.*, count(m.id) AS n, {_LAST} FROM sessions s "
            "LEFT JOIN messages m ON m.session_id = s.id GROUP BY s.id "
            "ORDER BY s.started DESC, s.rowid DESC"  # in one second: the later one first
        ).fetchall()
        sessions = [session for row in rows if (session := self._rows.session(row)) is not None]
        sessions.sort(key=lambda session: session.started is None)  # no time: last, not newest
        self._rows.report()
        return sessions

    def _resolve(self, session_id: str) -> str:
        """The full id for an id or a unique prefix of one."""
        pattern = session_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        ids: list[str] = [
            row[0]
            for row in self.conn.execute(
                "SELECT id FROM sessions WHERE typeof(id) = 'text' AND id LIKE ? ESCAPE '\\' "
                "ORDER BY id LIMIT 6",
                (pattern,),
            )
        ]
        if session_id in ids:
            return session_id
        if len(ids) == 1:
            return ids[0]
        if not ids:
            raise NotFoundError(f"no session '{session_id}': `codemem sessions list` shows the ids")
        raise NotFoundError(
            f"'{session_id}' matches several sessions ({', '.join(ids[:5])}): give more of the id"
        )

    @_one_thread_at_a_time
    def get_session(self, session_id: str) -> Transcript:
        """A session and all its messages in order (an id or a unique prefix)."""
        session_id = self._resolve(session_id)
        row = self.conn.execute(
            f"SELECT s.*, count(m.id) AS n, {_LAST} FROM sessions s "
            "LEFT JOIN messages m ON m.session_id = s.id WHERE s.id = ? GROUP BY s.id",
            (session_id,),
        ).fetchone()
        messages = self.conn.execute(
            "SELECT * FROM messages WHERE session_id = ? ORDER BY seq", (session_id,)
        ).fetchall()
        session = self._rows.session(row)
        if session is None:  # `_resolve` found it by its id: a text id, always read
            raise NotFoundError(f"no session '{session_id}'")
        transcript = Transcript(session, [self._rows.message(m) for m in messages])
        self._rows.report()
        return transcript

    def export_session(self, session_id: str, format: str = "markdown") -> str:
        """The session as Markdown (`markdown`/`md`) or JSON (`json`)."""
        from codemem.memory.transcripts import transcript_json, transcript_markdown

        transcript = self.get_session(session_id)
        if format in ("markdown", "md"):
            return transcript_markdown(transcript)
        if format == "json":
            return transcript_json(transcript)
        raise UsageError(f"unknown export format '{format}': use markdown or json")
