"""Where in a text a secret can be: the texts every match of a rule holds (its anchors), found
in a lowered text, and the windows around them where the rule's pattern is run.

`codemem.infra.secrets` runs its patterns only in these windows, so a long text costs one pass
over it for the anchors instead of a pass of every pattern; `rules_near` tells which rules can
have a secret touching a span at all (the redaction of search snippets relies on it).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from functools import cache
from typing import Any

# Texts every match of a rule holds (lower case: searched in the lowered text), so a long
# text is searched by each pattern only around them instead of over megabytes.
ANCHORS: dict[str, tuple[str, ...]] = {
    "secrets/private-key": ("private key",),
    "secrets/aws-access-key": ("akia", "asia", "abia", "acca"),
    "secrets/aws-secret-key": ("aws",),
    "secrets/github-token": ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
    "secrets/gitlab-token": ("glpat-",),
    "secrets/slack-token": ("xox",),
    "secrets/slack-webhook": ("hooks.slack.com",),
    "secrets/stripe-key": ("k_live_",),
    "secrets/google-api-key": ("aiza",),
    "secrets/anthropic-key": ("sk-ant-",),
    "secrets/openai-key": ("sk-",),
    "secrets/npm-token": ("npm_",),
    "secrets/pypi-token": ("pypi-",),
    "secrets/sendgrid-key": ("sg.",),
    "secrets/jwt": ("eyj",),
    "secrets/url-password": ("://",),
    "secrets/assigned-secret": (
        "secret",
        "token",
        "passw",
        "pwd",
        "api",
        "access",
        "private",
        "auth",
        "credential",
    ),
}
_BEFORE, _AFTER = 256, 1024  # characters around an anchor where its pattern is run
_LONGEST = max(len(anchor) for anchors in ANCHORS.values() for anchor in anchors)
# Anchor -> a shorter anchor it starts with ("sk-ant-" -> "sk-") or a prefix common to several
# ("ghp_", "gho_"... -> "gh", rare enough in code): it is looked for only where that one is,
# instead of in another scan of the whole text.
_PREFIXES = sorted({a for anchors in ANCHORS.values() for a in anchors} | {"gh"}, key=len)
_SHORTER = {
    anchor: shorter
    for anchor in _PREFIXES
    for shorter in reversed(_PREFIXES)
    if len(shorter) < len(anchor) and anchor.startswith(shorter)
}
# The anchors looked for in the whole text (the others are found where these are); none starts
# another, so at most one starts at any place. In a long ASCII text they are all found in one
# pass (`anchor_places`, instead of a `find` for each, over the whole text): a place is a candidate
# when its first two characters (and its third, for anchors that long) begin one of them, then
# checked. Every anchor has two characters at least, all ASCII.
_ROOTS = tuple(anchor for anchor in _PREFIXES if anchor not in _SHORTER)
_BY_PAIR: dict[str, tuple[str, ...]] = {
    pair: tuple(root for root in _ROOTS if root[:2] == pair) for pair in {r[:2] for r in _ROOTS}
}
_ONE_PASS = 4096  # characters from which one pass costs less than a `find` for each anchor
# The pass needs numpy: a process without it imports it (about 70 ms) only once it has searched
# this many characters of long texts anchor by anchor (a `find` for each costs ~15 ns a
# character, the pass ~5), so a small repository's index workers never pay for the import.
_IMPORT_PAYS = 4_000_000
_searched = 0  # characters of long ASCII texts this process searched anchor by anchor


def occurrences(lowered: str, anchor: str, seen: dict[str, list[int]]) -> list[int]:
    """Where `anchor` is in `lowered`, in order (`seen`, as for `windows`, keeps what one
    text's scans found: `anchor_places`' result, or a dict to fill)."""
    if anchor not in seen:
        shorter = _SHORTER.get(anchor)
        if shorter:
            seen[anchor] = [
                at for at in occurrences(lowered, shorter, seen) if lowered.startswith(anchor, at)
            ]
        else:
            found = []
            at = lowered.find(anchor)
            while at >= 0:
                found.append(at)
                at = lowered.find(anchor, at + 1)
            seen[anchor] = found
    return seen[anchor]


# The rules whose anchors are found at each root: a rule none of whose roots is in a text has
# no window there.
_RULES_AT: dict[str, frozenset[str]] = {
    root: frozenset(
        rule
        for rule, anchors in ANCHORS.items()
        if any(_SHORTER.get(anchor, anchor) == root for anchor in anchors)
    )
    for root in _ROOTS
}


def rules_anchored(lowered: str, seen: dict[str, list[int]]) -> set[str]:
    """The rules with a root of their anchors in `lowered` (with `seen` as for `windows`):
    every other rule has no window in the text, so its pattern has nowhere to run. One `in` a
    root in a short text, instead of a `windows` call a rule (17 of them, on every file the
    index reads)."""
    if seen:  # `anchor_places` found every root already
        present = [root for root in _ROOTS if seen.get(root)]
    elif len(lowered) < _ONE_PASS:
        present = [root for root in _ROOTS if root in lowered]
    else:  # found as `windows` would find them, kept in `seen` for it
        present = [root for root in _ROOTS if occurrences(lowered, root, seen)]
    return set().union(*(_RULES_AT[root] for root in present))


def anchor_places(lowered: str) -> dict[str, list[int]] | None:
    """Where each of `_ROOTS` is in `lowered`, as `occurrences` finds them, in one pass; None
    when the text is short or not ASCII, or numpy is not worth importing yet (then each is
    found by its own `find`s)."""
    global _searched
    if len(lowered) < _ONE_PASS or not lowered.isascii():
        return None
    if "numpy" not in sys.modules and _searched < _IMPORT_PAYS:
        _searched += len(lowered)
        return None
    import numpy as np  # here, not at the top: the review hook's start-up does not pay for it

    is_pair, pair_of, third_ok = _tables()
    # Padding bytes, so every place has a third character (one no anchor holds). The text's
    # bytes read as little-endian 16-bit numbers are the pairs at its even places, read from
    # its second byte those at its odd places: no array of pairs is computed.
    size = len(lowered)
    data = lowered.encode("ascii") + b"\0\0\0"
    even = np.frombuffer(data, "<u2", (size + 1) // 2)
    odd = np.frombuffer(data, "<u2", size // 2, 1)
    at_even, at_odd = np.flatnonzero(is_pair.take(even)), np.flatnonzero(is_pair.take(odd))
    # the number of the anchors' first two characters at each candidate place
    pair = pair_of.take(np.concatenate((even[at_even], odd[at_odd])))
    places = np.concatenate((at_even * 2, at_odd * 2 + 1))
    third = np.frombuffer(data, np.uint8)[places + 2]
    candidates = np.sort(places[third_ok[pair, third]])
    found: dict[str, list[int]] = {root: [] for root in _ROOTS}
    for at in candidates.tolist():
        for root in _BY_PAIR[lowered[at : at + 2]]:
            if lowered.startswith(root, at):
                found[root].append(at)
    return found


@cache
def _tables() -> tuple[Any, Any, Any]:
    """For `anchor_places`: whether two characters begin an anchor and their number (from 1),
    by their character codes as a little-endian pair (`second << 8 | first`); whether a third
    character (by its code) after them may be an anchor's, by that number."""
    import numpy as np  # as in `anchor_places`

    pair_of = np.zeros(1 << 16, dtype=np.uint8)
    third_ok = np.zeros((len(_BY_PAIR) + 1, 256), dtype=bool)
    for number, (pair, roots) in enumerate(sorted(_BY_PAIR.items()), start=1):
        pair_of[ord(pair[1]) << 8 | ord(pair[0])] = number
        for root in roots:
            if len(root) == 2:
                third_ok[number, :] = True
            else:
                third_ok[number, ord(root[2])] = True
    return pair_of.astype(bool), pair_of, third_ok


