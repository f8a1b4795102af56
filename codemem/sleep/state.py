"""Bookkeeping of the sleep-time pass.

Shared, committed (`.codemem/state.json`, under the `sleep` key; other keys are kept as they
are): the last digested commit, the last digest file, and the archival notes that hold the
overflow of the auto-maintained regions. Personal, not committed
(`.codemem/local/sleep.json`): how far this machine's recall sessions have been read, since
recall memory itself is local.

Both files are rewritten atomically under a lock with a compare-and-swap on what was read
(`codemem.infra.update_text`), with sorted keys so the committed file diffs cleanly.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from codemem.errors import CodememError
from codemem.infra import read_text, update_text
from codemem.workspace import Workspace

log = logging.getLogger("codemem")

STATE_KEY = "sleep"
LOCAL_STATE = "sleep.json"


@dataclass
class SleepState:
    """What the sleep-time pass remembers between runs (committed)."""

    last_commit: str | None = None
    last_digest: str | None = None  # path of the newest digest, relative to .codemem/
    overflow_notes: dict[str, str] = field(default_factory=dict)  # region -> archival note id

    @classmethod
    def from_json(cls, data: Any) -> SleepState:
        if not isinstance(data, dict):
            return cls()
        notes = data.get("overflow_notes")
        return cls(  # a value of the wrong type is dropped (`state_damage` says which)
            last_commit=_text(data.get("last_commit")),
            last_digest=_text(data.get("last_digest")),
            overflow_notes={str(k): str(v) for k, v in notes.items()} if isinstance(notes, dict) else {},
        )

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        return {key: value for key, value in out.items() if value not in (None, {}, [])}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


@dataclass
class LocalState:
    """What this machine's pass remembers (not committed)."""

    sessions_until: str | None = None  # ISO time of the newest recall message already read

    @classmethod
    def from_json(cls, data: Any) -> LocalState:
        if not isinstance(data, dict):
            return cls()
        return cls(sessions_until=data.get("sessions_until") or None)

    def to_json(self) -> dict[str, Any]:
        return {key: value for key, value in asdict(self).items() if value is not None}


def _load(path: Path) -> dict[str, Any]:
    try:
        text = read_text(path)
    except (OSError, UnicodeDecodeError) as exc:
        raise CodememError(f"{path}: cannot read: {exc}") from None
    if not text or not text.strip():
        return {}
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise CodememError(
            f"{path}: not valid JSON ({exc}); fix it or replace it with {{}}"
        ) from None
    return data if isinstance(data, dict) else {}


def _dump(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _lock(ws: Workspace, name: str) -> Path:
    return ws.local_dir / "locks" / f"{name}.lock"


def read_state(ws: Workspace) -> SleepState:
    """The committed sleep state (empty when state.json is missing or has none).

    A value of the wrong type is damaged bookkeeping: said once on the log and dropped, so
    the pass derives it again (from the newest commits, as on a first run).
    """
    data = _load(ws.state_file).get(STATE_KEY)
    damage = state_damage(data)
    if damage:
        log.warning(
            "%s: %s; ignoring it (the next digest starts afresh and rewrites it)",
            ws.relative(ws.state_file), damage,
        )
    return SleepState.from_json(data)


def state_file_damage(ws: Workspace) -> str | None:
    """One line naming a damaged state.json and what happens about it, or None."""
    try:
        data = _load(ws.state_file).get(STATE_KEY)
    except CodememError as exc:
        return str(exc)
    damage = state_damage(data)
    if damage is None:
        return None
    return f"{ws.relative(ws.state_file)}: {damage}: the next digest ignores it and rewrites it"


_TYPES: dict[str, type] = {"last_commit": str, "last_digest": str, "overflow_notes": dict}


def _bad_keys(data: Any) -> list[str]:
    """The keys of the `sleep` section whose values have the wrong type."""
    if not isinstance(data, dict):
        return []
    return [
        key for key, kind in _TYPES.items()
        if data.get(key) is not None and not isinstance(data[key], kind)
    ]


def state_damage(data: Any) -> str | None:
    """What is wrong with the `sleep` section of state.json, or None."""
    if data is None:
        return None
    if not isinstance(data, dict):
        return f"'{STATE_KEY}' is a {type(data).__name__}, not an object"
    bad = _bad_keys(data)
    if not bad:
        return None
    return ", ".join(f"'{STATE_KEY}.{key}' has the wrong type ({type(data[key]).__name__})" for key in bad)


def write_state(ws: Workspace, change: Callable[[SleepState], SleepState]) -> bool:
    """Apply `change` to the current state and save it; False when nothing changed."""

    def edit(text: str | None) -> str:
        try:
            data = json.loads(text) if text and text.strip() else {}
        except ValueError as exc:
            raise CodememError(
                f"{ws.state_file}: not valid JSON ({exc}); fix it or replace it with {{}}"
            ) from None
        if not isinstance(data, dict):
            data = {}
        new = change(SleepState.from_json(data.get(STATE_KEY))).to_json()
        if new == data.get(STATE_KEY, {}) and text is not None:
            return text
        data[STATE_KEY] = new
        return _dump(data)

    before, after = update_text(ws.state_file, edit, _lock(ws, "state.json"))
    return before != after


def read_local_state(ws: Workspace) -> LocalState:
    """This machine's sleep state."""
    return LocalState.from_json(_load(ws.local_dir / LOCAL_STATE))


def write_local_state(ws: Workspace, state: LocalState) -> bool:
    """Save this machine's sleep state; False when nothing changed."""
    path = ws.local_dir / LOCAL_STATE
    text = _dump(state.to_json())
    before, after = update_text(path, lambda _old: text, _lock(ws, LOCAL_STATE))
    return before != after
