"""Redacted lines of a long text (search snippets): always `redact_text(text).splitlines()`
sliced, while the whole text is redacted only when a secret could be near the lines asked for.

Every secret here is assembled at run time, so this file holds none of them.
"""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from codemem.infra import RedactedLines, redact_text
from codemem.infra import redaction as redaction_module
from codemem.infra.redaction import KEY_RULE, redaction
from codemem.infra.secret_windows import ANCHORS
from codemem.infra.secrets import _ASSIGNED, _ASSIGNED_BARE, KNOWN

# The regular-expression parser, to check the patterns' structure below (named so from 3.11).
sre_parse = importlib.import_module("re._parser" if sys.version_info >= (3, 11) else "sre_parse")

REPO = Path(__file__).resolve().parents[2]
AWS_KEY = "AKIA" + "Q7XZ2KJH4MPL9WRT"
GITHUB = "gh" + "p_" + "Ab3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dF3hJ5"
QUOTED = "aB3dE5" + "fG7hJ9kL1mN3pQ"
AWS_SECRET = "wJalrXUtnFEMI" + "K7MDENGbPxRfiCYzQ8aB3dE5fG7"
BODY = "MIIEowIBAAKCAQEA" + "7bq3Xz9vQ2k1Lm8pR4sT6uW0yA2cE4gI6kM8oQ0sU2wY4"
BEGIN, END = "-----BEGIN RSA " + "PRIVATE KEY-----", "-----END RSA " + "PRIVATE KEY-----"
FILLER = "def f(x):\n    return x + 1  # plain code, no anchor at all\n"


def _separators() -> str:
    return "".join(chr(c) for c in range(0x3000) if len(f"a{chr(c)}b".splitlines()) == 2)


def _every_slice_agrees(text: str, firsts: range | None = None) -> None:
    full = redact_text(text).splitlines()
    lines = RedactedLines(text)
    n = len(text.splitlines())
    for first in firsts or range(0, n + 3):
        for last in {first - 1, first, first + 1, first + 4, first + 30, n, n + 2}:
            assert lines.lines(first, last) == full[first - 1 : last], (first, last)


def _far(n: int) -> str:
    """`n` lines of code that hold no anchor (each 40 characters with its newline)."""
    return "x = compute(y, z) + other(w)  # filler\n" * n


ADVERSARIAL = [
    "",
    "\n",
    f"KEY = '{AWS_KEY}'",  # a key on the only line, no newline
    f"KEY = '{AWS_KEY}'\n" + FILLER * 40,  # at the start
    FILLER * 40 + f"token = '{QUOTED}'",  # at the very end
    FILLER * 3 + f"{BEGIN}\n{BODY}\n{BODY}\n\n{BODY}\n{END}\n" + FILLER * 30,  # a PEM block
    f'{BEGIN}\n"{BODY}\\n"\n+ "{BODY}\\n"\n{END}\n' + _far(60),  # quoted, the key at the start
    _far(60) + f"key = '{BEGIN}\\n{BODY}\\n{END}'\n" + _far(60),  # on one line, escaped
    _far(60) + f"{BEGIN}\n" + f"{BODY}\n" * 80 + f"{END}\n" + _far(5),  # a long body
    # An anchor 1,000 characters before the lines asked for, or 250 after: its window reaches.
    "api = 1\n" + _far(25) + f"secret = '{QUOTED}'\n" + _far(6) + "token\n" + _far(30),
    _far(30) + f"ci: {GITHUB}\n" + _far(30),  # a token in the middle
    _far(30) + f"password:\n\n    '{QUOTED}'\n" + _far(30),  # an assignment over lines
    _far(30) + "url = 'https://user:hunter2x@example.org/x'\n" + _far(30),
    _far(30).replace("\n", "\r\n") + f"token: '{QUOTED}'\r\n" + _far(30).replace("\n", "\r\n"),
    _far(20) + "a\x0cb\x1cc\x85d\u2028e\n" + f"KEY = '{AWS_KEY}'\n" + _far(20),  # other line breaks
    "İstanbul İzmir\n" * 30 + f"KEY = '{AWS_KEY}'\n" + _far(30),  # lowering makes it longer
    "ünïcode ∑ ok\n" * 30 + f"auth_key = '{QUOTED}'\n" + _far(30),  # lowering keeps its length
    # A key found far away keeps an assignment of the same value from being one: the lines
    # near the assignment, where only its rule's anchor is, must not redact it.
    f"aws_secret = '{AWS_SECRET}'\n" + _far(60) + f"token = '{AWS_SECRET}'\n" + _far(30),
    _far(30) + f"token = 'x{AWS_KEY}'\n" + _far(30) + f"KEY = '{AWS_KEY}'\n",
    # Near only some rules' anchors: a URL, a URL with a password, a key beside them.
    _far(30) + "# https://example.org/docs\n" + _far(2) + f"KEY = '{AWS_KEY}'\n" + _far(30),
    _far(30) + f"u = 'https://me:hunter2x@example.org' + '{GITHUB}'\n" + _far(30),
    _far(30) + "# https://example.org\n" + f"api_key = '{QUOTED}' # {GITHUB}\n" + _far(30),
    # Anchors every few lines chain their windows into one from the start to the end.
    ("# https://example.org\n" + _far(5)) * 20
    + "u = 'https://me:hunter2x@example.org'\n"
    + (f"# token\n{_far(3)}KEY = '{AWS_KEY}'\n{_far(2)}access = '{QUOTED}'\n") * 10,
]


