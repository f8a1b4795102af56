"""Reads of the lexicon's columns: the shortcuts a search takes give what the plain reads give."""

from __future__ import annotations

import random
from types import SimpleNamespace

import pytest

from codemem.code.columns import Strings, string_columns
from codemem.code.lexicon import Lexicon


def test_strings_read_one_at_a_time_as_all_at_once():
    texts = ["a", "", "päth/ünïcode.py", "bad \udcff byte", "x" * 300]
    (_, blob), (_, offsets) = string_columns(texts)
    strings = Strings(memoryview(bytes(blob)), memoryview(bytes(offsets)).cast("q"))
    assert [strings[i] for i in range(len(texts))] == strings.tolist() == texts
    assert [strings[i] for i in range(-len(texts), 0)] == texts
    for wrong in (len(texts), -len(texts) - 1):
        with pytest.raises(IndexError):
            strings[wrong]
    empty = Strings(memoryview(b""), memoryview(b"").cast("q"))
    with pytest.raises(IndexError):
        empty[0]


def test_string_columns_are_nul_joined_utf8_and_where_each_string_starts():
    (_, blob), (_, offsets) = string_columns(["a", "", "é", "bad \udcff"])
    assert bytes(blob) == b"a\0\0\xc3\xa9\0bad \xff\0"
    assert memoryview(bytes(offsets)).cast("q").tolist() == [0, 2, 3, 6, 12]
    # A string holding NUL after all keeps its own end: the next string starts after it.
    (_, blob), (_, offsets) = string_columns(["a\0b", "c"])
    assert bytes(blob) == b"a\0b\0c\0"
    assert memoryview(bytes(offsets)).cast("q").tolist() == [0, 4, 6]
    (_, blob), (_, offsets) = string_columns([])
    assert bytes(blob) == b""
    assert memoryview(bytes(offsets)).cast("q").tolist() == [0]


def test_ties_are_ordered_by_name_as_a_full_sort_orders_them():
    rng = random.Random(7)
    names = {(s, d): f"n{rng.randrange(30)}" for s in range(3) for d in range(200)}
    reader = SimpleNamespace(_name=lambda prefix, s, d: names[(s, d)])
    for _ in range(50):
        keys = rng.sample(sorted(names), 120)
        scores = [float(rng.choice([1, 2, 2.5, 3, 7])) for _ in keys]
        ranked = sorted(
            ((score, s, d) for score, (s, d) in zip(scores, keys, strict=True)),
            key=lambda r: -r[0],
        )
        expected = sorted(ranked, key=lambda r: (-r[0], names[(r[1], r[2])]))
        assert Lexicon._by_name_in_ties(reader, "cp", ranked) == expected  # type: ignore[arg-type]


def test_joined_strings_flag_none_and_refuse_what_utf8_or_nul_cannot_hold():
    from codemem.code.columns import joined_strings

    data, offsets, nulls = joined_strings(["a", None, "é", ""])
    assert data == b"a\0\0\xc3\xa9\0\0"
    assert offsets.tolist() == [0, 2, 3, 6, 7]
    assert nulls.tolist() == [False, True, False, False]
    data, offsets, nulls = joined_strings(["ab", "c"])
    assert (data, offsets.tolist(), nulls) == (b"ab\0c\0", [0, 3, 5], None)
    assert joined_strings(["a\0b"]) is None
    assert joined_strings(["bad \udcff"]) is None
    assert joined_strings([1]) is None
