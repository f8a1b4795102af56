"""The lexicon: what search reads instead of LanceDB (no lancedb or pyarrow import).

A derived read-side copy of the index's chunk, symbol and file rows with BM25 postings, kept
in `index/lexicon/` as immutable segments (`codemem.code.lexicon_build`), one per index
batch, listed in order by `segments.json`. A newer segment replaces every older row of the
paths it covers (its own files and the files it removes): the newest segment that covers a
path holds its live rows, so a changed file needs no rewrite of older segments.

Commit order (under the index lock): the segment file is written whole, then the list is
replaced atomically, then the tags and the manifest; a run killed between leaves either an
unlisted file (removed by the next writer) or rows the manifest does not claim yet (redone by
the next run, whose segment replaces them). The list carries a checksum, each segment a
header checksum and size checked on open, and per-column checksums checked by the deep
integrity check (`lexicon_damage`). Writing, and merging the newest small segments when they
pile up: `codemem.code.lexicon_writer`. This module ranks (BM25); rows looked up by name, file,
line or id: `codemem.code.lexicon_rows`.
BM25 follows LanceDB's (k1 1.2, b 0.75, idf ln(1 + (N - df + 0.5) / (df + 0.5))) with N,
the average length and df counted over live rows only, so a file edited in place ranks
exactly as after a full rebuild.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from codemem.code.columns import Columns, Strings
from codemem.code.lexicon_build import (
    NULL_SYMBOL,
    NULL_SYMBOL_KIND,
    SEGMENT_FORMAT,
    SEGMENT_KIND,
    hashes,
    key_hash,
)
from codemem.code.lexicon_postings import MAX_TOKEN_BYTES
from codemem.errors import NotARegularFile
from codemem.infra import read_regular_bytes

LEXICON_DIR = "lexicon"
# Ties of more documents than this read the names of the segment at once, not one by one.
BULK_NAMES = 256
LIST_NAME = "segments.json"
LIST_FORMAT = 1
K1, B = 1.2, 0.75
# A lexicon larger than this lets go of each segment's mapped pages once a search has read it.
RELEASE_BYTES = 256 << 20


class LexiconDamage(ValueError):
    """The segment list or a segment is damaged."""


def list_check(names: list[str]) -> int:
    return zlib.crc32(json.dumps(names).encode())


def read_list(folder: Path) -> list[str] | None:
    """The listed segments, oldest first; None when there is no list; LexiconDamage if bad."""
    try:  # an index can come from a commit: a link (to /dev/zero) is not followed
        raw = read_regular_bytes(folder / LIST_NAME)
    except FileNotFoundError:
        return None
    except NotARegularFile:
        raise LexiconDamage(f"{LEXICON_DIR}/{LIST_NAME} is not a regular file") from None
    try:
        record = json.loads(raw)
        names = [str(n) for n in record["segments"]]
        ok = record["format"] == LIST_FORMAT and record["check"] == list_check(names)
    except (ValueError, KeyError, TypeError) as exc:
        raise LexiconDamage(f"{LEXICON_DIR}/{LIST_NAME} is unreadable: {exc}") from None
    if not ok or any("/" in n or not n.startswith("seg-") for n in names):
        raise LexiconDamage(f"{LEXICON_DIR}/{LIST_NAME} is damaged")
    return names


class Segment:
    """One opened segment file."""

    def __init__(self, path: Path) -> None:
        cols = Columns.open(path)
        self.size = path.stat().st_size
        if cols.meta.get("kind") != SEGMENT_KIND or cols.meta.get("format") != SEGMENT_FORMAT:
            raise LexiconDamage(f"{path.name} is not a lexicon segment of this codemem")
        self.cols = cols
        self._strings: dict[str, Strings] = {}
        self._arrays: dict[str, np.ndarray] = {}
        self._values: dict[str, memoryview] = {}
        self.paths = self.strings("paths")
        self.dead = np.zeros(len(self.paths), bool)  # paths a newer segment replaced

    def strings(self, name: str) -> Strings:
        found = self._strings.get(name)
        if found is None:
            found = self._strings[name] = Strings(
                self.cols.bytes(name), self.cols.view(f"{name}_offsets")
            )
        return found

    def array(self, name: str) -> np.ndarray:
        """A column as a numpy array (for whole-column work)."""
        found = self._arrays.get(name)
        if found is None:
            found = self._arrays[name] = self.cols.array(name)
        return found

    def values(self, name: str) -> memoryview:
        """A column as a typed memoryview (one value at a time: faster than numpy's scalars)."""
        found = self._values.get(name)
        if found is None:
            found = self._values[name] = self.cols.view(name)
        return found

    def terms(self, prefix: str) -> np.ndarray:
        raw = self.cols.bytes(f"{prefix}_terms")
        count = len(self.array(f"{prefix}_starts")) - 1
        if count <= 0:
            return np.zeros(0, "S1")
        return np.frombuffer(raw, f"S{len(raw) // count}")

    def find_paths(self, paths: Iterable[str]) -> list[tuple[str, int]]:
        """(path, its index here) of the live `paths` this segment holds."""
        wanted = list(paths)
        if not wanted or not len(self.paths):
            return []
        ordered, order = self.array("p_sorted"), self.values("p_order")
        keys = hashes(wanted)
        pos = np.minimum(np.searchsorted(ordered, keys), len(ordered) - 1)
        out = []
        for path, p, hit in zip(wanted, pos.tolist(), (ordered[pos] == keys).tolist(), strict=True):
            if hit:
                i = order[p]
                if not self.dead[i] and self.paths[i] == path:
                    out.append((path, i))
        return out


class Lexicon:
    """The live rows of every listed segment; the read interface search uses."""

    def __init__(self, index_dir: Path) -> None:
        folder = index_dir / LEXICON_DIR
        for attempt in range(2):  # a merge may remove a listed file between reading the list and it
            names = read_list(folder)
            if names is None:
                raise LexiconDamage(f"{LEXICON_DIR}/{LIST_NAME} is missing")
            try:
                self.segments = [Segment(folder / name) for name in names]
                break
            except FileNotFoundError:
                if attempt or read_list(folder) == names:
                    raise LexiconDamage(
                        f"a segment listed in {LEXICON_DIR}/{LIST_NAME} is missing"
                    ) from None
        # A large lexicon's pages are let go segment by segment as a search reads them.
        self._release = sum(seg.size for seg in self.segments) > RELEASE_BYTES
        self._mark_dead()
        self.codes = [seg.strings("codes").tolist() for seg in self.segments]

    def each_segment(self) -> Iterator[tuple[int, Segment]]:
        """Each segment in turn, its mapped pages let go after it (they stay in the page
        cache): a search holds about one segment's pages at a time, however many there are."""
        for s, seg in enumerate(self.segments):
            try:
                yield s, seg
            finally:
                if self._release:
                    seg.cols.release()

    def _mark_dead(self) -> None:
        """A path's rows are live in the newest segment that covers it, dead in older ones."""
        if len(self.segments) < 2:
            return
        covers = [seg.array("covers") for seg in self.segments]
        keys = np.concatenate(covers)
        owner = np.repeat(np.arange(len(covers)), [len(c) for c in covers])
        order = np.lexsort((owner, keys))
        keys, owner = keys[order], owner[order]
        last = np.append(keys[1:] != keys[:-1], True)
        keys, newest = keys[last], owner[last]
        for i, seg in self.each_segment():
            mine = seg.array("p_hash")
            if len(mine):
                pos = np.minimum(np.searchsorted(keys, mine), len(keys) - 1)
                seg.dead = newest[pos] > i

    # -- BM25 --------------------------------------------------------------------------------

    def fts_chunks(self, text: str, limit: int) -> list[dict[str, Any]]:
        """Chunk rows ranked by BM25 over their search text, with `_score`."""
        readers: dict[int, Callable[[int], dict[str, Any]]] = {}
        out = []
        for score, s, d in self._bm25("cp", text, limit):
            if s not in readers:
                readers[s] = self.chunk_reader(s)
            row = readers[s](d)
            row["_score"] = score
            out.append(row)
        return out

    def fts_files(self, text: str, limit: int) -> list[dict[str, Any]]:
        """File rows (path, language, is_test) ranked by BM25, with `_score`."""
        out = []
        for score, s, d in self._bm25("fp", text, limit):
            seg = self.segments[s]
            out.append({"path": seg.paths[d], "language": self.codes[s][seg.values("p_language")[d]],
                        "is_test": bool(seg.values("p_test")[d]), "_score": score})  # fmt: skip
        return out

    def _doc_dead(self, seg: Segment, prefix: str, docs: np.ndarray) -> np.ndarray:
        dead: np.ndarray = seg.dead[seg.array("c_path")[docs] if prefix == "cp" else docs]
        return dead

    def _bm25(self, prefix: str, text: str, limit: int) -> list[tuple[float, int, int]]:
        """(score, segment, document) of the best `limit` documents, best first."""
        words = [w for w in dict.fromkeys(text.split())]
        encoded = [w.encode("utf-8", "surrogateescape") for w in words]
        encoded = [e for e in encoded if len(e) <= MAX_TOKEN_BYTES]
        if not encoded or not self.segments:
            return []
        df = np.zeros(len(encoded))
        docs_total = tokens_total = 0
        found: list[tuple[int, np.ndarray, np.ndarray, np.ndarray]] = []
        for s, seg in self.each_segment():
            n, tokens = self._live_size(seg, prefix)
            docs_total, tokens_total = docs_total + n, tokens_total + tokens
            terms = seg.terms(prefix)
            width = terms.dtype.itemsize
            fits = [i for i, e in enumerate(encoded) if len(e) <= width]
            if not len(terms) or not fits or not n:
                continue
            query = np.array([encoded[i] for i in fits], terms.dtype)
            pos = np.minimum(np.searchsorted(terms, query), len(terms) - 1)
            hit = terms[pos] == query
            if not hit.any():
                continue
            which = np.array(fits)[hit]
            starts = seg.array(f"{prefix}_starts")
            a, b = starts[pos[hit]], starts[pos[hit] + 1]
            if seg.dead.any():
                live = ~self._doc_dead(seg, prefix, seg.array(f"{prefix}_docs")[spans(a, b)])
                np.add.at(
                    df, which, np.add.reduceat(live.astype(np.int64), np.cumsum(b - a) - (b - a))
                )
            else:
                np.add.at(df, which, b - a)
            found.append((s, which, a, b))
        if not docs_total:
            return []
        avgdl = tokens_total / docs_total
        idf = np.log((docs_total - df + 0.5) / (df + 0.5) + 1.0)
        scores, owners, documents = [], [], []
        for s, which, a, b in found:
            seg = self.segments[s]
            idx = spans(a, b)
            docs = seg.array(f"{prefix}_docs")[idx].astype(np.int64)
            tf = seg.array(f"{prefix}_tfs")[idx].astype(np.float64)
            dl = seg.array(f"{prefix}_lengths")[docs]
            weight = (
                np.repeat(idf[which], b - a) * (K1 + 1) * tf / (tf + K1 * (1 - B + B * dl / avgdl))
            )
            summed = np.bincount(docs, weights=weight)
            hits = np.flatnonzero(summed)
            if seg.dead.any():
                hits = hits[~self._doc_dead(seg, prefix, hits)]
            if len(hits) > limit:
                kth = np.partition(summed[hits], len(hits) - limit)[len(hits) - limit]
                hits = hits[summed[hits] >= kth]
            scores.append(summed[hits])
            owners.append(np.full(len(hits), s))
            documents.append(hits)
            if self._release:  # as `each_segment` does
                seg.cols.release()
        if not scores:
            return []
        score, owner, doc = (
            np.concatenate(scores),
            np.concatenate(owners),
            np.concatenate(documents),
        )
        order = np.argsort(-score, kind="stable")
        if len(order) > limit:  # keep every tie of the last one: broken by name below
            order = order[score[order] >= score[order[limit - 1]]]
        ranked = [(float(score[i]), int(owner[i]), int(doc[i])) for i in order.tolist()]
        return self._by_name_in_ties(prefix, ranked)[:limit]

    def _by_name_in_ties(
        self, prefix: str, ranked: list[tuple[float, int, int]]
    ) -> list[tuple[float, int, int]]:
        """`ranked` (best first) with each run of equal scores ordered by name: names are
        read only for ties."""
        out: list[tuple[float, int, int]] = []
        every: dict[int, list[str]] = {}  # a segment's names, decoded at once for a large tie
        at = 0
        while at < len(ranked):
            end = at + 1
            while end < len(ranked) and ranked[end][0] == ranked[at][0]:
                end += 1
            tied = ranked[at:end]
            if len(tied) > BULK_NAMES:  # a generated file's chunks: thousands score alike
                for s in {r[1] for r in tied} - every.keys():
                    every[s] = self._names(prefix, s)
                tied.sort(key=lambda r: every[r[1]][r[2]])
            elif len(tied) > 1:
                tied.sort(key=lambda r: self._name(prefix, r[1], r[2]))
            out += tied
            at = end
        return out

    def _names(self, prefix: str, s: int) -> list[str]:
        """Every document's name in segment `s` (one decode of the column)."""
        seg = self.segments[s]
        return (seg.strings("c_id") if prefix == "cp" else seg.paths).tolist()

    def _name(self, prefix: str, s: int, doc: int) -> str:
        seg = self.segments[s]
        return seg.strings("c_id")[doc] if prefix == "cp" else seg.paths[doc]

    @staticmethod
    def _live_size(seg: Segment, prefix: str) -> tuple[int, int]:
        """(live documents, their tokens) of one segment's chunk or file postings."""
        if prefix == "cp":
            counts = np.diff(seg.array("p_chunks"))
            tokens = seg.array("p_chunk_tokens")
        else:
            counts = np.ones(len(seg.paths), np.int64)
            tokens = seg.array("fp_lengths")
        if not seg.dead.any():
            return int(counts.sum()), int(tokens.sum())
        live = ~seg.dead
        return int(counts[live].sum()), int(tokens[live].sum())

    # -- rows --------------------------------------------------------------------------------

    def chunk_reader(self, s: int) -> Callable[[int], dict[str, Any]]:
        """Reads chunk rows of segment `s` (its columns looked up once: a query reads hundreds)."""
        seg, codes, value = self.segments[s], self.codes[s], self.segments[s].values
        c_path, c_null, c_start, c_end = (
            value(n) for n in ("c_path", "c_null", "c_start", "c_end")
        )
        c_kind, c_symbol_kind = value("c_kind"), value("c_symbol_kind")
        p_language, p_test = value("p_language"), value("p_test")
        ids, symbols, paths = seg.strings("c_id"), seg.strings("c_symbol"), seg.paths

        def row(doc: int) -> dict[str, Any]:
            path = c_path[doc]
            null = c_null[doc]
            return {
                "id": ids[doc],
                "path": paths[path],
                "language": codes[p_language[path]],
                "start_line": c_start[doc],
                "end_line": c_end[doc],
                "kind": codes[c_kind[doc]],
                "symbol": None if null & NULL_SYMBOL else symbols[doc],
                "symbol_kind": None if null & NULL_SYMBOL_KIND else codes[c_symbol_kind[doc]],
                "is_test": bool(p_test[path]),
            }

        return row


def spans(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The indexes a[0]..b[0]-1, a[1]..b[1]-1, ... as one array."""
    lengths = (b - a).astype(np.int64)
    total = int(lengths.sum())
    if not total:
        return np.zeros(0, np.int64)
    shift = np.repeat(a.astype(np.int64) - (np.cumsum(lengths) - lengths), lengths)
    out: np.ndarray = np.arange(total, dtype=np.int64) + shift
    return out


def lexicon_damage(index_dir: Path, *, deep: bool) -> str | None:
    """What is wrong with the lexicon (list, a segment's header, size or, with `deep`, any
    column's checksum), or None. A missing lexicon is damage: the caller knows there are rows."""
    folder = index_dir / LEXICON_DIR
    try:
        names = read_list(folder)
        if names is None:
            return f"{LEXICON_DIR}/{LIST_NAME} is missing"
        for name in names:
            seg = Segment(folder / name)
            if deep:
                problem = seg.cols.verify()
                if problem:
                    return f"{LEXICON_DIR}/{problem}"
    except FileNotFoundError as exc:
        return f"{LEXICON_DIR}/{Path(exc.filename or '?').name} is missing"
    except (OSError, ValueError) as exc:
        return f"the lexicon is unreadable: {exc}"
    return None


__all__ = [
    "LEXICON_DIR",
    "Lexicon",
    "LexiconDamage",
    "Segment",
    "key_hash",
    "lexicon_damage",
    "spans",
]
