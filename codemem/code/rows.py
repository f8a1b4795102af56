"""Rows of the code tables for a group of files, as plain values.

Parsing produces them (`codemem.code.extract`) and the store writes them
(`codemem.code.store`); kept apart from the store so that parsing, and a refresh that finds
nothing to parse, never load pyarrow and LanceDB.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Batch:
    """Rows for a group of files, column by column."""

    files: list[dict[str, Any]] = field(default_factory=list)
    chunks: list[dict[str, Any]] = field(default_factory=list)
    symbols: list[dict[str, Any]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.files)

    def extend(self, other: Batch) -> None:
        self.files += other.files
        self.chunks += other.chunks
        self.symbols += other.symbols
