"""`CommentsAbove` finds the same comment block above each definition as a plain scan up from
it would, however its scans share their work, and keeps only a docstring's worth of it."""

from __future__ import annotations

import random
import re

import pytest

from codemem.code.comments import DOCSTRING_CHARS, CommentsAbove

_MARK = re.compile(r"^(?:/{2,}!?|/\*+!?|\*+(?!/)|#+!?|--)\s?")
_END = re.compile(r"\s*\*+/\s*$")
_XML = re.compile(r"</?(?:summary|remarks|returns|value|para|example)\b[^>]*>")


def scanned(lines: list[str], row: int, style: str) -> tuple[str, int]:
    """The comment block above `row` by a whole scan from it, every line cleaned."""
    hash_comments, slash_comments = style in ("hash", "php"), style != "hash"
    first, comment, i = row, [], row - 1
    if slash_comments and i > 0 and not lines[i].strip() and lines[i - 1].strip().endswith("*/"):
        opener = next((t for t in (x.strip() for x in lines[i - 1 :: -1][:200]) if "/*" in t), "")
        if opener.startswith("/**"):
            i -= 1
    while i >= 0:
        text = lines[i].strip()
        if not text:
            break
        if slash_comments and text.endswith("*/"):
            block = [text]
            while "/*" not in block[-1] and i > 0 and len(block) < 200:
                i -= 1
                block.append(lines[i].strip())
            comment.extend(block)
        elif (slash_comments and text.startswith("//")) or (
            hash_comments and text.startswith("#") and not text.startswith("#[")
        ):
            comment.append(text)
        elif slash_comments and text.startswith(("#[", "#![", "@")) and not comment:
            pass
        else:
            break
        first = i
        i -= 1
    doc = "\n".join(_END.sub("", _MARK.sub("", line)) for line in reversed(comment))
    if "</" in doc:
        doc = _XML.sub("", doc)
    return doc.strip()[:DOCSTRING_CHARS], first


def test_struct_fields_with_trailing_comments_read_as_one_growing_block():
    fields = [f"\tu64 counter_{n};\t\t/* the counter number {n} */" for n in range(40)]
    lines = ["struct stats {", *fields, "};"]
    above = CommentsAbove(lines, "c")
    assert above.above(1) == ("", 1)
    assert above.above(2) == ("u64 counter_0;\t\t/* the counter number 0", 1)
    assert above.above(3) == (
        "u64 counter_0;\t\t/* the counter number 0\nu64 counter_1;\t\t/* the counter number 1",
        1,
    )
    last = above.above(40)
    assert last[1] == 1 and len(last[0]) == DOCSTRING_CHARS
    for row in range(len(lines)):
        assert above.above(row) == scanned(lines, row, "c"), row


@pytest.mark.parametrize(
    ("lines", "style", "row", "expected"),
    [
        (["/**", " * Frees a box.", " */", "", "void free_box(void);"], "c", 4, ("Frees a box.", 0)),
        (["/* not a doc block */", "", "void f(void);"], "c", 2, ("", 2)),
        (["/// <summary>Adds.</summary>", "@Override", "int add();"], "c", 2, ("Adds.", 0)),
        (["// one", "#[derive(Debug)]", "#[repr(C)]", "struct S;"], "c", 3, ("one", 0)),
        (["#[derive(Debug)]", "struct S;"], "c", 1, ("", 0)),
        (["# Join two paths.", "# Keeps slashes.", "def join(a, b):"], "hash", 2,
         ("Join two paths.\nKeeps slashes.", 0)),
        (["x = 1  # not above", "@decorator", "def f():"], "hash", 2, ("", 2)),
        (["<?php", "# a hash comment", "/** a doc */", "function f() {}"], "php", 3,
         ("a hash comment\na doc", 1)),
    ],
)  # fmt: skip
def test_comment_blocks_above_definitions(lines, style, row, expected):
    assert CommentsAbove(lines, style).above(row) == expected
    assert scanned(lines, row, style) == expected


_ATOMS = [
    "/*", "*/", "/**", "*", "**", "//", "///", "//!", "#", "##", "#!", "#[x]", "#![y]", "@Ann",
    "--", " ", "\t", "\x0b", "\x85", "a", "word " * 40, "</summary>", "<summary>", "x */",
    "*/ */", "/*!", "  * ", "*/x", "", "\xa0", "</", "<para>",
]  # fmt: skip


@pytest.mark.parametrize("style", ["c", "hash", "php"])
def test_every_row_of_random_lines_gets_what_a_whole_scan_finds(style):
    rnd = random.Random(style)
    for _ in range(400):
        lines = [
            "".join(rnd.choice(_ATOMS) for _ in range(rnd.randrange(6)))
            for _ in range(rnd.randrange(1, 50))
        ]
        rows = list(range(len(lines)))
        rnd.shuffle(rows)  # any order: what one scan keeps serves the others
        above = CommentsAbove(lines, style)
        for row in rows:
            assert above.above(row) == scanned(lines, row, style), (lines, row)
