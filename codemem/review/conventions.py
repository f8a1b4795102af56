"""What the review enforces, read from memory: the learned records and `blocks/conventions.md`.

Two sources count:

1. Learned conventions, as records (`.codemem/conventions.json`, written by the digest; see
   `codemem.conventions.records`): naming per language and kind, docstring coverage,
   whether a language has tests, each with its share. The Markdown region the digest
   renders from the same records is for people and is never read here, so editing it by
   hand changes nothing the review enforces. Without a records file (no digest yet) there
   are no learned conventions.

2. Text written by people, outside the learned region. A declared convention is a list
   item in the learned wording (`- Python functions are named in camelCase`); it holds
   with share 1.0 and wins over the learned one. Rules, one per list item:

       - never: `print(` in `src/**` — use the logger
       - avoid: `assert ` in `src/**` except `src/tests/**`
       - never: /\\bTODO\\b/
       - require: docstrings on public functions in `src/**`
       - prefer: tests for public functions in `pkg/**`

   `never` and `require` findings are errors, `avoid` and `prefer` ones warnings. A pattern
   is literal text in backticks (found anywhere in an added line) or a Python regular
   expression between slashes. `in` and `except` take comma-separated globs in backticks
   (gitignore style: `src/**`, `*.py`); without `in` a rule applies to every file outside
   `.codemem/`. `require`/`prefer` take `docstrings`, `doc comments`, `tests` or
   `type hints`, then `on` or `for`, then `public functions`, `public classes`,
   `public methods` or `public definitions`. After ` — ` (or ` -- `) comes the message
   shown with each finding. A line that starts like a rule (a verb, a colon, then a
   backtick, a slash or one of the `require` words) but does not parse is reported (rule
   `conventions/syntax`) instead of being ignored; other prose is left alone.

This module reads the block's file directly through the memory layer and needs no index.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field

from codemem.code import CODE_LANGUAGES, display_name, language_family
from codemem.conventions import (
    BANDS_BY_KEY,
    LABEL,
    NAMED_KINDS,
    NAMING_STYLES,
    REGION,
    Rule,
    markers,
    read_records,
)
from codemem.workspace import Workspace

REGION_START, REGION_END = markers(REGION)

# Declared conventions: the learned wording, written by people outside the region.
_BY_DISPLAY = {
    display_name(lang): language_family(lang)
    for lang in CODE_LANGUAGES
    if language_family(lang) == lang
}
_LANG = "|".join(re.escape(name) for name in sorted(_BY_DISPLAY, key=len, reverse=True))
_KIND = "|".join(re.escape(name) for name in NAMED_KINDS.values())
_BY_KIND_WORD = {word: kind for kind, word in NAMED_KINDS.items()}
_NAMING = re.compile(rf"^- ({_LANG}) ({_KIND}) are named in ({'|'.join(NAMING_STYLES)})\b")
_DOCS = re.compile(
    rf"^- ({_LANG}) public (?:functions, classes and methods|definitions) have (?:docstrings|doc comments)\b"
)
_TESTS = re.compile(rf"^- ({_LANG}) (?:unit )?tests? ")

# A list item that starts like a rule; prose such as "- Prefer: small functions" does not.
_RULE_START = re.compile(
    r"^\s*[-*]\s+(?:(?:never|avoid)\s*:\s*[`/]|(?:require|prefer)\s*:\s*(?:docstrings|doc comments|tests|type hints)\b)",
    re.IGNORECASE,
)
_PATTERN_RULE = re.compile(
    r"^\s*[-*]\s+(?P<verb>never|avoid)\s*:\s*"
    r"(?:`(?P<literal>[^`]+)`|/(?P<regex>(?:\\/|[^/])+)/)"
    r"(?:\s+in\s+(?P<include>`[^`]+`(?:\s*,\s*`[^`]+`)*))?"
    r"(?:\s+except\s+(?P<exclude>`[^`]+`(?:\s*,\s*`[^`]+`)*))?"
    r"(?:\s+(?:—|--)\s+(?P<message>.+?))?\s*$",
    re.IGNORECASE,
)
_REQUIRE_RULE = re.compile(
    r"^\s*[-*]\s+(?P<verb>require|prefer)\s*:\s*"
    r"(?P<what>docstrings|doc comments|tests|type hints)\s+(?:on|for)\s+"
    r"public\s+(?P<kinds>functions|classes|methods|definitions)"
    r"(?:\s+in\s+(?P<include>`[^`]+`(?:\s*,\s*`[^`]+`)*))?"
    r"(?:\s+except\s+(?P<exclude>`[^`]+`(?:\s*,\s*`[^`]+`)*))?"
    r"(?:\s+(?:—|--)\s+(?P<message>.+?))?\s*$",
    re.IGNORECASE,
)
KIND_SETS = {
    "functions": ("function",),
    "methods": ("method",),
    "classes": ("class", "struct", "interface", "enum", "trait"),
    "definitions": ("function", "method", "class", "struct", "interface", "enum", "trait", "type"),
}


@dataclass(frozen=True)
class NamingConvention:
    """`<language> <kind>s are named in <style>`, followed by `share` of the names."""

    language: str
    kind: str
    style: str
    share: float  # 1.0 for a declared (hand-written) convention; a learned one's band's lower bound
    band: str | None = None  # how much of the code follows a learned one (`almost all, ≥95%`)


@dataclass(frozen=True)
class DocConvention:
    """`<language> public definitions have docstrings`, true of `share` of them."""

    language: str
    share: float
    band: str | None = None  # as for `NamingConvention`; None when declared


@dataclass(frozen=True)
class PatternRule:
    """`never:` / `avoid:` a text or regex in some files."""

    rule_id: str
    severity: str
    pattern: re.Pattern[str]
    shown: str  # the pattern as written
    include: tuple[str, ...]
    exclude: tuple[str, ...]
    message: str
    line: int  # in conventions.md (1-based, in the file)


@dataclass(frozen=True)
class RequireRule:
    """`require:` / `prefer:` docstrings, tests or type hints on public definitions."""

    rule_id: str
    severity: str
    what: str  # docstrings | tests | type hints
    kinds: tuple[str, ...]
    include: tuple[str, ...]
    exclude: tuple[str, ...]
    message: str
    line: int


@dataclass
class Conventions:
    """Everything the static checks read from memory."""

    path: str = ".codemem/blocks/conventions.md"
    naming: dict[tuple[str, str], NamingConvention] = field(default_factory=dict)
    docs: dict[str, DocConvention] = field(default_factory=dict)
    tested: set[str] = field(default_factory=set)  # languages whose tests memory knows about
    patterns: list[PatternRule] = field(default_factory=list)
    requires: list[RequireRule] = field(default_factory=list)
    problems: list[tuple[int, str, str]] = field(default_factory=list)  # (line, text, why)
    learned: bool = False  # whether a digest's records were read (none before the first digest)


def _globs(text: str | None) -> tuple[str, ...]:
    return tuple(re.findall(r"`([^`]+)`", text or ""))


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40]


def _unique(rule_id: str, taken: set[str]) -> str:
    candidate, n = rule_id, 2
    while candidate in taken:
        candidate, n = f"{rule_id}-{n}", n + 1
    taken.add(candidate)
    return candidate


def parse_conventions(
    value: str, first_line: int = 1, path: str = Conventions.path, records: list[Rule] | None = None
) -> Conventions:
    """The conventions of a block's value and the learned `records`.

    `first_line` is the file line of the value's first line. Rules count anywhere in the
    block, as people wrote them; the learned wording counts only outside the learned region,
    since what was learned comes from `records` alone.
    """
    out = Conventions(path=path, learned=records is not None)
    for rule in records or ():
        _add_learned(rule, out)
    inside = False
    taken: set[str] = set()
    for offset, line in enumerate(value.split("\n")):
        stripped = line.strip()
        if stripped in (REGION_START, REGION_END):
            inside = stripped == REGION_START
        elif _RULE_START.match(line):
            _parse_rule(line, first_line + offset, out, taken)
        elif not inside:
            _parse_declared(stripped, out)
    return out


def _add_learned(rule: Rule, out: Conventions) -> None:
    language, share = rule.language, rule.share
    if language is None:
        return
    band = BANDS_BY_KEY[rule.band].label if rule.band in BANDS_BY_KEY else "learned"
    if (
        rule.kind == "naming"
        and rule.subject in NAMED_KINDS
        and rule.value in NAMING_STYLES
        and share is not None
    ):
        out.naming[(language, rule.subject)] = NamingConvention(
            language, rule.subject, rule.value, share, band
        )
    elif rule.kind == "docstring-coverage" and rule.value == "most" and share is not None:
        out.docs[language] = DocConvention(language, share, band)
    elif rule.topic == "tests":
        out.tested.add(language)


def _parse_declared(line: str, out: Conventions) -> None:
    """A convention written by people in the learned wording: it holds, and wins."""
    naming = _NAMING.match(line)
    if naming:
        language, kind = _BY_DISPLAY[naming.group(1)], _BY_KIND_WORD[naming.group(2)]
        named = out.naming.get((language, kind))
        if named is None or named.band is not None:  # the first declared one wins
            out.naming[(language, kind)] = NamingConvention(language, kind, naming.group(3), 1.0)
        return
    docs = _DOCS.match(line)
    if docs:
        language = _BY_DISPLAY[docs.group(1)]
        documented = out.docs.get(language)
        if documented is None or documented.band is not None:
            out.docs[language] = DocConvention(language, 1.0)
        return
    tests = _TESTS.match(line)
    if tests:
        out.tested.add(_BY_DISPLAY[tests.group(1)])


def _parse_rule(line: str, number: int, out: Conventions, taken: set[str]) -> None:
    match = _PATTERN_RULE.match(line)
    if match:
        verb = match.group("verb").lower()
        literal, regex = match.group("literal"), match.group("regex")
        try:
            with warnings.catch_warnings():  # `[[` ("possible nested set"): the rule says
                warnings.simplefilter("ignore", FutureWarning)
                pattern = re.compile(
                    re.escape(literal) if literal is not None else regex.replace("\\/", "/")
                )
        except re.error as exc:
            out.problems.append(
                (number, line.strip(), f"the regular expression does not compile: {exc}")
            )
            return
        shown = f"`{literal}`" if literal is not None else f"/{regex}/"
        words = (
            literal if literal is not None else re.sub(r"\\[A-Za-z]", " ", regex)
        )  # \b, \s... are not words
        rule_id = _unique(f"conventions/{verb}-{_slug(words) or 'pattern'}", taken)
        out.patterns.append(
            PatternRule(
                rule_id,
                "error" if verb == "never" else "warning",
                pattern,
                shown,
                _globs(match.group("include")),
                _globs(match.group("exclude")),
                (match.group("message") or "").strip(),
                number,
            )
        )
        return
    match = _REQUIRE_RULE.match(line)
    if match:
        verb, what = match.group("verb").lower(), match.group("what").lower()
        what = "docstrings" if what == "doc comments" else what
        kinds = match.group("kinds").lower()
        rule_id = _unique(f"conventions/{verb}-{_slug(what)}-{kinds}", taken)
        out.requires.append(
            RequireRule(
                rule_id,
                "error" if verb == "require" else "warning",
                what,
                KIND_SETS[kinds],
                _globs(match.group("include")),
                _globs(match.group("exclude")),
                (match.group("message") or "").strip(),
                number,
            )
        )
        return
    out.problems.append(
        (number, line.strip(), "not in the rule syntax (see `codemem review --help`)")
    )


def review_rule_id(rule: Rule) -> str | None:
    """The review rule that enforces a learned convention; None if none does.

    Naming of Python functions → `naming/python/function`; docstring coverage of Python →
    `docstrings/python`; any test convention of Python → `tests/python`. The sleep-time pass
    can use it with `feedback.rule_confidence` to find conventions that reviews keep rejecting.
    """
    if rule.language is None:
        return None
    if rule.kind == "naming" and rule.subject:
        return f"naming/{rule.language}/{rule.subject}"
    if rule.kind == "docstring-coverage" and rule.value == "most":
        return f"docstrings/{rule.language}"
    if rule.topic == "tests":
        return f"tests/{rule.language}"
    return None


def load_conventions(ws: Workspace) -> Conventions:
    """The learned records of `ws` and its conventions block, parsed (either may be missing)."""
    from codemem.memory import BlockFormatError, MemoryStore, UnknownLabelError

    records = read_records(ws)
    store = MemoryStore(ws, user="review")  # a fixed user: no `git config` call
    try:
        block = store.get(LABEL)
    except (UnknownLabelError, BlockFormatError, UnicodeDecodeError, OSError):
        return parse_conventions("", records=records)
    path = block.path.relative_to(ws.root).as_posix() if block.path else Conventions.path
    return parse_conventions(block.value, block.header.count("\n") + 1, path, records)
