"""The language registry: file classification, grammars, queries, graceful missing wheels."""

from __future__ import annotations

import threading

import pytest

from codemem.code import languages
from codemem.code.languages import (
    GRAMMARS,
    get_parser,
    get_query,
    is_code,
    language_for_path,
)
from codemem.code.parse import parse_file


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("src/app.py", "python"),
        ("stubs/mod.pyi", "python"),
        ("web/app.js", "javascript"),
        ("web/app.mjs", "javascript"),
        ("web/app.cjs", "javascript"),
        ("web/App.jsx", "javascript"),
        ("web/app.ts", "typescript"),
        ("web/app.mts", "typescript"),
        ("web/types.d.ts", "typescript"),
        ("web/App.tsx", "tsx"),
        ("cmd/main.go", "go"),
        ("src/lib.rs", "rust"),
        ("src/Main.java", "java"),
        ("src/list.c", "c"),
        ("src/geo.cc", "cpp"),
        ("src/geo.cpp", "cpp"),
        ("src/geo.cxx", "cpp"),
        ("src/geo.c++", "cpp"),
        ("src/geo.hpp", "cpp"),
        ("src/geo.hh", "cpp"),
        ("src/geo.hxx", "cpp"),
        ("src/geo.ipp", "cpp"),
        ("src/geo.inl", "cpp"),
        ("src/Orders.cs", "csharp"),
        ("lib/library.rb", "ruby"),
        ("Rakefile", "ruby"),
        ("Gemfile", "ruby"),
        ("app/User.php", "php"),
        ("README.md", "markdown"),
        ("docs/page.markdown", "markdown"),
        ("docs/page.mdx", "markdown"),
        ("docs/index.rst", "rst"),
        (".github/workflows/ci.yml", "yaml"),
        ("config.yaml", "yaml"),
        ("pyproject.toml", "toml"),
        ("package.json", "json"),
        ("notes.txt", "text"),
        ("setup.cfg", "text"),
        ("tox.ini", "text"),
        ("scripts/run.sh", "text"),
        ("CMakeLists.txt", "text"),
        ("Makefile", "text"),
        ("Dockerfile", "text"),
        ("Dockerfile.dev", "text"),
        ("db/schema.sql", "text"),
        ("api/service.proto", "text"),
        ("app/Main.kt", "text"),
        ("ui/index.html", "text"),
        ("ui/site.scss", "text"),
        ("ui/App.vue", "text"),
        ("C:\\work\\tool.py", "python"),
        ("data/table.csv", None),
        ("assets/logo.svg", None),
        ("poetry.lock", None),
        ("assets/logo.png", None),
        ("bin/tool", None),
        ("LICENSE.unknown-ext", None),
    ],
)
def test_language_for_path(path, expected):
    assert language_for_path(path) == expected


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"#include <stdio.h>\nint main(void) { return 0; }\n", "c"),
        (b"struct node { int v; };\ntypedef struct node node_t;\n", "c"),
        (b"#pragma once\nnamespace geo {\nstruct P {};\n}\n", "cpp"),
        (b"class Shape {\npublic:\n  virtual ~Shape();\n};\n", "cpp"),
        (b"template<typename T> T max(T a, T b);\n", "cpp"),
        (b"#include <vector>\nstd::vector<int> v;\n", "cpp"),
        (b"#include <cstdint>\nint f(int);\n", "cpp"),
        (b"namespace {\nint hidden;\n}\n", "cpp"),
        (None, "c"),
        # C whose comments, strings or identifiers hold C++ words (the Linux kernel's headers)
        (b"/* Max rate that can be set to a scheduling class is 100 Gbps */\nint r;\n", "c"),
        (b"/*\n * fixmap.h: compile-time virtual memory allocation\n */\n#define N 1\n", "c"),
        (b"/**\n * hw_perf_event::flag values\n */\n#define PERF_F 1\n", "c"),
        (b'static inline void w(long v)\n{ asm("mov %0, %%db0" :: "r" (v)); }\n', "c"),
        (b"#error Page table parameters do not cover virtual address space\n", "c"),
        (b"extern struct class net_class;\nstatic struct class my_class;\n", "c"),
        (b"static int f(int namespace)\n{ return namespace == 1; }\n", "c"),
        (b"// class Foo would be C++, in a comment it is not\nint x;\n", "c"),
    ],
)
def test_header_is_sniffed_for_cpp(head, expected):
    assert language_for_path("include/list.h", head) == expected


