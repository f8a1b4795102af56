"""Conventions read from memory: learned records (as the miner writes them) and rule syntax."""

from __future__ import annotations

import re

import pytest

from codemem.code import SymbolRow
from codemem.conventions import (
    Evidence,
    Rule,
    code_style,
    parse_records,
    render_conventions,
    render_records,
    wrap,
)
from codemem.review.checks.documentation import split_params
from codemem.review.checks.naming import name_styles, restyle
from codemem.review.context import is_public
from codemem.review.conventions import (
    DocConvention,
    NamingConvention,
    load_conventions,
    parse_conventions,
)
from codemem.workspace import Workspace

NAMES = [
    "total",
    "get_user",
    "getUser",
    "GetUser",
    "HTTPServer",
    "MAX_SIZE",
    "X",
    "x",
    "_private",
    "__dunder__",
    "parse2",
    "v2_api",
    "URL",
    "camelCase_mixed",
    "snake_Case",
    "ABC_def",
    "a1",
    "Ab",
    "A_1",
]


def test_the_fixture_block(shop):
    conventions = load_conventions(Workspace(shop))
    assert conventions.path == ".codemem/blocks/conventions.md"
    assert conventions.naming == {
        ("javascript", "function"): NamingConvention(
            "javascript", "function", "camelCase", 1.0, "all"
        ),
        ("python", "class"): NamingConvention("python", "class", "PascalCase", 1.0, "all"),
        ("python", "function"): NamingConvention(
            "python", "function", "snake_case", 0.95, "almost all, ≥95%"
        ),
        ("python", "method"): NamingConvention("python", "method", "snake_case", 0.8, "most, ≥80%"),
    }  # the fixture's records are version 1 (34 of 35, 18 of 20...): read as bands
    assert conventions.docs == {"python": DocConvention("python", 0.8, "most, ≥80%")}
    assert conventions.tested == {"python"}
    assert [
        (r.rule_id, r.severity, r.shown, r.include, r.exclude, r.message, r.line)
        for r in conventions.patterns
    ] == [
        (
            "conventions/never-print",
            "error",
            "`print(`",
            ("shop/**",),
            (),
            "log through `logging.getLogger(__name__)`",
            23,
        ),
        ("conventions/avoid-todo", "warning", "/\\bTODO\\b/", ("*.py",), (), "", 24),
    ]
    assert conventions.problems == []


def test_the_miners_own_rendering_is_read_back(tmp_path):
    rows = []
    for i, name in enumerate(["load_file", "save_file", "parse_args", "run", "getThing"]):
        rows.append(
            SymbolRow(
                "m.py",
                "python",
                name,
                name,
                "function",
                i + 1,
                i + 1,
                f"def {name}():",
                "Doc." if i else "",
                None,
                False,
            )
        )
    for i, name in enumerate(["fooBar", "bazQux", "quux", "lastOne", "oneMore"]):
        rows.append(
            SymbolRow(
                "w.ts",
                "tsx",
                name,
                f"C.{name}",
                "method",
                i + 1,
                i + 1,
                f"{name}()",
                "",
                "C",
                False,
            )
        )
    rules = code_style.naming_rules(rows, 5) + code_style.docstring_rules(rows, 5)
    records = parse_records(render_records(rules))
    for examples in (True, False):
        body = wrap("conventions", render_conventions(rules, examples=examples))
        parsed = parse_conventions("Intro text.\n" + body + "\n\nOutro.", records=records)
        assert parsed.naming == {
            ("python", "function"): NamingConvention(
                "python", "function", "snake_case", 0.8, "most, ≥80%"
            ),
            ("typescript", "method"): NamingConvention(
                "typescript", "method", "camelCase", 1.0, "all"
            ),
        }
        assert parsed.docs == {"python": DocConvention("python", 0.8, "most, ≥80%")}


def test_a_declared_convention_outside_the_region_wins():
    value = (
        "- Python functions are named in camelCase\n"
        "<!-- codemem:conventions:start -->\n"
        "- Python functions are named in snake_case (60%: 3 of 5)\n"
        "- Go tests use the standard testing package (100%: 2 of 2)\n"
        "<!-- codemem:conventions:end -->\n"
    )
    records = [
        Rule(
            "naming",
            "python",
            "Python functions are named in snake_case",
            0.6,
            Evidence(3, 5),
            "naming",
            "function",
            "snake_case",
        ),
        Rule(
            "tests",
            "go",
            "Go tests use the standard testing package",
            1.0,
            Evidence(2, 2),
            "test-framework",
            value="testing",
        ),
    ]
    parsed = parse_conventions(value, records=records)
    assert parsed.naming == {
        ("python", "function"): NamingConvention("python", "function", "camelCase", 1.0, None)
    }
    assert parsed.tested == {"go"}


