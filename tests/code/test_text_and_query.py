from codemem.code.query import analyze_query, looks_like_code
from codemem.code.text import (
    identifier_tokens,
    path_tokens,
    search_text,
    split_identifier,
    tokenize,
)


def test_split_identifier_handles_camel_snake_acronyms_digits():
    assert split_identifier("parseHTTPResponse") == ["parse", "http", "response"]
    assert split_identifier("get_user_name") == ["get", "user", "name"]
    assert split_identifier("XMLParser2") == ["xml", "parser", "2"]


def test_identifier_tokens_keep_whole_then_parts():
    assert identifier_tokens("getUserName") == ("getusername", "get", "user", "name")
    assert identifier_tokens("__init__") == ("init",)
    assert identifier_tokens("x") == ()


def test_tokenize_and_path_tokens():
    assert tokenize("self.fooBar(x_y)") == ["self", "foobar", "foo", "bar", "x_y"]
    assert path_tokens("src/pkg/http_client.py") == [
        "src",
        "pkg",
        "http_client",
        "http",
        "client",
        "py",
    ]


def test_search_text_boosts_path_and_symbol():
    text = search_text("a/io.py", "Reader.read", "return 1", boost=2)
    assert text == "io py reader read io py reader read return"


def test_looks_like_code():
    assert looks_like_code("snake_case")
    assert looks_like_code("camelCase")
    assert looks_like_code("L031")
    assert not looks_like_code("Hello")
    assert not looks_like_code("word")


def test_analyze_query_finds_frames_paths_identifiers_and_messages():
    text = (
        "Calling `Linter.lint_string` fails:\n"
        "Traceback (most recent call last):\n"
        '  File "/venv/lib/python3.9/site-packages/pkg/core/linter.py", line 42, in lint_string\n'
        "    parsed = self.parse_string(sql)\n"
        "ValueError: bad value for dialect\n"
        "See pkg/rules/L031.py:10 and pkg.rules.base.\n"
    )
    q = analyze_query(text)
    assert [(f.path, f.line, f.function) for f in q.frames] == [
        ("/venv/lib/python3.9/site-packages/pkg/core/linter.py", 42, "lint_string")
    ]
    assert ("pkg/rules/L031.py", 10) in q.paths
    assert "lint_string" in q.identifiers and "parse_string" in q.identifiers
    assert "Linter.lint_string" in q.dotted and "pkg.rules.base" in q.dotted
    assert "ValueError: bad value for dialect" in q.messages
    assert q.terms["lint_string"] > q.terms["fails"]
    assert "the" not in q.terms
    assert not q.mentions_tests
    assert analyze_query("the test for foo fails").mentions_tests


def test_a_frames_relative_path_keeps_the_frames_line():
    # `File "src/app/run.py", line 7` is also a plain path mention (without a line): the frame
    # is what says where, as it does for an absolute path.
    text = (
        "Traceback (most recent call last):\n"
        '  File "src/app/run.py", line 7, in main\n'
        '  File "/usr/lib/python3/x.py", line 3, in go\n'
        '  File "src/app/run.py", line 99, in helper\n'
        "See also docs/notes.md and src/app/run.py.\n"
    )
    q = analyze_query(text)
    assert q.paths == [
        ("src/app/run.py", 7),
        ("docs/notes.md", None),
        ("/usr/lib/python3/x.py", 3),
    ]


def test_token_text_is_tokenize_joined_for_every_kind_of_word():
    words = [
        "x", "ab", "AB", "getX", "get_x", "GET_X", "__init__", "_", "__", "42", "0x1f", "0X1F",
        "i2c_dev", "I2C_DEV", "u32", "a__b", "spin_lock_irqsave", "SPIN_LOCK", "ab_c", "a" * 41,
        "ab_" + "c" * 39, "parseHTTPResponse_v2", "HTTPServer", "Foo_Bar", "_9_", "9lives",
    ]  # fmt: skip
    text = " ".join(words) + "\nnaïve café ⁂ done"
    from codemem.code.text import token_text

    assert token_text(text) == " ".join(tokenize(text))
    assert [token_text(w) for w in words] == [" ".join(tokenize(w)) for w in words]


def test_search_texts_are_each_chunks_search_text():
    from codemem.code.text import search_text_of, search_texts, token_text

    path = token_text("src/io_util.py")
    symbols = [None, "Reader.read", "Reader.read", "", "x", None, "Reader.read"]
    bodies = ["return 1", "", "a b", "c", "", "", "d"]
    expected = [search_text_of(path, s, b) for s, b in zip(symbols, bodies, strict=True)]
    assert search_texts(path, symbols, bodies) == expected
    assert search_texts("", symbols, bodies, boost=1) == [
        search_text_of("", s, b, boost=1) for s, b in zip(symbols, bodies, strict=True)
    ]