def test_header_sniffed_past_its_licence_comment():
    licence = (
        b"/*\n" + b" * Licensed under the terms of the licence, see LICENSE.\n" * 120 + b" */\n"
    )
    assert len(licence) > 4096
    assert language_for_path("include/box.h", licence + b"class Box {\npublic:\n};\n") == "cpp"
    assert language_for_path("include/box.h", licence + b"struct box { int w; };\n") == "c"


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"#!/usr/bin/env python3\nprint('hi')\n", "python"),
        (b"#!/usr/bin/python3.11\n", "python"),
        (b"#!/bin/bash\necho hi\n", "text"),
        (b"#!/usr/bin/env node\nconsole.log(1)\n", "javascript"),
        (b"#!/usr/bin/env -S deno run\n", "typescript"),
        (b"no shebang here\n", None),
    ],
)
def test_shebang_decides_files_without_extension(head, expected):
    assert language_for_path("bin/tool", head) == expected


def test_code_languages_and_is_code():
    assert [g.name for g in GRAMMARS] == [
        "python", "javascript", "typescript", "tsx", "go", "rust", "java", "c", "cpp",
        "csharp", "ruby", "php",
    ]  # fmt: skip
    assert is_code("python") and is_code("tsx") and is_code("csharp")
    assert not is_code("markdown") and not is_code("text") and not is_code(None)


@pytest.mark.parametrize("language", [g.name for g in GRAMMARS])
def test_every_grammar_loads_and_its_query_compiles(language):
    assert get_parser(language) is get_parser(language)  # cached
    query = get_query(language)
    assert query is not None and query is get_query(language)
    assert query.pattern_count > 0


def test_missing_grammar_wheel_falls_back_to_text(monkeypatch, caplog):
    broken = languages.Grammar("python", "tree_sitter_no_such_wheel", "language", (".py",))
    monkeypatch.setitem(languages._GRAMMAR_BY_NAME, "python", broken)
    languages.clear_caches()
    try:
        assert get_parser("python") is None
        assert get_query("python") is None
        parsed = parse_file("a.py", b"def f():\n    return 1\n")
        assert parsed.language == "python"
        assert parsed.symbols == [] and parsed.syntax_errors == 0
        assert [(c.start_line, c.end_line, c.kind) for c in parsed.chunks] == [(1, 2, "lines")]
        assert "unavailable" in caplog.text
    finally:
        monkeypatch.undo()
        languages.clear_caches()
    assert get_parser("python") is not None


def test_each_thread_gets_its_own_parser():
    mine = get_parser("go")
    theirs = []
    worker = threading.Thread(target=lambda: theirs.append(get_parser("go")))
    worker.start()
    worker.join()
    assert theirs[0] is not None and theirs[0] is not mine and get_parser("go") is mine


def test_query_that_does_not_compile_keeps_the_file_as_text(monkeypatch, tmp_path, caplog):
    (tmp_path / "go.scm").write_text("(no_such_node) @name\n")
    monkeypatch.setattr(languages, "QUERIES_DIR", tmp_path)
    languages.clear_caches()
    try:
        parsed = parse_file("main.go", b"package main\n\nfunc main() {\n}\n")
        assert parsed.symbols == []
        assert [(c.start_line, c.end_line, c.kind) for c in parsed.chunks] == [(1, 4, "lines")]
        assert "does not compile" in caplog.text
    finally:
        monkeypatch.undo()
        languages.clear_caches()


def test_a_file_name_is_read_as_a_path_object_reads_it():
    """`language_for_path` takes a path's last name without making a `PurePosixPath` for every
    file: the same name, for any mix of separators, dots and names."""
    from pathlib import PurePosixPath
    from random import Random

    from codemem.code.languages import _file_name

    rng = Random(14)
    pieces = ["a", "/", ".", "..", "\\", "b.py", "Makefile", ".h", " "]
    paths = ["".join(rng.choices(pieces, k=rng.randrange(8))) for _ in range(3000)]
    for path in paths:
        assert _file_name(path) == PurePosixPath(path.replace("\\", "/")).name, path
