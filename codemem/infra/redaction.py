"""Secrets hidden from text before codemem keeps it: the code index (lines are redacted
before they become chunks, symbols or tags) and the sleep pass (text quoted from commits and
files).

`redact_line` / `redact_text` replace each secret the detector (`codemem.infra.secrets`)
recognises with `«redacted:<kind>»` (a private key's whole block); they also hide unquoted
values assigned to a secret-like name in config files (`password: hunter2x`), which the
review, to keep false alarms out of commits, does not report. Random-looking quoted strings
are reported by the review (`first_secret`) but not redacted: hashes in lock files look the
same.
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Iterable
from dataclasses import replace
from itertools import accumulate

from codemem.infra.secret_windows import rules_near
from codemem.infra.secrets import ASSIGNED_RULE, DEFAULT_ENTROPY, Secret, find_secrets

KEY_RULE = "secrets/private-key"  # the one redaction reaching past its secret: the key's lines

_KEY_END = re.compile(r"-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----")
# After a private key's BEGIN marker on its line: base64 and `\n` escapes, maybe its END marker.
_KEY_REST = re.compile(
    r"(?:\\n|[A-Za-z0-9+/=])*(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----(?:\\n)?)?"
)
# A line of a private key's body: base64, a header or the END marker, maybe quoted with a `\n` escape.
_KEY_LINE = re.compile(
    r"""\s*[+,]?\s*["']?(?P<body>[A-Za-z0-9+/=]{16,}(?:\\n)?|[A-Za-z-]+: [^'"]*?(?:\\n)?"""
    r"""|-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----(?:\\n)?)?["']?\s*[+,]?\s*"""
)


def redaction(kind: str) -> str:
    """What stands in for a redacted secret: `«redacted:aws-access-key»`."""
    return f"«redacted:{kind}»"


def redact_line(text: str, min_entropy: float = DEFAULT_ENTROPY) -> str:
    """`text` with every recognised secret replaced by `«redacted:<kind>»` (see the module docstring)."""
    return redact_text(text, min_entropy)


def redact_text(text: str, min_entropy: float = DEFAULT_ENTROPY) -> str:
    """`redact_line` for a text of many lines: every line stays where it was; a private key's
    markers and the key material between them are redacted line by line."""
    return _redact(text, find_secrets(text, min_entropy, bare=True))


def _redact(text: str, secrets: Iterable[Secret]) -> str:
    """`text` with `secrets` (found in it) redacted."""
    found = sorted(secrets, key=lambda s: (s.start, -s.end))
    if not found:
        return text
    out: list[str] = []
    done = 0
    for secret in found:
        if secret.start < done:  # inside one already redacted
            continue
        spans = (
            _key_spans(text, secret.start, secret.end)
            if secret.rule == KEY_RULE
            else [(secret.start, secret.end)]
        )
        for start, end in spans:
            out += [text[done:start], redaction(secret.kind)]
            done = end
    out.append(text[done:])
    return "".join(out)


class RedactedLines:
    """A text's lines as `redact_text(text).splitlines()` has them, for search snippets of long
    files: lines far from every secret's anchor are not redacted at all, lines near a few
    rules' anchors only by those rules, in their windows reaching into the lines.

    Why that is the same: a secret is found only in a window around an anchor of its rule
    (`rules_near`); every redaction but a private key's stays inside its secret's line and
    keeps every line where it was (a text with a private key's anchor is redacted whole);
    and which secrets a rule finds in a window does not depend on other rules or windows,
    but for an assignment, which a key found elsewhere can keep from being one (where one
    is in the lines, the text is redacted whole).
    """

    def __init__(self, text: str, min_entropy: float = DEFAULT_ENTROPY):
        self._text = text
        self._min_entropy = min_entropy
        self._lines = text.splitlines(keepends=True)
        lowered = text.lower()
        # Anchors are looked for in the lowered text: its positions must be the text's.
        self._lowered: str | None = (
            lowered
            if len(lowered) == len(text) and not rules_near(lowered, 0, len(text), [KEY_RULE])
            else None
        )
        self._redacted: list[str] | None = None
        # Where each line starts in the text, counted once a snippet asks (a search of a long
        # file reads k snippets from it: summing the lines before each was k times the file).
        self._starts: array[int] | None = None

    def lines(self, first: int, last: int) -> list[str]:
        """Lines `first`..`last`, counted from 1: `redact_text(text).splitlines()[first - 1 : last]`."""
        start, end, _ = slice(first - 1, last).indices(len(self._lines))
        if end <= start:
            return []
        if self._lowered is not None:
            if self._starts is None:
                self._starts = array("q", accumulate(map(len, self._lines), initial=0))
            lo, hi = self._starts[start], self._starts[end]
            near = rules_near(self._lowered, lo, hi)
            if not near:
                return self._text[lo:hi].splitlines()
            secrets = list(
                find_secrets(
                    self._text,
                    self._min_entropy,
                    bare=True,
                    rules=near,
                    around=(lo, hi),
                    lowered=self._lowered,
                )
            )
            meeting = [s for s in secrets if s.start < hi and lo < s.end]
            if all(lo <= s.start and s.end <= hi and s.rule != ASSIGNED_RULE for s in meeting):
                moved = [replace(s, start=s.start - lo, end=s.end - lo) for s in meeting]
                return _redact(self._text[lo:hi], moved).splitlines()
        if self._redacted is None:
            self._redacted = redact_text(self._text, self._min_entropy).splitlines()
        return self._redacted[first - 1 : last]


def _key_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """The spans of a private key whose BEGIN marker is `start`..`end`: the marker with what
    follows it on its line, then the key material of the next lines up to its END marker
    (quotes and punctuation around them are kept, so code around a key still parses)."""
    rest = _KEY_REST.match(text, end)
    end = rest.end() if rest else end
    spans = [(start, end)]
    if rest and _KEY_END.search(rest.group(0)):
        return spans
    at = text.find("\n", end)
    while at >= 0:
        eol = text.find("\n", at + 1)
        line_end = len(text) if eol < 0 else eol
        line = _KEY_LINE.fullmatch(text, at + 1, line_end)
        if line is None:
            break
        if line.group("body"):
            spans.append(line.span("body"))
            if _KEY_END.search(line.group("body")):
                break
        at = eol
    return spans


def redact_source(data: bytes, min_entropy: float = DEFAULT_ENTROPY) -> bytes:
    """`redact_text` on a file's bytes; every byte outside the secrets is kept, even invalid UTF-8."""
    text = data.decode("utf-8", "surrogateescape")
    redacted = redact_text(text, min_entropy)
    return data if redacted is text else redacted.encode("utf-8", "surrogateescape")
