"""YAML frontmatter on Markdown files: split, validate, write back.

A file may start with a `---` line, YAML `key: value` lines and a closing `---` line; the rest
is the body. The frontmatter is kept as written (comments included) so that an edit to the
body never rewrites a person's header. Errors name the file and the line. What counts as an
unchanged value is `same_value`'s one rule, for a header edit here and the merge driver alike.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import yaml

from codemem.infra import load_yaml
from codemem.infra import same_yaml_value as same_value
from codemem.memory.errors import BlockFormatError
from codemem.memory.markers import has_conflict

FENCE = "---"
BOM = "\ufeff"


@dataclass
class Document:
    """A Markdown file split into its frontmatter and its body."""

    meta: dict[str, Any] = field(default_factory=dict)
    header: str = ""  # the frontmatter exactly as written, fences included; "" if none
    body: str = ""
    source: str = ""  # the file name used in error messages

    def line_of(self, key: str) -> int:
        """The 1-based line of `key:` in the file (2 if it cannot be found)."""
        pattern = re.compile(rf"^{re.escape(key)}\s*:")
        for number, line in enumerate(self.header.split("\n"), start=1):
            if pattern.match(line):
                return number
        return 2

    def as_text(self, key: str) -> Any:
        """`key`'s value with every scalar the text written, for a field that holds text: YAML
        1.1 reads a bare `on`, `no` or `yes` as a boolean (a note's `tags: [on, off, yes]` came
        out as `true` and `false`, one tag lost) and `010` as 8. The header already read whole,
        so its aliases are bounded. A list of text only (`tags: [build, ci]`, every note codemem
        writes) is returned as read: YAML builds a text item from its scalar exactly as the
        text-only loader does, and a second parse of every note was half of listing the
        archive (`benchmarks/memory_scale.py`)."""
        value = self.meta.get(key)
        if isinstance(value, list) and all(type(item) is str for item in value):
            return value
        if not isinstance(value, (bool, int, float, list)):
            return value
        lines = self.header.splitlines(keepends=True)[1:-1]
        try:
            data = yaml.load("".join(lines), Loader=yaml.BaseLoader)  # builds only text
        except yaml.YAMLError:  # a tag of its own (`!!int 010`): the value as read
            return self.meta.get(key)
        return data.get(key) if isinstance(data, dict) else self.meta.get(key)

    def error(self, key: str, problem: str) -> BlockFormatError:
        return BlockFormatError(f"{self.source}:{self.line_of(key)}: {problem}")


def split(text: str, source: str) -> Document:
    """Parse `text`; a file without a leading `---` line is all body.

    A byte order mark before the `---` (Notepad saves UTF-8 with one) is part of the header
    as written, so the header is read, and written back as it was.
    """
    lines = text.splitlines(keepends=True)
    if not lines or not _is_opening_fence(lines[0]):
        return Document(body=text, source=source)
    for index in range(1, len(lines)):
        if lines[index].rstrip("\r\n").rstrip() in (FENCE, "..."):
            header = "".join(lines[: index + 1])
            if not header.endswith("\n"):
                header += "\n"
            try:
                meta = _load("".join(lines[1:index]), source)
            except BlockFormatError:
                if has_conflict(text):  # a merge without codemem's driver: say so, not YAML
                    line = next(n for n, x in enumerate(lines, 1) if x.startswith("<<<<<<<"))
                    raise BlockFormatError(
                        f"{source}:{line}: git conflict markers (<<<<<<<, =======, >>>>>>>) "
                        "from a merge in the frontmatter: keep one value of each key between "
                        "the '---' lines and remove the markers"
                    ) from None
                raise
            return Document(
                meta=meta, header=header, body="".join(lines[index + 1 :]), source=source
            )
    raise BlockFormatError(
        f"{source}:1: the frontmatter opened by '---' is never closed: add a '---' line after it"
    )


def opens_header(text: str) -> bool:
    """Whether `text` would be read as frontmatter first (its first line a `---` fence)."""
    return _is_opening_fence(text.split("\n", 1)[0])


def _is_opening_fence(line: str) -> bool:
    return line.removeprefix(BOM).rstrip("\r\n").rstrip() == FENCE


# YAML 1.1 words PyYAML reads as a boolean or null, in the lower case a plain key or value
# must be compared in (`On`, `NULL`): such a line is left to the YAML parser
_NOT_TEXT = frozenset(("yes", "no", "true", "false", "on", "off", "null", "~"))
_PLAIN_LINE = re.compile(r"([a-z_][a-z0-9_]*): (.+)")
_PLAIN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9 _.,()/+-]*")  # no ':', '#', quote or flow sign
_QUOTED = re.compile(r'"([^"\\]*)"|\'([^\']*)\'')
_NUMBER = re.compile(r"0|[1-9][0-9]{0,17}")
# what a note's header holds besides text (`notes.Note.to_text`): its id, the time it was made
# (`datetime.isoformat`, always with an offset) and its tags, a flow list of plain or quoted text
_NOTE_ID = re.compile(r"[0-9]{8}-[0-9]{6}-[0-9a-f]{8}")
_TIMESTAMP = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?"
    r"[+-]([01][0-9]|2[0-3]):[0-5][0-9]"
)
_LIST_ITEM = re.compile(r"([A-Za-z][A-Za-z0-9_.-]*)|'([^'\",\[\]{}\\]*)'")


def _plain(yaml_text: str) -> dict[str, Any] | None:
    """The frontmatter codemem writes (`key: value` lines of plain or quoted text, a decimal
    number, `true`/`false`, a note's id, time and tags) read without the YAML parser, to what
    `load_yaml` gives for it; None for anything else (a comment, a date, a nested list, a word
    YAML 1.1 reads as a boolean, a key twice), which the parser reads. The parser took three
    quarters of listing 20,000 blocks, and two thirds of listing 2,000 notes
    (`benchmarks/memory_scale.py`)."""
    if not yaml_text.endswith("\n") or "\r" in yaml_text:
        return None
    meta: dict[str, Any] = {}
    for line in yaml_text[:-1].split("\n"):
        found = _PLAIN_LINE.fullmatch(line)
        if found is None:
            return None
        key, value = found.groups()
        if key in meta or key in _NOT_TEXT or value != value.strip():
            return None
        if value in ("true", "false"):
            meta[key] = value == "true"
        elif _NUMBER.fullmatch(value):
            meta[key] = int(value)
        elif (
            _PLAIN_TEXT.fullmatch(value) and value.lower() not in _NOT_TEXT
        ) or _NOTE_ID.fullmatch(value):  # no int, float or date of YAML 1.1 has an id's shape
            meta[key] = value
        elif _TIMESTAMP.fullmatch(value):
            try:
                meta[key] = datetime.fromisoformat(value)
            except ValueError:  # 2025-02-30: the parser says what is wrong
                return None
        elif value.startswith("[") and (items := _plain_list(value)) is not None:
            meta[key] = items
        elif (quoted := _QUOTED.fullmatch(value)) is not None:
            text = quoted.group(1) if quoted.group(1) is not None else quoted.group(2)
            if not text.isprintable():  # a tab, a control: the parser says what YAML makes of it
                return None
            meta[key] = text
        else:
            return None
    return meta


def _plain_list(value: str) -> list[str] | None:
    """`[a, 'b c']` as `dump` writes a list of text, read as YAML reads it; None for any other
    list (a YAML 1.1 boolean or null word, a nested list, other spacing)."""
    if value == "[]":
        return []
    if not value.endswith("]"):
        return None
    items: list[str] = []
    for item in value[1:-1].split(", "):
        found = _LIST_ITEM.fullmatch(item)
        if found is None or (found.group(1) or "").lower() in _NOT_TEXT:
            return None
        text = found.group(1) if found.group(1) is not None else found.group(2)
        if not text.isprintable():
            return None
        items.append(text)
    return items


def _load(yaml_text: str, source: str) -> dict[str, Any]:
    if (plain := _plain(yaml_text)) is not None:
        return plain
    try:
        data = load_yaml(yaml_text, unique_keys=True, first_line=2)  # the fence is line 1
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark is not None else 2  # +1 for 1-based, +1 for the fence
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise BlockFormatError(
            f"{source}:{line}: invalid frontmatter ({problem}): fix the YAML between the '---' lines"
        ) from None
    except (ValueError, TypeError, AttributeError, OverflowError, RecursionError) as exc:
        # YAML that parses but whose values do not construct: a 5,000-digit number, the date
        # 2025-02-30, `!!int x`, lists nested thousands deep
        problem = str(exc).split(";")[0] or type(exc).__name__
        raise BlockFormatError(
            f"{source}:2: invalid frontmatter (a value that cannot be read: {problem}): fix the "
            "YAML between the '---' lines"
        ) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise BlockFormatError(
            f"{source}:2: the frontmatter must be 'key: value' lines, not a {type(data).__name__}"
        )
    return data


def dump(meta: dict[str, Any]) -> str:
    """Frontmatter text for `meta`, keys in the order given, fences included.

    Lists are written inline (`tags: [a, b]`) and datetimes as ISO 8601 (`2025-01-02T03:04:05+00:00`).
    """
    out = [FENCE + "\n"]
    for key, value in meta.items():
        if isinstance(value, datetime):
            out.append(f"{key}: {value.isoformat()}\n")
        elif isinstance(value, (list, tuple)):
            flow = yaml.safe_dump(
                list(value), default_flow_style=True, allow_unicode=True, width=10**6
            )
            out.append(f"{key}: {flow.strip()}\n")
        else:
            out.append(
                yaml.safe_dump({key: value}, sort_keys=False, allow_unicode=True, width=10**6)
            )
    out.append(FENCE + "\n")
    return "".join(out)


_TOP_KEY = re.compile(r"([^\s#\-'\"][^:#]*?)\s*:(?:\s|$)")


def key_spans(header: str) -> dict[str, tuple[int, int]]:
    """Where each top-level key's lines are in `header` (its lines, fences included): from the
    key's line up to the next key, comment or fence line."""
    lines = header.splitlines(keepends=True)
    spans: dict[str, tuple[int, int]] = {}
    key, start = None, 0
    for index in range(1, len(lines)):
        line = lines[index]
        found = _TOP_KEY.match(line)
        if found or line.startswith("#") or index == len(lines) - 1:
            if key is not None:
                spans[key] = (start, index)
            key, start = (found.group(1), index) if found else (None, index)
    return spans


def key_lines(key: str, value: Any) -> list[str]:
    """The frontmatter lines `dump` writes for one key, each ending in a newline."""
    return dump({key: value})[len(FENCE) + 1 : -(len(FENCE) + 1)].splitlines(keepends=True)


def with_values(
    doc: Document, meta: dict[str, Any], written: Callable[[str], list[str] | None] | None = None
) -> str | None:
    """`doc.header` holding exactly `meta`, changed only where a value changed.

    A key whose value is unchanged keeps its lines as written (comments, quoting, folded
    text), and so does every line that is no key's (a comment line, the fences); a key with a
    new value, or a new key (after the others), is written as `written(key)` gives it (by
    default a fresh `dump` of it); a key not in `meta` is dropped. None when the header's lines
    cannot be told apart by key, or `written` has no lines for a key, or the result would not
    read back as exactly `meta` (the caller then writes a fresh header).
    """
    lines = doc.header.splitlines(keepends=True)
    if not lines:  # no frontmatter: nothing to keep
        return None
    spans = key_spans(doc.header)
    if set(spans) != set(map(str, doc.meta)):
        return None

    def new_lines(key: str) -> list[str] | None:
        return key_lines(key, meta[key]) if written is None else written(key)

    starts = {start: (key, end) for key, (start, end) in spans.items()}
    out: list[str] = []
    index = 0
    while index < len(lines) - 1:
        if index not in starts:
            out.append(lines[index])
            index += 1
            continue
        key, end = starts[index]
        if key in meta and same_value(meta[key], doc.meta.get(key, _MISSING)):
            out.extend(lines[index:end])
        elif key in meta:
            fresh = new_lines(key)
            if fresh is None:
                return None
            out.extend(fresh)
        index = end
    for key in meta:
        if key not in doc.meta:
            fresh = new_lines(key)
            if fresh is None:
                return None
            out.extend(fresh)
    text = "".join(out) + lines[-1]
    return text if reads_as(text, meta, doc.source) else None


_MISSING = object()


def reads_as(header: str, meta: dict[str, Any], source: str = "") -> bool:
    """Whether the frontmatter `header` (fences included) holds exactly `meta` (`same_value`)."""
    try:
        return same_value(split(header, source).meta, meta)
    except BlockFormatError:
        return False


def add_key(text: str, key: str, value: Any) -> str:
    """`text` with `key: value` as the last line of its frontmatter (one made if it has none),
    every other byte as it was: a person's header, comments and line ends kept."""
    line = dump({key: value})[len(FENCE) + 1 : -(len(FENCE) + 1)]
    lines = text.splitlines(keepends=True)
    if not lines or not _is_opening_fence(lines[0]):
        return f"{FENCE}\n{line}{FENCE}\n{text}"
    for index in range(1, len(lines)):
        if lines[index].rstrip("\r\n").rstrip() in (FENCE, "..."):
            end = lines[0][len(lines[0].rstrip("\r\n")) :] or "\n"
            lines.insert(index, line.replace("\n", end))
            return "".join(lines)
    raise BlockFormatError("the frontmatter opened by '---' is never closed")  # split says so


def body_to_value(body: str) -> str:
    """A body without the one newline that ends the file."""
    return body[:-1] if body.endswith("\n") else body


def value_to_body(value: str) -> str:
    """The body for `value`: the value plus one final newline (nothing for an empty value)."""
    return value + "\n" if value else ""
