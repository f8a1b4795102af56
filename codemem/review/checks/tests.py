"""Tests for new public functions, where the project tests its code.

Learned: memory knows a test suite for the language (a `<Language> tests ...` convention).
Declared: a `require: tests for public functions in ...` rule. Either way a new public
function or method counts as tested when its name appears in a test file: one the change
adds or edits, or any test file of the reviewed tree (a `git grep`, no index needed).
"""

from __future__ import annotations

from collections.abc import Iterator

from codemem.code import display_name
from codemem.review.checks.patterns import applies
from codemem.review.context import ReviewContext
from codemem.review.findings import Finding

TESTED_KINDS = frozenset({"function", "method"})
ENTRY_POINTS = frozenset({"main", "init", "setup", "teardown"})


def check(ctx: ReviewContext) -> Iterator[Finding]:
    """A new public function or method that no test file mentions."""
    tested = ctx.conventions.tested
    requires = [r for r in ctx.conventions.requires if r.what == "tests"]
    if not tested and not requires:
        return
    wanted = []
    for d in ctx.new_definitions:
        if not d.public or d.name.lower() in ENTRY_POINTS:
            continue
        declared = next(
            (r for r in requires if d.kind in r.kinds and applies(r, d.file.path)), None
        )
        if declared is not None or (d.language in tested and d.kind in TESTED_KINDS):
            wanted.append((d, declared))
    if not wanted:
        return
    mentioned = ctx.mentioned_in_tests({d.name for d, _ in wanted})
    for d, declared in wanted:
        if d.name in mentioned:
            continue
        line_text = d.file.lines[d.line - 1] if d.line <= len(d.file.lines) else d.qualname
        if declared is not None:
            yield Finding(
                declared.rule_id,
                declared.severity,
                d.file.path,
                d.line,
                f"no test mentions the new public {d.kind} `{d.name}` "
                f"(required by {ctx.conventions.path}:{declared.line})",
                declared.message or f"add a test that calls `{d.name}`",
                line_text=line_text,
            )
        else:
            language = display_name(d.language)
            yield Finding(
                f"tests/{d.language}",
                "warning",
                d.file.path,
                d.line,
                f"no test mentions the new public {d.kind} `{d.name}`; this project tests its {language} code",
                f"add a test that calls `{d.name}`",
                confidence=0.8,
                line_text=line_text,
            )
