"""Values produced by parsing one file: the contract between the parser and the index."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Symbol:
    """A definition: function, method, class, struct, interface, enum, constant..."""

    name: str
    qualname: str  # dotted within the file: "Outer.Inner.method"
    kind: str  # function | method | class | struct | interface | enum | trait | module | type | constant | variable | macro | namespace | field | section
    start_line: int  # 1-based, inclusive
    end_line: int  # 1-based, inclusive
    signature: str = ""  # the header up to the body, on one line
    docstring: str = ""
    parent: str | None = None  # qualname of the enclosing symbol


@dataclass(slots=True)
class Reference:
    """A use of a name: a call, a type mention, an identifier read."""

    name: str
    line: int
    kind: str = "ref"  # call | type | ref


@dataclass(slots=True)
class Import:
    """An import/include/use statement's target, as written (module path or file)."""

    target: str
    line: int


@dataclass(slots=True)
class Chunk:
    """A retrievable span of a file."""

    start_line: int
    end_line: int
    kind: str  # definition | outline | module | section | lines
    text: str
    symbol: str | None = None  # qualname when the chunk is (part of) a definition
    symbol_kind: str | None = None


@dataclass(slots=True)
class ParsedFile:
    """Everything the index keeps about one file."""

    path: str  # repository-relative, "/" separators
    language: str
    symbols: list[Symbol] = field(default_factory=list)
    references: list[Reference] = field(default_factory=list)
    imports: list[Import] = field(default_factory=list)
    chunks: list[Chunk] = field(default_factory=list)
    syntax_errors: int = 0  # number of ERROR/MISSING nodes; the file is still indexed


FILES, CHUNKS, SYMBOLS = "files", "chunks", "symbols"  # the index's tables
FTS_TABLES = (CHUNKS, FILES)  # the tables with a full-text index
Columns = dict[str, list[Any]]  # column name -> values, all of one length


@dataclass(slots=True)
class Batch:
    """Index rows of a group of files, column by column: for each table (files, chunks,
    symbols) a dict of equal-length lists named as its schema's columns. Built in the parser
    workers and handed to Arrow as they are: no dict per row, cheap to send between processes.
    """

    files: Columns = field(default_factory=dict)
    chunks: Columns = field(default_factory=dict)
    symbols: Columns = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.files.get("path", ()))

    def count(self, table: str) -> int:
        """The number of rows for `table`."""
        columns: Columns = getattr(self, table)
        return len(columns.get("path", ()))

    def extend(self, other: Batch) -> None:
        for table in (FILES, CHUNKS, SYMBOLS):
            mine: Columns = getattr(self, table)
            for column, values in getattr(other, table).items():
                mine.setdefault(column, []).extend(values)

    def rows(self, table: str) -> list[dict[str, Any]]:
        """`table`'s rows as dicts (for tests and diagnostics)."""
        columns: Columns = getattr(self, table)
        values = zip(*columns.values(), strict=True)
        return [dict(zip(columns, row, strict=True)) for row in values]
