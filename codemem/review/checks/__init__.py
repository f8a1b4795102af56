"""The static checks: each is `check(ctx) -> Iterable[Finding]` over a `ReviewContext`.

| family        | what it reports                                                        |
|---------------|------------------------------------------------------------------------|
| secrets       | known key formats, secret-like assignments, random strings, .env files, in every added byte |
| conflicts     | merge conflict markers                                                 |
| leftovers     | breakpoints, `debugger`, `dbg!`, `console.log`...                      |
| binaries      | binary files over `review.max_binary_kb`                               |
| conventions   | `never:` / `avoid:` rules of conventions.md (each within its own time), and rule lines that do not parse |
| naming        | new definitions against the learned naming style of language and kind  |
| docstrings    | new public definitions without one, where the project documents        |
| tests         | new public functions no test mentions, where the project tests         |

The secret scan (`SECRET_SCAN`) runs first and whole, never under a time limit: its findings
are never discarded. Every other check gets its own limit from the review's `Budget`
(limits.py); one that runs out is cut short with a warning naming it, the rest still run.
A check that fails is reported as a warning and skipped: one broken check never stops the
others, and never blocks a commit (the secret scan instead reports a file it could not
scan as `secrets/not-scanned`, which blocks).
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
from codemem.review.limits import Budget, time_limit

log = logging.getLogger("codemem")

Check = Callable[[ReviewContext], Iterable[Finding]]
SECRET_SCAN: tuple[str, Check] = ("secrets", secrets.check)
CHECKS: tuple[tuple[str, Check], ...] = (
    SECRET_SCAN,
    ("conflicts", conflicts.check),
    ("leftovers", leftovers.check),
    ("binaries", binaries.check),
    ("conventions", patterns.check),
    ("conventions syntax", syntax.check),
    ("naming", naming.check),
    ("docstrings", documentation.check),
    ("tests", tests.check),
)


def run_checks(
    ctx: ReviewContext,
    checks: tuple[tuple[str, Check], ...] = CHECKS,
    budget: Budget | None = None,
) -> tuple[list[Finding], list[str]]:
    """Every check's findings, and a warning for each check that failed or ran out of time.

    With a `budget`, each check runs under its share of the time left; a check cut short
    keeps the findings it had, and checks left without time are skipped (both are listed in
    `budget.ran_out`).
    """
    findings: list[Finding] = []
    warnings: list[str] = []
    skipped: list[str] = []
    for done, (name, check) in enumerate(checks):
        limit = budget.share(len(checks) - done) if budget is not None else None
        if limit is not None and limit <= 0:
            skipped.append(name)
            continue
        try:
            with time_limit(limit, f"the {name} check"):
                for finding in check(ctx):
                    findings.append(finding)
        except ReviewTimeout as exc:
            if budget is not None:
                budget.ran_out.append(name)
            warnings.append(f"{exc}, its share of the time limit, and was cut short")
        except Exception as exc:  # a bug in one check must not stop the review (or a commit)
            log.debug("check %s failed", name, exc_info=True)
            warnings.append(f"the {name} check failed and was skipped: {type(exc).__name__}: {exc}")
    if skipped and budget is not None:
        budget.ran_out += skipped
        names = ", ".join(skipped[:-1]) + (" and " if len(skipped) > 1 else "") + skipped[-1]
        warnings.append(
            f"out of time ({budget.seconds:g} s): the {names} check{'s were' if len(skipped) > 1 else ' was'} skipped"
        )
    return findings, warnings
