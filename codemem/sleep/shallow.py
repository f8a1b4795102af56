"""Fetching what a shallow clone (CI's usual checkout) lacks of the history to digest.

The pass needs the history back to the last digested commit, not the whole of it: first the
commits since the day before the newest digest's (its name starts with its head's commit
date; a day earlier for clocks and zones), then deeper by `DEEPEN_STEPS` commits at a time,
and only then `git fetch --unshallow`. The caller reads the range again after each fetch and
stops once the clone holds it (`CommitRange.beyond_clone`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

from codemem.errors import GitError, UsageError
from codemem.infra import run_git

DEEPEN_STEPS = (100, 1000)  # commits fetched past the clone's boundary, one fetch each
UNSHALLOW = "--unshallow"


def history_fetches(newest_digest: str | None, first_run_limit: int) -> list[str]:
    """The `git fetch` options to try in turn, the last always `--unshallow`.

    Args:
        newest_digest: The newest digest's file name (`<date>-<base>-<head>.md`), None for none.
        first_run_limit: The commits a first pass reads (no digest yet: that many are enough).
    """
    fetches = []
    try:
        day = date.fromisoformat((newest_digest or "")[:10])
    except ValueError:
        fetches.append(f"--deepen={first_run_limit}")
    else:
        fetches.append(f"--shallow-since={day - timedelta(days=1)} 00:00:00 +0000")
    fetches += [f"--deepen={step}" for step in DEEPEN_STEPS]
    return [*dict.fromkeys(fetches), UNSHALLOW]


def fetch_history(root: Path, remote: str, fetches: list[str], enough: Callable[[], bool]) -> str:
    """Fetch from `remote` with each of `fetches` in turn until `enough()`, as the user's git
    would (its credentials, transports); the option that sufficed. A fetch that fails is
    followed by the next (a server may not know `--shallow-since`); when the last fails,
    `UsageError` in one line."""
    for option in fetches:
        try:
            run_git(root, "fetch", option, "--quiet", "--", remote, as_user=True)
        except GitError as exc:
            if option != fetches[-1]:
                continue
            reason = " ".join(str(exc).split())
            raise UsageError(
                "this clone is shallow and lacks commits to digest; fetching them failed "
                f"({reason}): check out the whole history (actions/checkout: `fetch-depth: 0`; "
                'GitLab CI: `GIT_DEPTH: "0"`); nothing was digested'
            ) from exc
        if enough():
            return option
    return fetches[-1]
