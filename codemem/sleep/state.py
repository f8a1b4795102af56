"""Bookkeeping of the sleep-time pass, with nothing per-clone in the committed tree.

Shared facts are derived from what is committed anyway: every digest's frontmatter names the
head of the range it digested (`codemem.sleep.digest_file`), so the digested history is the
set of those heads, whichever clone wrote them (a digest describing commits an earlier one
describes may be removed by the pass, and its range digested again: `sleep/overlaps.py`); the
archival notes holding the overflow of a learned region are found by their source. Two clones that digest and then merge need no
shared state file to agree on what is left to digest.

Per clone, not committed (`.codemem/local/sleep.json`): the HEAD this clone's last pass
reached (so commits it read and left out, such as a commit of `.codemem/` itself, are not read
again) and how far this machine's recall sessions have been read.

`.codemem/state.json`, which older versions committed, is read (its last digested commit
counts as digested) but never written: once a digest exists it is not needed, and removing
it from git (`git rm .codemem/state.json`) is left to the user. A state.json that does not
parse (a merge conflict) is ignored.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Callable, Collection
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codemem.errors import CodememError
from codemem.infra import atomic_write, read_text, update_text
from codemem.memory import memory_file, read_memory_file
from codemem.sleep.overlaps import overlapping
from codemem.workspace import UNTRACK_LOCAL, Workspace

if TYPE_CHECKING:  # the pass's record imports this module
    from codemem.sleep.digest_run import DigestResult

log = logging.getLogger("codemem")
_FOREIGN_SAID: set[Path] = set()

LEGACY_KEY = "sleep"
LOCAL_STATE = "sleep.json"
FRONTMATTER_LINES = 12
LINE_MAX = 4096  # a frontmatter line longer than this is not one the digest wrote
KEYS_MAX = 100_000  # lines of `keys:` read from one digest (one per commit it shows)
_KEY_ITEM = re.compile(r"- [0-9a-f]{16}")


@dataclass
class SleepState:
    """What the sleep-time pass knows of earlier passes."""

    last_commit: str | None = (
        None  # the HEAD the last pass reached (this clone's, else the newest digest's)
    )
    last_digest: str | None = None  # path of the newest digest, relative to .codemem/
    digested: list[str] = field(
        default_factory=list
    )  # commits whose history is digested or passed over
    keys: set[str] = field(default_factory=set)  # of the commits the digests show (`Commit.key`)
    # Digests describing commits an earlier digest describes (`overlaps.overlapping`), counted
    # above unless read `without` them.
    overlapping: list[DigestRecord] = field(default_factory=list)
    # every digest's record, those left out too: what was read, not what is known (`read_state`)
    records: list[DigestRecord] = field(default_factory=list, compare=False, repr=False)


@dataclass(frozen=True)
class DigestRecord:
    """What a digest file's frontmatter says of what it digested."""

    name: str  # the file's name in `digests/`
    base: str | None  # the parent of the oldest commit it shows (None: the root, or unknown)
    head: str | None
    keys: list[str] = field(default_factory=list)  # the `keys:` it lists (`Commit.keys`, ...)


@dataclass
class LocalState:
    """What this clone's pass remembers (not committed)."""

    sessions_until: str | None = None  # ISO time of the newest recall message already read
    last_head: str | None = None  # the HEAD this clone's last pass reached
    # The name of the newest digest this clone's passes wrote: while it is gone from
    # `digests/` (the digest discarded, or its commit reverted), `last_head` does not count.
    digest_file: str | None = None

    @classmethod
    def from_json(cls, data: Any, source: str | None = None) -> LocalState:
        """The state in `data`; a value of the wrong type is ignored (and said, with `source`)."""
        if not isinstance(data, dict):
            return cls()
        return cls(
            sessions_until=_text(data, "sessions_until", source),
            last_head=_text(data, "last_head", source),
            digest_file=_text(data, "digest_file", source),
        )

    def to_json(self) -> dict[str, Any]:
        return {key: value for key, value in asdict(self).items() if value is not None}


def _wrong_type(data: dict[str, Any], key: str) -> bool:
    return data.get(key) not in (None, "") and not isinstance(data[key], str)


