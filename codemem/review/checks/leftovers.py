"""Debugging leftovers in added lines: breakpoint and set_trace calls, `debugger`, `dbg!`, console logs."""

from __future__ import annotations

import re
from collections.abc import Iterator

from codemem.review.context import ReviewContext
from codemem.review.findings import Finding

# language family -> (rule, severity, pattern, what it is). The patterns are written so that
# this file does not match them itself.
LEFTOVERS: dict[str, list[tuple[str, str, re.Pattern[str], str]]] = {
    "python": [
        (
            "leftovers/breakpoint",
            "error",
            re.compile(r"(?<![\w.])breakpoint\(\s*\)"),
            "a call to the builtin breakpoint",
        ),
        (
            "leftovers/pdb",
            "error",
            re.compile(
                r"\b(?:i?pdb|pudb)\.set_trace\(|^\s*import\s+(?:i?pdb|pudb)\b"
                r"|^\s*from\s+(?:i?pdb|pudb|IPython)\s+import\s+(?:set_trace|embed)\b"
            ),
            "a debugger import or set_trace call",
        ),
    ],
    "javascript": [
        (
            "leftovers/debugger",
            "error",
            re.compile(r"^\s*debugger\s*;?\s*$"),
            "`debugger` statement",
        ),
        (
            "leftovers/console-log",
            "warning",
            re.compile(r"\bconsole\.(?:log|debug|trace)\("),
            "`console.log` call",
        ),
    ],
    "rust": [("leftovers/dbg", "error", re.compile(r"\bdbg!\("), "`dbg!` macro")],
    "ruby": [
        (
            "leftovers/pry",
            "error",
            re.compile(r"\bbinding\.(?:pry|irb)\b|^\s*byebug\b"),
            "`binding.pry` / `byebug`",
        )
    ],
    "php": [
        (
            "leftovers/var-dump",
            "warning",
            re.compile(r"\b(?:var_dump|print_r|dd)\("),
            "`var_dump`-style dump",
        )
    ],
    "go": [
        ("leftovers/spew", "warning", re.compile(r"\bspew\.(?:Dump|Printf)\("), "`spew.Dump` call")
    ],
}
LEFTOVERS["typescript"] = LEFTOVERS["javascript"]
_COMMENT = re.compile(r"^\s*(?:#|//|/\*|\*)")
REMEDY = {
    "leftovers/console-log": "remove it, or log through the project's logger",
    "leftovers/var-dump": "remove it before committing",
}


def check(ctx: ReviewContext) -> Iterator[Finding]:
    """Debugger calls and debug prints on added lines (commented-out lines are left alone)."""
    for f in ctx.source_files():
        patterns = LEFTOVERS.get(ctx.language(f) or "")
        if not patterns:
            continue
        for n, text in f.added.items():
            if _COMMENT.match(text):
                continue
            for rule, severity, pattern, what in patterns:
                if pattern.search(text):
                    yield Finding(
                        rule,
                        severity,
                        f.path,
                        n,
                        f"debugging leftover: {what}",
                        REMEDY.get(rule, "remove it before committing"),
                        line_text=text,
                    )
                    break