def test_rule_syntax(tmp_path):
    value = "\n".join(
        [
            "Some prose.",
            "- never: `console.log(` in `src/**`, `lib/**` except `src/debug/**` — use the logger",
            "* avoid: /\\bFIXME\\b/ -- fix it first",
            "- never: `console.log(` in `test/**`",
            "- require: docstrings on public functions in `pkg/**`",
            "- prefer: type hints for public methods",
            "- Require: tests for public definitions except `scripts/**`",
            "- Prefer: small functions and clear names",
            "- never: `unterminated",
            "- never: /(/",
            "- require: tests on everything",
        ]
    )
    parsed = parse_conventions(value, first_line=6)
    assert [
        (r.rule_id, r.severity, r.pattern.pattern, r.include, r.exclude, r.message, r.line)
        for r in parsed.patterns
    ] == [
        (
            "conventions/never-console-log",
            "error",
            re.escape("console.log("),
            ("src/**", "lib/**"),
            ("src/debug/**",),
            "use the logger",
            7,
        ),
        ("conventions/avoid-fixme", "warning", "\\bFIXME\\b", (), (), "fix it first", 8),
        (
            "conventions/never-console-log-2",
            "error",
            re.escape("console.log("),
            ("test/**",),
            (),
            "",
            9,
        ),
    ]
    assert [
        (r.rule_id, r.severity, r.what, r.kinds, r.include, r.exclude, r.line)
        for r in parsed.requires
    ] == [
        (
            "conventions/require-docstrings-functions",
            "error",
            "docstrings",
            ("function",),
            ("pkg/**",),
            (),
            10,
        ),
        ("conventions/prefer-type-hints-methods", "warning", "type hints", ("method",), (), (), 11),
        (
            "conventions/require-tests-definitions",
            "error",
            "tests",
            ("function", "method", "class", "struct", "interface", "enum", "trait", "type"),
            (),
            ("scripts/**",),
            12,
        ),
    ]
    assert [(line, why) for line, _text, why in parsed.problems] == [
        (14, "not in the rule syntax (see `codemem review --help`)"),
        (
            15,
            "the regular expression does not compile: missing ), unterminated subpattern at position 0",
        ),
        (16, "not in the rule syntax (see `codemem review --help`)"),
    ]


@pytest.mark.parametrize("name", NAMES)
def test_name_styles_agree_with_the_miner(name):
    assert name_styles(name) == code_style.name_styles(name)


@pytest.mark.parametrize(
    "signature,name",
    [
        ("def f(a, b: int = 3, *args, **kw) -> str:", "f"),
        ("def g(self, x: dict[str, tuple[int, int]] = {}) -> None:", "g"),
        ("function h(a: number, b?: string): void", "h"),
        ("def cut(a,", "cut"),
    ],
)
def test_parameter_splitting_agrees_with_the_miner(signature, name):
    assert split_params(signature, name) == code_style.split_params(signature, name)


def test_public_agrees_with_the_miner():
    cases = [
        ("run", "python", "def run():", None),
        ("_run", "python", "", None),
        ("inner", "python", "", "function"),
        ("Serve", "go", "", None),
        ("serve", "go", "", None),
        ("f", "rust", "pub fn f()", None),
        ("g", "rust", "fn g()", None),
    ]
    parents = {("p", "outer"): "function"}
    for name, language, signature, parent_kind in cases:
        row = SymbolRow(
            "p",
            language,
            name,
            name,
            "function",
            1,
            1,
            signature,
            "",
            "outer" if parent_kind else None,
            False,
        )
        assert is_public(name, language, signature, parent_kind) == code_style._public(
            row, language, parents
        )


@pytest.mark.parametrize(
    "name,style,expected",
    [
        ("getUserID", "snake_case", "get_user_id"),
        ("load_file", "camelCase", "loadFile"),
        ("load_file", "PascalCase", "LoadFile"),
        ("_parseHTTPHeader", "snake_case", "_parse_http_header"),
        ("max_size", "UPPER_CASE", "MAX_SIZE"),
        ("Parse_thing", "mixedCaps", "ParseThing"),
        ("dump_items", "camelCase", "dumpItems"),
    ],
)
def test_restyle(name, style, expected):
    assert restyle(name, style) == expected


def test_review_rule_ids_of_learned_statements():
    from codemem.review.conventions import review_rule_id

    def rule(topic, language, statement, kind="", subject=None, value=None):
        return Rule(topic, language, statement, 1.0, Evidence(5, 5), kind, subject, value)

    assert (
        review_rule_id(
            rule(
                "naming",
                "python",
                "Python functions are named in snake_case",
                "naming",
                "function",
                "snake_case",
            )
        )
        == "naming/python/function"
    )
    assert (
        review_rule_id(
            rule(
                "naming",
                "csharp",
                "C# type names are named in PascalCase",
                "naming",
                "type",
                "PascalCase",
            )
        )
        == "naming/csharp/type"
    )
    assert (
        review_rule_id(
            rule(
                "docstrings",
                "typescript",
                "TypeScript public definitions have doc comments",
                "docstring-coverage",
                value="most",
            )
        )
        == "docstrings/typescript"
    )
    assert (
        review_rule_id(
            rule(
                "tests",
                "go",
                "Go tests use the standard testing package",
                "test-framework",
                value="testing",
            )
        )
        == "tests/go"
    )
    assert (
        review_rule_id(
            rule(
                "tests",
                "rust",
                "Rust unit tests sit in #[cfg(test)] modules next to the code",
                "test-location",
                value="#[cfg(test)] modules",
            )
        )
        == "tests/rust"
    )
    assert (
        review_rule_id(
            rule(
                "indentation",
                "python",
                "Python code is indented with 4 spaces",
                "indentation",
                value="4 spaces",
            )
        )
        is None
    )
