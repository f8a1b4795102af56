"""Parse one file into symbols, references, imports and chunks: `parse_file`.

Code languages go through tree-sitter and their tag query (syntax.py) and are chunked along
definitions (chunking.py); text kinds are chunked by sections or lines (text_chunking.py).
Nothing here raises on bad input: invalid UTF-8 is replaced, a BOM dropped, CRLF read as LF,
and a file that does not parse cleanly is indexed as far as it parses.
"""

from __future__ import annotations

import logging

from codemem.code.chunking import chunk_code, text_windows
from codemem.code.languages import get_parser, get_query, grammar, language_for_path
from codemem.code.model import ParsedFile
from codemem.code.syntax import count_errors, extract_tags
from codemem.code.text_chunking import chunk_text

log = logging.getLogger("codemem")

_BOM = b"\xef\xbb\xbf"


def split_source(source: bytes) -> list[str]:
    """The file's lines as text: UTF-8 with replacement, BOM stripped, CRLF → LF.

    Only "\\n" ends a line (as for tree-sitter's rows), so line numbers always agree with the
    parser's; a file ending in a newline has no extra empty last line; an empty file has none.
    """
    if source.startswith(_BOM):
        source = source[3:]
    text = source.decode("utf-8", "replace")
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    if not text:
        return []
    lines = text.split("\n")
    if text.endswith("\n"):
        lines.pop()
    return lines


def parse_file(
    path: str,
    source: bytes,
    language: str | None = None,
    *,
    chunk_lines: int = 80,
    max_line_chars: int = 2000,
    references: bool = False,
) -> ParsedFile:
    """Parse and chunk one file; `language` defaults to `language_for_path(path, source)`.

    Code files get symbols (qualified names, spans, signatures, docstrings), referenced
    names, imports, a syntax-error count and AST-aware chunks; text files get section symbols and
    section or line chunks; unknown files get line chunks. Never raises on any input.
    References are kept as their names only (`reference_names`: what the index needs);
    `references=True` also makes a `Reference` (name, line, kind) for each use.
    """
    language = language or language_for_path(path, source) or "text"
    chunk_lines = max(1, chunk_lines)
    max_line_chars = max(1, max_line_chars)
    parsed = ParsedFile(path=path, language=language)
    try:
        lines = split_source(source)
        if not lines:  # empty (a BOM at most): nothing to parse, as a parse would find
            return parsed
        if grammar(language) is not None:
            _parse_code(parsed, source, lines, chunk_lines, max_line_chars, references)
        else:
            parsed.symbols, parsed.chunks = chunk_text(language, lines, chunk_lines, max_line_chars)
    except Exception:  # a parser bug must never stop indexing: keep the text searchable
        log.warning("parsing %s failed; indexing it as plain text", path, exc_info=True)
        parsed = ParsedFile(path=path, language=language)
        try:
            lines = split_source(source)
            parsed.chunks = text_windows(lines, 1, len(lines), chunk_lines, max_line_chars, "lines")
        except Exception:
            log.warning("chunking %s failed", path, exc_info=True)
    return parsed


def _parse_code(
    parsed: ParsedFile,
    source: bytes,
    lines: list[str],
    chunk_lines: int,
    max_line_chars: int,
    references: bool,
) -> None:
    language = parsed.language
    parser = get_parser(language)
    if parser is None:  # grammar wheel missing: the file is still searchable as text
        parsed.chunks = text_windows(lines, 1, len(lines), chunk_lines, max_line_chars, "lines")
        return
    if source.startswith(_BOM):
        source = source[3:]
    tree = parser.parse(source)
    # The query that also counts syntax errors: one pass over a tree with errors, not two.
    # A tree without them runs it as fast as the plain one (their patterns match nothing), and
    # each worker compiles one query a language, not two (C++: 0.23 s each).
    query = get_query(language, with_errors=True)
    if query is None:
        parsed.syntax_errors = count_errors(tree, language)
        parsed.chunks = text_windows(lines, 1, len(lines), chunk_lines, max_line_chars, "lines")
        return
    spec = grammar(language)
    comments = spec.comments if spec else "c"
    tags = extract_tags(tree, query, source, lines, comments, language, references=references)
    parsed.syntax_errors = tags.errors
    parsed.symbols = [d.symbol for d in tags.definitions]
    parsed.references = tags.references
    parsed.reference_names = tags.reference_names
    parsed.imports = tags.imports
    parsed.chunks = chunk_code(tags.definitions, lines, chunk_lines, max_line_chars)