def _text(data: dict[str, Any], key: str, source: str | None) -> str | None:
    """`data[key]` when it is a non-empty string; another type is damaged bookkeeping: said
    in one line (when `source` names the file) and dropped, so the pass derives it again."""
    if _wrong_type(data, key):
        if source is None:
            return None
        log.warning(
            "%s: '%s' has the wrong type (%s); ignoring it (the next digest derives it again)",
            source,
            key,
            type(data[key]).__name__,
        )
        return None
    return data.get(key) or None


def state_file_damage(ws: Workspace) -> str | None:
    """One line naming damaged sleep bookkeeping (local sleep.json, an old state.json) and
    what happens about it, or None."""
    for path, key in ((ws.local_dir / LOCAL_STATE, None), (ws.state_file, LEGACY_KEY)):
        try:
            data = _load(ws, path)
        except CodememError as exc:
            return str(exc)
        section = data.get(key) if key else data
        if not isinstance(section, dict):
            continue
        bad = [
            name
            for name in ("sessions_until", "last_head", "last_commit", "digest_file")
            if _wrong_type(section, name)
        ]
        if bad:
            where = ws.relative(path) if path.is_relative_to(ws.root) else str(path)
            return (
                f"{where}: '{bad[0]}' has the wrong type ({type(section[bad[0]]).__name__}): "
                "the next digest ignores it and derives it again"
            )
    return None


def _load(ws: Workspace, path: Path) -> dict[str, Any]:
    try:
        if path.is_relative_to(ws.local_dir):  # this clone's own file
            text = read_text(path)
        else:  # committed: bounded, and a link (to /dev/zero?) is skipped with a warning
            text = read_memory_file(ws, path)
    except (OSError, UnicodeDecodeError) as exc:
        raise CodememError(f"{path}: cannot read: {exc}") from None
    if not text or not text.strip():
        return {}
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise CodememError(f"{path}: not valid JSON ({exc}); fix it or delete it") from None
    return data if isinstance(data, dict) else {}


