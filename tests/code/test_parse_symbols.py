"""Symbols and imports of one small real fixture per language (exact)."""

from __future__ import annotations

from pathlib import Path

import pytest

from codemem.code.parse import parse_file

LANGS = Path(__file__).resolve().parents[2] / "fixtures" / "langs"


def parse_fixture(name: str, **kwargs):
    """Parse fixtures/langs/<name> with the language chosen from its path."""
    return parse_file(name, (LANGS / name).read_bytes(), **kwargs)


# (qualname, kind, start_line, end_line, parent) for every symbol, in source order.
SYMBOLS = {
    "python/shapes.py": [
        ("DEFAULT_SCALE", "constant", 10, 10, None),
        ("registry", "variable", 11, 11, None),
        ("Shape", "class", 16, 32, None),
        ("Shape.sides", "field", 19, 19, "Shape"),
        ("Shape.__init__", "method", 21, 22, "Shape"),
        ("Shape.area", "method", 24, 26, "Shape"),
        ("Shape.Meta", "class", 28, 32, "Shape"),
        ("Shape.Meta.ordering", "field", 29, 29, "Shape.Meta"),
        ("Shape.Meta.describe", "method", 31, 32, "Shape.Meta"),
        ("Circle", "class", 35, 43, None),
        ("Circle.__init__", "method", 37, 39, "Circle"),
        ("Circle.area", "method", 41, 43, "Circle"),
        ("scaled", "function", 46, 55, None),
        ("scaled.square", "function", 52, 53, "scaled"),
        ("fetch_all", "function", 58, 59, None),
    ],
    "javascript/cart.js": [
        ("lodash", "variable", 4, 4, None),
        ("TAX_RATE", "constant", 6, 6, None),
        ("Cart", "class", 11, 30, None),
        ("Cart.constructor", "method", 12, 15, "Cart"),
        ("Cart.add", "method", 18, 21, "Cart"),
        ("Cart.total", "method", 23, 25, "Cart"),
        ("Cart.empty", "method", 27, 29, "Cart"),
        ("withTax", "function", 33, 35, None),
        ("render", "function", 37, 39, None),
        ("handlers", "variable", 41, 48, None),
        ("handlers.checkout", "method", 42, 44, "handlers"),
        ("handlers.clear", "function", 45, 47, "handlers"),
        ("main", "function", 50, 54, None),
    ],
    "typescript/store.ts": [
        ("RecordId", "type", 5, 5, None),
        ("Repository", "interface", 7, 10, None),
        ("Repository.get", "method", 8, 8, "Repository"),
        ("Repository.put", "method", 9, 9, "Repository"),
        ("Mode", "enum", 12, 15, None),
        ("MemoryStore", "class", 20, 39, None),
        ("MemoryStore.data", "field", 21, 21, "MemoryStore"),
        ("MemoryStore.mode", "field", 22, 22, "MemoryStore"),
        ("MemoryStore.get", "method", 24, 26, "MemoryStore"),
        ("MemoryStore.put", "method", 28, 32, "MemoryStore"),
        ("MemoryStore.ensureWritable", "method", 34, 38, "MemoryStore"),
        ("Stores", "namespace", 41, 45, None),
        ("Stores.create", "function", 42, 44, "Stores"),
        ("countItems", "function", 47, 47, None),
        ("internalHelper", "function", 49, 51, None),
    ],
    "tsx/Counter.tsx": [
        ("Props", "type", 3, 3, None),
        ("Counter", "function", 6, 13, None),
        ("Badge", "function", 15, 15, None),
        ("Panel", "class", 17, 21, None),
        ("Panel.render", "method", 18, 20, "Panel"),
    ],
    "go/server.go": [
        ("MaxConns", "constant", 12, 12, None),
        ("defaultAddr", "variable", 14, 14, None),
        ("Handler", "interface", 17, 19, None),
        ("Handler.ServeHTTP", "method", 18, 18, "Handler"),
        ("Server", "struct", 22, 25, None),
        ("Server.Addr", "field", 23, 23, "Server"),
        ("Server.conns", "field", 24, 24, "Server"),
        ("Middleware", "type", 27, 27, None),
        ("New", "function", 30, 32, None),
        ("Server.Start", "method", 35, 38, "Server"),
        ("Server.String", "method", 40, 42, "Server"),
    ],
    "rust/lib.rs": [
        ("DEFAULT_CAPACITY", "constant", 6, 6, None),
        ("Entry", "struct", 10, 13, None),
        ("Entry.value", "field", 11, 11, "Entry"),
        ("Entry.hits", "field", 12, 12, "Entry"),
        ("Policy", "enum", 15, 18, None),
        ("Evict", "trait", 20, 22, None),
        ("Evict.evict", "method", 21, 21, "Evict"),
        ("Cache", "struct", 24, 27, None),
        ("Cache.map", "field", 25, 25, "Cache"),
        ("Cache.policy", "field", 26, 26, "Cache"),
        ("Cache", "impl", 29, 40, None),
        ("Cache.new", "method", 31, 33, "Cache"),
        ("Cache.get", "method", 35, 39, "Cache"),
        ("Cache", "impl", 42, 47, None),
        ("Cache.evict", "method", 43, 46, "Cache"),
        ("Entry", "impl", 49, 53, None),
        ("Entry.fmt", "method", 50, 52, "Entry"),
        ("cache", "macro", 55, 59, None),
        ("tests", "module", 61, 68, None),
        ("tests.roundtrip", "function", 64, 67, "tests"),
    ],
    "java/Inventory.java": [
        ("Inventory", "class", 10, 46, None),
        ("Inventory.MAX_ITEMS", "field", 11, 11, "Inventory"),
        ("Inventory.products", "field", 12, 12, "Inventory"),
        ("Inventory.Inventory", "method", 14, 16, "Inventory"),
        ("Inventory.add", "method", 19, 22, "Inventory"),
        ("Inventory.count", "method", 24, 26, "Inventory"),
        ("Inventory.Product", "class", 29, 39, "Inventory"),
        ("Inventory.Product.sku", "field", 30, 30, "Inventory.Product"),
        ("Inventory.Product.Product", "method", 32, 34, "Inventory.Product"),
        ("Inventory.Product.getSku", "method", 36, 38, "Inventory.Product"),
        ("Inventory.Listener", "interface", 41, 43, "Inventory"),
        ("Inventory.Listener.changed", "method", 42, 42, "Inventory.Listener"),
        ("Inventory.Status", "enum", 45, 45, "Inventory"),
    ],
    "c/list.c": [
        ("MAX_LEN", "constant", 4, 4, None),
        ("counter", "variable", 6, 6, None),
        ("list_push", "function", 11, 18, None),
        ("list_length", "function", 21, 29, None),
        ("point", "struct", 31, 33, None),
        ("point.x", "field", 32, 32, "point"),
        ("point.y", "field", 32, 32, "point"),
    ],
    "c/list.h": [
        ("node", "struct", 7, 10, None),
        ("node.value", "field", 8, 8, "node"),
        ("node.next", "field", 9, 9, "node"),
        ("node_t", "type", 12, 12, None),
        ("color", "enum", 14, 14, None),
        ("color.RED", "constant", 14, 14, "color"),
        ("color.GREEN", "constant", 14, 14, "color"),
        ("color.BLUE", "constant", 14, 14, "color"),
        ("LIST_EMPTY", "macro", 16, 16, None),
    ],
    "cpp/geometry.cpp": [
        ("geo", "namespace", 6, 21, None),
        ("geo.Polygon.Polygon", "method", 9, 10, "geo.Polygon"),
        ("geo.Polygon.area", "method", 12, 19, "geo.Polygon"),
        ("Shape", "class", 23, 28, None),
        ("Shape.area", "method", 26, 26, "Shape"),
        ("Shape.name", "method", 27, 27, "Shape"),
        ("cross", "function", 30, 32, None),
        ("main", "function", 34, 37, None),
    ],
    "cpp/geometry.hpp": [
        ("geo", "namespace", 5, 24, None),
        ("geo.Point", "struct", 8, 11, "geo"),
        ("geo.Point.x", "field", 9, 9, "geo.Point"),
        ("geo.Point.y", "field", 10, 10, "geo.Point"),
        ("geo.Polygon", "class", 13, 22, "geo"),
        ("geo.Polygon.Polygon", "method", 16, 16, "geo.Polygon"),
        ("geo.Polygon.area", "method", 17, 17, "geo.Polygon"),
        ("geo.Polygon.size", "method", 18, 18, "geo.Polygon"),
        ("geo.Polygon.points_", "field", 21, 21, "geo.Polygon"),
    ],
    "csharp/Orders.cs": [
        ("Shop.Services", "namespace", 5, 47, None),
        ("Shop.Services.OrderService", "class", 10, 34, "Shop.Services"),
        ("Shop.Services.OrderService._orders", "field", 12, 12, "Shop.Services.OrderService"),
        ("Shop.Services.OrderService.Count", "field", 14, 14, "Shop.Services.OrderService"),
        ("Shop.Services.OrderService.OrderService", "method", 16, 19, "Shop.Services.OrderService"),
        ("Shop.Services.OrderService.Place", "method", 22, 28, "Shop.Services.OrderService"),
        ("Shop.Services.OrderService.Audit", "class", 30, 33, "Shop.Services.OrderService"),
        (
            "Shop.Services.OrderService.Audit.Record",
            "method",
            32,
            32,
            "Shop.Services.OrderService.Audit",
        ),
        ("Shop.Services.IOrderService", "interface", 36, 39, "Shop.Services"),
        ("Shop.Services.IOrderService.Place", "method", 38, 38, "Shop.Services.IOrderService"),
        ("Shop.Services.OrderState", "enum", 41, 41, "Shop.Services"),
        ("Shop.Services.Money", "struct", 43, 46, "Shop.Services"),
        ("Shop.Services.Money.Amount", "field", 45, 45, "Shop.Services.Money"),
    ],
    "ruby/library.rb": [
        ("Library", "module", 7, 34, None),
        ("Library.MAX_LOANS", "constant", 8, 8, "Library"),
        ("Library.Catalog", "class", 11, 33, "Library"),
        ("Library.Catalog.initialize", "method", 14, 16, "Library.Catalog"),
        ("Library.Catalog.add", "method", 19, 22, "Library.Catalog"),
        ("Library.Catalog.load", "method", 24, 26, "Library.Catalog"),
        ("Library.Catalog.notify", "method", 30, 32, "Library.Catalog"),
        ("helper", "function", 36, 38, None),
    ],
    "php/UserController.php": [
        ("App\\Http\\Controllers", "namespace", 3, 3, None),
        ("UserController", "class", 13, 32, None),
        ("UserController.PER_PAGE", "constant", 15, 15, "UserController"),
        ("UserController.__construct", "method", 17, 19, "UserController"),
        ("UserController.index", "method", 22, 26, "UserController"),
        ("UserController.routes", "method", 28, 31, "UserController"),
        ("HasRoutes", "interface", 34, 37, None),
        ("HasRoutes.routes", "method", 36, 36, "HasRoutes"),
        ("Greets", "trait", 39, 45, None),
        ("Greets.greet", "method", 41, 44, "Greets"),
        ("format_name", "function", 47, 50, None),
    ],
}
IMPORTS = {
    "python/shapes.py": [("math", 5), ("os.path", 6), ("collections", 7), (".registry", 8)],
    "javascript/cart.js": [("./format.js", 2), ("../api/index.js", 3), ("lodash", 4)],
    "typescript/store.ts": [("events", 1), ("./types", 2)],
    "tsx/Counter.tsx": [("react", 1)],
    "go/server.go": [("fmt", 5), ("net/http", 6), ("github.com/sirupsen/logrus", 8)],
    "rust/lib.rs": [("std::collections::HashMap", 3), ("std::fmt", 4), ("super", 62)],
    "java/Inventory.java": [
        ("java.util.ArrayList", 3),
        ("java.util.List", 4),
        ("java.util.Objects.requireNonNull", 5),
    ],
    "c/list.c": [("stdlib.h", 1), ("list.h", 2)],
    "c/list.h": [("stddef.h", 4)],
    "cpp/geometry.cpp": [("geometry.hpp", 1), ("cmath", 2), ("std", 4)],
    "cpp/geometry.hpp": [("string", 2), ("vector", 3)],
    "csharp/Orders.cs": [("System", 1), ("System.Collections.Generic", 2), ("Shop.Models", 3)],
    "ruby/library.rb": [("json", 3), ("book", 4)],
    "php/UserController.php": [
        ("App\\Models\\User", 5),
        ("Illuminate\\Http\\Request", 6),
        ("/helpers.php", 8),
    ],
}


@pytest.mark.parametrize("name", sorted(SYMBOLS))
def test_symbols(name):
    parsed = parse_fixture(name)
    assert parsed.syntax_errors == 0
    got = [(s.qualname, s.kind, s.start_line, s.end_line, s.parent) for s in parsed.symbols]
    assert got == SYMBOLS[name]
    assert all(s.qualname.endswith(s.name) for s in parsed.symbols)


@pytest.mark.parametrize("name", sorted(IMPORTS))
def test_imports(name):
    assert [(i.target, i.line) for i in parse_fixture(name).imports] == IMPORTS[name]


def test_languages_of_fixtures():
    assert {name: parse_fixture(name).language for name in SYMBOLS} == {
        "python/shapes.py": "python",
        "javascript/cart.js": "javascript",
        "typescript/store.ts": "typescript",
        "tsx/Counter.tsx": "tsx",
        "go/server.go": "go",
        "rust/lib.rs": "rust",
        "java/Inventory.java": "java",
        "c/list.c": "c",
        "c/list.h": "c",
        "cpp/geometry.cpp": "cpp",
        "cpp/geometry.hpp": "cpp",
        "csharp/Orders.cs": "csharp",
        "ruby/library.rb": "ruby",
        "php/UserController.php": "php",
    }
