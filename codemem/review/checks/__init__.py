"""The static checks: each is `check(ctx) -> Iterable[Finding]` over a `ReviewContext`.

| family        | what it reports                                                        |
|---------------|------------------------------------------------------------------------|
| conflicts     | merge conflict markers                                                 |
| secrets       | known key formats, secret-like assignments, random strings, .env files |
| leftovers     | breakpoints, `debugger`, `dbg!`, `console.log`...                      |
| binaries      | binary files over `review.max_binary_kb`                               |
| conventions   | `never:` / `avoid:` rules of conventions.md, and rule lines that do not parse |
| naming        | new definitions against the learned naming style of language and kind  |
| docstrings    | new public definitions without one, where the project documents        |
| tests         | new public functions no test mentions, where the project tests         |

A check that fails is reported as a warning and skipped: one broken check never stops the
others, and never blocks a commit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from codemem.review.checks import (
    binaries,
    conflicts,
    documentation,
    leftovers,
    naming,
    patterns,
    secrets,
    syntax,
    tests,
)
from codemem.review.context import ReviewContext
from codemem.review.errors import ReviewTimeout
from codemem.review.findings import Finding

log = logging.getLogger("codemem")

Check = Callable[[ReviewContext], Iterable[Finding]]
CHECKS: tuple[tuple[str, Check], ...] = (
    ("conflicts", conflicts.check),
    ("secrets", secrets.check),
    ("leftovers", leftovers.check),
    ("binaries", binaries.check),
    ("conventions", patterns.check),
    ("conventions syntax", syntax.check),
    ("naming", naming.check),
    ("docstrings", documentation.check),
    ("tests", tests.check),
)


def run_checks(ctx: ReviewContext, checks: tuple[tuple[str, Check], ...] = CHECKS) -> tuple[list[Finding], list[str]]:
    """Every check's findings, and a warning for each check that failed."""
    findings: list[Finding] = []
    warnings: list[str] = []
    for name, check in checks:
        try:
            findings.extend(check(ctx))
        except ReviewTimeout:
            raise
        except Exception as exc:  # a bug in one check must not stop the review (or a commit)
            log.debug("check %s failed", name, exc_info=True)
            warnings.append(f"the {name} check failed and was skipped: {type(exc).__name__}: {exc}")
    return findings, warnings
