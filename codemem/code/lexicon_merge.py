"""Merging adjacent lexicon segments into one, dropping the rows newer segments replaced.

Only the newest segments of one size tier are merged (`codemem.code.lexicon_writer`): adjacent, so the
merged segment takes their place in the order and covers what they covered.

A merge runs in the index process beside the parse workers, so it holds little: strings are
copied as byte ranges of the mapped segments (never decoded), and the postings are placed
straight into the merged arrays, a segment at a time. A term's postings in a segment are
sorted by document and every document of a segment comes after those of the older ones, so
laying each term's postings out segment after segment is already the merged order: no sort,
and nothing per posting but the merged documents and term frequencies themselves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from codemem.code.lexicon_build import CodedStrings, RawStrings, SegmentData
from codemem.code.lexicon_postings import Postings

if TYPE_CHECKING:
    from codemem.code.lexicon import Segment

_CHUNK_STRINGS = {"id": "c_id", "symbol": "c_symbol"}
_SYMBOL_STRINGS = {n: f"s_{n}" for n in ("name", "qualname", "signature", "docstring", "parent")}


def merge_segments(segments: list[Segment]) -> SegmentData:
    """One segment holding the live rows of `segments` (oldest first)."""
    languages = CodedStrings()
    merged = SegmentData(
        paths=[], languages=languages, tests=[],
        covers=np.concatenate([seg.array("covers") for seg in segments]),
        chunks={"path": [], "start": [], "end": [], "null": [],
                "kind": CodedStrings(), "symbol_kind": CodedStrings()},
        symbols={"path": [], "start": [], "end": [], "null": [], "kind": CodedStrings()},
        chunk_postings=Postings.empty(), file_postings=Postings.empty(),
    )  # fmt: skip
    merged.chunks.update({key: RawStrings() for key in _CHUNK_STRINGS})
    merged.symbols.update({key: RawStrings() for key in _SYMBOL_STRINGS})
    chunk_live: list[np.ndarray] = []
    file_live: list[np.ndarray] = []
    for seg in segments:
        codes = seg.strings("codes").tolist()
        live_paths = ~seg.dead
        live = np.flatnonzero(live_paths)
        path_map = np.full(len(seg.paths), -1, np.int64)
        path_map[live] = len(merged.paths) + np.arange(len(live))
        merged.paths += [seg.paths[i] for i in live.tolist()]
        languages.extend(codes, seg.array("p_language")[live])
        merged.tests += [bool(t) for t in seg.array("p_test")[live].tolist()]
        c_live = live_paths[seg.array("c_path")]
        _rows(merged.chunks, seg, "c", c_live, path_map, codes, _CHUNK_STRINGS, "symbol_kind")
        s_live = live_paths[seg.array("s_path")]
        _rows(merged.symbols, seg, "s", s_live, path_map, codes, _SYMBOL_STRINGS, None)
        chunk_live.append(c_live)
        file_live.append(live_paths)
        seg.cols.release()  # its pages stay in the page cache, out of this process
    for key in ("path", "start", "end", "null"):
        merged.chunks[key] = (
            np.concatenate(merged.chunks[key]) if merged.chunks[key] else np.zeros(0, np.int64)
        )
        merged.symbols[key] = (
            np.concatenate(merged.symbols[key]) if merged.symbols[key] else np.zeros(0, np.int64)
        )
    merged.chunk_postings = _merge_postings(segments, "cp", chunk_live)
    merged.file_postings = _merge_postings(segments, "fp", file_live)
    return merged


def _runs(live: np.ndarray, bounds: np.ndarray) -> list[tuple[int, int]]:
    """The row ranges of the live groups: group i is rows bounds[i]:bounds[i + 1]; adjacent live
    groups make one range."""
    if live.all():
        return [(int(bounds[0]), int(bounds[-1]))] if len(bounds) else []
    edges = np.diff(np.concatenate(([0], live.astype(np.int8), [0])))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return list(zip(bounds[starts].tolist(), bounds[ends].tolist(), strict=True))


def _rows(out: dict[str, Any], seg: Segment, prefix: str, live: np.ndarray, path_map: np.ndarray,
          codes: list[str], strings: dict[str, str], second_kind: str | None) -> None:  # fmt: skip
    """Append one segment's live chunk or symbol rows to `out`."""
    rows = np.flatnonzero(live)
    out["path"].append(path_map[seg.array(f"{prefix}_path")[rows]])
    out["start"].append(seg.array(f"{prefix}_start")[rows].astype(np.int64))
    out["end"].append(seg.array(f"{prefix}_end")[rows].astype(np.int64))
    out["null"].append(seg.array(f"{prefix}_null")[rows].astype(np.uint8))
    out["kind"].extend(codes, seg.array(f"{prefix}_kind")[rows])
    if second_kind:
        out[second_kind].extend(codes, seg.array(f"{prefix}_symbol_kind")[rows])
    # Rows are grouped by path: the live ones are a few ranges (one when nothing died).
    groups = seg.array("p_chunks" if prefix == "c" else "p_symbols")
    runs = _runs(~seg.dead, groups)
    for key, column in strings.items():
        out[key].extend(seg, column, runs)


