"""The learned rules as data: `.codemem/conventions.json`, committed beside the Markdown.

The digest writes the file and the review reads it, so no reader parses the sentences of
`blocks/conventions.md` back. The text is deterministic (sorted keys, the miner's order,
no timestamps, a newline at the end) and holds no counts (a band instead of a share;
examples that change only when they stop being true: see `stable.py`), so the same rules
give the same bytes and the file changes only when a rule does:

    {
      "rules": [
        {"band": "almost-all",
         "evidence": {"detail": "", "examples": ["`load_file`"], "exceptions": [], "sources": []},
         "kind": "naming", "language": "python",
         "statement": "Python functions are named in snake_case", "subject": "function",
         "topic": "naming", "value": "snake_case"}
      ],
      "version": 2
    }

Version 1 files (with a `share` and counts) are still read.

Teammates may run different codemem versions on the one committed file. `version` is what a
reader must understand to use the file: a later codemem that only adds fields keeps it, and
this one, which reads past fields it does not know, keeps them too wherever the rule they
belong to is unchanged (`render_records(rules, previous)`), so the file changes only when a
rule does, whichever version writes it. A file of a higher `version` is a newer codemem's
(`NewerRecords`): every reader names it in one line and passes over it, and the digest leaves
it, and the conventions region beside it, as they are.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from codemem.conventions.conflicts import ours_side
from codemem.conventions.rules import EVIDENCE_FIELDS, RULE_FIELDS, Rule
from codemem.conventions.stable import stable_rules
from codemem.memory import BlockFormatError, has_conflict, read_memory_file
from codemem.workspace import Workspace

log = logging.getLogger("codemem")

_told: set[Path] = set()
RECORDS_NAME = "conventions.json"
VERSION = 2
READABLE = (1, 2)


def records_path(ws: Workspace) -> Path:
    """Where the records of `ws` live: `.codemem/conventions.json`."""
    return ws.dir / RECORDS_NAME


class NewerRecords(ValueError):
    """A records file of a format version above this codemem's: a newer codemem wrote it."""

    def __init__(self, version: int) -> None:
        super().__init__(
            f"written by a newer codemem (format version {version}; this one reads up to "
            f"{VERSION}): left as it is; upgrade codemem to use it"
        )
        self.version = version


def render_records(rules: list[Rule], previous: str | None = None) -> str:
    """The file's text for `rules` (kept in the order given, made stable if they are not).

    `previous`, the file's text as it is, lends the fields this codemem does not know (a
    newer one's) to each rule it holds unchanged, and its own top-level keys likewise."""
    data: dict = {"version": VERSION, "rules": [rule.to_json() for rule in stable_rules(rules)]}
    if previous is not None:
        data = _with_unknown_fields(data, previous)
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _with_unknown_fields(data: dict, previous: str) -> dict:
    try:
        old = json.loads(previous)
    except (ValueError, RecursionError):
        return data
    if not isinstance(old, dict) or old.get("version") != VERSION:
        return data
    old_rules = old.get("rules")
    if not isinstance(old_rules, list):
        return data
    extras: dict[str, dict] = {}
    for record in old_rules:
        if isinstance(record, dict) and (known := _known(record)) is not None:
            extras.setdefault(json.dumps(known, sort_keys=True), record)
    rules = [_lent(rule, extras.get(json.dumps(rule, sort_keys=True))) for rule in data["rules"]]
    return {**{k: v for k, v in old.items() if k not in data}, **data, "rules": rules}


def _lent(rule: dict, record: dict | None) -> dict:
    """`rule` with the fields of `record` (its stored twin) that this codemem does not know."""
    if record is None:
        return rule
    evidence = record.get("evidence")
    if not isinstance(evidence, dict):
        evidence = {}
    return {
        **{k: v for k, v in record.items() if k not in RULE_FIELDS},
        **rule,
        "evidence": {
            **{k: v for k, v in evidence.items() if k not in EVIDENCE_FIELDS},
            **rule["evidence"],
        },
    }


def _known(record: dict) -> dict | None:
    """A stored rule as this codemem writes it (None: not one it can read)."""
    try:
        return Rule.from_json(record).to_json()
    except (KeyError, TypeError, AttributeError, ValueError):
        return None


def parse_records(text: str) -> list[Rule]:
    """The rules in a records file's text; raises ValueError when it is not one, and its
    subclass `NewerRecords` when a newer codemem wrote it."""
    data = json.loads(text)
    version = data.get("version") if isinstance(data, dict) else None
    if isinstance(version, int) and not isinstance(version, bool) and version > VERSION:
        raise NewerRecords(version)
    if (
        not isinstance(data, dict)
        or version not in READABLE
        or not isinstance(data.get("rules"), list)
    ):
        raise ValueError(f"not a version {VERSION} conventions records file")
    try:
        return [Rule.from_json(item) for item in data["rules"]]
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"a malformed rule: {exc}") from None


def records_damage(ws: Workspace) -> str | None:
    """One line naming a damaged records file and the fix, or None (also when there is none)."""
    path = records_path(ws)
    try:
        text = read_memory_file(ws, path)  # a link or a path out: skipped, with a warning
        if text is None:
            return None
        parse_records(text)
    except BlockFormatError as exc:  # too large, or not UTF-8: the message names the file
        return f"{exc}; or delete it and run `codemem digest` to learn the conventions again"
    except NewerRecords as exc:
        return f"{ws.relative(path)}: {exc}"
    except (OSError, ValueError, RecursionError) as exc:
        return (
            f"{ws.relative(path)}: unreadable ({exc}): fix it, or delete it and run "
            "`codemem digest` to learn the conventions again"
        )
    return None


def records_text(ws: Workspace) -> str | NewerRecords | None:
    """The records file's text as it is, for `render_records` to keep what this codemem does
    not know; `NewerRecords` when a newer codemem wrote it (None: none, or unreadable)."""
    try:
        text = read_memory_file(ws, records_path(ws))
        if text is not None and not has_conflict(text):
            parse_records(text)
        return text
    except NewerRecords as exc:
        return exc
    except (OSError, ValueError, RecursionError, BlockFormatError):
        return None


def read_records(ws: Workspace) -> list[Rule] | None:
    """The rules the last digest learned; None when there are none (no digest yet, or unreadable)."""
    path = records_path(ws)
    try:
        text = read_memory_file(ws, path)  # a link or a path out: skipped, with a warning
        if text is None:
            return None
        # A merge conflict (two clones' digests): our side is whole records; the next digest
        # rewrites the file from the code anyway.
        return parse_records(ours_side(text) if has_conflict(text) else text)
    except NewerRecords as exc:
        if path not in _told:  # once per run: the review and the hook read it more than once
            _told.add(path)
            log.warning("%s: %s; the learned conventions are not checked", path, exc)
        return None
    except (OSError, ValueError, RecursionError, BlockFormatError) as exc:
        log.warning(
            "%s: cannot read the learned conventions, ignored (%s): fix it, or delete it and run "
            "`codemem digest` to learn them again",
            path,
            exc,
        )
        return None
