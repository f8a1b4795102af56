"""Secrets in text and bytes: the one detector (known key formats, secret-like assignments,
entropy).

Pure functions, used by the review's secret scan (which turns what is found here into
findings: `first_secret` in a line, `secrets_in_bytes` in a stream of any file's bytes) and
by the redaction (`codemem.infra.redaction`) that the code index and the sleep pass run on
text before they keep it.

Obvious placeholders (`EXAMPLE`, `xxxx`, `${VAR}`, `<token>`, `changeme`...) are never
secrets, nor are URLs assigned to a secret-like name (the review's URL check covers them).
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass

from codemem.infra.secret_windows import (
    ANCHORS,
    anchor_places,
    occurrences,
    rules_anchored,
    windows,
)

DEFAULT_ENTROPY = 3.5  # bits per character of a value assigned to a secret-like name
HIGH_ENTROPY = 4.3  # bits per character of a random-looking quoted string anywhere
ASSIGNED_RULE = "secrets/assigned-secret"  # a secret-looking value assigned to a secret-like name

# (rule, severity, pattern, what it is); group 1, when present, is the secret itself.
KNOWN: list[tuple[str, str, re.Pattern[str], str]] = [
    (
        "secrets/private-key",
        "error",
        re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"),
        "private key",
    ),
    (
        "secrets/aws-access-key",
        "error",
        re.compile(r"\b((?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16})\b"),
        "AWS access key ID",
    ),
    (
        "secrets/aws-secret-key",
        "error",
        re.compile(r"(?i)aws.{0,20}?(?:secret|private).{0,20}?['\"]([A-Za-z0-9/+=]{40})['\"]"),
        "AWS secret access key",
    ),
    (
        "secrets/github-token",
        "error",
        re.compile(r"\b(gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})\b"),
        "GitHub token",
    ),
    ("secrets/gitlab-token", "error", re.compile(r"\b(glpat-[A-Za-z0-9_\-]{20,})"), "GitLab token"),
    (
        "secrets/slack-token",
        "error",
        re.compile(r"\b(xox[abposr]-[A-Za-z0-9-]{10,})"),
        "Slack token",
    ),
    (
        "secrets/slack-webhook",
        "error",
        re.compile(
            r"(https://hooks\.slack\.com/services/T[A-Za-z0-9_]+/B[A-Za-z0-9_]+/[A-Za-z0-9_]+)"
        ),
        "Slack webhook URL",
    ),
    (
        "secrets/stripe-key",
        "error",
        re.compile(r"\b([sr]k_live_[0-9a-zA-Z]{20,})\b"),
        "Stripe live key",
    ),
    (
        "secrets/google-api-key",
        "error",
        re.compile(r"\b(AIza[0-9A-Za-z_\-]{35})(?![0-9A-Za-z_\-])"),
        "Google API key",
    ),
    (
        "secrets/anthropic-key",
        "error",
        re.compile(r"\b(sk-ant-[a-z]+\d{2}-[A-Za-z0-9_\-]{40,})"),
        "Anthropic API key",
    ),
    (
        "secrets/openai-key",
        "error",
        re.compile(
            r"\b(sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{16,}T3BlbkFJ[A-Za-z0-9_\-]{16,}|sk-proj-[A-Za-z0-9_\-]{40,})"
        ),
        "OpenAI API key",
    ),
    ("secrets/npm-token", "error", re.compile(r"\b(npm_[A-Za-z0-9]{36})\b"), "npm token"),
    (
        "secrets/pypi-token",
        "error",
        re.compile(r"\b(pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_\-]{50,})"),
        "PyPI token",
    ),
    (
        "secrets/sendgrid-key",
        "error",
        re.compile(r"\b(SG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43})"),
        "SendGrid API key",
    ),
    (
        "secrets/jwt",
        "warning",
        re.compile(r"\b(eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,})"),
        "JSON Web Token",
    ),
    (
        "secrets/url-password",
        "warning",
        re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@'\"]+:([^/\s:@'\"]{3,})@"),
        "password in a URL",
    ),
]
_SECRET_NAME = (
    r"(?i)(?:secret|token|passw(?:or)?d|passwd|pwd|api[_-]?key|apikey|access[_-]?key|private[_-]?key"
    r"|client[_-]?secret|auth[_-]?key|credentials?)[\w-]*['\"]?"
)
_ASSIGNED = re.compile(_SECRET_NAME + r"\s*(?::=|=>|[:=])\s*[rbf]?['\"]([^'\"\s]{12,})['\"]")
# An unquoted value to the end of its line (`password: hunter2x`, `API_TOKEN=...` in .env files).
_ASSIGNED_BARE = re.compile(
    _SECRET_NAME + r"[ \t]*(?::=|=>|[:=])[ \t]*([^\s'\"`,;(){}\[\]<>]{6,})[ \t]*(?:#.*)?$",
    re.MULTILINE,
)
# What every match of `_ASSIGNED` / `_ASSIGNED_BARE` holds from its operator on: a window of
# a non-ASCII text without it is not searched with them (these start at a rare character,
# not at every letter that could begin a secret-like name, so they are much faster).
_QUOTED_VALUE = re.compile(r"(?i)[=>:]\s*[rbf]?['\"][^'\"\s]{12,}['\"]")
_BARE_VALUE = re.compile(r"[=>:][ \t]*[^\s'\"`,;(){}\[\]<>]{6,}[ \t]*(?:#.*)?$", re.MULTILINE)
_IDENTIFIER = re.compile(
    r"[A-Za-z_][A-Za-z_.]*|[0-9.]+"
)  # `os.environ`, `none`, `3600`: not a secret
_QUOTED = re.compile(r"['\"]([A-Za-z0-9+/=_\-]{32,})['\"]")
_PLACEHOLDER = re.compile(
    r"(?i)example|sample|dummy|fake|test|changeme|change_me|placeholder|redacted|your|secret_here|"
    r"x{4,}|\*{3,}|\.{3}|<[^>]*>|\{[^}]*\}|%\(|\$[A-Z_]+|^(?:pass(?:word)?|user(?:name)?|secret|token)$"
)
_URL = re.compile(r"://")
# The characters that a case-insensitive pattern matches to an ASCII letter though their
# `lower()` is not that letter (ı, ſ), or whose `lower()` is two characters (İ): found by
# trying every character. In a text without them, a name is where the lowered text has its
# anchor (the Kelvin sign K, which matches `k`, lowers to it).
_UNLIKE_CASES = "\u0130\u0131\u017f"
# Texts every match of a rule holds, one of them at least, in their case: a window without
# any is not searched. The URL pattern, with no literal to start at, is tried at every
# letter, and URLs in docstrings and comments rarely hold a password's `@`; the lowered
# anchors of others are common words (`disk-`, `msg.`) where the key's case is not.
_HOLDS = {
    "secrets/private-key": ("-----BEGIN ",),
    "secrets/aws-access-key": ("AKIA", "ASIA", "ABIA", "ACCA"),
    "secrets/google-api-key": ("AIza",),
    "secrets/openai-key": ("T3BlbkFJ", "sk-proj-"),
    "secrets/pypi-token": ("pypi-AgEIcHlwaS5vcmc",),
    "secrets/sendgrid-key": ("SG.",),
    "secrets/jwt": ("eyJ",),
    "secrets/url-password": ("@",),
}

# Printable ASCII and tab are text; in text every other byte becomes a line break (no pattern
# crosses one); in binary content, runs of ten printable bytes ("p" in the mask) are looked at.
_TEXT_BYTES = bytes(b for b in range(256) if b == 9 or 32 <= b <= 126)
_AS_TEXT = bytes(b if b in _TEXT_BYTES else 10 for b in range(256))
_RUNS = bytes(ord("p") if b in _TEXT_BYTES else 0 for b in range(256))
_MIN_RUN = b"p" * 10  # no key is shorter
OVERLAP = 4096  # bytes of one chunk searched again with the next, so no key is cut in two


@dataclass(frozen=True)
class Secret:
    """One secret found in a text: `start`..`end` is the secret itself, `at` where its match begins."""

    rule: str  # "secrets/aws-access-key"
    severity: str  # "error" or "warning"
    what: str  # "AWS access key ID"
    value: str
    start: int
    end: int
    at: int

    @property
    def kind(self) -> str:
        """The rule without its prefix: `aws-access-key`."""
        return self.rule.removeprefix("secrets/")


def entropy(text: str) -> float:
    """Shannon entropy in bits per character."""
    if not text:
        return 0.0
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def secret_hint(secret: str) -> str:
    """The first four characters and the length: enough to find it, not to use it."""
    return f"{secret[:4]}…, {len(secret)} characters"


def placeholder(value: str) -> bool:
    """Whether a value is obviously not a real secret (`EXAMPLE`, `xxxx`, `${VAR}`, one repeated character)."""
    return bool(_PLACEHOLDER.search(value)) or len(set(value)) <= 3


def _mixed(value: str) -> bool:
    return (
        any(c.islower() for c in value)
        and any(c.isupper() for c in value)
        and any(c.isdigit() for c in value)
    )


def _found(rule: str, severity: str, what: str, match: re.Match[str]) -> Secret:
    group = 1 if match.re.groups else 0
    return Secret(
        rule,
        severity,
        what,
        match.group(group),
        match.start(group),
        match.end(group),
        match.start(),
    )


def _assigned(value: str, min_entropy: float) -> bool:
    return not placeholder(value) and not _URL.search(value) and entropy(value) >= min_entropy


def _bare(value: str) -> bool:
    return not placeholder(value) and not _URL.search(value) and not _IDENTIFIER.fullmatch(value)


def first_secret(
    text: str, min_entropy: float = DEFAULT_ENTROPY, generated: bool = False
) -> Secret | None:
    """The first secret in a line, or None: a known format, then a secret-like assignment,
    then (unless the file is generated) a random-looking quoted string."""
    for rule, severity, pattern, what in KNOWN:
        match = pattern.search(text)
        if match:
            found = _found(rule, severity, what, match)
            if not placeholder(found.value):
                return found
    match = _ASSIGNED.search(text)
    if match and _assigned(match.group(1), min_entropy):
        return _found(
            "secrets/assigned-secret",
            "error",
            "a secret-looking value assigned to a secret-like name",
            match,
        )
    if generated:
        return None
    for match in _QUOTED.finditer(text):
        value = match.group(1)
        if _mixed(value) and not placeholder(value) and entropy(value) >= HIGH_ENTROPY:
            return _found("secrets/high-entropy", "warning", "high-entropy string", match)
    return None


def find_secrets(
    text: str,
    min_entropy: float = DEFAULT_ENTROPY,
    *,
    bare: bool = False,
    rules: Collection[str] | None = None,
    around: tuple[int, int] | None = None,
    lowered: str | None = None,
) -> Iterator[Secret]:
    """Every known key and secret-like assignment in a text (of any length).

    Patterns run only near their anchors (`ANCHORS`), so a long text costs one pass over
    it to find them (a few `find`s if it is not ASCII).
    With `bare`, unquoted values assigned to a secret-like name count too. With `rules`,
    only theirs; with `around` (start, end), only in the windows reaching into that span.
    Either way, the same secrets there, but for assignments, which a key left out no
    longer keeps from being reported. `lowered` is `text.lower()` when the caller has it.
    """
    lowered = text.lower() if lowered is None else lowered
    seen: dict[str, list[int]] = (around is None and anchor_places(lowered)) or {}
    if around is None:  # only the rules with an anchor in the text can find anything
        anchored = rules_anchored(lowered, seen)
        rules = anchored if rules is None else anchored.intersection(rules)
    known: set[str] = set()  # a key of a known format is not reported again as an assignment
    for rule, severity, pattern, what in KNOWN:
        if rules is not None and rule not in rules:
            continue
        holds = _HOLDS.get(rule, ())
        for start, end in windows(lowered, ANCHORS[rule], seen, around):
            if holds and all(text.find(held, start, end) < 0 for held in holds):
                continue
            for match in pattern.finditer(text, start, end):
                found = _found(rule, severity, what, match)
                if not placeholder(found.value):
                    known.add(found.value)
                    yield found
    assignments: list[tuple[re.Pattern[str], re.Pattern[str], Callable[[str], bool]]] = [
        (_ASSIGNED, _QUOTED_VALUE, lambda value: _assigned(value, min_entropy))
    ]
    if bare:
        assignments.append((_ASSIGNED_BARE, _BARE_VALUE, _bare))
    if rules is not None and ASSIGNED_RULE not in rules:
        return
    # A secret-like name is where the lowered text has it (but in a text holding one of
    # `_UNLIKE_CASES`): only there is an assignment tried, instead of at every character of
    # its windows.
    names = _name_places(lowered, seen) if around is None and _like_cases(text) else None
    for start, end in windows(lowered, ANCHORS[ASSIGNED_RULE], seen, around):
        for assignment, value_like, secret_like in assignments:
            if names is not None:
                # A few `match`es where names start cost less than a search of the window
                # for `value_like` (which only ever rules windows out: every match holds it).
                matches = _matches_at(assignment, text, names, start, end)
            elif value_like.search(text, start, end):
                matches = assignment.finditer(text, start, end)
            else:
                continue
            for match in matches:
                value = match.group(1)
                if not any(key in value for key in known) and secret_like(value):
                    yield _found(
                        ASSIGNED_RULE,
                        "error",
                        "a secret-looking value assigned to a secret-like name",
                        match,
                    )


def _like_cases(text: str) -> bool:
    """Whether `_SECRET_NAME` matches only where `text.lower()` has the name lower-cased, at
    the same place: none of `_UNLIKE_CASES` is in the text."""
    return text.isascii() or not any(char in text for char in _UNLIKE_CASES)


def _name_places(lowered: str, seen: dict[str, list[int]]) -> list[int]:
    """Where a secret-like name (`_SECRET_NAME`) may start in a text `_like_cases`: where it has
    one of `ASSIGNED_RULE`'s anchors (every name but `client_secret` starts with one), and
    six or seven characters before a `secret` (`clientsecret`, `client_secret`)."""
    places: set[int] = set()
    for anchor in ANCHORS[ASSIGNED_RULE]:
        found = occurrences(lowered, anchor, seen)
        places.update(found)
        if anchor == "secret":
            places.update(at - back for at in found for back in (6, 7) if at >= back)
    return sorted(places)


def _matches_at(
    pattern: re.Pattern[str], text: str, places: list[int], start: int, end: int
) -> Iterator[re.Match[str]]:
    """`pattern.finditer(text, start, end)` for a pattern that matches only at `places`
    (sorted): it is tried there alone, from the end of the match before."""
    at_least = start
    for at in places[bisect_left(places, start) : bisect_left(places, end)]:
        if at >= at_least:
            match = pattern.match(text, at, end)
            if match is not None:
                yield match
                at_least = max(match.end(), at + 1)


def _in_runs(buf: bytes, min_entropy: float) -> Iterator[Secret]:
    """`find_secrets` over the runs of ten or more printable bytes of `buf`, joined; positions in `buf`."""
    starts: list[int] = []  # where each run is in the joined text
    offsets: list[int] = []  # and in `buf`
    pieces: list[str] = []
    at, mask = 0, buf.translate(_RUNS)
    start = mask.find(_MIN_RUN)
    while start >= 0:
        end = mask.find(b"\0", start)
        end = len(buf) if end < 0 else end
        starts.append(at)
        offsets.append(start)
        pieces.append(buf[start:end].decode("ascii"))
        at += end - start + 1
        start = mask.find(_MIN_RUN, end)
    for found in find_secrets("\n".join(pieces), min_entropy):
        run = bisect_right(starts, found.at) - 1
        shift = offsets[run] - starts[run]
        yield Secret(
            found.rule,
            found.severity,
            found.what,
            found.value,
            found.start + shift,
            found.end + shift,
            found.at + shift,
        )


def _shifted(found: Secret, scale: int, parity: int) -> Secret:
    return Secret(
        found.rule,
        found.severity,
        found.what,
        found.value,
        scale * found.start + parity,
        scale * found.end + parity,
        scale * found.at + parity,
    )


def _in_buffer(buf: bytes, min_entropy: float) -> Iterator[Secret]:
    """`find_secrets` over the printable ASCII of `buf` (every other byte ends a line).

    Mostly text: the whole buffer is one text. Mostly binary: its printable runs (a small
    fraction of it), and those of its even and of its odd bytes, where UTF-16 text keeps
    its ASCII.
    """
    if len(buf.translate(None, _TEXT_BYTES)) * 4 < len(buf):
        yield from find_secrets(buf.translate(_AS_TEXT).decode("ascii"), min_entropy)
        return
    yield from _in_runs(buf, min_entropy)
    for parity in (0, 1):
        for found in _in_runs(buf[parity::2], min_entropy):
            yield _shifted(found, 2, parity)


def secrets_in_bytes(
    chunks: Iterable[bytes], min_entropy: float
) -> dict[tuple[str, str], tuple[int, str, str]]:
    """(rule, secret) -> (byte offset of its match, severity, what) of the keys in a stream of bytes."""
    found: dict[tuple[str, str], tuple[int, str, str]] = {}
    tail, base = b"", 0  # `base`: the offset of the buffer's first byte
    for chunk in chunks:
        buf = tail + chunk
        for secret in _in_buffer(buf, min_entropy):
            found.setdefault(
                (secret.rule, secret.value), (base + secret.at, secret.severity, secret.what)
            )
        keep = min(OVERLAP, len(buf))
        tail, base = buf[len(buf) - keep :], base + len(buf) - keep
    return found
