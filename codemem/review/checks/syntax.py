"""Rules in `conventions.md` that look like rules but do not parse."""

from __future__ import annotations

from collections.abc import Iterator

from codemem.review.context import ReviewContext
from codemem.review.findings import Finding

RULE = "conventions/syntax"


def check(ctx: ReviewContext) -> Iterator[Finding]:
    """One info finding per unparseable rule line, pointing at conventions.md."""
    for line, text, why in ctx.conventions.problems:
        yield Finding(
            RULE,
            "info",
            ctx.conventions.path,
            line,
            f"rule ignored: {why}",
            "fix the line (the rule syntax is in `codemem review --help`)",
            line_text=text,
        )
