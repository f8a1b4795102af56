"""Turning one repository file into index rows (runs in worker processes)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codemem.code.files import content_skip_reason, git_blob_id, is_test_path, read_repo_file
from codemem.code.rows import Batch
from codemem.code.text import path_tokens, search_text_of, tokenize
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
    batch: Batch = field(default_factory=Batch)
    tags: Any = None  # codemem.code.tags.FileTags for indexed code files
    syntax_errors: int = 0


def extract_file(
    root: Path, path: str, content_id: str | None, settings: ExtractSettings
) -> FileResult:
    """Read, classify, parse and chunk one file. Never raises for bad content.

    Secrets are redacted (`codemem.infra.redact_source`) before the file is parsed, so no
    chunk, symbol signature or docstring, tag or repo-map line ever holds one.
    """
    from codemem.code.languages import language_for_path
    from codemem.code.parse import parse_file

    data, reason = read_repo_file(root, path, settings.max_file_bytes)
    if data is None:
        return FileResult(path, content_id, reason or "unreadable")
    content_id = content_id or git_blob_id(data)
    reason = content_skip_reason(data)
    if reason:
        return FileResult(path, content_id, reason)
    language = language_for_path(path, data[:4096])
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
    """The files, chunks and symbols rows of one parsed file."""
    path, language = parsed.path, parsed.language
    test = is_test_path(path)
    batch = Batch()
    body_tokens: list[str] = []
    for n, chunk in enumerate(parsed.chunks):
        tokens = tokenize(chunk.text)
        text = search_text_of(path, chunk.symbol, tokens)
        batch.chunks.append(
            {
                "id": f"{path}#{chunk.start_line}-{chunk.end_line}#{n}",
                "path": path,
                "language": language,
                "start_line": chunk.start_line,
                "end_line": chunk.end_line,
                "kind": chunk.kind,
                "symbol": chunk.symbol,
                "symbol_kind": chunk.symbol_kind,
                "is_test": test,
                "text": chunk.text,
                "search": text,
            }
        )
        if chunk.kind != "outline":  # an outline repeats its members' signatures
            body_tokens.extend(tokens)
    for sym in parsed.symbols:
        batch.symbols.append(
            {
                "path": path,
                "language": language,
                "name": sym.name,
                "name_lower": sym.name.lower(),
                "qualname": sym.qualname,
                "kind": sym.kind,
                "start_line": sym.start_line,
                "end_line": sym.end_line,
                "signature": sym.signature,
                "docstring": sym.docstring,
                "parent": sym.parent,
                "is_test": test,
            }
        )
    batch.files.append(
        {
            "path": path,
            "language": language,
            "content_id": content_id,
            "size": size,
            "lines": lines,
            "symbols": len(parsed.symbols),
            "chunks": len(parsed.chunks),
            "syntax_errors": parsed.syntax_errors,
            "is_test": test,
            "search": " ".join(path_tokens(path) * 2 + body_tokens),
        }
    )
    return batch
