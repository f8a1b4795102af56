"""Errors of the review and the hook, with the exit codes the review contract promises.

Exit codes of `codemem review`: 0 nothing at or above `--fail-on`; 1 findings at or above
it; 2 a usage or configuration mistake; 3 codemem itself failed (git, a broken index...);
4 the time limit ran out. In a pre-commit hook every code from 2 up lets the commit through.
"""

from __future__ import annotations

from codemem.errors import CodememError

EXIT_CLEAN = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_FAILED = 3
EXIT_TIMEOUT = 4


class ReviewError(CodememError):
    """The review could not run (git failed, a file could not be read...)."""

    exit_code = EXIT_FAILED


class ReviewTimeout(ReviewError):
    """The review ran past its time limit."""

    exit_code = EXIT_TIMEOUT


class HookError(CodememError):
    """The hook cannot be installed or removed as asked (the message says what is in the way)."""

    exit_code = EXIT_USAGE
