"""Definitions, references and imports of one syntax tree, from the language's tag query.

One query run per file collects every capture (the C side does the tree walk); Python then
only touches the captured nodes. Nesting of definitions, and so qualified names, comes from
sorting the definition spans, not from walking the tree.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from operator import attrgetter, itemgetter
from typing import Any

from tree_sitter import Language, Node, Query, QueryCursor, Tree

from codemem.code.comments import DOCSTRING_CHARS, CommentsAbove
from codemem.code.languages import ERROR_PATTERNS, get_language
from codemem.code.model import Import, Reference, Symbol

# One definition match: (kind, node, name node, body, doc and scope captures).
DefinitionCapture = tuple[str, Node, Node, list[Node] | None, list[Node] | None, list[Node] | None]

SIGNATURE_CHARS = 200
_HEADER_BYTES = 1000  # never decode more than this for a signature
# A name is cut at NAME_BYTES and a qualified name keeps its last QUALNAME_CHARS: without
# them a file of nested definitions with long names held every outer name in each inner
# one's (a 2.5 MB file of 250 nested namespaces took 1.6 GB to parse).
NAME_BYTES = 256
QUALNAME_CHARS = 1024

# Nodes that wrap a definition and belong to its span: decorators, `export`, `template<...>`,
# Go's single-spec `type X struct`. The value says whether the signature starts at the wrapper.
_WRAPPERS = {
    "decorated_definition": False,
    "export_statement": True,
    "template_declaration": True,
    "type_declaration": True,
    "const_declaration": True,
    "var_declaration": True,
}
_ONE_CHILD_WRAPPERS = frozenset({"type_declaration", "const_declaration", "var_declaration"})
CLASS_KINDS = frozenset({"class", "struct", "interface", "enum", "trait", "impl", "type"})
_DATA_KINDS = frozenset({"variable", "constant", "field"})
_REFERENCE_KINDS = {f"reference.{kind}": kind for kind in ("call", "type", "ref")}
_ERROR_CAPTURES = frozenset({"error", "missing"})  # ERROR_PATTERNS' captures
# Languages whose tag query is read with one `captures` call (the nodes of each capture
# name) instead of `matches`, for which the Python binding builds a dict and lists per match
# (sympy: 0.4 s of its 7 s of parsing; C's matches a few per cent of its tags), rebuilt from
# the tree. Listed only once their query is checked to give the very same tags both ways
# (tests/code/test_parse_captures.py). Captures hold a node once however many patterns or
# matches capture it alike, so a listed query must have: no node captured alike by two
# patterns (C++'s `new T` is a type reference twice); no node both a definition and a part of
# another definition's match; no match holding a name and a reference, import or error; and
# for a definition with several names (`int a, b;`: a match per name), the same other parts
# in each of its matches. A file whose matches cannot be rebuilt is read by matches.
CAPTURE_LANGUAGES = frozenset({"python", "c"})
# Grammars whose type references named by one capital letter (`T`) are dropped here rather
# than by a `#not-match?` in the query (queries/c_types.scm): the same references, without a
# call of Python's re for every type name.
ONE_CAPITAL_DROPPED = frozenset({"c"})
_ONE_CAPITALS = frozenset(bytes([c]) for c in b"ABCDEFGHIJKLMNOPQRSTUVWXYZ")
# The tag queries start no match deeper than this in the tree. Each level of nesting kept a
# match in progress and made every `Node.parent` (which tree-sitter walks down from the root)
# longer: a 320 KB file of 20,000 nested C++ namespaces took 31 s and 4.8 GB to index, and
# a few such files could stall a hook or exhaust a laptop. Real code stays far below it: the
# deepest tree in samples of the kernel, sympy and the dev sets' repositories is 55 levels.
MAX_START_DEPTH = 512
_PARTS = ("body", "doc", "scope")  # a definition match's captures besides its name
_START_BYTE = attrgetter("start_byte")
_END_BYTE = attrgetter("end_byte")
_CONSTANT_NAME = re.compile(r"[A-Z][A-Z0-9_]*[A-Z0-9]\Z")
_TEMPLATE_ARGS = re.compile(r"<[^<>]*>")
_SCOPE_NOISE = re.compile(r"[\s*&<>]")
_STRING_PREFIX = re.compile(r"^[rRuUbBfF]{0,2}")


@dataclass(slots=True)
class Definition:
    """A symbol plus what chunking needs: header end, attached comment start, children."""

    symbol: Symbol
    start_byte: int
    end_byte: int
    head_end: int  # last line of the header (signature); bodies start after it
    chunk_start: int  # first line including the doc comment / attributes above
    children: list[Definition] = field(default_factory=list)
    nested: bool = False  # inside another definition's span


@dataclass(slots=True)
class Tags:
    """Everything one query run yields for a file."""

    definitions: list[Definition]  # source order (outer before inner)
    references: list[Reference]  # empty unless asked for (see `extract_tags`)
    reference_names: list[str]  # the references' names, in order
    imports: list[Import]
    errors: int = 0  # ERROR and MISSING nodes, when the query had their patterns


def _cursor(query: Query) -> QueryCursor:
    """A cursor for a tag or error query, bounded by `MAX_START_DEPTH`."""
    cursor = QueryCursor(query)
    cursor.set_max_start_depth(MAX_START_DEPTH)
    return cursor


@cache
def error_query(language: str) -> Query | None:
    """A query matching ERROR and MISSING nodes."""
    lang = get_language(language)
    return Query(lang, ERROR_PATTERNS) if lang is not None else None


def count_errors(tree: Tree, language: str) -> int:
    """The number of ERROR and MISSING nodes (0 without running a query on clean trees).

    `extract_tags` counts them too, in its own pass, given a query `with_errors`."""
    root = tree.root_node
    if not root.has_error:
        return 0
    query = error_query(language)
    if query is None:
        return 1
    captures = _cursor(query).captures(root)
    return sum(len(nodes) for nodes in captures.values()) or 1


def extract_tags(
    tree: Tree,
    query: Query,
    source: bytes,
    lines: list[str],
    comments: str,
    language: str | None = None,
    *,
    references: bool = False,
) -> Tags:
    """Run the tag query once and turn its matches into definitions, references and imports
    (and the count of syntax errors, when the query has `ERROR_PATTERNS`). References are
    kept as their names (what the index needs of them); with `references`, a `Reference`
    (name, line, kind) is made for each too."""
    if language in CAPTURE_LANGUAGES:
        tags = _tags_from_captures(tree, query, source, lines, comments, references=references)
        if tags is not None:
            return tags
    found: dict[
        int, DefinitionCapture
    ] = {}  # name start byte -> definition capture (dedupes patterns)
    raw_refs: list[tuple[Node, str]] = []
    add_ref = raw_refs.append
    imports: list[Import] = []
    errors = 0
    ref_kind = _REFERENCE_KINDS.get
    for _, caps in _cursor(query).matches(tree.root_node):
        if "name" not in caps:
            for cname, nodes in caps.items():
                kind = ref_kind(cname)
                if kind is not None:
                    for node in nodes:
                        add_ref((node, kind))
                elif cname == "import":
                    imports += [
                        Import(_import_target(n.text or b""), n.start_point[0] + 1) for n in nodes
                    ]
                elif cname in _ERROR_CAPTURES:
                    errors += len(nodes)
            continue
        definition: tuple[str, Node] | None = None
        for cname, nodes in caps.items():
            if cname.startswith("definition."):
                definition = cname[11:], nodes[0]
        if definition is None:
            continue
        kind, node = definition
        name = caps["name"][0]
        key = name.start_byte
        previous = found.get(key)
        if previous is None or (previous[0] in _DATA_KINDS and kind not in _DATA_KINDS):
            found[key] = (kind, node, name, caps.get("body"), caps.get("doc"), caps.get("scope"))
    definitions = _nest(_definitions(found, tree, source, lines, comments))
    errors = errors or int(tree.root_node.has_error)  # as `count_errors`: never 0 then
    ref_nodes = [node for node, _ in raw_refs]
    ref_kinds = [kind for _, kind in raw_refs]
    names, refs = _references(
        ref_nodes,
        ref_kinds,
        list(map(_START_BYTE, ref_nodes)),
        range(len(raw_refs)),
        found,
        source,
        references,
        _drops_one_capital(tree.language),
    )
    return Tags(definitions, refs, names, imports, errors)


def _tags_from_captures(
    tree: Tree,
    query: Query,
    source: bytes,
    lines: list[str],
    comments: str,
    *,
    references: bool = False,
) -> Tags | None:
    """`extract_tags` from the query's captures, or None when its matches cannot be rebuilt
    from them (see `CAPTURE_LANGUAGES`).

    A match is rebuilt from its definition node: its name is a captured name that is the node
    itself or whose nearest captured definition above it the node is, and its body, doc and
    scope likewise; a node with several names was several matches, in the order of their
    names. Each definition node must get a name, no name two definitions, no other part two
    owners, and no two definition nodes, references or imports one span (their order in the
    matches would decide between them).
    """
    captures = _cursor(query).captures(tree.root_node)
    # definition node id -> [kind, node, names, body, doc, scope], as its matches capture them
    owners: dict[int, list[Any]] = {}
    errors = 0
    for cname, nodes in captures.items():
        if cname.startswith("definition."):
            for node in nodes:
                if node.id in owners:
                    return None
                owners[node.id] = [cname[11:], node, [], None, None, None]
        elif cname in _ERROR_CAPTURES:
            errors += len(nodes)
    # Each node's owner: the nearest captured definition above it, or (a name) the node
    # itself; walked here, not by a call per node. A name is one of its owner's names
    # (slot 2); each other part is its owner's only one.
    get = owners.get
    above: Node | None
    for slot, role in enumerate(("name", *_PARTS), 2):
        for node in captures.get(role, ()):
            owner, above = get(node.id) if slot == 2 else None, node
            while owner is None and (above := above.parent) is not None:
                owner = get(above.id)
            if owner is None:
                return None
            if slot == 2:
                owner[2].append(node)
            elif owner[slot] is not None:
                return None
            else:
                owner[slot] = [node]
    found: dict[int, DefinitionCapture] = {}
    named = 0
    for kind, node, names, body, doc, scope in owners.values():
        if not names:
            return None
        if len(names) > 1:
            names.sort(key=_START_BYTE)
        for name in names:
            found[name.start_byte] = (kind, node, name, body, doc, scope)
        named += len(names)
    if len(found) != named:
        return None
    ref_nodes: list[Node] = []
    ref_kinds: list[str] = []
    for cname, nodes in captures.items():
        kind = _REFERENCE_KINDS.get(cname)
        if kind is not None:
            ref_nodes += nodes
            ref_kinds += [kind] * len(nodes)
    import_nodes = captures.get("import", [])
    # Matches come in the order of their captured nodes: references and imports are sorted so
    # (by where they start: two that start together would need the matches to order them).
    ref_starts = list(map(_START_BYTE, ref_nodes))
    refs = _by_start(ref_starts)
    imports = _by_start(list(map(_START_BYTE, import_nodes)))
    if refs is None or imports is None:
        return None
    definitions = _definitions(found, tree, source, lines, comments)
    spans = {(d.start_byte, d.end_byte) for d in definitions}
    if len(spans) != len(owners):  # a node's definitions share its span; others may not
        return None
    names, found_refs = _references(
        ref_nodes,
        ref_kinds,
        ref_starts,
        refs,
        found,
        source,
        references,
        _drops_one_capital(tree.language),
    )
    return Tags(
        _nest(definitions),
        found_refs,
        names,
        [
            Import(_import_target(n.text or b""), n.start_point[0] + 1)
            for n in map(import_nodes.__getitem__, imports)
        ],
        errors or int(tree.root_node.has_error),
    )


def _definitions(
    found: dict[int, DefinitionCapture], tree: Tree, source: bytes, lines: list[str], comments: str
) -> list[Definition]:
    """The definitions of these captures, in their order (not yet nested)."""
    above, wrappers = CommentsAbove(lines, comments).above, _wrapper_kinds(tree.language)
    return [_definition(d, source, lines, above, wrappers) for d in found.values()]


def _by_start(starts: list[int]) -> list[int] | None:
    """The positions of nodes that start at `starts`, in the order they start, or None if two
    start together."""
    where = dict(zip(starts, range(len(starts)), strict=True))
    if len(where) != len(starts):
        return None
    return [where[start] for start in sorted(where)]


def _references(
    nodes: list[Node],
    kinds: list[str],
    starts: list[int],
    order: Sequence[int],
    definition_names: dict[int, DefinitionCapture],
    source: bytes,
    full: bool,
    one_capital_dropped: bool = False,
) -> tuple[list[str], list[Reference]]:
    """The names and, when `full`, the values of the references `nodes` (of `kinds`, starting
    at `starts`) taken in `order`, minus captures that are a definition's own name (and, with
    `one_capital_dropped`, type references named by one capital letter). `source` is the
    parsed text: a name sliced from it costs less than its node's `text`. Each step is one
    call over them all (a file has hundreds)."""
    own = definition_names.keys() & set(starts)
    if own:
        order = [i for i in order if kinds[i] == "call" or starts[i] not in own]
    picked = _pick(nodes, order)
    texts = list(map(source.__getitem__, map(slice, _pick(starts, order), map(_END_BYTE, picked))))
    if one_capital_dropped and not _ONE_CAPITALS.isdisjoint(texts):
        kept = [
            at
            for at, (i, text) in enumerate(zip(order, texts, strict=True))
            if text not in _ONE_CAPITALS or kinds[i] != "type"
        ]
        order, picked, texts = _pick(list(order), kept), _pick(picked, kept), _pick(texts, kept)
    decoded = {text: text.decode("utf-8", "replace") for text in set(texts)}
    names = list(map(decoded.__getitem__, texts))
    if not full:
        return names, []
    return names, [
        Reference(name, node.start_point[0] + 1, kind)
        for name, node, kind in zip(names, picked, _pick(kinds, order), strict=True)
    ]


def _pick(values: list[Any], order: Sequence[int]) -> list[Any]:
    """`[values[i] for i in order]`, taken in one call."""
    if len(order) < 2:
        return [values[i] for i in order]
    return list(itemgetter(*order)(values))


def _definition(
    capture: DefinitionCapture,
    source: bytes,
    lines: list[str],
    above: Callable[[int], tuple[str, int]],
    wrappers: frozenset[int],
) -> Definition:
    """One definition; `above` is the file's `CommentsAbove.above`."""
    kind, node, name_node, body, doc, scope = capture
    start_byte = sig_start = node.start_byte
    end_byte = node.end_byte
    parent = node.parent if wrappers else None  # no wrapper in the grammar: none to look for
    while parent is not None and parent.kind_id in wrappers:
        if parent.type in _ONE_CHILD_WRAPPERS and parent.named_child_count != 1:
            break
        start_byte = parent.start_byte
        if _WRAPPERS[parent.type]:
            sig_start = start_byte
        node = parent
        parent = node.parent
    start_row = node.start_point[0]
    end_row, end_col = node.end_point
    if end_col == 0 and end_row > start_row:  # the node swallowed its trailing newline
        end_row -= 1
    name_start = name_node.start_byte
    name_end = min(name_node.end_byte, name_start + NAME_BYTES)
    name = source[name_start:name_end].decode("utf-8", "replace")
    if kind == "variable" and _CONSTANT_NAME.match(name):
        kind = "constant"
    head_end = start_row + 1
    if body:
        body_node = body[0]
        signature = _signature(source, sig_start, body_node.start_byte, end_byte)
        body_row, body_col = body_node.start_point
        before = lines[body_row][:body_col] if body_row < len(lines) else ""
        head_end = max(head_end, body_row + 1 if before.strip() else body_row)
    else:
        signature = _signature(source, sig_start, -1, end_byte)
    docstring, chunk_start = above(start_row)
    if doc:
        docstring = _python_docstring(doc[0].text or b"")
    symbol = Symbol(name, name, kind, start_row + 1, end_row + 1, signature, docstring)
    if scope:
        scope_node = scope[0]
        symbol.parent = _scope_name(
            source[scope_node.start_byte : scope_node.end_byte][:_HEADER_BYTES]
        )
    return Definition(symbol, start_byte, end_byte, head_end, chunk_start + 1)


