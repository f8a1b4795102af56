"""AST-aware chunking of code: definitions, outlines of large classes, module code.

A definition that fits in `chunk_lines` is one chunk. A large class-like definition with
members becomes an `outline` (its header, fields and member signatures, bodies elided as
`...`) plus one chunk per member, recursively. An over-long function is split into
overlapping windows that keep its qualified name. Lines outside every top-level definition
become `module` chunks. Chunk text is the exact source of its lines, with over-long lines
truncated and the whole text capped, so a minified file never yields a huge row.
"""

from __future__ import annotations

from collections.abc import Iterator

from codemem.code.model import Chunk
from codemem.code.syntax import CLASS_KINDS, Definition

MAX_CHUNK_CHARS = 16_000
WINDOW_OVERLAP = 3
_OUTLINE_KINDS = CLASS_KINDS | {"module", "namespace"}
_CLOSERS = frozenset({"}", "};", "},", "end", ")", ");", "});", "]", "];"})
_INLINE_KINDS = frozenset({"field", "variable", "constant"})  # shown in outlines, no own chunk


def span_text(lines: list[str], start: int, end: int, max_line_chars: int) -> str:
    """The text of lines start..end (1-based, inclusive), long lines truncated, size capped."""
    segment = lines[start - 1 : end]
    text = "\n".join(segment)
    if len(text) > max_line_chars and max(map(len, segment)) > max_line_chars:
        text = "\n".join(line[:max_line_chars] for line in segment)
    return text[:MAX_CHUNK_CHARS]


