"""Chunking of text files without a grammar: Markdown and reST by sections, YAML/TOML/JSON by
top-level keys or tables (grouped up to `chunk_lines`), anything else by windows of lines.
"""

from __future__ import annotations

import re

from codemem.code.chunking import text_windows
from codemem.code.model import Chunk, Symbol

SECTION = "section"
_YAML_NOT_KEY = frozenset(
    ("", " ", "\t", "#", "-", "?", "{", "[", "&", "*", "!", "|", ">", "%", "@", "`")
)
_SCAN_CHARS = 1000  # keys are looked for only this far into a line (minified files)
_SETEXT = re.compile(r"^ {0,3}(=+|-{2,})[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_RST_ADORNMENT = re.compile(r"^([=\-`:'\"~^_*+#<>.])\1{2,}\s*$")
# How every line `_RST_ADORNMENT` matches starts: a line starting otherwise underlines nothing.
_RST_RUNS = frozenset(char * 3 for char in "=-`:'\"~^_*+#<>.")
_JSON_KEY = re.compile(r'^([ \t]*)"((?:[^"\\]|\\.)*)"[ \t]*:')

Heading = tuple[int, int, str, str]  # (line, level, title, heading line text)


def chunk_text(
    kind: str, lines: list[str], chunk_lines: int, max_line_chars: int
) -> tuple[list[Symbol], list[Chunk]]:
    """Symbols (sections, top-level keys) and chunks of a text file of the given kind."""
    if kind == "markdown":
        return _sections(_markdown_headings(lines), lines, chunk_lines, max_line_chars)
    if kind == "rst":
        return _sections(_rst_headings(lines), lines, chunk_lines, max_line_chars)
    if kind in ("yaml", "toml", "json"):
        finder = {"yaml": _yaml_keys, "toml": _toml_tables, "json": _json_keys}[kind]
        return _keyed_blocks(finder(lines), lines, chunk_lines, max_line_chars)
    return [], text_windows(lines, 1, len(lines), chunk_lines, max_line_chars, "lines")


def _markdown_headings(lines: list[str]) -> list[Heading]:
    headings: list[Heading] = []
    fence = ""
    start = 0
    if lines and lines[0].strip() == "---":  # YAML front matter
        for i in range(1, len(lines)):
            if lines[i].strip() in ("---", "..."):
                start = i + 1
                break
    for i in range(start, len(lines)):
        line = lines[i]
        opening = _FENCE.match(line)
        if fence:
            if opening and opening.group(1)[0] == fence[0] and len(opening.group(1)) >= len(fence):
                fence = ""
            continue
        if opening:
            fence = opening.group(1)
            continue
        atx = _atx_heading(line) if "#" in line[:4] else None
        if atx:
            headings.append((i + 1, atx[0], atx[1], line.strip()))
        elif i + 1 < len(lines) and _SETEXT.match(lines[i + 1]) and _setext_title(lines, i, start):
            level = 1 if lines[i + 1].strip()[0] == "=" else 2
            headings.append((i + 1, level, line.strip(), line.strip()))
    return headings


def _setext_title(lines: list[str], i: int, first: int) -> bool:
    """A setext heading's title is a one-line paragraph: text with a blank line above."""
    line = lines[i]
    return (
        bool(line.strip())
        and (i == first or not lines[i - 1].strip())
        and not line.startswith(("    ", "\t", "- ", "* ", "> ", "|"))
    )


def _rst_headings(lines: list[str]) -> list[Heading]:
    headings: list[Heading] = []
    styles: dict[tuple[str, bool], int] = {}
    i = 0
    while i + 1 < len(lines):
        title, under = lines[i], lines[i + 1]
        if under[:3] not in _RST_RUNS:  # a slice and a set, not a regex, for most lines
            i += 1
            continue
        stripped = title.strip()
        if (
            stripped
            and not title[0].isspace()
            and not _RST_ADORNMENT.match(title)
            and _RST_ADORNMENT.match(under)
            and len(under.rstrip()) >= min(len(title.rstrip()), 3)
        ):
            above = lines[i - 1] if i > 0 else ""
            overlined = bool(_RST_ADORNMENT.match(above)) and above.strip()[0] == under.strip()[0]
            style = (under.strip()[0], overlined)
            level = styles.setdefault(style, len(styles) + 1)
            headings.append((i if overlined else i + 1, level, stripped, stripped))
            i += 2
            continue
        i += 1
    return headings


def _sections(
    headings: list[Heading], lines: list[str], chunk_lines: int, max_line_chars: int
) -> tuple[list[Symbol], list[Chunk]]:
    """A symbol per heading (spanning its subsections) and chunks of each heading's own text."""
    symbols: list[Symbol] = []
    first = headings[0][0] if headings else len(lines) + 1
    chunks = text_windows(lines, 1, first - 1, chunk_lines, max_line_chars, SECTION)
    path: list[tuple[int, str, Symbol]] = []  # the enclosing headings: (level, title, symbol)
    for n, (line, level, title, text) in enumerate(headings):
        while path and path[-1][0] >= level:
            path.pop()[2].end_line = line - 1
        parent = " > ".join(t for _, t, _ in path) or None
        qualname = f"{parent} > {title}" if parent else title
        symbol = Symbol(title, qualname, SECTION, line, line, text[:200], "", parent)
        symbols.append(symbol)
        path.append((level, title, symbol))
        next_line = headings[n + 1][0] if n + 1 < len(headings) else len(lines) + 1
        chunks += text_windows(
            lines, line, next_line - 1, chunk_lines, max_line_chars, SECTION, qualname, SECTION
        )
    for _, _, symbol in path:
        symbol.end_line = len(lines)
    for symbol in symbols:
        symbol.end_line = max(symbol.end_line, symbol.start_line)
    return symbols, chunks


def _atx_heading(line: str) -> tuple[int, str] | None:
    """(level, title) of a `## Title ##` line, else None."""
    text = line.lstrip(" ")
    if len(line) - len(text) > 3:
        return None
    level = len(text) - len(text.lstrip("#"))
    rest = text[level:]
    if not 1 <= level <= 6 or (rest and rest[0] not in " \t"):
        return None
    title = rest.strip()
    unclosed = title.rstrip("#")
    if unclosed != title and (not unclosed or unclosed[-1] in " \t"):
        title = unclosed.strip()
    return (level, title) if title else None


def _yaml_keys(lines: list[str]) -> list[tuple[int, str]]:
    keys = []
    for i, line in enumerate(lines):
        if line[:1] in _YAML_NOT_KEY or line.startswith("..."):
            continue
        if line[0] in "\"'":  # "quoted key": value
            end = line.find(line[0], 1)
            if end > 0 and line[end + 1 : end + 2] == ":":
                keys.append((i + 1, line[1:end]))
            continue
        colon = line.find(":", 0, _SCAN_CHARS)
        if colon > 0 and line[colon + 1 : colon + 2] in ("", " ", "\t"):
            key = line[:colon].rstrip()
            if "#" not in key:
                keys.append((i + 1, key))
    return keys


def _toml_tables(lines: list[str]) -> list[tuple[int, str]]:
    tables = []
    for i, line in enumerate(lines):
        if "[" in line[:8]:
            name = _toml_table(line.strip())
            if name:
                tables.append((i + 1, name))
    return tables


def _toml_table(text: str) -> str | None:
    """The name of a `[table]` or `[[array.of.tables]]` header line, else None."""
    if not text.startswith("["):
        return None
    brackets = 2 if text.startswith("[[") else 1
    end = text.find("]" * brackets, brackets)
    rest = text[end + brackets :].strip() if end != -1 else "x"
    name = text[brackets:end].strip()
    if not name or "[" in name or (rest and not rest.startswith("#")):
        return None
    return ".".join(part.strip().strip("\"'") for part in name.split("."))


def _json_keys(lines: list[str]) -> list[tuple[int, str]]:
    found = [
        (i + 1, m) for i, line in enumerate(lines) if (m := _JSON_KEY.match(line[:_SCAN_CHARS]))
    ]
    if not found:
        return []
    top = min(len(m.group(1)) for _, m in found)
    return [(line, m.group(2)) for line, m in found if len(m.group(1)) == top]


def _keyed_blocks(
    keys: list[tuple[int, str]], lines: list[str], chunk_lines: int, max_line_chars: int
) -> tuple[list[Symbol], list[Chunk]]:
    """One block per key (comments right above attach to it), grouped up to chunk_lines."""
    total = len(lines)
    starts = []
    for line, name in keys:
        start = line
        while start > 1 and lines[start - 2].lstrip().startswith(("#", "//")):
            start -= 1
        starts.append((start, line, name))
    blocks: list[tuple[int, int, str | None]] = []  # (start, end, key)
    if not starts or starts[0][0] > 1:
        blocks.append((1, starts[0][0] - 1 if starts else total, None))
    for n, (start, _, name) in enumerate(starts):
        end = starts[n + 1][0] - 1 if n + 1 < len(starts) else total
        blocks.append((start, end, name))
    symbols = []
    known: set[str] = set()
    for n, (_, line, name) in enumerate(starts):
        end = starts[n + 1][0] - 1 if n + 1 < len(starts) else total
        while end > line and not lines[end - 1].strip():
            end -= 1
        parent = next((name[:i] for i in _dots_reversed(name) if name[:i] in known), None)
        known.add(name)
        symbols.append(
            Symbol(
                name.rsplit(".", 1)[-1] if parent else name,
                name,
                SECTION,
                line,
                end,
                lines[line - 1].strip()[:200],
                "",
                parent,
            )
        )
    chunks: list[Chunk] = []
    group: list[tuple[int, int, str | None]] = []
    for block in blocks:
        if group and block[1] - group[0][0] + 1 > chunk_lines:
            chunks += _emit_group(group, lines, chunk_lines, max_line_chars)
            group = []
        group.append(block)
    if group:
        chunks += _emit_group(group, lines, chunk_lines, max_line_chars)
    return symbols, chunks


def _emit_group(
    group: list[tuple[int, int, str | None]],
    lines: list[str],
    chunk_lines: int,
    max_line_chars: int,
) -> list[Chunk]:
    key = group[0][2] if len(group) == 1 else None
    return text_windows(
        lines,
        group[0][0],
        group[-1][1],
        chunk_lines,
        max_line_chars,
        SECTION,
        key,
        SECTION if key else None,
    )


def _dots_reversed(name: str) -> list[int]:
    return [i for i in range(len(name) - 1, 0, -1) if name[i] == "."]
