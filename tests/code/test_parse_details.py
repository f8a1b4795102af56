"""Signatures, docstrings and references of the per-language fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

from codemem.code.model import Reference
from codemem.code.parse import parse_file

LANGS = Path(__file__).resolve().parents[2] / "fixtures" / "langs"


def parse_fixture(name: str, **kwargs):
    """Parse fixtures/langs/<name> with the language chosen from its path."""
    return parse_file(name, (LANGS / name).read_bytes(), **kwargs)


def _by_name(name):
    """Symbols by qualified name; the first wins (a Rust impl repeats its type's name)."""
    symbols = {}
    for symbol in parse_fixture(name).symbols:
        symbols.setdefault(symbol.qualname, symbol)
    return symbols


@pytest.mark.parametrize(
    ("name", "qualname", "signature", "docstring"),
    [
        ("python/shapes.py", "Shape", "class Shape:", "A plane figure."),
        ("python/shapes.py", "Shape.area", "def area(self) -> float:", "Surface of the shape."),
        ("python/shapes.py", "Circle.area", "def area(self) -> float:", ""),
        (
            "python/shapes.py",
            "scaled",
            "def scaled(shape: Shape, factor: float = DEFAULT_SCALE) -> float:",
            "Area after scaling by `factor`.\n\nThe factor applies to both dimensions.",
        ),
        ("python/shapes.py", "fetch_all", "async def fetch_all(names):", ""),
        ("python/shapes.py", "DEFAULT_SCALE", "DEFAULT_SCALE = 2.0", ""),
        ("javascript/cart.js", "Cart", "export class Cart", "A cart holding line items."),
        ("javascript/cart.js", "Cart.add", "add(item, qty = 1)", "Add an item to the cart."),
        (
            "javascript/cart.js",
            "withTax",
            "export function withTax(amount)",
            "Price including tax.",
        ),
        ("javascript/cart.js", "render", "const render = (cart) =>", ""),
        ("javascript/cart.js", "handlers.clear", "clear: function (cart)", ""),
        (
            "typescript/store.ts",
            "MemoryStore",
            "export class MemoryStore<T extends Item> extends EventEmitter implements Repository<T>",
            "In-memory store that emits change events.",
        ),
        (
            "typescript/store.ts",
            "RecordId",
            "export type RecordId = string | number;",
            "Identifier of a stored record.",
        ),
        ("typescript/store.ts", "Repository.get", "get(id: RecordId): T | undefined", ""),
        ("go/server.go", "Server", "type Server struct", "Server holds the listener state."),
        ("go/server.go", "Handler", "type Handler interface", "Handler serves one route."),
        (
            "go/server.go",
            "Server.Start",
            "func (s *Server) Start() error",
            "Start listens and serves.",
        ),
        (
            "go/server.go",
            "MaxConns",
            "const MaxConns = 100",
            "MaxConns limits concurrent connections.",
        ),
        ("rust/lib.rs", "Entry", "pub struct Entry", "An entry with its hit count."),
        ("rust/lib.rs", "Cache.new", "pub fn new(policy: Policy) -> Self", "Make an empty cache."),
        ("rust/lib.rs", "cache", "macro_rules! cache", ""),
        (
            "java/Inventory.java",
            "Inventory",
            "public class Inventory",
            "Keeps track of products in stock.",
        ),
        (
            "java/Inventory.java",
            "Inventory.add",
            "public void add(Product product)",
            "Add a product, refusing duplicates.",
        ),
        (
            "c/list.c",
            "list_push",
            "node_t *list_push(node_t *head, int value)",
            "Push a value in front of the list.",
        ),
        ("c/list.c", "list_length", "size_t list_length(const node_t *head)", "Count the nodes."),
        ("c/list.h", "LIST_EMPTY", "#define LIST_EMPTY(l) ((l) == NULL)", ""),
        ("cpp/geometry.hpp", "geo.Polygon", "template <typename T> class Polygon", ""),
        ("cpp/geometry.hpp", "geo.Point", "struct Point", "A 2D point."),
        (
            "cpp/geometry.cpp",
            "geo.Polygon.area",
            "template <typename T> double Polygon<T>::area() const",
            "",
        ),
        (
            "csharp/Orders.cs",
            "Shop.Services.OrderService",
            "public class OrderService : IOrderService",
            "Places and tracks orders.",
        ),
        (
            "csharp/Orders.cs",
            "Shop.Services.OrderService.Place",
            "public Order Place(Customer customer, decimal amount)",
            "Place a new order.",
        ),
        ("ruby/library.rb", "Library.Catalog", "class Catalog < Base", "A lending catalog."),
        ("ruby/library.rb", "Library.Catalog.load", "def self.load(path)", ""),
        (
            "php/UserController.php",
            "UserController",
            "class UserController extends Controller implements HasRoutes",
            "Handles user pages.",
        ),
        (
            "php/UserController.php",
            "UserController.index",
            "public function index(Request $request): array",
            "List the users.",
        ),
    ],
)
def test_signatures_and_docstrings(name, qualname, signature, docstring):
    symbol = _by_name(name)[qualname]
    assert (symbol.signature, symbol.docstring) == (signature, docstring)


def _refs(name):
    return [(r.name, r.line, r.kind) for r in parse_fixture(name, references=True).references]


def test_python_references():
    assert _refs("python/shapes.py") == [
        ("OrderedDict", 11, "call"),
        ("int", 19, "type"),
        ("str", 21, "type"),
        ("float", 24, "type"),
        ("register", 35, "call"),
        ("Shape", 36, "type"),
        ("float", 37, "type"),
        ("super", 38, "call"),
        ("__init__", 38, "call"),
        ("property", 41, "call"),
        ("float", 42, "type"),
        ("Shape", 46, "type"),
        ("float", 46, "type"),
        ("float", 46, "type"),
        ("area", 55, "call"),
        ("square", 55, "call"),
        ("lookup", 59, "call"),
        ("print", 63, "call"),
        ("scaled", 63, "call"),
        ("Circle", 63, "call"),
    ]


def test_go_references_skip_builtin_types_and_definition_names():
    assert _refs("go/server.go") == [
        ("ResponseWriter", 18, "type"),
        ("Request", 18, "type"),
        ("Handler", 27, "type"),
        ("Handler", 27, "type"),
        ("Server", 30, "type"),
        ("Server", 31, "type"),
        ("Server", 35, "type"),
        ("Info", 36, "call"),
        ("Sprintf", 36, "call"),
        ("ListenAndServe", 37, "call"),
        ("Server", 40, "type"),
        ("Sprintf", 41, "call"),
    ]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "javascript/cart.js",
            [("formatPrice", 38, "call"), ("Cart", 28, "type"), ("withTax", 53, "call")],
        ),
        ("typescript/store.ts", [("EventEmitter", 20, "type"), ("ensureWritable", 29, "call")]),
        (
            "tsx/Counter.tsx",
            [("useState", 7, "call"), ("Counter", 19, "call"), ("Component", 17, "type")],
        ),
        (
            "rust/lib.rs",
            [("with_capacity", 32, "call"), ("Evict", 42, "type"), ("cache", 65, "call")],
        ),
        ("java/Inventory.java", [("requireNonNull", 20, "call"), ("ArrayList", 12, "type")]),
        ("c/list.c", [("malloc", 13, "call"), ("node_t", 21, "type")]),
        ("cpp/geometry.cpp", [("cross", 16, "call"), ("Point", 30, "type"), ("move", 10, "call")]),
        (
            "csharp/Orders.cs",
            [("Add", 25, "call"), ("Customer", 22, "type"), ("ILogger", 16, "type")],
        ),
        ("ruby/library.rb", [("notify", 21, "call"), ("Base", 11, "type"), ("JSON", 25, "type")]),
        (
            "php/UserController.php",
            [("paginate", 25, "call"), ("Controller", 13, "type"), ("trim", 49, "call")],
        ),
    ],
)
def test_references_include(name, expected):
    refs = _refs(name)
    assert [ref for ref in expected if ref in refs] == expected


