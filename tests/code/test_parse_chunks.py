"""AST-aware chunks of code and section chunks of text files (exact spans and texts)."""

from __future__ import annotations

from pathlib import Path

import pytest

from codemem.code.chunking import MAX_CHUNK_CHARS
from codemem.code.parse import parse_file, split_source

LANGS = Path(__file__).resolve().parents[2] / "fixtures" / "langs"
ALL_FIXTURES = sorted(str(p.relative_to(LANGS)) for p in LANGS.rglob("*") if p.is_file())


def chunks_of(name: str, chunk_lines: int = 80):
    parsed = parse_file(name, (LANGS / name).read_bytes(), chunk_lines=chunk_lines)
    return [(c.start_line, c.end_line, c.kind, c.symbol, c.symbol_kind) for c in parsed.chunks]


def chunk_texts(name: str, chunk_lines: int = 80):
    parsed = parse_file(name, (LANGS / name).read_bytes(), chunk_lines=chunk_lines)
    return {(c.start_line, c.end_line, c.kind): c.text for c in parsed.chunks}


def test_small_definitions_are_one_chunk_each_and_module_code_between():
    assert chunks_of("python/shapes.py") == [
        (1, 11, "module", None, None),  # docstring, imports, DEFAULT_SCALE, registry
        (14, 32, "definition", "Shape", "class"),  # starts at the comment above the class
        (35, 43, "definition", "Circle", "class"),  # starts at the decorator
        (46, 55, "definition", "scaled", "function"),
        (58, 59, "definition", "fetch_all", "function"),
        (62, 63, "module", None, None),
    ]


def test_large_class_becomes_outline_plus_members_and_long_function_windows():
    assert chunks_of("python/shapes.py", chunk_lines=8) == [
        (1, 8, "module", None, None),
        (10, 11, "module", None, None),
        (14, 21, "outline", "Shape", "class"),
        (21, 22, "definition", "Shape.__init__", "method"),
        (22, 22, "outline", "Shape", "class"),
        (24, 32, "outline", "Shape", "class"),
        (24, 26, "definition", "Shape.area", "method"),
        (28, 32, "definition", "Shape.Meta", "class"),
        (35, 43, "outline", "Circle", "class"),
        (37, 39, "definition", "Circle.__init__", "method"),
        (41, 43, "definition", "Circle.area", "method"),
        (46, 53, "definition", "scaled", "function"),  # windows keep the qualname...
        (52, 55, "definition", "scaled", "function"),  # ...and overlap a little
        (58, 59, "definition", "fetch_all", "function"),
        (62, 63, "module", None, None),
    ]
    texts = chunk_texts("python/shapes.py", chunk_lines=8)
    assert texts[(24, 32, "outline")] == (
        "    def area(self) -> float:\n        ...\n\n    class Meta:\n        ..."
    )
    assert texts[(35, 43, "outline")] == (
        "@register\n"
        "class Circle(Shape):\n"
        "    def __init__(self, radius: float) -> None:\n"
        "        ...\n"
        "\n"
        "    @property\n"
        "    def area(self) -> float:\n"
        "        ..."
    )


def test_nested_classes_are_outlined_recursively_with_closing_braces_kept():
    assert chunks_of("java/Inventory.java", chunk_lines=12) == [
        (1, 5, "module", None, None),
        (7, 16, "outline", "Inventory", "class"),
        (14, 16, "definition", "Inventory.Inventory", "method"),
        (18, 26, "outline", "Inventory", "class"),
        (18, 22, "definition", "Inventory.add", "method"),
        (24, 26, "definition", "Inventory.count", "method"),
        (28, 46, "outline", "Inventory", "class"),
        (28, 39, "definition", "Inventory.Product", "class"),
        (41, 43, "definition", "Inventory.Listener", "interface"),
        # `enum Status { OPEN, CLOSED }` is shown whole in the outline: no chunk of its own
    ]
    assert chunk_texts("java/Inventory.java", chunk_lines=12)[(28, 46, "outline")] == (
        "    /** A stocked product. */\n"
        "    public static class Product {\n"
        "        ...\n"
        "    }\n"
        "\n"
        "    interface Listener {\n"
        "        ...\n"
        "    }\n"
        "\n"
        "    enum Status { OPEN, CLOSED }\n"
        "}"
    )


