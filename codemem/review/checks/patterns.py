"""The `never:` and `avoid:` rules people write in `conventions.md`.

Anyone can commit a rule, so a regular expression is never trusted to be fast: each rule is
matched with the `regex` package, whose `timeout=` stops catastrophic backtracking (which
the standard `re` cannot), within `RULE_SECONDS` over the whole change. A rule that runs out
is dropped for the rest of the review and reported as a `conventions/slow-rule` warning at
its line of conventions.md; the other rules and checks go on. A pattern only `re` reads
(`[[:alpha:]` is a set to `re`, an unclosed POSIX class to `regex`) is never matched, since
nothing could stop it: it is a `conventions/unbounded-rule` warning instead.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

from codemem.code import matches_any
from codemem.review.context import ReviewContext
from codemem.review.conventions import PatternRule, RequireRule
from codemem.review.findings import Finding

RULE_SECONDS = 0.5  # what one rule may spend on the whole change
SLOW_RULE = "conventions/slow-rule"
UNBOUNDED_RULE = "conventions/unbounded-rule"
_FLAGS = ("IGNORECASE", "MULTILINE", "DOTALL", "VERBOSE", "ASCII")


def applies(rule: PatternRule | RequireRule, path: str) -> bool:
    """Whether a rule's `in` / `except` globs select `path` (never `.codemem/` itself)."""
    if path.startswith(".codemem/"):
        return False
    if rule.include and not matches_any(path, list(rule.include)):
        return False
    return not (rule.exclude and matches_any(path, list(rule.exclude)))


class GuardedRule:
    """A rule's pattern with a time allowance, matched by `regex` (literal text by `re`; a
    regex that only `re` compiles is `refused`, with `regex`'s reason, and never matched)."""

    def __init__(self, rule: PatternRule, seconds: float = RULE_SECONDS) -> None:
        self.rule = rule
        self.left = seconds
        self.compiled: Any = None
        self.refused: str | None = None
        if rule.shown.startswith("`"):  # literal text cannot backtrack
            return
        # Imported here: the hook pays for `regex` only when conventions.md has regex rules.
        import regex

        flags = 0
        for name in _FLAGS:
            if rule.pattern.flags & getattr(re, name):
                flags |= getattr(regex, name)
        try:
            self.compiled = regex.compile(rule.pattern.pattern, flags)
        except regex.error as exc:  # `re` would match it with no limit: hours on one line
            self.refused = str(exc)

    def search(self, text: str) -> bool:
        """Whether the rule matches `text`; `TimeoutError` once its allowance is spent."""
        if self.compiled is None:
            return bool(self.rule.pattern.search(text))
        if self.left <= 0:
            raise TimeoutError
        started = time.monotonic()
        try:
            return self.compiled.search(text, timeout=self.left) is not None
        finally:
            self.left -= time.monotonic() - started


def slow_rule(ctx: ReviewContext, rule: PatternRule) -> Finding:
    """A rule that ran out of time, as a warning at its line of conventions.md."""
    return Finding(
        SLOW_RULE,
        "warning",
        ctx.conventions.path,
        rule.line,
        f"the rule {rule.shown} took longer than {RULE_SECONDS:g} s on this change and was skipped "
        "(catastrophic backtracking?)",
        "rewrite the regular expression without nested repetition, such as (a+)+ or (a|aa)+",
        line_text=rule.shown,
    )


def unbounded_rule(ctx: ReviewContext, rule: PatternRule, why: str) -> Finding:
    """A rule no time limit could stop, as a warning at its line of conventions.md."""
    return Finding(
        UNBOUNDED_RULE,
        "warning",
        ctx.conventions.path,
        rule.line,
        f"the rule {rule.shown} was skipped: only Python's `re` reads it, which no time limit "
        f"stops (the `regex` package: {why})",
        "write it so that `regex` reads it too (a `[` inside brackets escaped as `\\[`)",
        line_text=rule.shown,
    )


def check(ctx: ReviewContext) -> Iterator[Finding]:
    """Every added line that holds a forbidden text or matches a forbidden pattern."""
    rules = ctx.conventions.patterns
    if not rules:
        return
    where = ctx.conventions.path
    guarded = {rule.rule_id: GuardedRule(rule) for rule in rules}
    for f in ctx.source_files():
        active = [guarded[rule.rule_id] for rule in rules if applies(rule, f.path)]
        for n, text in f.added.items():
            for matcher in active:
                if matcher.left <= 0:
                    continue
                if matcher.refused is not None:
                    matcher.left = 0
                    yield unbounded_rule(ctx, matcher.rule, matcher.refused)
                    continue
                try:
                    found = matcher.search(text)
                except TimeoutError:
                    matcher.left = 0
                    yield slow_rule(ctx, matcher.rule)
                    continue
                if found:
                    rule = matcher.rule
                    verb = "never" if rule.severity == "error" else "avoid"
                    yield Finding(
                        rule.rule_id,
                        rule.severity,
                        f.path,
                        n,
                        f"{rule.shown}: the conventions say {verb} ({where}:{rule.line})",
                        rule.message,
                        line_text=text,
                    )