@pytest.mark.parametrize("text", ADVERSARIAL)
def test_every_slice_is_the_full_redactions(text):
    _every_slice_agrees(text)


@pytest.mark.parametrize("blank", range(985, 996))
def test_a_secret_at_the_edge_of_its_anchors_window(blank):
    """A name and its value on a line a thousand characters below, where the name's window
    (`_AFTER` characters) just reaches the value, or just does not."""
    text = _far(5) + "token =" + "\n" * blank + f"    '{QUOTED}'\n" + _far(5)
    assert (redact_text(text) != text) == (blank <= 991)
    value = 6 + blank  # the value's line
    _every_slice_agrees(text, range(value - 40, value + 3))


def test_lines_far_from_every_anchor_are_never_redacted(monkeypatch):
    text = _far(40) + f"KEY = '{AWS_KEY}'\n" + _far(40)
    expected = redact_text(text).splitlines()

    def fail(*args: object) -> str:
        raise AssertionError("the whole text was redacted")

    monkeypatch.setattr(redaction_module, "redact_text", fail)
    lines = RedactedLines(text)
    assert lines.lines(1, 10) == expected[:10] == text.splitlines()[:10]
    assert lines.lines(75, 81) == expected[74:81]


def test_lines_near_a_few_rules_anchors_are_redacted_by_those_rules(monkeypatch):
    text = _far(30) + "# https://example.org/docs\n" + _far(30) + f"KEY = '{AWS_KEY}'\n" + _far(30)
    expected = redact_text(text).splitlines()

    def fail(*args: object) -> str:
        raise AssertionError("the whole text was redacted")

    monkeypatch.setattr(redaction_module, "redact_text", fail)
    lines = RedactedLines(text)
    assert lines.lines(25, 40) == expected[24:40] == text.splitlines()[24:40]
    assert lines.lines(60, 62) == expected[59:62] != text.splitlines()[59:62]


def test_a_long_texts_lines_are_measured_once_for_all_its_snippets(monkeypatch):
    # A search reads k snippets of one long file (300,000 one-line definitions): where each
    # starts is counted once, not by summing the lines before it for each.
    text = "".join(f"def f{n}(): pass\n" for n in range(20_000))
    lines = RedactedLines(text)
    measured = []
    monkeypatch.setattr(redaction_module, "len", lambda s: measured.append(1) or len(s), False)
    snippets = [lines.lines(n, n) for n in range(19_900, 20_001)]
    assert snippets == [[f"def f{n - 1}(): pass"] for n in range(19_900, 20_001)]
    assert len(measured) <= 20_000 + 2 * len(snippets)


def test_lines_near_a_secret_are_redacted():
    text = _far(40) + f"KEY = '{AWS_KEY}'\n" + _far(40)
    assert RedactedLines(text).lines(40, 42) == [
        _far(1).rstrip("\n"),
        "KEY = '«redacted:aws-access-key»'",
        _far(1).rstrip("\n"),
    ]


def _text_files() -> list[Path]:
    roots = [REPO / "fixtures", REPO / "codemem", REPO / "tests", REPO / "docs"]
    return sorted(p for root in roots for p in root.rglob("*") if p.is_file())