def _dump(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def digest_record(ws: Workspace, path: Path) -> DigestRecord:
    """The `base:` and `head:` of a digest file's frontmatter and the `keys:` it lists (the
    commits it shows, `Commit.keys`; none in a digest older versions wrote); nothing for a
    link."""
    nothing = DigestRecord(path.name, None, None)
    if memory_file(ws, path) is None:
        return nothing
    fields: dict[str, str] = {}
    keys: list[str] = []
    listing = False
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            if handle.readline(LINE_MAX).strip() != "---":
                return nothing
            for _ in range(FRONTMATTER_LINES + KEYS_MAX):
                line = handle.readline(LINE_MAX)
                if not line or line.strip() == "---":
                    break
                if listing and _KEY_ITEM.fullmatch(line.strip()):
                    keys.append(line.strip()[2:])
                    continue
                key, _, value = line.partition(":")
                listing = key == "keys" and not value.strip()
                if key.strip() in ("base", "head") and value.strip() not in ("", "null"):
                    fields[key.strip()] = value.strip()
    except OSError:
        return nothing
    return DigestRecord(path.name, fields.get("base"), fields.get("head"), keys)


def digest_heads(ws: Workspace) -> list[tuple[str, str]]:
    """(file name, head) of every digest, oldest name first (names start with the date)."""
    return [(r.name, r.head) for r in digest_records(ws) if r.head is not None]


def digest_records(ws: Workspace) -> list[DigestRecord]:
    """What every digest says of what it digested, oldest name first."""
    folder = ws.digests_dir
    files = sorted(folder.glob("*.md")) if folder.is_dir() else []
    return [digest_record(ws, path) for path in files]


def legacy_last_commit(ws: Workspace) -> str | None:
    """The last digested commit of an old `.codemem/state.json` (read, never written)."""
    try:
        data = _load(ws, ws.state_file).get(LEGACY_KEY)
    except CodememError as exc:  # a conflicted old file: the digests say the same
        log.debug("ignored: %s", exc)
        return None
    return (
        _text(data, "last_commit", ws.relative(ws.state_file)) if isinstance(data, dict) else None
    )


def read_state(
    ws: Workspace,
    *,
    without: Collection[str] = (),
    records: list[DigestRecord] | None = None,
) -> SleepState:
    """What earlier passes on any clone (the digests, but those named in `without`) and on
    this one (local) reached; `records`: the digests' as read already (`SleepState.records`),
    not read again."""
    every = digest_records(ws) if records is None else records
    records = [r for r in every if r.name not in without]
    heads = [(r.name, r.head) for r in records if r.head is not None]
    local = reached_head(ws, read_local_state(ws), {r.name for r in records})
    legacy = legacy_last_commit(ws)
    newest = heads[-1] if heads else None
    digested = list(dict.fromkeys([*(head for _, head in heads), *filter(None, [legacy, local])]))
    dropped = overlapping([(r.name, r.keys) for r in every])
    return SleepState(
        last_commit=local or (newest[1] if newest else legacy),
        last_digest=f"{ws.digests_dir.name}/{newest[0]}" if newest else None,
        digested=digested,
        keys={key for r in records for key in r.keys},
        overlapping=[r for r in every if r.name in dropped],
        records=every,
    )


def reached_head(ws: Workspace, local: LocalState, digests: set[str]) -> str | None:
    """The HEAD this clone's last pass reached, unless the newest digest its passes wrote is
    no longer among `digests` (discarded, or its commit reverted): then what it digested is
    not digested anywhere, and the digests alone say how far history is, as on every clone."""
    if local.digest_file is not None and local.digest_file not in digests:
        log.debug("%s is gone: reading what is digested from the digests", local.digest_file)
        return None
    return local.last_head


def _lock(ws: Workspace, name: str) -> Path:
    return ws.local_dir / "locks" / f"{name}.lock"


def read_local_state(ws: Workspace) -> LocalState:
    """This clone's sleep state; none when git tracks its file: another clone's `last_head`
    would make this clone's digest pass over commits it never read (and its
    `sessions_until`, over this user's chat sessions)."""
    path = ws.local_dir / LOCAL_STATE
    if os.path.lexists(path) and ws.tracked_local(LOCAL_STATE):
        if path not in _FOREIGN_SAID:  # once a process: watch asks again and again
            _FOREIGN_SAID.add(path)
            log.warning(
                "%s is tracked by git (another clone's sleep state): ignored; untrack it: `%s`",
                ws.relative(path),
                UNTRACK_LOCAL,
            )
        return LocalState()
    try:
        return LocalState.from_json(_load(ws, path), ws.relative(path))
    except CodememError as exc:
        log.warning("%s; starting afresh", exc)
        return LocalState()


def write_local_state(ws: Workspace, change: Callable[[LocalState], LocalState]) -> bool:
    """Apply `change` to this clone's sleep state and save it; False when nothing changed."""
    path = ws.local_dir / LOCAL_STATE
    ws.ensure_local()
    try:
        read_text(path)
    except UnicodeDecodeError:  # damaged, and derived: start it afresh (said once)
        log.warning("%s was not UTF-8 text: starting this clone's sleep state afresh", path)
        path.unlink(missing_ok=True)

    def edit(text: str | None) -> str:
        try:
            data = json.loads(text) if text and text.strip() else {}
        except ValueError:
            data = {}
        new = _dump(change(LocalState.from_json(data)).to_json())
        return text if text == new else new

    before, after = update_text(path, edit, _lock(ws, LOCAL_STATE))
    return before != after


def write_last_digest(ws: Workspace, by: str, result: DigestResult) -> None:
    """Record that a pass ran, who ran it and what it did (`Workspace.last_digest_file`), so
    `watch --status` names the last digest whoever ran it. Derived: a damaged record is
    written anew by the next pass, and one that cannot be written costs the pass nothing."""
    record = {
        "at": round(time.time(), 3),  # epoch seconds, as the daemon's own records
        "by": by,
        "head": result.head,
        "commits": len(result.commits),
        "digest": result.digest_path,
        "changes": len(result.changes),
    }
    try:
        ws.ensure_local()
        atomic_write(ws.last_digest_file, json.dumps(record, sort_keys=True) + "\n", durable=False)
    except (OSError, CodememError) as exc:
        log.warning("could not record the digest in %s: %s", ws.relative(ws.last_digest_file), exc)