def windows(
    lowered: str,
    anchors: tuple[str, ...],
    seen: dict[str, list[int]],
    around: tuple[int, int] | None = None,
) -> list[tuple[int, int]]:
    """Merged windows around every occurrence of the anchors (those reaching into `around`)."""
    starts = _chained(lowered, anchors, around) if around is not None else None
    if starts is None:
        starts = [at for anchor in anchors for at in occurrences(lowered, anchor, seen)]
    spans: list[tuple[int, int]] = []
    for at in sorted(starts):
        start, end = max(0, at - _BEFORE), at + _AFTER
        if spans and start <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(spans[-1][1], end))
        else:
            spans.append((start, end))
    if around is not None:
        return [(start, end) for start, end in spans if start < around[1] and around[0] < end]
    return spans


def _chained(
    lowered: str, anchors: tuple[str, ...], around: tuple[int, int], steps: int = 32
) -> list[int] | None:
    """The occurrences of the anchors whose windows merge into those reaching into `around`
    (found near it, then from one to the next while they are close enough to merge), or None
    after `steps` of them: then the whole text is searched instead."""
    reach = _BEFORE + _AFTER  # two occurrences this far apart or closer have merged windows
    lo, hi = max(0, around[0] - _AFTER + 1), around[1] + _BEFORE
    starts = [at for anchor in anchors for at in _all_in(lowered, anchor, lo, hi)]
    if not starts:
        return []
    first, last = min(starts), max(starts)
    for _ in range(steps):
        before = [
            lowered.rfind(anchor, max(0, first - reach), first - 1 + len(anchor))
            for anchor in anchors
        ]
        if max(before) < 0:
            break
        first = max(before)
        starts.append(first)
    else:
        return None
    for _ in range(steps):
        after = [
            at
            for anchor in anchors
            if (at := lowered.find(anchor, last + 1, last + reach + len(anchor))) >= 0
        ]
        if not after:
            return starts
        last = min(after)
        starts.append(last)
    return None


def _all_in(lowered: str, anchor: str, start: int, end: int) -> list[int]:
    """Where `anchor` starts in `lowered` from `start` to `end` (inclusive)."""
    found = []
    at = lowered.find(anchor, start, end + len(anchor))
    while at >= 0:
        found.append(at)
        at = lowered.find(anchor, at + 1, end + len(anchor))
    return found


def rules_near(
    lowered: str, start: int, end: int, rules: Iterable[str] = tuple(ANCHORS)
) -> list[str]:
    """Those of `rules` with an anchor close enough to `start`..`end` of a text whose
    `.lower()` is `lowered` (as long as the text) for `find_secrets` to find a secret of
    theirs there. Patterns run only in windows reaching `_BEFORE` characters before and
    `_AFTER` after an anchor, so no secret of another rule has a character in that span.
    """
    lo, hi = max(0, start - _AFTER), end + _BEFORE + _LONGEST
    return [rule for rule in rules if any(lowered.find(a, lo, hi) >= 0 for a in ANCHORS[rule])]