def windows(
    lines: list[str], start: int, end: int, size: int, overlap: int, max_line_chars: int
) -> Iterator[tuple[int, int, str]]:
    """Consecutive spans of at most `size` lines and MAX_CHUNK_CHARS characters, with text."""
    size = max(1, size)
    overlap = min(overlap, size // 4)
    a = start
    while a <= end:
        b = min(end, a + size - 1)
        text = span_text(lines, a, b, max_line_chars)
        if len(text) >= MAX_CHUNK_CHARS and b > a:
            total = 0
            for i in range(a, b + 1):
                total += min(len(lines[i - 1]), max_line_chars) + 1
                if total > MAX_CHUNK_CHARS and i > a:
                    b = i - 1
                    break
            text = span_text(lines, a, b, max_line_chars)
        yield a, b, text
        if b >= end:
            return
        a = max(a + 1, b + 1 - overlap)


def text_windows(
    lines: list[str],
    start: int,
    end: int,
    chunk_lines: int,
    max_line_chars: int,
    kind: str,
    symbol: str | None = None,
    symbol_kind: str | None = None,
) -> list[Chunk]:
    """Non-overlapping windows of a region, each without blank lines at its ends."""
    chunks = []
    for a, b, text in windows(lines, start, end, chunk_lines, 0, max_line_chars):
        if not text.strip():
            continue
        if not (lines[a - 1].strip() and lines[b - 1].strip()):
            while not lines[a - 1].strip():
                a += 1
            while not lines[b - 1].strip():
                b -= 1
            text = span_text(lines, a, b, max_line_chars)
        chunks.append(Chunk(a, b, kind, text, symbol, symbol_kind))
    return chunks


def chunk_code(
    definitions: list[Definition], lines: list[str], chunk_lines: int, max_line_chars: int
) -> list[Chunk]:
    """Chunks covering a parsed code file (see the module docstring)."""
    chunks: list[Chunk] = []
    cursor = 1
    for d in definitions:
        if d.nested or (d.symbol.kind in _INLINE_KINDS and not _has_members(d)):
            continue  # data definitions stay in the module code around them
        start = max(d.chunk_start, cursor)
        if start > d.symbol.end_line:
            continue  # shares its lines with the previous definition (minified code)
        chunks += text_windows(lines, cursor, start - 1, chunk_lines, max_line_chars, "module")
        _chunk_definition(d, start, lines, chunk_lines, max_line_chars, chunks)
        cursor = d.symbol.end_line + 1
    chunks += text_windows(lines, cursor, len(lines), chunk_lines, max_line_chars, "module")
    chunks.sort(key=lambda c: (c.start_line, -c.end_line))
    return chunks


def _has_members(d: Definition) -> bool:
    return any(c.symbol.kind not in _INLINE_KINDS for c in d.children)


def _chunk_definition(
    top: Definition,
    top_start: int,
    lines: list[str],
    chunk_lines: int,
    max_line_chars: int,
    out: list[Chunk],
) -> None:
    """Chunks of one definition and, for outlined ones, of its members (iteratively)."""
    pending = [(top, top_start)]
    while pending:
        d, start = pending.pop()
        sym = d.symbol
        end = sym.end_line
        if end - start + 1 <= chunk_lines:
            text = span_text(lines, start, end, max_line_chars)
            if len(text) < MAX_CHUNK_CHARS:
                out.append(Chunk(start, end, "definition", text, sym.qualname, sym.kind))
                continue
        members = [c for c in d.children if c.symbol.kind not in _INLINE_KINDS]
        if sym.kind in _OUTLINE_KINDS and members:
            out += _outline(d, start, members, lines, chunk_lines, max_line_chars)
            floor = d.head_end + 1
            starts = []
            for member in members:
                member_start = max(member.chunk_start, floor)
                # a member the outline shows whole, or sharing a line, gets no chunk of its own
                if (
                    member.head_end < member.symbol.end_line
                    and member_start <= member.symbol.end_line
                ):
                    starts.append((member, member_start))
                floor = member.symbol.end_line + 1
            pending.extend(reversed(starts))
            continue
        for a, b, text in windows(lines, start, end, chunk_lines, WINDOW_OVERLAP, max_line_chars):
            out.append(Chunk(a, b, "definition", text, sym.qualname, sym.kind))


def _outline(
    d: Definition,
    start: int,
    members: list[Definition],
    lines: list[str],
    chunk_lines: int,
    max_line_chars: int,
) -> list[Chunk]:
    """Outline chunks: the definition with each member's body replaced by `...`.

    A long outline is cut into several chunks, between members where possible.
    """
    groups: list[list[tuple[int, str]]] = []  # per member: (source line, text) rows
    rows: list[tuple[int, str]] = []
    cursor = start
    for m in members:
        m_start, m_end = max(m.symbol.start_line, cursor), m.symbol.end_line
        if m_end < m_start:
            continue  # on a line already shown (several members on one line)
        if rows and cursor > start:  # each member starts a group, with the comments above it
            groups.append(rows)
            rows = []
        rows += [(n, lines[n - 1]) for n in range(cursor, m_start)]
        head_end = max(min(m.head_end, m_end), m_start - 1)
        rows += [(n, lines[n - 1]) for n in range(m_start, head_end + 1)]
        if head_end < m_end:
            closer = lines[m_end - 1].strip() in _CLOSERS
            if head_end < m_end - closer:
                indent = _indent_of(lines, m_start, head_end, m_end)
                rows.append((m_end - closer, indent + "..."))
            if closer:
                rows.append((m_end, lines[m_end - 1]))
        cursor = max(cursor, m_end + 1)
    rows += [(n, lines[n - 1]) for n in range(cursor, d.symbol.end_line + 1)]
    groups.append(rows)
    parts: list[list[tuple[int, str]]] = [[]]
    for group in groups:
        if parts[-1] and len(parts[-1]) + len(group) > chunk_lines:
            parts.append([])
        parts[-1] += group
    sym = d.symbol
    chunks = []
    for part in parts:
        for i in range(0, len(part), chunk_lines):
            piece = part[i : i + chunk_lines]
            while piece and not piece[0][1].strip():
                piece = piece[1:]
            while piece and not piece[-1][1].strip():
                piece = piece[:-1]
            if not piece:
                continue
            text = "\n".join(line[:max_line_chars] for _, line in piece)[:MAX_CHUNK_CHARS]
            chunks.append(Chunk(piece[0][0], piece[-1][0], "outline", text, sym.qualname, sym.kind))
    return chunks


def _indent_of(lines: list[str], start: int, head_end: int, end: int) -> str:
    """Indentation for the `...` standing in for a body: its first line's, else deeper."""
    header = lines[start - 1]
    indent = header[: len(header) - len(header.lstrip())]
    if head_end < end:
        body = lines[head_end]
        body_indent = body[: len(body) - len(body.lstrip())]
        if body.strip() and len(body_indent) > len(indent):
            return body_indent
    return indent + "    "