def test_every_file_of_the_repository_agrees():
    """Windows of lines around every tenth line of every file of this repository."""
    for path in _text_files():
        text = path.read_bytes().decode("utf-8", "replace")
        full = redact_text(text).splitlines()
        lines = RedactedLines(text)
        for first in range(1, len(full) + 1, 10):
            for last in (first, first + 7, first + 60):
                assert lines.lines(first, last) == full[first - 1 : last], (path, first, last)


# What the shortcut rests on, checked on the patterns themselves so it stays true when they change.


def test_every_redaction_but_a_keys_stays_in_its_line():
    """A secret's span (group 1, or the whole match) can hold no line break and is never empty;
    nor does what stands in for it hold one."""
    separators = _separators()
    patterns = [pattern for rule, _, pattern, _ in KNOWN if rule != KEY_RULE]
    for pattern in [*patterns, _ASSIGNED, _ASSIGNED_BARE]:
        parsed = sre_parse.parse(pattern.pattern, pattern.flags)
        span = _group(parsed.data, 1) if pattern.groups else parsed.data
        assert span is not None, pattern.pattern
        assert sre_parse.SubPattern(parsed.state, span).getwidth()[0] >= 1, pattern.pattern
        for ch in separators:
            assert not _consumes(span, ch, pattern.flags), (pattern.pattern, ch)
    for rule in ANCHORS:
        assert len(redaction(rule.removeprefix("secrets/")).splitlines()) == 1


def test_lowering_never_drops_a_character():
    """Equal lengths of a text and its lowered form then mean equal positions."""
    assert all(chr(c).lower() for c in range(0x110000))


def _group(items: list, number: int) -> list | None:
    for op, av in items:
        name = str(op)
        if name == "SUBPATTERN":
            group, _, _, sub = av
            if group == number:
                return list(sub.data)
            found = _group(list(sub.data), number)
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            found = _group(list(av[2].data), number)
        elif name == "BRANCH":
            found = next((f for b in av[1] if (f := _group(list(b.data), number))), None)
        else:
            found = None
        if found is not None:
            return found
    return None


def _consumes(items: list, ch: str, flags: int) -> bool:
    """Whether these parsed items can consume `ch` (True when unsure)."""
    for op, av in items:
        name = str(op)
        if name in ("AT", "ASSERT", "ASSERT_NOT"):
            continue  # zero width
        if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            hit = av[1] > 0 and _consumes(list(av[2].data), ch, flags)
        elif name in ("SUBPATTERN", "ATOMIC_GROUP"):
            hit = _consumes(list((av[3] if name == "SUBPATTERN" else av).data), ch, flags)
        elif name == "BRANCH":
            hit = any(_consumes(list(b.data), ch, flags) for b in av[1])
        elif name in ("LITERAL", "NOT_LITERAL", "ANY", "IN"):
            hit = _atom_matches(name, av, ch, flags)
        else:
            hit = True
        if hit:
            return True
    return False


def _atom_matches(name: str, av: Any, ch: str, flags: int) -> bool:
    """Whether one parsed atom (a character, any character, a class) matches `ch`."""
    if name == "ANY":
        return ch != "\n" or bool(flags & re.DOTALL)
    if name in ("LITERAL", "NOT_LITERAL"):
        same = chr(av) == ch or (bool(flags & re.IGNORECASE) and chr(av).lower() == ch.lower())
        return same if name == "LITERAL" else not same
    members, negate = [], False
    for kind, value in av:
        kind = str(kind)
        if kind == "NEGATE":
            negate = True
        elif kind == "LITERAL":
            members.append(re.escape(chr(value)))
        elif kind == "RANGE":
            members.append(f"{re.escape(chr(value[0]))}-{re.escape(chr(value[1]))}")
        elif kind == "CATEGORY":
            members.append(_CATEGORIES[str(value)])
        else:
            return True
    klass = f"[{'^' if negate else ''}{''.join(members)}]"
    return re.fullmatch(klass, ch, flags & (re.IGNORECASE | re.ASCII)) is not None


_CATEGORIES = {
    "CATEGORY_SPACE": r"\s",
    "CATEGORY_NOT_SPACE": r"\S",
    "CATEGORY_DIGIT": r"\d",
    "CATEGORY_NOT_DIGIT": r"\D",
    "CATEGORY_WORD": r"\w",
    "CATEGORY_NOT_WORD": r"\W",
}
