"""The repo map: the most important files and definitions of a repository, within a budget.

Definitions are ranked by the reference graph (personalized toward the focus, if any), the
best ones are laid out file by file as signatures with line numbers, and the number shown is
the most whose text, counted in one pass as they are added, fits the token budget:

    codemem/code/graph.py:
      98│ class RefGraph:
     187│     def rank_files(self, personalization=None) -> dict[str, float]:
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

from codemem.code.files import is_test_path
from codemem.code.graph import RefGraph
from codemem.code.tags import Definition, TagStore
from codemem.infra import printable

TEST_WEIGHT = 0.1  # test files rank below the code they test, unless focused
FOCUS_WEIGHT = 10.0  # a focused file's own definitions outrank what it merely uses
MAX_SIGNATURE_CHARS = 120
INDENT = "    "
NUMBER_MARK = "│ "  # between a definition's line number and its signature


def estimate_tokens(text: str) -> int:
    """The token count the budget is measured in: about four characters per token.

    A rough, model-independent estimate (real tokenizers give 3 to 5 characters per token
    on code); every budget decision in the map goes through this one function.
    """
    return tokens_of_chars(len(text))


def tokens_of_chars(chars: int) -> int:
    """`estimate_tokens` of a text this many characters long."""
    return (chars + 3) // 4


@dataclass(slots=True)
class MapDefinition:
    """One definition shown in the map."""

    name: str
    qualname: str
    kind: str
    line: int
    end_line: int
    signature: str

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "qualname": self.qualname,
            "kind": self.kind,
            "line": self.line,
            "end_line": self.end_line,
            "signature": self.signature,
        }


@dataclass(slots=True)
class MapItem:
    """One file of the map, with its rank and the definitions shown for it."""

    path: str
    rank: float
    definitions: list[MapDefinition] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "rank": self.rank,
            "definitions": [d.to_json() for d in self.definitions],
        }


@dataclass(slots=True)
class RepoMap:
    """A rendered map: `text` for a prompt or terminal, `items` for JSON."""

    text: str
    items: list[MapItem]
    budget: int
    unmatched: list[str] = field(default_factory=list)  # focus entries that matched nothing

    @property
    def tokens(self) -> int:
        return estimate_tokens(self.text)

    def to_json(self) -> dict[str, Any]:
        return {
            "tokens": self.budget,
            "used_tokens": self.tokens,
            "files": [item.to_json() for item in self.items],
        }


@dataclass
class Focus:
    """Focus entries resolved against the repository."""

    personalization: dict[str, float] = field(default_factory=dict)
    mentioned: set[str] = field(default_factory=set)  # names whose edges weigh more
    paths: set[str] = field(default_factory=set)  # focused files (never demoted as tests)
    files: list[str] = field(default_factory=list)  # files named by an entry: shown first
    definitions: list[tuple[str, Definition]] = field(default_factory=list)  # shown first
    unmatched: list[str] = field(default_factory=list)


def resolve_focus(store: TagStore, graph: RefGraph, focus: Iterable[str]) -> Focus:
    """Read each entry as a file, a directory, or a symbol name or qualified name.

    Files and directories (repository-relative) are personalized; a symbol personalizes the
    files defining it, weighs its name more in the graph, and puts its definitions first.
    """
    out = Focus()
    paths = graph.paths
    known = graph.path_index
    for raw in focus:
        entry = raw.strip().removeprefix("./").rstrip("/")
        if not entry:
            continue
        if entry in known:
            out.paths.add(entry)
            if entry not in out.files:
                out.files.append(entry)
            out.personalization[entry] = out.personalization.get(entry, 0.0) + 1.0
            continue
        prefix = "" if entry == "." else entry + "/"
        under = [p for p in paths if p.startswith(prefix)]
        if under:
            out.paths.update(under)
            for path in under:
                out.personalization[path] = out.personalization.get(path, 0.0) + 1.0 / len(under)
            continue
        hits = find_symbol(store, graph, entry)
        if not hits:
            out.unmatched.append(raw)
            continue
        files = {path for path, _ in hits}
        for path in files:
            out.personalization[path] = out.personalization.get(path, 0.0) + 1.0 / len(files)
        out.mentioned.update(d[0] for _, d in hits)
        out.definitions.extend(h for h in hits if h not in out.definitions)
    return out


def find_symbol(store: TagStore, graph: RefGraph, entry: str) -> list[tuple[str, Definition]]:
    """Definitions named `entry`, or whose qualified name is `entry` or ends with `.entry`."""

    def matches(d: Definition) -> bool:
        return d[0] == entry or d[1] == entry or d[1].endswith("." + entry)

    # A qualified name ends with the name: only the files defining that name are read.
    files = graph.files_defining(entry.rsplit(".", 1)[-1])
    hits = [(path, d) for path in files for d in store.definitions(path) if matches(d)]
    if not hits and "." in entry:  # names with dots of their own (rare): read everything
        hits = [(path, d) for path in graph.paths for d in store.definitions(path) if matches(d)]
    return hits


def render_repo_map(
    store: TagStore,
    graph: RefGraph,
    *,
    tokens: int,
    focus: Iterable[str] = (),
    test_weight: float = TEST_WEIGHT,
    focus_weight: float = FOCUS_WEIGHT,
) -> RepoMap:
    """The map of the files and definitions that matter most, within `tokens` (estimated).

    Files are ordered by rank, each with its best definitions in line order. Focused files
    and directories are personalized and their definitions weigh `focus_weight` times more;
    a focused file's path and focused symbols come first, then a focused file's own
    definitions (so a small budget shows them before anything else); test files weigh
    `test_weight` unless focused.
    """
    focused = resolve_focus(store, graph, focus)
    weights = {path: focus_weight for path in focused.paths}
    weights.update(
        (path, test_weight)
        for path in graph.paths
        if path not in focused.paths and is_test_path(path)
    )
    personalization = focused.personalization or None
    file_rank = graph.rank_files(personalization, focused.mentioned)
    for path, weight in weights.items():
        file_rank[path] *= weight
    # a focused file's own definitions before any other file's: weighed, a class every file
    # uses (`Context`) still outranked the focused file's functions, and a small budget showed
    # one of them among eight elsewhere
    ranked = graph.iter_definitions(
        personalization, focused.mentioned, file_weights=weights, first_files=focused.files
    )
    entries, exhausted = _candidates(focused.definitions, ranked, tokens)
    # a file named by the focus is shown, as its path at least, before anything else that
    # fits: a budget too small for its first definition (or a file with none) left it out
    entries[:0] = [(path, None) for path in focused.files]
    if exhausted:  # every definition fits: files without any follow, by rank
        with_defs = {path for path, _ in entries}
        bare = sorted((p for p in graph.paths if p not in with_defs), key=lambda p: -file_rank[p])
        entries.extend((path, None) for path in bare)

    text, items = _layout(entries[: _fitting_prefix(entries, tokens)], file_rank)
    return RepoMap(text, items, tokens, focused.unmatched)


def _candidates(
    first: Iterable[tuple[str, Definition]],
    ranked: Iterable[tuple[str, Definition, float]],
    tokens: int,
) -> tuple[list[tuple[str, Definition | None]], bool]:
    """Focused, then ranked definitions, pulled until their lines alone overflow `tokens`.

    The map's text holds every line of the definitions it shows, so once those lines alone
    are over budget no later definition can fit. Overloads and redefinitions (same file and
    qualified name) keep the first one. Returns the candidates and whether `ranked` ran out.
    """
    entries: list[tuple[str, Definition | None]] = []
    lines: list[str] = []
    seen: set[tuple[str, str]] = set()
    check_at = 32
    for path, d in chain(first, ((path, d) for path, d, _ in ranked)):
        if (path, d[1]) in seen:
            continue
        seen.add((path, d[1]))
        entries.append((path, d))
        lines.append(_definition_line(d, 4))
        if len(entries) >= check_at:  # checked at doubling sizes: linear overall
            if estimate_tokens("\n".join(lines)) > tokens:
                return entries, False
            check_at *= 2
    return entries, True


def _fitting_prefix(entries: Sequence[tuple[str, Definition | None]], tokens: int) -> int:
    """The length of the largest prefix of `entries` whose `_layout` text fits `tokens`.

    The text's length is counted as the prefix grows, never laid out: a file's heading line,
    and per definition its line less the width of its line number, which is the file's widest
    number shown so far (every line of a file is padded to it). One pass, so a file of 100,000
    definitions is not laid out again at each step of a search for the cut.
    """
    chars = 0  # of the text: each line and its newline
    shown: dict[str, tuple[int, int]] = {}  # path -> (definitions shown, their width)
    for n, (path, d) in enumerate(entries):
        count, width = shown.get(path, (0, 0))
        if path not in shown:
            chars += len(printable(path)) + 1
        if d is not None:
            if not count:
                chars += 1  # the heading's colon
            wider = max(width, 4, len(str(d[3])))
            chars += (wider - width) * count  # the file's earlier lines padded further
            chars += wider + len(NUMBER_MARK) + len(_definition_body(d)) + 1
            count, width = count + 1, wider
        shown[path] = (count, width)
        if tokens_of_chars(chars) > tokens:
            return n
    return len(entries)


def _layout(
    entries: Sequence[tuple[str, Definition | None]], file_rank: dict[str, float]
) -> tuple[str, list[MapItem]]:
    """Group entries by file (files by rank, definitions by line) and render them."""
    by_file: dict[str, list[Definition]] = {}
    for path, d in entries:
        shown = by_file.setdefault(path, [])
        if d is not None:
            shown.append(d)
    order = sorted(by_file, key=lambda p: (-file_rank.get(p, 0.0), p))
    lines: list[str] = []
    items: list[MapItem] = []
    for path in order:
        defs = sorted(by_file[path], key=lambda d: (d[3], d[4], d[1]))
        items.append(
            MapItem(
                path, file_rank.get(path, 0.0), [MapDefinition(*d[:5], _signature(d)) for d in defs]
            )
        )
        if not defs:
            lines.append(printable(path))
            continue
        lines.append(f"{printable(path)}:")
        width = max(4, len(str(defs[-1][3])))
        lines.extend(_definition_line(d, width) for d in defs)
    return ("\n".join(lines) + "\n" if lines else ""), items


def _definition_line(d: Definition, width: int) -> str:
    """`  12│     def name(args):` (nested definitions indented by their depth)."""
    return f"{d[3]:>{width}}{NUMBER_MARK}{_definition_body(d)}"


def _definition_body(d: Definition) -> str:
    """A definition's line after its number: its signature, indented by its depth."""
    signature = _signature(d)  # a cloned file's text: its terminal codes shown escaped
    return f"{INDENT * d[1].count('.')}{signature if signature.isprintable() else printable(signature)}"


def _signature(d: Definition) -> str:
    """The definition's one-line header, shortened; `kind name` when the parser gave none."""
    text = d[5] or f"{d[2]} {d[0]}"
    if len(text) > MAX_SIGNATURE_CHARS:
        text = text[: MAX_SIGNATURE_CHARS - 1].rstrip() + "…"
    return text
