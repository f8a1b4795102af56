"""What the review enforces, read from memory: `blocks/conventions.md`.

Two kinds of lines count:

1. Learned conventions, as the sleep-time miner writes them (`- Python functions are named
   in snake_case (97%: 1,204 of 1,241; ...)`): naming per language and kind, docstring
   coverage, whether a language has tests. Inside codemem's marked region they carry their
   share; the same sentence written anywhere else in the block is a declared convention
   (share 1.0).

2. Rules written by people, one per list item, anywhere in the block:

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
from dataclasses import dataclass, field

from codemem.workspace import Workspace

LABEL = "conventions"
REGION_START, REGION_END = "<!-- codemem:conventions:start -->", "<!-- codemem:conventions:end -->"

# Kept in step with codemem.sleep.code_style (tests assert they agree): importing that
# package costs half a second the pre-commit hook cannot spend.
LANGUAGE_NAMES = {
    "python": "Python", "javascript": "JavaScript", "typescript": "TypeScript", "go": "Go",
    "rust": "Rust", "java": "Java", "c": "C", "cpp": "C++", "csharp": "C#", "ruby": "Ruby",
    "php": "PHP",
}
NAMED_KINDS = {
    "function": "functions", "method": "methods", "class": "classes", "struct": "structs",
    "interface": "interfaces", "enum": "enums", "trait": "traits", "type": "type names",
}
STYLES = ("snake_case", "camelCase", "PascalCase", "UPPER_CASE", "mixedCaps")

_BY_DISPLAY = {display: lang for lang, display in LANGUAGE_NAMES.items()}
_LANG = "|".join(re.escape(name) for name in sorted(_BY_DISPLAY, key=len, reverse=True))
_KIND = "|".join(re.escape(name) for name in NAMED_KINDS.values())
_BY_KIND_WORD = {word: kind for kind, word in NAMED_KINDS.items()}
_NAMING = re.compile(
    rf"^- ({_LANG}) ({_KIND}) are named in (snake_case|camelCase|PascalCase|UPPER_CASE|mixedCaps)\b"
)
_DOCS = re.compile(
    rf"^- ({_LANG}) public (?:functions, classes and methods|definitions) have (?:docstrings|doc comments)\b"
)
_TESTS = re.compile(rf"^- ({_LANG}) (?:unit )?tests? ")
_COUNTS = re.compile(r"\((?:[<>]?\d+%): ([\d,]+) of ([\d,]+)")

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
    "functions": ("function",), "methods": ("method",), "classes": ("class", "struct", "interface", "enum", "trait"),
    "definitions": ("function", "method", "class", "struct", "interface", "enum", "trait", "type"),
}


@dataclass(frozen=True)
class NamingConvention:
    """`<language> <kind>s are named in <style>`, followed by `share` of the names."""

    language: str
    kind: str
    style: str
    share: float  # 1.0 for a declared (hand-written) convention
    total: int | None = None


@dataclass(frozen=True)
class DocConvention:
    """`<language> public definitions have docstrings`, true of `share` of them."""

    language: str
    share: float
    total: int | None = None


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


def _share(line: str) -> tuple[float, int | None]:
    match = _COUNTS.search(line)
    if not match:
        return 1.0, None
    matched, total = (int(g.replace(",", "")) for g in match.groups())
    return (matched / total if total else 0.0), total


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


def parse_conventions(value: str, first_line: int = 1, path: str = Conventions.path) -> Conventions:
    """Read a conventions block's value; `first_line` is the file line of its first line."""
    out = Conventions(path=path)
    inside = False
    taken: set[str] = set()
    for offset, line in enumerate(value.split("\n")):
        number = first_line + offset
        stripped = line.strip()
        if stripped == REGION_START:
            inside = True
            continue
        if stripped == REGION_END:
            inside = False
            continue
        if _RULE_START.match(line):
            _parse_rule(line, number, out, taken)
            continue
        _parse_statement(stripped, inside, out)
    return out


def _parse_statement(line: str, learned: bool, out: Conventions) -> None:
    share, total = _share(line) if learned else (1.0, None)
    naming = _NAMING.match(line)
    if naming:
        language, kind = _BY_DISPLAY[naming.group(1)], _BY_KIND_WORD[naming.group(2)]
        current = out.naming.get((language, kind))
        if current is None or current.total is not None:  # a declared convention wins
            out.naming[(language, kind)] = NamingConvention(language, kind, naming.group(3), share, total)
        return
    docs = _DOCS.match(line)
    if docs:
        language = _BY_DISPLAY[docs.group(1)]
        current = out.docs.get(language)
        if current is None or current.total is not None:
            out.docs[language] = DocConvention(language, share, total)
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
            pattern = re.compile(re.escape(literal) if literal is not None else regex.replace("\\/", "/"))
        except re.error as exc:
            out.problems.append((number, line.strip(), f"the regular expression does not compile: {exc}"))
            return
        shown = f"`{literal}`" if literal is not None else f"/{regex}/"
        words = literal if literal is not None else re.sub(r"\\[A-Za-z]", " ", regex)  # \b, \s... are not words
        rule_id = _unique(f"conventions/{verb}-{_slug(words) or 'pattern'}", taken)
        out.patterns.append(PatternRule(
            rule_id, "error" if verb == "never" else "warning", pattern, shown,
            _globs(match.group("include")), _globs(match.group("exclude")),
            (match.group("message") or "").strip(), number,
        ))
        return
    match = _REQUIRE_RULE.match(line)
    if match:
        verb, what = match.group("verb").lower(), match.group("what").lower()
        what = "docstrings" if what == "doc comments" else what
        kinds = match.group("kinds").lower()
        rule_id = _unique(f"conventions/{verb}-{_slug(what)}-{kinds}", taken)
        out.requires.append(RequireRule(
            rule_id, "error" if verb == "require" else "warning", what, KIND_SETS[kinds],
            _globs(match.group("include")), _globs(match.group("exclude")),
            (match.group("message") or "").strip(), number,
        ))
        return
    out.problems.append((number, line.strip(), "not in the rule syntax (see `codemem review --help`)"))


def review_rule_id(statement: str) -> str | None:
    """The review rule that enforces a learned convention, from its statement; None if none does.

    `Python functions are named in snake_case` → `naming/python/function`; the docstring
    statement → `docstrings/python`; a `<Language> tests ...` statement → `tests/python`. The
    sleep-time pass uses it with `feedback.rule_confidence` to find conventions that reviews
    keep rejecting.
    """
    line = "- " + statement.strip().removeprefix("- ")
    naming = _NAMING.match(line)
    if naming:
        return f"naming/{_BY_DISPLAY[naming.group(1)]}/{_BY_KIND_WORD[naming.group(2)]}"
    docs = _DOCS.match(line)
    if docs:
        return f"docstrings/{_BY_DISPLAY[docs.group(1)]}"
    tests = _TESTS.match(line)
    if tests:
        return f"tests/{_BY_DISPLAY[tests.group(1)]}"
    return None


def load_conventions(ws: Workspace) -> Conventions:
    """The conventions block of `ws` parsed; an empty `Conventions` when there is none."""
    from codemem.memory import MemoryStore
    from codemem.memory.errors import BlockFormatError, UnknownLabelError

    store = MemoryStore(ws, user="review")  # a fixed user: no `git config` call
    try:
        block = store.get(LABEL)
    except (UnknownLabelError, BlockFormatError, UnicodeDecodeError, OSError):
        return Conventions()
    path = block.path.relative_to(ws.root).as_posix() if block.path else Conventions.path
    return parse_conventions(block.value, block.header.count("\n") + 1, path)
