"""Values produced by parsing one file: the contract between the parser and the index."""

from __future__ import annotations

from dataclasses import dataclass, field


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
    references: list[Reference] = field(default_factory=list)  # when parsed with them
    reference_names: list[str] = field(default_factory=list)  # the references' names, in order
    imports: list[Import] = field(default_factory=list)
    chunks: list[Chunk] = field(default_factory=list)
    syntax_errors: int = 0  # number of ERROR/MISSING nodes; the file is still indexed