@cache
def _wrapper_kinds(language: Language) -> frozenset[int]:
    """The ids of `_WRAPPERS`' node kinds in a grammar (C has none): a node's `kind_id` is
    one of them exactly when its `type` is one of `_WRAPPERS`."""
    return frozenset(
        kind
        for kind in range(language.node_kind_count)
        if language.node_kind_for_id(kind) in _WRAPPERS
    )


@cache
def _drops_one_capital(language: Language) -> bool:
    """Whether a tree of this grammar is read by a query that keeps a type reference named by
    one capital letter for `_references` to drop (`ONE_CAPITAL_DROPPED`)."""
    return any(get_language(name) == language for name in ONE_CAPITAL_DROPPED)


def _nest(definitions: list[Definition]) -> list[Definition]:
    """Order by span, link children to parents and build qualified names."""
    definitions.sort(key=lambda d: (d.start_byte, -d.end_byte))
    stack: list[Definition] = []
    for d in definitions:
        while stack and (
            stack[-1].end_byte <= d.start_byte
            or (stack[-1].start_byte == d.start_byte and stack[-1].end_byte == d.end_byte)
        ):  # a declaration naming several things (`int x, y;`) holds siblings, not children
            stack.pop()
        sym = d.symbol
        scope = sym.parent  # set from an explicit scope capture (receiver, Class::)
        outer = stack[-1] if stack else None
        prefix = outer.symbol.qualname if outer is not None else ""
        if scope:
            prefix = f"{prefix}.{scope}" if prefix else scope
        if outer is not None:
            outer.children.append(d)
            d.nested = True
            if (
                sym.start_line == outer.symbol.start_line
                and sym.docstring == outer.symbol.docstring
            ):
                sym.docstring = ""  # `enum E { A, B }`: the comment above documents E only
        if prefix:
            sym.qualname = f"{prefix}.{sym.name}"[-QUALNAME_CHARS:]
            sym.parent = prefix
        if sym.kind == "function" and (
            scope or (outer is not None and outer.symbol.kind in CLASS_KINDS)
        ):
            sym.kind = "method"
        elif sym.kind == "method" and outer is None and not scope:
            sym.kind = "function"  # e.g. a Ruby `def` at the top level
        stack.append(d)
    return definitions


