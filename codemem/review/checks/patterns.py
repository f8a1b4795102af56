"""The `never:` and `avoid:` rules people write in `conventions.md`."""

from __future__ import annotations

from collections.abc import Iterator

from codemem.code import matches_any
from codemem.review.context import ReviewContext
from codemem.review.conventions import PatternRule, RequireRule
from codemem.review.findings import Finding


def applies(rule: PatternRule | RequireRule, path: str) -> bool:
    """Whether a rule's `in` / `except` globs select `path` (never `.codemem/` itself)."""
    if path.startswith(".codemem/"):
        return False
    if rule.include and not matches_any(path, list(rule.include)):
        return False
    return not (rule.exclude and matches_any(path, list(rule.exclude)))


def check(ctx: ReviewContext) -> Iterator[Finding]:
    """Every added line that holds a forbidden text or matches a forbidden pattern."""
    rules = ctx.conventions.patterns
    if not rules:
        return
    where = ctx.conventions.path
    for f in ctx.source_files():
        active = [rule for rule in rules if applies(rule, f.path)]
        for n, text in f.added.items():
            for rule in active:
                if rule.pattern.search(text):
                    verb = "never" if rule.severity == "error" else "avoid"
                    yield Finding(
                        rule.rule_id, rule.severity, f.path, n,
                        f"{rule.shown}: the conventions say {verb} ({where}:{rule.line})",
                        rule.message, line_text=text,
                    )
