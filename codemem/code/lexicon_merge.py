"""Merging adjacent lexicon segments into one, dropping the rows newer segments replaced.

Only the newest segments of one size tier are merged (`codemem.code.lexicon_writer`): adjacent, so the
merged segment takes their place in the order and covers what they covered.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from codemem.code.lexicon_build import Postings, SegmentData, _from_pairs

if TYPE_CHECKING:
    from codemem.code.lexicon import Segment

_CHUNK_STRINGS = {"id": "c_id", "symbol": "c_symbol"}
_SYMBOL_STRINGS = {n: f"s_{n}" for n in ("name", "qualname", "signature", "docstring", "parent")}


def merge_segments(segments: list[Segment]) -> SegmentData:
    """One segment holding the live rows of `segments` (oldest first)."""
    merged = SegmentData(
        paths=[], languages=[], tests=[],
        covers=np.concatenate([seg.array("covers") for seg in segments]),
        chunks={k: [] for k in ("path", "id", "start", "end", "kind", "symbol", "symbol_kind", "null")},
        symbols={k: [] for k in ("path", "name", "qualname", "kind", "start", "end", "signature",
                                 "docstring", "parent", "null")},
        chunk_postings=Postings.empty(), file_postings=Postings.empty(),
    )  # fmt: skip
    chunk_parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
    file_parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
    chunk_base = 0
    for seg in segments:
        codes = seg.strings("codes").tolist()
        live = np.flatnonzero(~seg.dead)
        path_map = np.full(len(seg.paths), -1, np.int64)
        path_map[live] = len(merged.paths) + np.arange(len(live))
        path_base = len(merged.paths)
        merged.paths += [seg.paths[i] for i in live.tolist()]
        merged.languages += [codes[c] for c in seg.array("p_language")[live].tolist()]
        merged.tests += [bool(t) for t in seg.array("p_test")[live].tolist()]
        c_live = ~seg.dead[seg.array("c_path")]
        _rows(merged.chunks, seg, "c", c_live, path_map, codes, _CHUNK_STRINGS, "symbol_kind")
        s_live = ~seg.dead[seg.array("s_path")]
        _rows(merged.symbols, seg, "s", s_live, path_map, codes, _SYMBOL_STRINGS, None)
        doc_map = np.cumsum(c_live) - 1 + chunk_base
        chunk_parts.append(_pairs(seg, "cp", c_live, doc_map))
        file_map = np.cumsum(~seg.dead) - 1 + path_base
        file_parts.append(_pairs(seg, "fp", ~seg.dead, file_map))
        chunk_base += int(c_live.sum())
        seg.cols.release()  # its pages stay in the page cache, out of this process
    for key in ("path", "start", "end", "null"):
        merged.chunks[key] = np.concatenate(merged.chunks[key]) if merged.chunks[key] else np.zeros(0, np.int64)
        merged.symbols[key] = np.concatenate(merged.symbols[key]) if merged.symbols[key] else np.zeros(0, np.int64)
    merged.chunk_postings = _union(chunk_parts, chunk_base)
    merged.file_postings = _union(file_parts, len(merged.paths))
    return merged


def _rows(out: dict[str, Any], seg: Segment, prefix: str, live: np.ndarray, path_map: np.ndarray,
          codes: list[str], strings: dict[str, str], second_kind: str | None) -> None:  # fmt: skip
    """Append one segment's live chunk or symbol rows to `out`."""
    rows = np.flatnonzero(live)
    out["path"].append(path_map[seg.array(f"{prefix}_path")[rows]])
    out["start"].append(seg.array(f"{prefix}_start")[rows].astype(np.int64))
    out["end"].append(seg.array(f"{prefix}_end")[rows].astype(np.int64))
    out["null"].append(seg.array(f"{prefix}_null")[rows].astype(np.uint8))
    out["kind"] += [codes[c] for c in seg.array(f"{prefix}_kind")[rows].tolist()]
    if second_kind:
        out[second_kind] += [codes[c] for c in seg.array(f"{prefix}_symbol_kind")[rows].tolist()]
    whole = bool(live.all())
    picked = rows.tolist()
    for key, column in strings.items():
        values = seg.strings(column).tolist()
        out[key] += values if whole else [values[i] for i in picked]


def _pairs(seg: Segment, prefix: str, live: np.ndarray, doc_map: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """(terms, term of each posting, new document, tf) of the live postings."""
    terms, starts = seg.terms(prefix), seg.array(f"{prefix}_starts")
    docs, tfs = seg.array(f"{prefix}_docs"), seg.array(f"{prefix}_tfs")
    term_of = np.repeat(np.arange(len(terms), dtype=np.int32), np.diff(starts))
    if live.all():
        return terms, term_of, doc_map[docs].astype(np.uint32), np.array(tfs)
    keep = live[docs]
    return terms, term_of[keep], doc_map[docs[keep]].astype(np.uint32), tfs[keep]


def _union(parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]], documents: int) -> Postings:
    tables = [p[0] for p in parts if len(p[0])]
    if not tables:
        return Postings.empty(documents)
    table = np.unique(np.concatenate(tables))
    ids = np.concatenate([np.searchsorted(table, t.astype(table.dtype)).astype(np.int32)[term_of]
                          for t, term_of, _, _ in parts])  # fmt: skip
    docs = np.concatenate([p[2] for p in parts])
    tfs = np.concatenate([p[3] for p in parts])
    parts.clear()  # the caller's list: its arrays go as soon as they are joined
    return _from_pairs(table, ids, docs, tfs, documents)