def test_rust_impl_blocks_and_modules_are_outlined():
    assert chunks_of("rust/lib.rs", chunk_lines=6) == [
        (1, 6, "module", None, None),
        (8, 13, "definition", "Entry", "struct"),  # doc comment and #[derive] included
        (15, 18, "definition", "Policy", "enum"),
        (20, 22, "definition", "Evict", "trait"),
        (24, 27, "definition", "Cache", "struct"),
        (29, 33, "outline", "Cache", "impl"),
        (30, 33, "definition", "Cache.new", "method"),
        (35, 40, "outline", "Cache", "impl"),
        (35, 39, "definition", "Cache.get", "method"),
        (42, 47, "definition", "Cache", "impl"),
        (49, 53, "definition", "Entry", "impl"),
        (55, 59, "definition", "cache", "macro"),
        (61, 67, "outline", "tests", "module"),
        (64, 67, "definition", "tests.roundtrip", "function"),
        (68, 68, "outline", "tests", "module"),
    ]


def test_outline_of_javascript_class_splits_between_members():
    assert chunks_of("javascript/cart.js", chunk_lines=10)[:8] == [
        (1, 6, "module", None, None),
        (8, 15, "outline", "Cart", "class"),
        (12, 15, "definition", "Cart.constructor", "method"),
        (17, 25, "outline", "Cart", "class"),
        (17, 21, "definition", "Cart.add", "method"),
        (23, 25, "definition", "Cart.total", "method"),
        (27, 30, "outline", "Cart", "class"),
        (27, 29, "definition", "Cart.empty", "method"),
    ]
    assert chunk_texts("javascript/cart.js", chunk_lines=10)[(8, 15, "outline")] == (
        "/**\n * A cart holding line items.\n */\nexport class Cart {\n"
        "  constructor(owner) {\n    ...\n  }"
    )


def test_namespace_outline_in_cpp_header():
    assert chunks_of("cpp/geometry.hpp", chunk_lines=12) == [
        (1, 3, "module", None, None),
        (5, 11, "outline", "geo", "namespace"),
        (7, 11, "definition", "geo.Point", "struct"),
        (13, 24, "outline", "geo", "namespace"),
        (13, 22, "definition", "geo.Polygon", "class"),
    ]
    assert chunk_texts("cpp/geometry.hpp", chunk_lines=12)[(13, 24, "outline")] == (
        "template <typename T>\nclass Polygon {\n    ...\n};\n\n}  // namespace geo"
    )


def test_go_methods_chunked_by_receiver_qualname():
    assert chunks_of("go/server.go") == [
        (1, 14, "module", None, None),
        (16, 19, "definition", "Handler", "interface"),
        (21, 25, "definition", "Server", "struct"),
        (27, 27, "definition", "Middleware", "type"),
        (29, 32, "definition", "New", "function"),
        (34, 38, "definition", "Server.Start", "method"),
        (40, 42, "definition", "Server.String", "method"),
    ]


@pytest.mark.parametrize("chunk_lines", [4, 9, 80])
@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_chunks_are_exact_source_lines_and_cover_the_file(name, chunk_lines):
    source = (LANGS / name).read_bytes()
    lines = split_source(source)
    parsed = parse_file(name, source, chunk_lines=chunk_lines)
    covered = set()
    for chunk in parsed.chunks:
        assert 1 <= chunk.start_line <= chunk.end_line <= len(lines)
        covered.update(range(chunk.start_line, chunk.end_line + 1))
        if chunk.kind != "outline":
            assert chunk.text == "\n".join(lines[chunk.start_line - 1 : chunk.end_line])
            assert chunk.end_line - chunk.start_line < chunk_lines
    assert {n for n, line in enumerate(lines, 1) if line.strip()} <= covered
    starts = [(c.start_line, -c.end_line) for c in parsed.chunks]
    assert starts == sorted(starts)


