"""Derived JSON records with a checksum: written atomically, read back only when whole.

A derived file under `.codemem/local/` (the co-change history, the commits' patch ids) is a
record of `version`, a `sha256` over the fields that carry its content (`checked`, in that
order) and those fields; anything else a caller keeps in it (the commit it was made at) is
compared by the caller. One that does not read, is of another version, fails its checksum or
has the wrong shape reads as None: the caller makes it again. One that cannot be written only
costs the caller time.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from codemem.errors import CodememError
from codemem.infra.files import atomic_write, read_regular_bytes

log = logging.getLogger("codemem")


def checksum(values: Sequence[Any]) -> str:
    """The sha256 of `values` as compact JSON (what `sha256` holds)."""
    return hashlib.sha256(json.dumps(list(values), separators=(",", ":")).encode()).hexdigest()


def write_checked(path: Path, version: int, fields: dict[str, Any], checked: Sequence[str]) -> bool:
    """Write the record of `fields` atomically (not fsynced: derived); whether it was
    written (a read-only clone, a full disk: logged, False)."""
    record = {
        "version": version,
        "sha256": checksum([fields[name] for name in checked]),
        **fields,
    }
    try:
        atomic_write(path, json.dumps(record, separators=(",", ":")), durable=False)
    except (OSError, CodememError) as exc:
        log.debug("cannot keep %s: %s", path.name, exc)
        return False
    return True


def read_checked(
    path: Path, version: int, checked: Sequence[str], max_bytes: int | None = None
) -> dict[str, Any] | None:
    """The record at `path` when it is whole and of `version`, else None (missing, damaged,
    a link or a FIFO, over `max_bytes`, another version, a failed checksum)."""
    try:
        record = json.loads(read_regular_bytes(path, max_bytes))  # no link, no FIFO
        if not isinstance(record, dict) or record.get("version") != version:
            return None
        if record.get("sha256") != checksum([record[name] for name in checked]):
            log.debug("%s fails its checksum: making it again", path)
            return None
        return record
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, RecursionError, CodememError) as exc:
        log.debug("%s is damaged (%s): making it again", path, exc)
        return None
