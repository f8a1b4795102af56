"""Turning one repository file into index rows (runs in worker processes)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codemem.code.files import content_skip_reason, git_blob_id, is_test_path, read_repo_file
from codemem.code.rows import Batch, FileRows
from codemem.code.text import search_texts, token_text
from codemem.infra import redact_source

INDEXED = "indexed"


@dataclass(frozen=True)
class ExtractSettings:
    """The knobs that change what a file's rows look like (part of the index fingerprint)."""

    max_file_bytes: int
    chunk_lines: int
    max_line_chars: int
    redaction: int = 1  # the secret redaction's version: an index built before it is rebuilt


@dataclass
class FileResult:
    """The outcome for one file: its rows, or the reason it was skipped."""

    path: str
    content_id: str | None
    status: str  # "indexed" or a skip reason
    language: str | None = None
    batch: Batch | FileRows = field(default_factory=Batch)  # FileRows: as a worker sends it
    tags: Any = None  # codemem.code.tags.FileTags for indexed code files
    syntax_errors: int = 0


def extract_file(
    root: Path,
    path: str,
    content_id: str | None,
    settings: ExtractSettings,
    generated: bool = True,
) -> FileResult:
    """Read, classify, parse and chunk one file. Never raises for bad content.

    `generated` False: the repository says the file is not generated
    (`linguist-generated=false`), so its content is not judged generated or minified.

    Secrets are redacted (`codemem.infra.redact_source`) before the file is parsed, so no
    chunk, symbol signature or docstring, tag or repo-map line ever holds one.
    """
    from codemem.code.languages import language_for_path
    from codemem.code.parse import parse_file

    data, reason = read_repo_file(root, path, settings.max_file_bytes)
    if data is None:
        return FileResult(path, content_id, reason or "unreadable")
    content_id = content_id or git_blob_id(data)
    reason = content_skip_reason(data, generated)
    if reason:
        return FileResult(path, content_id, reason)
    language = language_for_path(path, data)
    if language is None:  # any other text file is searchable as plain text
        if not _is_utf8_text(data[:8192]):
            return FileResult(path, content_id, "unsupported")
        language = "text"
    try:
        parsed = parse_file(
            path,
            redact_source(data),
            language,
            chunk_lines=settings.chunk_lines,
            max_line_chars=settings.max_line_chars,
        )
    except Exception as exc:  # a parser bug must not stop the whole index
        return FileResult(path, content_id, f"parse_failed: {type(exc).__name__}")
    return FileResult(
        path,
        content_id,
        INDEXED,
        language,
        rows_for(parsed, content_id, len(data), _line_count(data)),
        _tags_for(parsed),
        parsed.syntax_errors,
    )


def _is_utf8_text(head: bytes) -> bool:
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start >= len(head) - 3  # only a character cut at the end of the sample
    return True


def _line_count(data: bytes) -> int:
    newlines = data.count(b"\n")
    return newlines + (1 if data and not data.endswith(b"\n") else 0)


def _tags_for(parsed: Any) -> Any:
    from codemem.code.tags import FileTags

    return FileTags.from_parsed(parsed)


def rows_for(parsed: Any, content_id: str, size: int, lines: int) -> Batch:
    """The files, chunks and symbols rows of one parsed file, column by column."""
    path, language = parsed.path, parsed.language
    test = is_test_path(path)
    chunks, symbols = parsed.chunks, parsed.symbols
    path_text = token_text(path)
    bodies = [token_text(c.text) for c in chunks]
    n, m = len(chunks), len(symbols)
    batch = Batch()
    batch.chunks.update(
        id=[f"{path}#{c.start_line}-{c.end_line}#{i}" for i, c in enumerate(chunks)],
        path=[path] * n,
        language=[language] * n,
        start_line=[c.start_line for c in chunks],
        end_line=[c.end_line for c in chunks],
        kind=[c.kind for c in chunks],
        symbol=[c.symbol for c in chunks],
        symbol_kind=[c.symbol_kind for c in chunks],
        is_test=[test] * n,
        text=[c.text for c in chunks],
        search=search_texts(path_text, [c.symbol for c in chunks], bodies),
        # The last tokens of `search` (its body's) that its file's search text holds too.
        # An outline repeats its members' signatures: the file's text leaves it out.
        file_tokens=[
            0 if c.kind == "outline" or not b else b.count(" ") + 1
            for c, b in zip(chunks, bodies, strict=True)
        ],
    )
    batch.symbols.update(
        path=[path] * m,
        language=[language] * m,
        name=[s.name for s in symbols],
        name_lower=[s.name.lower() for s in symbols],
        qualname=[s.qualname for s in symbols],
        kind=[s.kind for s in symbols],
        start_line=[s.start_line for s in symbols],
        end_line=[s.end_line for s in symbols],
        signature=[s.signature for s in symbols],
        docstring=[s.docstring for s in symbols],
        parent=[s.parent for s in symbols],
        is_test=[test] * m,
    )
    batch.files.update(
        path=[path],
        language=[language],
        content_id=[content_id],
        size=[size],
        lines=[lines],
        symbols=[m],
        chunks=[n],
        syntax_errors=[parsed.syntax_errors],
        is_test=[test],
        # The file's search text is this followed by its chunks' `file_tokens` last tokens
        # (`codemem.code.lexicon_build` counts them there: the text itself is never built).
        search=[" ".join(filter(None, [path_text, path_text]))],
    )
    return batch
