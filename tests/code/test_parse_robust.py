"""parse_file never raises: bad encodings, odd line endings, broken and pathological code."""

from __future__ import annotations

import pytest

from codemem.code import parse as parse_module
from codemem.code.languages import get_parser, language_for_path
from codemem.code.parse import parse_file, split_source
from codemem.code.syntax import MAX_START_DEPTH, NAME_BYTES, QUALNAME_CHARS, count_errors


def spans(parsed):
    return [(s.qualname, s.start_line, s.end_line) for s in parsed.symbols]


def test_bom_is_dropped_and_line_numbers_stay_right():
    parsed = parse_file("a.py", b"\xef\xbb\xbfimport os\n\ndef f():\n    return 1\n")
    assert spans(parsed) == [("f", 3, 4)]
    assert [(c.start_line, c.end_line, c.text) for c in parsed.chunks] == [
        (1, 1, "import os"),
        (3, 4, "def f():\n    return 1"),
    ]
    assert parsed.imports[0].target == "os" and parsed.syntax_errors == 0


def test_crlf_lines():
    source = b"import os\r\n\r\ndef f():\r\n    '''Doc.'''\r\n    return g()\r\n"
    parsed = parse_file("a.py", source, references=True)
    assert spans(parsed) == [("f", 3, 5)]
    assert parsed.symbols[0].docstring == "Doc."
    assert parsed.symbols[0].signature == "def f():"
    assert [(r.name, r.line) for r in parsed.references] == [("g", 5)]
    assert parsed.chunks[-1].text == "def f():\n    '''Doc.'''\n    return g()"


def test_crlf_in_c_style_doc_comments():
    source = b"// Adds.\r\n// Twice.\r\nint add(int a) {\r\n  return a + a;\r\n}\r\n"
    parsed = parse_file("a.c", source)
    assert spans(parsed) == [("add", 3, 5)]
    assert parsed.symbols[0].docstring == "Adds.\nTwice."


def test_invalid_utf8_is_replaced():
    parsed = parse_file("a.py", b"x = '\xff\xfe'\ndef g():\n    pass\n")
    assert spans(parsed) == [("x", 1, 1), ("g", 2, 3)]
    assert parsed.chunks[0].text == "x = '\ufffd\ufffd'"


def test_nul_bytes():
    parsed = parse_file("a.js", b"function f() {\x00 return 1; }\nconst x = 1;\n")
    assert spans(parsed) == [("f", 1, 1), ("x", 2, 2)]
    assert parsed.syntax_errors > 0
    assert [(c.start_line, c.end_line) for c in parsed.chunks] == [(1, 1), (2, 2)]


@pytest.mark.parametrize("name", ["a.py", "a.go", "a.md", "a.yml", "a.json", "a.txt", "a.toml"])
@pytest.mark.parametrize("source", [b"", b"\n", b"\n\n\n", b"\xef\xbb\xbf", b"   \n\t\n"])
def test_empty_and_blank_files(name, source):
    parsed = parse_file(name, source)
    assert parsed.symbols == [] and parsed.chunks == [] and parsed.reference_names == []


@pytest.mark.parametrize(
    "name", ["a.py", "a.js", "a.ts", "a.tsx", "a.go", "a.rs", "a.java", "a.c", "a.cpp", "a.cs",
             "a.rb", "a.php", "a.md", "a.rst", "a.yml", "a.toml", "a.json", "a.txt"],
)  # fmt: skip
def test_binary_garbage_never_raises(name):
    source = bytes(range(256)) * 40
    parsed = parse_file(name, source)
    lines = split_source(source)
    assert all(1 <= c.start_line <= c.end_line <= len(lines) for c in parsed.chunks)
    assert parsed.chunks


def test_syntax_errors_are_counted_and_the_rest_still_indexed():
    source = b"def good():\n    return 1\n\ndef bad(:\n    pass\n\nclass Fine:\n    pass\n"
    parsed = parse_file("a.py", source)
    assert parsed.syntax_errors >= 1
    assert ("good", 1, 2) in spans(parsed) and ("Fine", 7, 8) in spans(parsed)


def test_clean_file_has_no_syntax_errors():
    assert parse_file("a.rs", b"fn main() {}\n").syntax_errors == 0


@pytest.mark.parametrize(
    ("path", "source"),
    [
        ("a.py", b"def bad(:\n    pass\n\nx = [1, 2\nclass C(:\n    y = )\n"),
        ("a.c", b"int f( {\n  return 1;\n}\nstruct S { int a; \nvoid g(void) { h(; }\n"),
        ("a.ts", b"function f(: number {\n  return 1\n}\nclass C { m( { } }\n"),
        ("a.go", b"package main\nfunc f( {\n}\ntype T struct { a int\n"),
    ],
)
def test_syntax_errors_counted_in_the_tag_pass_match_a_separate_count(path, source):
    language = language_for_path(path, source)
    expected = count_errors(get_parser(language).parse(source), language)
    assert expected > 1
    assert parse_file(path, source).syntax_errors == expected


def test_lone_carriage_returns_do_not_break_spans():
    parsed = parse_file("a.py", b"def f():\r    pass\rdef g():\r    pass\r")
    assert all(c.start_line <= c.end_line for c in parsed.chunks)
    assert [(c.start_line, c.end_line) for c in parsed.chunks] == [(1, 1)]


def test_minified_javascript_one_huge_line():
    body = b",".join(b"function(x){return x+%d}" % i for i in range(25_000))
    source = b"var handlers=[" + body + b"];function main(){return handlers.length}\n"
    assert len(source) > 500_000
    parsed = parse_file("app.min.js", source, max_line_chars=2000)
    assert [(c.start_line, c.end_line, c.kind) for c in parsed.chunks] == [(1, 1, "definition")]
    assert len(parsed.chunks[0].text) == 2000
    assert spans(parsed) == [("handlers", 1, 1), ("main", 1, 1)]


