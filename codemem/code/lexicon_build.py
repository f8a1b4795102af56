"""Building the search segments of the lexicon (`codemem.code.lexicon`): from a batch of
rows, or by merging the newest small segments into one.

A segment is one column file (`codemem.code.columns`) holding, for the files of one index
batch: their chunk rows, symbol rows and file rows as search returns them, and two inverted
indexes (chunks, files) for BM25: a sorted term dictionary (fixed-width byte strings, so a
query looks its terms up with one `searchsorted`), each term's postings (document, term
frequency) and each document's token count. Everything is built with numpy: the only Python
loops run over a batch's distinct terms and rows, never over its tokens twice.
"""

from __future__ import annotations

import hashlib
import operator
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import chain, repeat
from pathlib import Path
from typing import Any

import numpy as np

from codemem.code.columns import Column, write_columns
from codemem.code.rows import Batch

SEGMENT_KIND = "codemem-lexicon"
SEGMENT_FORMAT = 1
# LanceDB's full-text tokenizer drops tokens longer than this (bytes); so do the segments.
MAX_TOKEN_BYTES = 40
SMALL_TEXTS_CHARS = 1 << 29  # texts this long in all fit 32-bit Arrow offsets (2 GB)
NAME_KEY_BYTES = 48  # a symbol name's key in the name index: longer names are checked whole
# Null flags of the optional string columns (None is not "").
NULL_SYMBOL, NULL_SYMBOL_KIND = 1, 2
NULL_PARENT, NULL_DOCSTRING, NULL_SIGNATURE = 1, 2, 4