def test_markdown_sections_by_heading_path():
    parsed = parse_file("guide.md", (LANGS / "markdown/guide.md").read_bytes())
    assert [
        (s.qualname, s.name, s.kind, s.start_line, s.end_line, s.parent) for s in parsed.symbols
    ] == [
        ("Install", "Install", "section", 7, 25, None),
        ("Install > Linux", "Linux", "section", 11, 17, "Install"),
        ("Install > Windows", "Windows", "section", 18, 20, "Install"),
        ("Install > Setup notes", "Setup notes", "section", 21, 25, "Install"),  # setext
        ("Usage", "Usage", "section", 26, 28, None),  # closing #s dropped
    ]
    assert [(c.start_line, c.end_line, c.kind, c.symbol) for c in parsed.chunks] == [
        (1, 5, "section", None),  # front matter and intro
        (7, 9, "section", "Install"),
        (11, 16, "section", "Install > Linux"),  # "# not a heading" is in a code fence
        (18, 19, "section", "Install > Windows"),
        (21, 24, "section", "Install > Setup notes"),
        (26, 28, "section", "Usage"),
    ]
    assert parsed.chunks[2].symbol_kind == "section"


def test_rst_sections_by_adornment_levels():
    parsed = parse_file("usage.rst", (LANGS / "rst/usage.rst").read_bytes())
    assert [(s.qualname, s.start_line, s.end_line) for s in parsed.symbols] == [
        ("Usage", 1, 20),
        ("Usage > Indexing", 7, 16),
        ("Usage > Indexing > Options", 12, 16),
        ("Usage > Searching", 17, 20),
    ]
    assert [(c.start_line, c.end_line, c.symbol) for c in parsed.chunks] == [
        (1, 5, "Usage"),
        (7, 10, "Usage > Indexing"),
        (12, 15, "Usage > Indexing > Options"),
        (17, 20, "Usage > Searching"),
    ]


def test_every_adornment_character_underlines_a_rst_section():
    """Lines that do not start with three like adornment characters are ruled out before
    the adornment pattern runs: each character, and a run with blanks after it, still
    underlines; two characters or a mixed run do not."""
    underlines = [c * n for c in "=-`:'\"~^_*+#<>." for n in (3, 7)] + ["===  \t"]
    for under in [*underlines, "==", "=-=", " ===", "=== x"]:
        text = f"Intro\n\nTitle\n{under}\n\nbody\n"
        parsed = parse_file("doc.rst", text.encode())
        expected = [("Title", 3)] if under in underlines else []
        assert [(s.name, s.start_line) for s in parsed.symbols] == expected, under


def test_yaml_top_level_keys_grouped_up_to_chunk_lines():
    parsed = parse_file("config.yml", (LANGS / "yaml/config.yml").read_bytes(), chunk_lines=4)
    assert [(s.qualname, s.start_line, s.end_line) for s in parsed.symbols] == [
        ("name", 2, 2),
        ("version", 3, 3),
        ("index", 5, 8),
        ("sleep", 11, 13),
        ("other", 14, 14),
    ]
    assert [(c.start_line, c.end_line, c.symbol) for c in parsed.chunks] == [
        (1, 3, None),  # the comment, name and version together
        (5, 8, "index"),
        (10, 13, "sleep"),  # with its comment
        (14, 14, "other"),
    ]
    whole = parse_file("config.yml", (LANGS / "yaml/config.yml").read_bytes())
    assert [(c.start_line, c.end_line, c.symbol) for c in whole.chunks] == [(1, 14, None)]


def test_toml_tables():
    parsed = parse_file(
        "pyproject.toml", (LANGS / "toml/pyproject.toml").read_bytes(), chunk_lines=3
    )
    assert [(s.qualname, s.name, s.start_line, s.end_line, s.parent) for s in parsed.symbols] == [
        ("project", "project", 1, 3, None),
        ("project.optional-dependencies", "optional-dependencies", 5, 6, "project"),
        ("tool.ruff", "tool.ruff", 8, 9, None),
        ("tool.mypy.overrides", "tool.mypy.overrides", 11, 12, None),
    ]
    assert [(c.start_line, c.end_line, c.symbol) for c in parsed.chunks] == [
        (1, 3, "project"),
        (5, 6, "project.optional-dependencies"),
        (8, 9, "tool.ruff"),
        (11, 12, "tool.mypy.overrides"),
    ]