def test_minified_json_single_line():
    source = b'{"a": [' + b",".join(b"%d" % i for i in range(100_000)) + b"]}"
    parsed = parse_file("data.json", source)
    assert [(c.start_line, c.end_line, len(c.text)) for c in parsed.chunks] == [(1, 1, 2000)]


def test_deeply_nested_expressions():
    depth = 20_000
    for name, source in [
        ("deep.py", b"x = " + b"[" * depth + b"]" * depth + b"\n"),
        ("deep.js", b"const x = " + b"(" * depth + b"1" + b")" * depth + b";\n"),
        ("deep.c", b"int main(){" + b"{" * depth + b"}" * depth + b"}\n"),
        ("deep.json", b"[" * depth + b"]" * depth),
    ]:
        parsed = parse_file(name, source)
        assert [(c.start_line, c.end_line) for c in parsed.chunks] == [(1, 1)]


def test_deeply_nested_definitions_have_long_qualnames_without_recursion():
    depth = 400
    source = (
        "".join(f"{'    ' * i}class C{i}:\n" for i in range(depth)) + "    " * depth + "x = 1\n"
    )
    parsed = parse_file("deep.py", source.encode(), chunk_lines=5)
    assert len(parsed.symbols) >= 100
    assert parsed.symbols[99].qualname == ".".join(f"C{i}" for i in range(100))
    assert all(c.start_line <= c.end_line for c in parsed.chunks)


def test_nesting_deeper_than_real_code_costs_no_more_than_its_bytes():
    # Each level used to keep a query match open, make every parent lookup longer and hold
    # every outer name in each inner one's qualified name: a 320 KB file of 20,000 nested
    # namespaces took 31 s and 4.8 GB to index.
    depth = 600
    names = [f"ns{i}_" + "x" * 300 for i in range(depth)]
    source = "".join(f"namespace {name} {{\n" for name in names) + "int x;\n" + "}\n" * depth
    parsed = parse_file("deep.cpp", source.encode())
    assert 100 <= len(parsed.symbols) <= MAX_START_DEPTH // 2  # two tree levels a namespace
    assert parsed.symbols[0].name == names[0][:NAME_BYTES]
    assert all(len(s.name) <= NAME_BYTES for s in parsed.symbols)
    assert all(len(s.qualname) <= QUALNAME_CHARS for s in parsed.symbols)
    assert parsed.symbols[1].qualname == f"{names[0][:NAME_BYTES]}.{names[1][:NAME_BYTES]}"
    assert all(c.start_line <= c.end_line for c in parsed.chunks)


def test_parser_bug_falls_back_to_text_chunks(monkeypatch, caplog):
    def explode(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(parse_module, "extract_tags", explode)
    parsed = parse_file("a.py", b"def f():\n    pass\n")
    assert parsed.symbols == []
    assert [(c.start_line, c.end_line, c.kind) for c in parsed.chunks] == [(1, 2, "lines")]
    assert "indexing it as plain text" in caplog.text


def test_split_source():
    assert split_source(b"") == []
    assert split_source(b"a") == ["a"]
    assert split_source(b"a\n") == ["a"]
    assert split_source(b"a\r\nb\r\n") == ["a", "b"]
    assert split_source(b"a\n\nb") == ["a", "", "b"]
    assert split_source(b"a\rb\n") == ["a\rb"]  # only \n ends a line, as for tree-sitter
    assert split_source(b"\xef\xbb\xbfa\n") == ["a"]
    assert split_source(b"\x80\n") == ["\ufffd"]


def test_one_tag_query_a_language_is_compiled_for_files_with_and_without_errors():
    # Each worker compiles what it parses with; a second query a language cost C++ 0.23 s a
    # worker. Both files are read with the query that also counts errors.
    from codemem.code.languages import clear_caches, get_query

    clear_caches()
    try:
        fine = parse_file("fine.py", b"def ok():\n    return 1\n")
        broken = parse_file("broken.py", b"def broken(:\n    return\n\ndef fine():\n    pass\n")
        assert (fine.syntax_errors, [s.name for s in fine.symbols]) == (0, ["ok"])
        assert broken.syntax_errors > 0 and "fine" in [s.name for s in broken.symbols]
        assert get_query.cache_info().currsize == 1
    finally:
        clear_caches()


def test_an_empty_file_is_not_parsed_and_gets_what_a_parse_gives(monkeypatch):
    """An empty file (or a BOM alone) costs no tree-sitter parse, and its result is what
    parsing and chunking it would give, in every language and text kind."""
    from codemem.code.languages import GRAMMARS, PROSE_KINDS
    from codemem.code.model import ParsedFile
    from codemem.code.text_chunking import chunk_text

    expected = {}
    for language in [g.name for g in GRAMMARS] + sorted(PROSE_KINDS) + ["text"]:
        for source in (b"", b"\xef\xbb\xbf"):
            parsed = ParsedFile(path="a", language=language)
            if get_parser(language) is not None:
                parse_module._parse_code(parsed, source, [], 80, 2000, False)
            else:
                parsed.symbols, parsed.chunks = chunk_text(language, [], 80, 2000)
            expected[language, source] = parsed
    calls: list[tuple] = []
    monkeypatch.setattr(parse_module, "get_parser", lambda *a: calls.append(a))
    monkeypatch.setattr(parse_module, "chunk_text", lambda *a: calls.append(a) or ([], []))
    assert {(lang, src): parse_file("a", src, lang) for lang, src in expected} == expected
    assert calls == []
