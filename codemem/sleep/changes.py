"""Which definitions a commit added, changed and removed.

Both versions of each changed code file are read from git (`codemem.infra.BlobReader`) and parsed
with the index's own parser; definitions are matched by qualified name (the n-th definition of
a repeated name matches the n-th one). A definition changed when its own text differs: the
lines of its nested definitions are left out, so editing one method does not also mark the
class that holds it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from codemem.code import content_skip_reason, is_code, language_for_path
from codemem.infra import BlobReader
from codemem.sleep.commits import Commit, FileChange

# Not reported on their own: text headings, and fields and variables (their changes show as
# changes of the class or function that holds them).
UNREPORTED_KINDS = frozenset({"section", "field", "variable"})
CALLABLE_KINDS = frozenset({"function", "method"})


@dataclass(frozen=True, slots=True)
class SymbolRef:
    """A definition named in a digest."""

    path: str
    qualname: str
    kind: str
    line: int

    def to_json(self) -> dict:
        return {"path": self.path, "qualname": self.qualname, "kind": self.kind, "line": self.line}


@dataclass
class SymbolChanges:
    """The definitions one commit added, changed and removed, in file and line order."""

    added: list[SymbolRef] = field(default_factory=list)
    changed: list[SymbolRef] = field(default_factory=list)
    removed: list[SymbolRef] = field(default_factory=list)
    files_not_compared: int = 0  # code files beyond the per-commit limit, or too large

    def __bool__(self) -> bool:
        return bool(self.added or self.changed or self.removed)

    def to_json(self) -> dict:
        return {
            "added": [s.to_json() for s in self.added],
            "changed": [s.to_json() for s in self.changed],
            "removed": [s.to_json() for s in self.removed],
            "files_not_compared": self.files_not_compared,
        }


def _own_texts(
    data: bytes, path: str, language: str, parse_options: dict[str, Any]
) -> dict[tuple[str, int], tuple[str, str, int]]:
    """(qualname, occurrence) -> (kind, own text, start line) for each definition."""
    from codemem.code import parse_file, split_source  # tree-sitter: loaded on first use

    parsed = parse_file(path, data, language, **parse_options)
    lines = split_source(data)
    symbols = [s for s in parsed.symbols if s.kind != "section"]
    kinds = {s.qualname: s.kind for s in symbols}
    nested: dict[str, list[tuple[int, int]]] = {}
    for sym in symbols:
        # A reported child's lines are its own; an unreported one's belong to its parent.
        if (
            sym.parent
            and sym.kind not in UNREPORTED_KINDS
            and kinds.get(sym.parent) not in CALLABLE_KINDS
        ):
            nested.setdefault(sym.parent, []).append((sym.start_line, sym.end_line))
    seen: Counter[str] = Counter()
    out: dict[tuple[str, int], tuple[str, str, int]] = {}
    for sym in symbols:
        if sym.kind in UNREPORTED_KINDS or kinds.get(sym.parent or "") in CALLABLE_KINDS:
            continue  # helpers nested in a function change with it
        inner = nested.get(sym.qualname, [])
        own = [
            lines[n - 1].rstrip()
            for n in range(sym.start_line, sym.end_line + 1)
            if n - 1 < len(lines) and not any(a <= n <= b for a, b in inner)
        ]
        key = (sym.qualname, seen[sym.qualname])
        seen[sym.qualname] += 1
        out[key] = (sym.kind, "\n".join(own), sym.start_line)
    return out


def _language(change: FileChange, data: bytes | None) -> str | None:
    language = language_for_path(change.path, data or None)
    return language if is_code(language) else None


def compare_file(
    change: FileChange, old: bytes | None, new: bytes | None, parse_options: dict[str, Any]
) -> SymbolChanges:
    """The definitions added, changed and removed between two versions of one file."""
    result = SymbolChanges()
    language = _language(change, new if new is not None else old)
    if language is None:
        return result
    before = (
        _own_texts(old, change.old_path or change.path, language, parse_options)
        if old is not None
        else {}
    )
    after = _own_texts(new, change.path, language, parse_options) if new is not None else {}
    for key, (kind, text, line) in after.items():
        if key not in before:
            result.added.append(SymbolRef(change.path, key[0], kind, line))
        elif before[key][1] != text:
            result.changed.append(SymbolRef(change.path, key[0], kind, line))
    for key, (kind, _text, line) in before.items():
        if key not in after:
            result.removed.append(SymbolRef(change.path, key[0], kind, line))
    return result


def commit_symbol_changes(
    reader: BlobReader,
    commit: Commit,
    *,
    max_files: int,
    max_bytes: int,
    parse_options: dict[str, Any],
) -> SymbolChanges:
    """Compare both versions of each changed code file of `commit` (at most `max_files`)."""
    total = SymbolChanges()
    if commit.is_merge:  # its files are the resolved conflicts, without blobs: nothing to compare
        return total
    compared = 0
    for change in commit.files:
        if change.skipped is not None or change.status not in "AMDRT":
            continue
        by_name = language_for_path(change.path)
        if by_name is not None and not is_code(by_name):
            continue  # a text file (Markdown, YAML...): no definitions to compare
        if compared >= max_files:
            total.files_not_compared += 1
            continue
        old = reader.read(change.old_blob, max_bytes) if change.old_blob else None
        new = reader.read(change.new_blob, max_bytes) if change.new_blob else None
        if (change.old_blob and old is None) or (change.new_blob and new is None):
            total.files_not_compared += 1
            continue
        sample = new if new is not None else old
        reason = content_skip_reason(sample) if sample is not None else None
        if reason is not None:
            change.skipped = reason
            continue
        if _language(change, sample) is None:
            continue
        compared += 1
        try:
            found = compare_file(change, old, new, parse_options)
        except Exception:  # a parser bug must not stop the digest; the file is counted
            total.files_not_compared += 1
            continue
        total.added += found.added
        total.changed += found.changed
        total.removed += found.removed
    return total
