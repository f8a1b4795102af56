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
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from codemem.conventions.conflicts import ours_side
from codemem.conventions.rules import Rule
from codemem.conventions.stable import stable_rules
from codemem.memory import BlockFormatError, has_conflict, read_memory_file
from codemem.workspace import Workspace

log = logging.getLogger("codemem")

RECORDS_NAME = "conventions.json"
VERSION = 2
READABLE = (1, 2)


def records_path(ws: Workspace) -> Path:
    """Where the records of `ws` live: `.codemem/conventions.json`."""
    return ws.dir / RECORDS_NAME


def render_records(rules: list[Rule]) -> str:
    """The file's text for `rules` (kept in the order given, made stable if they are not)."""
    data = {"version": VERSION, "rules": [rule.to_json() for rule in stable_rules(rules)]}
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def parse_records(text: str) -> list[Rule]:
    """The rules in a records file's text; raises ValueError when it is not one."""
    data = json.loads(text)
    if (
        not isinstance(data, dict)
        or data.get("version") not in READABLE
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
    except (OSError, ValueError, RecursionError) as exc:
        return (
            f"{ws.relative(path)}: unreadable ({exc}): fix it, or delete it and run "
            "`codemem digest` to learn the conventions again"
        )
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
    except (OSError, ValueError, RecursionError, BlockFormatError) as exc:
        log.warning(
            "%s: cannot read the learned conventions, ignored (%s): fix it, or delete it and run "
            "`codemem digest` to learn them again",
            path,
            exc,
        )
        return None