def _sorted_union(tables: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
    """The distinct terms of sorted term tables, sorted, and each table's terms' rows in it.

    Their concatenation is a few sorted runs, which a stable sort (timsort) merges; `np.unique`
    would hash every term first (ten times slower on fixed-width byte strings), and looking
    each table's terms up again would cost a binary search per term.
    """
    terms = np.concatenate(tables)
    order = np.argsort(terms, kind="stable")
    terms = terms[order]
    first = np.empty(len(terms), bool)
    first[:1] = True
    np.not_equal(terms[1:], terms[:-1], out=first[1:])
    rows = np.empty(len(terms), np.int64)
    rows[order] = np.cumsum(first) - 1
    return terms[first], np.split(rows, np.cumsum([len(t) for t in tables])[:-1])


def _merge_postings(segments: list[Segment], prefix: str, lives: list[np.ndarray]) -> Postings:
    """The postings of the live documents of `segments`, renumbered in order (lives[i]: which
    documents of segments[i] stay)."""
    lengths = np.concatenate(
        [seg.array(f"{prefix}_lengths")[live] for seg, live in zip(segments, lives, strict=True)]
    )
    tables = [seg.terms(prefix) for seg in segments]
    if not any(len(t) for t in tables):
        return Postings.empty(len(lengths))
    table, ids = _sorted_union(tables)  # each segment's terms' rows in the merged table
    del tables
    counts = []  # how many live postings each segment's terms have
    df = np.zeros(len(table), np.int64)
    for seg, seg_ids, live in zip(segments, ids, lives, strict=True):
        starts = seg.array(f"{prefix}_starts")
        if live.all():
            seg_counts = np.diff(starts)
        else:
            kept = np.concatenate(([0], np.cumsum(live[seg.array(f"{prefix}_docs")])))
            seg_counts = kept[starts[1:]] - kept[starts[:-1]]
        df[seg_ids] += seg_counts  # a segment's terms are distinct
        counts.append(seg_counts)
    present = df > 0  # terms only dead documents held go
    renumber = np.cumsum(present) - 1
    starts = np.concatenate(([0], np.cumsum(df[present])))
    docs = np.empty(int(starts[-1]), np.uint32)
    tfs = np.empty(int(starts[-1]), np.uint32)
    cursor = starts[:-1].copy()  # where each merged term's next postings go
    base = 0
    for seg, live, seg_ids, seg_counts in zip(segments, lives, ids, counts, strict=True):
        seg_docs, seg_tfs = seg.array(f"{prefix}_docs"), seg.array(f"{prefix}_tfs")
        doc_map = np.cumsum(live, dtype=np.int64) - 1 + base
        if not live.all():
            keep = live[seg_docs]
            seg_docs, seg_tfs = seg_docs[keep], seg_tfs[keep]
        slots = cursor[renumber[seg_ids]]
        first = np.concatenate(([0], np.cumsum(seg_counts)[:-1]))
        to = np.repeat(slots - first, seg_counts) + np.arange(len(seg_docs))
        docs[to] = doc_map[seg_docs]
        tfs[to] = seg_tfs
        held = seg_counts > 0  # a term with no live posting here may share a merged id
        cursor[renumber[seg_ids[held]]] += seg_counts[held]
        base += int(live.sum())
        seg.cols.release()
    return Postings(table[present], starts, docs, tfs, lengths)