@pytest.mark.parametrize(
    ("name", "absent"),
    [
        ("typescript/store.ts", {"T", "MemoryStore@20", "Repository@7"}),
        ("go/server.go", {"string", "int", "error", "Server@22"}),
        ("cpp/geometry.cpp", {"T"}),
        ("rust/lib.rs", {"Self"}),
    ],
)
def test_references_leave_out_noise(name, absent):
    refs = parse_fixture(name, references=True).references
    names = {r.name for r in refs} | {f"{r.name}@{r.line}" for r in refs}
    assert names & absent == set()


def test_reference_values():
    first = parse_fixture("python/shapes.py", references=True).references[0]
    assert first == Reference("OrderedDict", 11, "call")


@pytest.mark.parametrize(
    "name", sorted(str(p.relative_to(LANGS)) for p in LANGS.rglob("*") if p.is_file())
)
def test_by_default_only_the_references_names_are_kept(name):
    full, names_only = parse_fixture(name, references=True), parse_fixture(name)
    assert full.reference_names == [r.name for r in full.references]
    assert names_only.reference_names == full.reference_names
    assert names_only.references == []
    assert (names_only.symbols, names_only.chunks) == (full.symbols, full.chunks)


def test_members_on_their_containers_line_do_not_inherit_its_comment():
    parsed = parse_file("e.c", b"/* Colors. */\nenum color { RED, GREEN };\n")
    assert [(s.qualname, s.docstring) for s in parsed.symbols] == [
        ("color", "Colors."),
        ("color.RED", ""),
        ("color.GREEN", ""),
    ]


def test_attributes_between_doc_comment_and_definition():
    source = b"/// Docs.\n#[derive(Debug)]\n#[repr(C)]\npub struct P {\n    x: u8,\n}\n"
    parsed = parse_file("p.rs", source)
    assert (parsed.symbols[0].qualname, parsed.symbols[0].docstring) == ("P", "Docs.")
    assert [(c.start_line, c.end_line) for c in parsed.chunks] == [(1, 6)]


def test_python_comment_above_function_without_docstring():
    source = (
        b"import os\n\n# Join two paths.\n# Keeps slashes.\ndef join(a, b):\n    return a + b\n"
    )
    parsed = parse_file("j.py", source)
    assert parsed.symbols[0].docstring == "Join two paths.\nKeeps slashes."
    assert [(c.start_line, c.end_line, c.kind) for c in parsed.chunks] == [
        (1, 1, "module"),
        (3, 6, "definition"),
    ]
