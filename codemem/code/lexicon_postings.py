"""The BM25 postings of an index batch's search texts (what `codemem.code.lexicon_build` puts
in a segment), built with Arrow and numpy: the only Python loops run over a batch's distinct
terms, never over its tokens.

The texts are tokenized on single spaces (`codemem.code.text` joins the tokens so): Arrow
dictionary-encodes the tokens straight over the texts' bytes, and the chunks' tokens are sorted
once; the files' postings come from the same sort.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Union

import numpy as np

from codemem.code.columns import Column

if TYPE_CHECKING:
    import pyarrow as pa

# LanceDB's full-text tokenizer drops tokens longer than this (bytes); so do the segments.
MAX_TOKEN_BYTES = 40
SMALL_TEXTS_CHARS = 1 << 29  # texts this long in all fit 32-bit Arrow offsets (2 GB)
# Texts to tokenize: `str`s, or an Arrow string array (how a batch's texts may come).
Texts = Union[Sequence[str], "pa.Array", "pa.ChunkedArray"]


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
    chunk_texts: Texts,
    chunk_files: np.ndarray,
    chunk_tails: np.ndarray,
    file_texts: Texts,
) -> tuple[Postings, Postings]:
    """The BM25 postings of whitespace-tokenized texts: of the chunks (document j is
    chunk_texts[j]) and of the files (document i is file_texts[i] followed by the last
    chunk_tails[j] tokens of each chunk j of that file: chunk_files[j] == i).

    A file's text repeats its chunks' bodies (`codemem.code.extract.rows_for`): counted
    from the chunks' tokens, it is neither sent by the workers nor split again.

    The chunks' tokens are sorted once, by term, chunk and whether the token is in the
    chunk's tail: a run of equal keys is a chunk's occurrences of a term in or out of its
    tail. The tail runs, their chunks mapped to files (in the same order), give the files'
    postings, so the tails' tokens are never copied or sorted again.
    """
    n, documents = len(chunk_texts), len(file_texts)
    table, rank, indices, counts = _tokens(_concatenated(chunk_texts, file_texts))
    dropped = np.uint64(len(table))  # the rank of a dropped term: its tokens sort last
    ranks = rank.astype(np.uint64)
    chunk_counts, own_counts = counts[:n], counts[n:]
    split = int(chunk_counts.sum())
    tails = np.asarray(chunk_tails, np.int64)
    chunk_files = np.asarray(chunk_files, np.int64)

    # term << 33 | chunk << 1 | in the tail: a chunk is two spans, its head's tokens then its
    # tail's (uint64: a batch has fewer than 2**31 terms and 2**32 chunks).
    marks = np.empty(2 * n, np.uint64)
    marks[0::2] = np.arange(n, dtype=np.uint64) << np.uint64(1)
    marks[1::2] = marks[0::2] | np.uint64(1)
    spans = np.empty(2 * n, np.int64)
    spans[0::2], spans[1::2] = chunk_counts - tails, tails
    key = (ranks << np.uint64(33))[indices[:split]]
    key |= np.repeat(marks, spans)
    del marks, spans
    key.sort()
    cut = int(np.searchsorted(key, dropped << np.uint64(33)))
    lost_chunks = ((key[cut:] >> np.uint64(1)) & np.uint64(0xFFFFFFFF)).astype(np.int64)
    lost_tails = lost_chunks[(key[cut:] & np.uint64(1)).astype(bool)]
    runs, sizes = _tally(key[:cut])  # (term, chunk, in tail), and how many tokens
    del key
    pairs = runs >> np.uint64(1)  # term << 32 | chunk
    in_tail = (runs & np.uint64(1)).astype(bool)
    del runs
    chunk_pairs, chunk_tf = _tally(pairs, sizes)
    chunk_lengths = chunk_counts - np.bincount(lost_chunks, minlength=n)
    chunk_postings = _postings(table, chunk_pairs, chunk_tf, chunk_lengths)
    del chunk_pairs, chunk_tf

    # The files: their tails' runs, each chunk replaced by its file, and their own texts.
    pairs, sizes = pairs[in_tail], sizes[in_tail]
    del in_tail
    file_of = chunk_files[(pairs & np.uint64(0xFFFFFFFF)).astype(np.intp)].astype(np.uint64)
    pairs >>= np.uint64(32)
    pairs <<= np.uint64(32)
    pairs |= file_of
    del file_of
    if (chunk_files[1:] < chunk_files[:-1]).any():  # chunks not grouped by file
        order = np.argsort(pairs, kind="stable")
        pairs, sizes = pairs[order], sizes[order]
    file_pairs, file_tf = _tally(pairs, sizes)
    del pairs, sizes
    own = (ranks << np.uint64(32))[indices[split:]]
    own |= np.repeat(np.arange(documents, dtype=np.uint64), own_counts)
    own.sort()
    own_cut = int(np.searchsorted(own, dropped << np.uint64(32)))
    own_lost = (own[own_cut:] & np.uint64(0xFFFFFFFF)).astype(np.int64)
    own_pairs, own_tf = _tally(own[:own_cut])
    at = np.searchsorted(file_pairs, own_pairs)
    file_pairs, file_tf = _tally(
        np.insert(file_pairs, at, own_pairs), np.insert(file_tf, at, own_tf)
    )
    tailed = tails > 0  # (a chunk with no tail may name no file: no `file_texts` given)
    file_lengths = np.bincount(chunk_files[tailed], tails[tailed], documents).astype(np.int64)
    file_lengths -= np.bincount(chunk_files[lost_tails], minlength=len(file_lengths))
    file_lengths[:documents] += own_counts - np.bincount(own_lost, minlength=documents)
    return chunk_postings, _postings(table, file_pairs, file_tf, file_lengths)


def distinct(values: np.ndarray) -> np.ndarray:
    """`np.unique(values)` of a 1-d integer array, without the `numpy.ma` import (20 ms: a
    fifth of a small repository's lexicon build, or of a search that ranks used files) that
    `np.unique` makes to rule out a masked array."""
    return _tally(np.sort(values))[0]


def distinct_indexed(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(distinct values ascending, where each first occurs, each value's distinct index) of a
    1-d integer array: `np.unique(values, return_index=True, return_inverse=True)` without the
    `numpy.ma` import (see `distinct`, which a caller wanting only the values sorts less for)."""
    order = np.argsort(values)
    ordered = values[order]
    new = np.empty(len(values), dtype=bool)
    new[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=new[1:])
    values_once = ordered[new]
    del ordered
    # The earliest of equal values, whatever order the sort left them in.
    first = np.minimum.reduceat(order, np.flatnonzero(new)) if len(order) else order
    inverse = np.empty(len(values), dtype=np.int32)
    inverse[order] = np.cumsum(new, dtype=np.int32) - 1
    return values_once, first, inverse


def _tally(keys: np.ndarray, sizes: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The distinct values of the sorted `keys` and how many times each occurs (or, given
    `sizes`, the sum of the sizes of its occurrences)."""
    if not len(keys):
        return keys, np.zeros(0, np.int64)
    new = np.empty(len(keys), bool)
    new[0] = True
    np.not_equal(keys[1:], keys[:-1], out=new[1:])
    firsts = np.flatnonzero(new)
    del new
    if sizes is None:
        return keys[firsts], np.diff(firsts, append=len(keys))
    return keys[firsts], np.add.reduceat(sizes, firsts)


def _tokens(texts: Texts) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The tokens of `texts` split on " ": the sorted table of their distinct terms (empty
    and too long ones dropped), each distinct token's row in it (len(table): dropped), each
    token's distinct token, and the tokens of each text.

    `texts` is a list of `str` or an Arrow string array. Arrow dictionary-encodes the tokens
    in C++ (an index run has pyarrow loaded for the tables anyway; search never builds
    postings): the Python work is per distinct term, never per token.
    """
    import pyarrow as pa  # index time only (see above)
    import pyarrow.compute as pc

    # From malloc, not Arrow's default pool (mimalloc), which keeps what it frees: the
    # writer hands the C heap's free pages back after each batch (`trim_heap`).
    pool = pa.system_memory_pool()
    # Each text followed by a space: then every token, the last of a text too, ends at a
    # space, and the tokens are the values of one binary array over those bytes whose
    # offsets are the spaces' positions (found by numpy), with nothing copied or split.
    arrow = _arrow_texts(texts, pool)
    space, nothing = pa.scalar(" ", arrow.type), pa.scalar("", arrow.type)
    spaced = pc.binary_join_element_wise(arrow, space, nothing, memory_pool=pool)
    offset_type = np.int32 if pa.types.is_string(spaced.type) else np.int64
    text_offsets = np.frombuffer(spaced.buffers()[1], offset_type, len(spaced) + 1)
    data = spaced.buffers()[2]
    size = int(text_offsets[-1])
    ends = (
        np.flatnonzero(np.frombuffer(data, np.uint8, size) == 32) if size else np.zeros(0, np.int64)
    )
    counts = np.diff(np.searchsorted(ends, text_offsets))
    token_offsets = np.empty(len(ends) + 1, offset_type)
    token_offsets[0] = 0
    np.add(ends, 1, out=token_offsets[1:], casting="unsafe")
    binary = pa.binary() if offset_type is np.int32 else pa.large_binary()
    tokens = pa.Array.from_buffers(binary, len(ends), [None, pa.py_buffer(token_offsets), data])
    encoded = pc.dictionary_encode(tokens, memory_pool=pool)
    del tokens, token_offsets, ends, spaced
    table, rank = _term_table(encoded.dictionary, offset_type)
    return table, rank, np.asarray(encoded.indices), counts


def _concatenated(first: Texts, second: Texts) -> Texts:
    """`first`'s texts, then `second`'s (in one Arrow array if either is one)."""
    import pyarrow as pa  # index time only (see `_tokens`)

    arrow = (pa.Array, pa.ChunkedArray)
    if not isinstance(first, arrow) and not isinstance(second, arrow):
        return [*first, *second]
    pool = pa.system_memory_pool()
    # A chunked array's chunks go in as they are: its texts are copied once, here.
    arrays: list[Any] = [
        _arrow_texts(part, pool)
        for texts in (first, second)
        for part in (texts.chunks if isinstance(texts, pa.ChunkedArray) else [texts])
    ]
    size = sum(a.nbytes + len(a) for a in arrays)
    if len({a.type for a in arrays}) > 1 or size >= SMALL_TEXTS_CHARS:
        arrays = [a.cast(pa.large_string(), memory_pool=pool) for a in arrays]
    return pa.concat_arrays(arrays, memory_pool=pool)


def _arrow_texts(texts: Texts, pool: Any) -> Any:
    """`texts` as an Arrow string array whose bytes, with a space after each text, fit its
    offsets (32-bit whenever they surely do: a tenth faster)."""
    import pyarrow as pa  # index time only (see `_tokens`)

    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks(memory_pool=pool)
    if isinstance(texts, pa.Array):
        if pa.types.is_string(texts.type) and texts.nbytes + len(texts) >= SMALL_TEXTS_CHARS:
            return texts.cast(pa.large_string(), memory_pool=pool)
        return texts
    # At most 4 UTF-8 bytes a character, and one space a text.
    small = sum(map(len, texts)) + len(texts) < SMALL_TEXTS_CHARS
    return pa.array(texts, pa.string() if small else pa.large_string(), memory_pool=pool)


def _term_table(dictionary: Any, offset_type: type) -> tuple[np.ndarray, np.ndarray]:
    """The sorted fixed-width table of the distinct tokens (each followed by its space in
    `dictionary`) but empty ones and those longer than MAX_TOKEN_BYTES, and each distinct
    token's row in it (len(table) for a dropped one)."""
    offsets: np.ndarray = np.frombuffer(dictionary.buffers()[1], offset_type, len(dictionary) + 1)
    offsets = offsets.astype(np.int64)
    sizes = np.diff(offsets) - 1  # without the space
    kept = np.flatnonzero((sizes > 0) & (sizes <= MAX_TOKEN_BYTES))
    data = np.frombuffer(dictionary.buffers()[2], np.uint8, int(offsets[-1]))
    table = fixed_width(data, offsets[kept], sizes[kept])
    order = np.argsort(table, kind="stable")
    rank = np.full(len(dictionary), len(kept), np.int64)
    rank[kept[order]] = np.arange(len(kept))
    return table[order], rank


def _postings(
    table: np.ndarray, pairs: np.ndarray, tf: np.ndarray, lengths: np.ndarray
) -> Postings:
    """Postings from sorted (term << 32 | document) pairs, dropping terms no document holds
    (the terms' width is the longest kept one's)."""
    if not len(pairs):
        return Postings.empty(len(lengths))
    pairs = pairs.view(np.int64)  # from uint64: a term is below 2**31
    term_of = pairs >> 32
    df = np.bincount(term_of, minlength=len(table))
    present = df > 0
    starts = np.concatenate(([0], np.cumsum(df[present])))
    terms = table[present]
    # As wide as the longest kept term: the last byte column any of them uses (`np.char`'s
    # lengths would import numpy.char for this one line).
    used = np.flatnonzero(terms.view(np.uint8).reshape(len(terms), -1).any(axis=0))
    terms = terms.astype(f"S{int(used[-1]) + 1 if len(used) else 1}")
    return Postings(terms, starts, (pairs & 0xFFFFFFFF).astype(np.uint32),
                    tf.astype(np.uint32), lengths.astype(np.uint32))  # fmt: skip


def fixed_width(data: np.ndarray, starts: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """The byte strings data[starts[i]:starts[i] + sizes[i]] in a fixed-width array, as wide
    as the longest (at least 1): each row copied whole from a sliding window over `data`,
    then the bytes past its size cleared."""
    width = max(int(sizes.max()) if len(sizes) else 1, 1)
    padded = np.zeros(len(data) + width, np.uint8)  # every window is whole
    padded[: len(data)] = data
    rows: np.ndarray = np.lib.stride_tricks.sliding_window_view(padded, width)[starts]
    rows *= np.arange(width) < sizes[:, None]
    return rows.view(f"S{width}").ravel()