def key_hash(text: str) -> int:
    """A stable 64-bit hash of a path (the segments find paths and tombstones by it)."""
    digest = hashlib.blake2b(text.encode("utf-8", "surrogateescape"), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def hashes(texts: Iterable[str]) -> np.ndarray:
    return np.array([key_hash(t) for t in texts], dtype=np.uint64)


@dataclass
class Postings:
    """An inverted index: sorted terms, each term's postings range, and document lengths."""

    terms: np.ndarray  # fixed-width bytes ("S<w>"), sorted, distinct
    starts: np.ndarray  # int64, len(terms) + 1
    docs: np.ndarray  # uint32, by term then document
    tfs: np.ndarray  # uint32
    lengths: np.ndarray  # uint32, tokens per document

    @classmethod
    def empty(cls, documents: int = 0) -> Postings:
        return cls(np.zeros(0, "S1"), np.zeros(1, np.int64), np.zeros(0, np.uint32),
                   np.zeros(0, np.uint32), np.zeros(documents, np.uint32))  # fmt: skip

    def columns(self, prefix: str) -> dict[str, Column]:
        return {
            f"{prefix}_terms": ("B", self.terms.tobytes() or b""),
            f"{prefix}_starts": ("q", self.starts.astype(np.int64, copy=False)),
            f"{prefix}_docs": (
                "I",
                self.docs.astype(np.uint32, copy=False),
            ),  # no copy: the largest
            f"{prefix}_tfs": ("I", self.tfs.astype(np.uint32, copy=False)),
            f"{prefix}_lengths": ("I", self.lengths.astype(np.uint32, copy=False)),
        }


def build_chunk_and_file_postings(
    chunk_texts: Sequence[str],
    chunk_files: np.ndarray,
    chunk_tails: np.ndarray,
    file_texts: Sequence[str],
) -> tuple[Postings, Postings]:
    """The BM25 postings of whitespace-tokenized texts: of the chunks (document j is
    chunk_texts[j]) and of the files (document i is file_texts[i] followed by the last
    chunk_tails[j] tokens of each chunk j of that file: chunk_files[j] == i).

    A file's text repeats its chunks' bodies (`codemem.code.extract.rows_for`): counted
    from the chunks' tokens, it is neither sent by the workers nor split again.
    """
    n = len(chunk_texts)
    table, key, counts = _tokens([*chunk_texts, *file_texts])
    chunk_counts = counts[:n]
    split = int(chunk_counts.sum())
    tails = np.asarray(chunk_tails, np.int64)
    # Where each chunk's tail starts, for each of its tokens (int32: a batch's tokens are
    # its largest arrays, and far fewer than 2**31).
    tail_starts = (np.cumsum(chunk_counts) - tails).astype(np.int32)
    tail = np.arange(split, dtype=np.int32) >= np.repeat(tail_starts, chunk_counts)
    file_key = np.concatenate((key[split:], key[:split][tail]))
    del tail
    file_docs = np.concatenate((
        np.repeat(np.arange(len(file_texts), dtype=np.int64), counts[n:]),
        np.repeat(np.asarray(chunk_files, np.int64), tails),  # the tails, chunk by chunk
    ))  # fmt: skip
    files = _postings_of(table, file_key, file_docs, len(file_texts))
    del file_key, file_docs
    chunk_docs = np.repeat(np.arange(n, dtype=np.int64), chunk_counts)
    return _postings_of(table, key[:split], chunk_docs, n), files


def _tokens(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The whitespace-split tokens of `texts`: the sorted table of their distinct terms,
    each token's row in it (-1: dropped, empty or too long), and the tokens of each text.

    Arrow splits and dictionary-encodes the tokens in C++ (an index run has pyarrow loaded
    for the tables anyway; search never builds postings): the Python work is per distinct
    term, never per token.
    """
    import pyarrow as pa  # index time only (see above)
    import pyarrow.compute as pc

    # `codemem.code.text` joins the tokens with single spaces: splitting on " " (twice as
    # fast as on any whitespace) gives the same tokens, and "" where spaces meet (dropped).
    # From malloc, not Arrow's default pool (mimalloc), which keeps what it frees: the
    # writer hands the C heap's free pages back after each batch (`trim_heap`).
    pool = pa.system_memory_pool()
    # 32-bit offsets (a tenth faster to split and encode) whenever the texts surely fit them:
    # at most 4 UTF-8 bytes a character.
    small = sum(map(len, texts)) < SMALL_TEXTS_CHARS
    lists = pc.split_pattern(
        pa.array(texts, pa.string() if small else pa.large_string(), memory_pool=pool),
        " ",
        memory_pool=pool,
    )
    counts = np.diff(np.asarray(lists.offsets))
    encoded = pc.dictionary_encode(lists.flatten(), memory_pool=pool)
    del lists
    terms = encoded.dictionary.cast(
        pa.large_binary(), memory_pool=pool
    ).to_pylist()  # distinct, first seen order
    if not terms:
        return np.zeros(0, "S1"), np.zeros(0, np.int64), counts
    sizes = np.fromiter(map(len, terms), np.int64, len(terms))
    keep = (sizes > 0) & (sizes <= MAX_TOKEN_BYTES)
    width = int(sizes[keep].max()) if keep.any() else 1
    table = np.array(
        [t if k else b"" for t, k in zip(terms, keep.tolist(), strict=True)], f"S{width}"
    )
    del terms
    order = np.argsort(table, kind="stable")
    rank = np.empty(len(order), np.int64)
    rank[order] = np.arange(len(order))
    rank[~keep] = -1
    # One int64 per token: a batch's tokens are its largest array.
    return table[order], rank[np.asarray(encoded.indices)], counts


def _postings_of(table: np.ndarray, key: np.ndarray, docs: np.ndarray, documents: int) -> Postings:
    """Postings from each token's row in `table` (`key`, -1: dropped; overwritten) and its
    document."""
    kept = key >= 0
    if not kept.all():
        key, docs = key[kept], docs[kept]
    del kept
    lengths = np.bincount(docs, minlength=documents).astype(np.uint32)
    key <<= 32
    key |= docs
    del docs
    key.sort()  # each token once: a (term, document) run is its tf
    if not len(key):
        return Postings.empty(documents)
    firsts = np.flatnonzero(np.concatenate(([True], key[1:] != key[:-1])))
    tf = np.diff(np.append(firsts, len(key)))
    return _postings(table, key[firsts], tf, lengths)


def _postings(
    table: np.ndarray, pairs: np.ndarray, tf: np.ndarray, lengths: np.ndarray
) -> Postings:
    """Postings from sorted (term << 32 | document) pairs, dropping terms no document holds
    (the terms' width is the longest kept one's)."""
    term_of = pairs >> 32
    df = np.bincount(term_of, minlength=len(table))
    present = df > 0
    starts = np.concatenate(([0], np.cumsum(df[present])))
    terms = table[present]
    terms = terms.astype(f"S{max(1, int(np.char.str_len(terms).max()))}")
    return Postings(terms, starts, (pairs & 0xFFFFFFFF).astype(np.uint32),
                    tf.astype(np.uint32), lengths)  # fmt: skip


class RawStrings:
    """A string column copied from segments as byte ranges of theirs, never decoded (what a
    merge writes instead of a list of `str`)."""

    def __init__(self) -> None:
        self.parts: list[memoryview] = []
        self.offsets: list[np.ndarray] = [np.zeros(1, np.int64)]
        self.size = 0  # bytes so far
        self.count = 0

    def __len__(self) -> int:
        return self.count

    def extend(self, seg: Any, column: str, runs: Iterable[tuple[int, int]]) -> None:
        """Append the strings of rows a:b of `column` of the segment `seg` for each (a, b)."""
        blob, offsets = seg.cols.bytes(column), seg.array(f"{column}_offsets")
        for a, b in runs:
            if a == b:
                continue
            low, high = int(offsets[a]), int(offsets[b])
            self.parts.append(blob[low:high])
            self.offsets.append(offsets[a + 1 : b + 1] - low + self.size)
            self.size += high - low
            self.count += b - a

    def columns(self, name: str) -> dict[str, Column]:
        return {name: ("B", self.parts), f"{name}_offsets": ("q", np.concatenate(self.offsets))}

    def encoded(self) -> list[bytes]:
        """Each string's UTF-8 bytes."""
        return b"".join(self.parts).split(b"\0")[:-1]


@dataclass
class SegmentData:
    """The rows and postings of one segment, before they are written."""

    paths: list[str]
    languages: list[str]
    tests: list[bool]
    covers: np.ndarray  # uint64 hashes of the paths whose older rows this segment replaces
    chunks: dict[str, Any]  # path (int array), id, start, end, kind, symbol, symbol_kind, null
    symbols: dict[str, Any]  # path (int array), name, qualname, kind, start, end, signature, ...
    chunk_postings: Postings
    file_postings: Postings

    def write(self, path: Path) -> None:
        write_columns(path, {"kind": SEGMENT_KIND, "format": SEGMENT_FORMAT}, self._columns())

    def _columns(self) -> dict[str, Column]:
        from codemem.code.columns import string_columns

        codes: dict[str, int] = {}

        def coded(values: Sequence[str | None]) -> np.ndarray:
            # Codes in the order values are first seen; the rows looked up in C, not in a loop.
            own = {v: codes.setdefault(v or "", len(codes)) for v in dict.fromkeys(values)}
            return np.fromiter(map(own.__getitem__, values), np.uint32, len(values))

        def strings(name: str, values: Sequence[str | None] | RawStrings) -> dict[str, Column]:
            if isinstance(values, RawStrings):
                return values.columns(name)
            blob, offsets = string_columns(_without_nul(values))
            return {name: blob, f"{name}_offsets": offsets}

        c, s = self.chunks, self.symbols
        path_hashes = hashes(self.paths)
        order = np.argsort(path_hashes, kind="stable")
        cols: dict[str, Column] = {
            **strings("paths", self.paths),
            "p_hash": ("Q", path_hashes),
            "p_sorted": ("Q", path_hashes[order]),
            "p_order": ("I", order.astype(np.uint32)),
            "covers": ("Q", _distinct(self.covers.astype(np.uint64))),
            "p_language": ("I", coded(self.languages)),
            "p_test": ("B", np.array(self.tests, np.uint8)),
            "p_chunks": ("q", _offsets(c["path"], len(self.paths))),
            "p_symbols": ("q", _offsets(s["path"], len(self.paths))),
            "p_chunk_tokens": (
                "q",
                np.bincount(
                    c["path"], weights=self.chunk_postings.lengths, minlength=len(self.paths)
                ).astype(np.int64),
            ),  # fmt: skip
            **strings("c_id", c["id"]),
            **strings("c_symbol", c["symbol"]),
            "c_path": ("I", c["path"].astype(np.uint32)),
            "c_start": ("i", np.asarray(c["start"], np.int32)),
            "c_end": ("i", np.asarray(c["end"], np.int32)),
            "c_kind": ("I", coded(c["kind"])),
            "c_symbol_kind": ("I", coded(c["symbol_kind"])),
            "c_null": ("B", np.asarray(c["null"], np.uint8)),
            **self.chunk_postings.columns("cp"),
            **self.file_postings.columns("fp"),
            **strings("s_name", s["name"]),
            **strings("s_qualname", s["qualname"]),
            **strings("s_signature", s["signature"]),
            **strings("s_docstring", s["docstring"]),
            **strings("s_parent", s["parent"]),
            "s_path": ("I", s["path"].astype(np.uint32)),
            "s_kind": ("I", coded(s["kind"])),
            "s_start": ("i", np.asarray(s["start"], np.int32)),
            "s_end": ("i", np.asarray(s["end"], np.int32)),
            "s_null": ("B", np.asarray(s["null"], np.uint8)),
        }
        names = s["name"]
        encoded = names.encoded() if isinstance(names, RawStrings) else [
            n.encode("utf-8", "surrogateescape") for n in names]  # fmt: skip
        cut = [n[:NAME_KEY_BYTES] for n in encoded]
        del encoded
        width = max([len(n) for n in cut] or [1])
        keys = np.array(cut, f"S{max(width, 1)}")
        by_name = np.argsort(keys, kind="stable")
        cols["sn_keys"] = ("B", keys[by_name].tobytes())
        cols["sn_rows"] = ("I", by_name.astype(np.uint32))
        cols.update(strings("codes", list(codes)))  # in code order: insertion order
        return cols


def _without_nul(values: Sequence[str | None]) -> list[str]:
    """`values` with None as "" and NUL characters (which end a stored string) left out."""
    texts = [v or "" for v in values]
    if "\0" in "".join(texts):
        return [t.replace("\0", "") for t in texts]
    return texts


def _distinct(values: np.ndarray) -> np.ndarray:
    """`np.unique(values)` of a 1-d integer array, without the `numpy.ma` import (20 ms, a
    fifth of a small repository's lexicon build) that `np.unique` makes to rule out a
    masked array."""
    ordered = np.sort(values)
    if len(ordered) < 2:
        return ordered
    return ordered[np.concatenate(([True], ordered[1:] != ordered[:-1]))]


def _offsets(row_paths: np.ndarray, paths: int) -> np.ndarray:
    """Where each path's rows start (rows are grouped by path, in path order)."""
    return np.concatenate(([0], np.cumsum(np.bincount(row_paths, minlength=paths)))).astype(
        np.int64
    )


def _null_flags(*columns: tuple[Sequence[Any], int]) -> np.ndarray:
    size = len(columns[0][0]) if columns else 0
    flags = np.zeros(size, np.uint8)
    for values, bit in columns:
        flags[np.fromiter(map(operator.is_, values, repeat(None)), bool, size)] |= bit
    return flags


def _grouping(row_paths: np.ndarray) -> np.ndarray | None:
    """The order that groups rows by file (stable), or None when they already are."""
    if not (row_paths[1:] < row_paths[:-1]).any():
        return None
    return np.argsort(row_paths, kind="stable")


def from_batch(batch: Batch, removed: Iterable[str] = ()) -> SegmentData:
    """The segment of one batch's rows; `removed`: files whose older rows go, with no new ones."""
    files, chunks, symbols = batch.files, batch.chunks, batch.symbols
    paths: list[str] = list(files.get("path", []))
    index = {path: i for i, path in enumerate(paths)}
    c_path = np.array([index[p] for p in chunks.get("path", [])], np.int64)
    s_path = np.array([index[p] for p in symbols.get("path", [])], np.int64)
    c_order, s_order = _grouping(c_path), _grouping(s_path)
    if c_order is not None:
        c_path = c_path[c_order]
    if s_order is not None:
        s_path = s_path[s_order]

    def pick(columns: dict[str, list[Any]], name: str, order: np.ndarray | None) -> list[Any]:
        values = columns.get(name, [])
        return values if order is None else [values[i] for i in order.tolist()]

    chunk_symbol, chunk_symbol_kind = (
        pick(chunks, "symbol", c_order),
        pick(chunks, "symbol_kind", c_order),
    )
    parent, docstring, signature = (
        pick(symbols, n, s_order) for n in ("parent", "docstring", "signature")
    )
    chunk_postings, file_postings = build_chunk_and_file_postings(
        pick(chunks, "search", c_order),
        c_path,
        np.array(pick(chunks, "file_tokens", c_order), np.int64),
        files.get("search", []),
    )
    return SegmentData(
        paths=paths,
        languages=list(files.get("language", [])),
        tests=[bool(t) for t in files.get("is_test", [])],
        covers=hashes(chain(paths, removed)),
        chunks={
            "path": c_path, "id": pick(chunks, "id", c_order),
            "start": pick(chunks, "start_line", c_order), "end": pick(chunks, "end_line", c_order),
            "kind": pick(chunks, "kind", c_order), "symbol": chunk_symbol,
            "symbol_kind": chunk_symbol_kind,
            "null": _null_flags((chunk_symbol, NULL_SYMBOL), (chunk_symbol_kind, NULL_SYMBOL_KIND)),
        },
        symbols={
            "path": s_path, "name": pick(symbols, "name", s_order),
            "qualname": pick(symbols, "qualname", s_order), "kind": pick(symbols, "kind", s_order),
            "start": pick(symbols, "start_line", s_order), "end": pick(symbols, "end_line", s_order),
            "signature": signature, "docstring": docstring, "parent": parent,
            "null": _null_flags((parent, NULL_PARENT), (docstring, NULL_DOCSTRING), (signature, NULL_SIGNATURE)),
        },
        chunk_postings=chunk_postings,
        file_postings=file_postings,
    )  # fmt: skip