def test_json_top_level_keys():
    parsed = parse_file("package.json", (LANGS / "json/package.json").read_bytes(), chunk_lines=4)
    assert [(s.qualname, s.start_line, s.end_line) for s in parsed.symbols] == [
        ("name", 2, 2),
        ("version", 3, 3),
        ("scripts", 4, 7),
        ("dependencies", 8, 11),
    ]
    assert [(c.start_line, c.end_line, c.symbol) for c in parsed.chunks] == [
        (1, 3, None),
        (4, 7, "scripts"),
        (8, 11, "dependencies"),
    ]


def test_other_text_by_line_windows():
    parsed = parse_file("Makefile", (LANGS / "text/Makefile").read_bytes(), chunk_lines=4)
    assert parsed.language == "text" and parsed.symbols == []
    assert [(c.start_line, c.end_line, c.kind) for c in parsed.chunks] == [
        (1, 4, "lines"),
        (6, 7, "lines"),  # a window's blank edges are trimmed
    ]


def test_unknown_language_is_chunked_as_lines():
    parsed = parse_file("notes.weird", b"a\nb\nc\n", chunk_lines=2)
    assert parsed.language == "text"
    assert [(c.start_line, c.end_line, c.text) for c in parsed.chunks] == [
        (1, 2, "a\nb"),
        (3, 3, "c"),
    ]


def test_over_long_lines_are_truncated_and_chunk_text_is_capped():
    long = "x = '" + "a" * 5000 + "'"
    parsed = parse_file("long.py", f"{long}\ny = 1\n".encode(), max_line_chars=100)
    assert [(c.start_line, c.end_line) for c in parsed.chunks] == [(1, 2)]
    assert parsed.chunks[0].text == long[:100] + "\ny = 1"
    wide = "\n".join(f"v{i} = '{'b' * 1900}'" for i in range(60)) + "\n"
    parsed = parse_file("wide.py", wide.encode())
    assert all(len(c.text) <= MAX_CHUNK_CHARS for c in parsed.chunks)
    assert [(c.start_line, c.end_line) for c in parsed.chunks] == [(1, 8), (9, 16), (17, 24), (25, 32), (33, 40), (41, 48), (49, 56), (57, 60)]  # fmt: skip


def test_long_function_windows_overlap_and_keep_qualname():
    body = "".join(f"    x{i} = {i}\n" for i in range(30))
    parsed = parse_file("f.py", f"def big():\n{body}".encode(), chunk_lines=10)
    assert [(c.start_line, c.end_line, c.kind, c.symbol) for c in parsed.chunks] == [
        (1, 10, "definition", "big"),
        (9, 18, "definition", "big"),
        (17, 26, "definition", "big"),
        (25, 31, "definition", "big"),
    ]


def test_object_like_macros_are_data_in_module_chunks_and_function_like_ones_are_chunks():
    # A register header (the kernel's largest files) is thousands of `#define NAME value` lines:
    # each is a constant symbol, and the lines are chunked as module code, not one chunk each.
    header = "".join(f"#define REG_{i} 0x{i:04x}\n" for i in range(200))
    header += "#define REG_MASK(x) ((x) & 0xff)\n"
    parsed = parse_file("regs.h", header.encode(), chunk_lines=80)
    symbols = {(s.name, s.kind, s.start_line) for s in parsed.symbols}
    assert ("REG_0", "constant", 1) in symbols and ("REG_199", "constant", 200) in symbols
    assert ("REG_MASK", "macro", 201) in symbols
    assert [(c.start_line, c.end_line, c.kind, c.symbol) for c in parsed.chunks] == [
        (1, 80, "module", None),
        (81, 160, "module", None),
        (161, 200, "module", None),
        (201, 201, "definition", "REG_MASK"),
    ]