def _scope_name(raw: bytes) -> str:
    """`ns::Box<Map<K, V>>` as a qualified-name prefix: `ns.Box`."""
    text = raw.decode("utf-8", "replace")
    for _ in range(8):  # innermost template arguments first
        if "<" not in text:
            break
        text = _TEMPLATE_ARGS.sub("", text)
    return _SCOPE_NOISE.sub("", text).replace("::", ".")


def _signature(source: bytes, start: int, body: int, end: int) -> str:
    """The header from `start` to the body (starting at byte `body`, -1 for none) on one line,
    else the definition's first line up to `end` without a trailing `{`."""
    if body > start:
        header = source[start : min(body, start + _HEADER_BYTES)]
    else:
        stop = min(end, start + _HEADER_BYTES)
        line_end = source.find(b"\n", start, stop)
        header = source[start : stop if line_end < 0 else line_end]
        header = header.rstrip().rstrip(b"{").rstrip()
    text = " ".join(header.decode("utf-8", "replace").split())
    return text[:SIGNATURE_CHARS]


def _python_docstring(raw: bytes) -> str:
    text = _STRING_PREFIX.sub("", raw[: DOCSTRING_CHARS * 3].decode("utf-8", "replace"))
    for quote in ('"""', "'''", '"', "'"):
        if text.startswith(quote):
            text = text[len(quote) :]
            if text.endswith(quote) and len(raw) <= DOCSTRING_CHARS * 3:
                text = text[: -len(quote)]
            break
    return inspect.cleandoc(text.replace("\r", ""))[:DOCSTRING_CHARS]


def _import_target(raw: bytes) -> str:
    text = raw.decode("utf-8", "replace").strip()
    if len(text) >= 2 and text[0] in "\"'<`" and text[-1] in "\"'>`":
        text = text[1:-1]
    return text
