"""Recall's rows read back as records, whatever a row holds.

SQLite keeps any value in any column: a hand edit, another tool or an older codemem can leave
a time that is no time (`'garbage'`), bytes where text belongs, tool calls that are no JSON.
Recall is each clone's derived history, so such a value never fails a command: it is read as
a placeholder (None, or 0 for a message's number), a row that cannot be named (no session id)
is skipped, and `RowReader.report` says so in one line, once per open database.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from codemem.infra import as_utc

log = logging.getLogger("codemem")


@dataclass
class Session:
    """One conversation; `started` is None when its row holds no readable time."""

    id: str
    started: datetime | None
    model: str | None = None
    title: str | None = None
    message_count: int = 0
    last_message: datetime | None = None


@dataclass
class Message:
    """One message of a conversation; tool calls and results are any JSON-able value.

    `created` is None when its row holds no readable time, and `seq` 0 when it holds no number.
    """

    id: int
    session_id: str
    seq: int
    role: str
    content: str
    created: datetime | None
    tool_calls: Any = None
    tool_results: Any = None
    tokens: int | None = None


def text_or_bytes(data: bytes) -> str | bytes:
    """SQLite's text as a `str`, or as its bytes when they are not UTF-8 (a hand edit): the
    connection's `text_factory`, so such a value reaches `RowReader` instead of failing the
    query, and is counted there."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data


class RowReader:
    """Reads rows into records with placeholders for odd values, counting what it replaced."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.odd: dict[str, str] = {}  # column -> an example of what it held
        self.skipped = 0  # sessions left out: no id to name them by
        self.said = False

    def _odd(self, column: str, value: object) -> None:
        self.odd.setdefault(column, repr(value)[:40])

    def time(self, value: object, column: str) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            try:  # `0001-01-01T00:00:00+01:00` reads, but is before the first UTC time
                return as_utc(datetime.fromisoformat(value)).astimezone(timezone.utc)
            except (ValueError, OverflowError):
                pass
        self._odd(column, value)
        return None

    def text(self, value: object, column: str, default: str | None = None) -> str | None:
        if value is None or isinstance(value, str):
            return value if value is not None else default
        self._odd(column, value)
        if isinstance(value, bytes):  # shown as what it says, so nothing is hidden
            return value.decode("utf-8", "replace")
        return str(value)

    def number(self, value: object, column: str) -> int | None:
        if value is None or (isinstance(value, int) and not isinstance(value, bool)):
            return value
        self._odd(column, value)
        return None

    def json(self, value: object, column: str) -> Any:
        if value is None:
            return None
        try:
            return json.loads(value) if isinstance(value, str | bytes) else self._bad(column, value)
        except (ValueError, RecursionError):  # bytes that are no UTF-8: a ValueError too
            return self._bad(column, value)

    def _bad(self, column: str, value: object) -> None:
        self._odd(column, value)
        return None

    def session(self, row: sqlite3.Row) -> Session | None:
        """The session of a `sessions` row joined with its count (`n`) and last time (`last`);
        None for a row with no usable id."""
        session_id = row["id"]
        if not isinstance(session_id, str) or not session_id:
            self._odd("sessions.id", session_id)
            self.skipped += 1
            return None
        return Session(
            session_id,
            self.time(row["started"], "sessions.started"),
            self.text(row["model"], "sessions.model"),
            self.text(row["title"], "sessions.title"),
            row["n"],
            self.time(row["last"], "messages.created"),
        )

    def message(self, row: sqlite3.Row) -> Message:
        """The message of a `messages` row."""
        return Message(
            id=row["id"],
            session_id=self.text(row["session_id"], "messages.session_id", "") or "",
            seq=self.number(row["seq"], "messages.seq") or 0,
            role=self.text(row["role"], "messages.role", "") or "",
            content=self.text(row["content"], "messages.content", "") or "",
            created=self.time(row["created"], "messages.created"),
            tool_calls=self.json(row["tool_calls"], "messages.tool_calls"),
            tool_results=self.json(row["tool_results"], "messages.tool_results"),
            tokens=self.number(row["tokens"], "messages.tokens"),
        )

    def report(self) -> None:
        """One warning line naming the columns read as placeholders, once per reader."""
        if not self.odd or self.said:
            return
        self.said = True
        columns = ", ".join(f"{column} {example}" for column, example in self.odd.items())
        skipped = (
            f", {self.skipped} session(s) with no readable id left out" if self.skipped else ""
        )
        log.warning(
            "%s holds values codemem cannot read (%s): shown as placeholders%s; the file is "
            "left as it is",
            self.path,
            columns,
            skipped,
        )
