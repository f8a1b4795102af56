"""Two dismissals of one review finding, merged with both reasons kept.

`codemem review --dismiss ID --reason TEXT` writes `.codemem/review/dismissed/<id>.json`
(`review/feedback.py`): the finding's `id`, `rule` and `file`, and the dismissal's `reason`,
`by` and `at`. Two teammates who dismiss one finding each add that file, and a merge that kept
one side would drop the other's reason without a word. Merged here, the file holds every
dismissal either side has: the earliest as the top-level `reason`/`by`/`at` (so every reader
of the format still finds one), the others in `also`, a list of `{reason, by, at}` in time
order, the same bytes whichever clone merges. A dismissal one side removed (a re-dismissal
replaces one's own) is removed; the finding's fields merge key by key.

`merge_dismissals` answers None, for a conflict, when a side is not such a JSON object, or
both sides changed one of the other fields differently.
"""

from __future__ import annotations

import json
import operator
from typing import Any

from codemem.conventions.three_way import CLASH, pick
from codemem.infra import json_text

ENTRY = ("reason", "by", "at")  # one dismissal's own fields; the others are the finding's
Entry = tuple[str, str, str]  # reason, by, at
_MISSING: Any = object()


def merge_dismissals(base: str, ours: str, theirs: str) -> str | None:
    """The merged dismissal file, or None where only a conflict will do."""
    try:
        docs = [_read(text) for text in (base, ours, theirs)]
        entries = _merge_entries(*(_entries(doc) for doc in docs))
    except ValueError:  # JSON's errors are ValueErrors too
        return None
    was, mine, other = docs
    if not entries:
        return None  # no dismissal left: not a file to write without asking
    merged: dict[str, Any] = {}
    for key in [*mine, *(k for k in other if k not in mine)]:
        if key in (*ENTRY, "also"):
            continue
        a, b, o = (doc.get(key, _MISSING) for doc in (mine, other, was))
        value = pick(o, a, b, operator.eq)
        if value is CLASH:
            return None
        if value is not _MISSING:
            merged[key] = value
    return dismissal_text(merged, entries)


def dismissal_text(finding: dict[str, Any], entries: list[Entry]) -> str:
    """A dismissal file: the `finding`'s fields, the earliest of `entries` (reason, by, at)
    at the top level, the others in `also`, by time."""
    first, *others = sorted(set(entries), key=lambda entry: (entry[2], entry[1], entry[0]))
    doc = {k: v for k, v in finding.items() if k not in (*ENTRY, "also")}
    doc.update(dict(zip(ENTRY, first, strict=True)))
    if others:
        doc["also"] = [dict(zip(ENTRY, entry, strict=True)) for entry in others]
    return json_text(doc, indent=2) + "\n"


def dismissal_entries(text: str) -> list[Entry]:
    """The dismissals (reason, by, at) a dismissal file holds; ValueError if it is none."""
    return _entries(_read(text))


def _read(text: str) -> dict[str, Any]:
    if not text.strip():
        return {}  # no common ancestor: both added the file
    doc = json.loads(text)
    if not isinstance(doc, dict):
        raise ValueError("not a JSON object")
    return doc


def _entries(doc: dict[str, Any]) -> list[Entry]:
    """The dismissals a file holds: its top-level one and those in `also`."""
    also = doc.get("also") or []
    if not isinstance(also, list):  # checked before it is unpacked: `3` is no list
        raise ValueError("`also` is not a list of dismissals")
    found = [doc, *also] if doc else []
    if not all(isinstance(item, dict) for item in found):
        raise ValueError("`also` holds something that is not a dismissal")
    return [(_field(item, "reason"), _field(item, "by"), _field(item, "at")) for item in found]


def _field(item: dict[str, Any], key: str) -> str:
    return str(item.get(key) or "")


def _merge_entries(was: list[Entry], mine: list[Entry], other: list[Entry]) -> list[Entry]:
    """Every dismissal either side added, less those either side removed."""
    kept = {e for e in mine if e in other or e not in was}
    return [*kept, *(e for e in other if e not in kept and (e in mine or e not in was))]
