"""Files that change together, learned from the repository's own history (pure, no I/O).

A fix rarely touches one file: the header of the source it changes, the changelog, the
crate's manifest, the sibling platform file, the expected-output files of a test suite.
No retrieval stage finds those from the issue's words, but the repository's past commits
say which files go with which. `CoChange` holds the recent commits' changed-file lists and
`companions` scores the files that usually changed with the best-ranked ones
(`fusion.add_companions` places them);
`code/history.py` reads the commits from git and keeps them in a derived file.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

MAX_FILES_PER_COMMIT = 30  # a larger commit is a sweep (formatting, renames), not one change
SMOOTHING = 2.0  # P(other | file) = together / (changes + SMOOTHING): one shared commit is weak
MIN_TOGETHER = 2  # commits a pair must share: one shared commit is no evidence


@dataclass
class CoChange:
    """Recent commits as lists of changed files, and which commits changed each file."""

    commits: list[tuple[str, ...]] = field(default_factory=list)
    by_path: dict[str, list[int]] = field(default_factory=dict)

    @classmethod
    def from_commits(cls, commits: Iterable[Iterable[str]]) -> CoChange:
        """Keep the commits of 2 to `MAX_FILES_PER_COMMIT` files (a lone file has no partner)."""
        kept: list[tuple[str, ...]] = []
        by_path: dict[str, list[int]] = defaultdict(list)
        for paths in commits:
            unique = tuple(sorted(set(paths)))
            if not 1 < len(unique) <= MAX_FILES_PER_COMMIT:
                continue
            for path in unique:
                by_path[path].append(len(kept))
            kept.append(unique)
        return cls(kept, dict(by_path))

    def partners(self, path: str) -> dict[str, float]:
        """The files that changed with `path`, each with P(it changed | `path` changed)."""
        seen = self.by_path.get(path, [])
        together: dict[str, int] = defaultdict(int)
        for index in seen:
            for other in self.commits[index]:
                together[other] += 1
        together.pop(path, None)
        return {
            other: n / (len(seen) + SMOOTHING) for other, n in together.items() if n >= MIN_TOGETHER
        }


def companions(cochange: CoChange, anchors: list[str], *, decay: float = 0.7) -> dict[str, float]:
    """Files that usually changed with `anchors` (best first): the sum of P(file | anchor),
    the anchor at rank i weighted `decay ** i`. The anchors themselves are left out."""
    scores: dict[str, float] = defaultdict(float)
    for rank, anchor in enumerate(anchors):
        weight = decay**rank
        for other, p in cochange.partners(anchor).items():
            scores[other] += weight * p
    for anchor in anchors:
        scores.pop(anchor, None)
    return dict(scores)
