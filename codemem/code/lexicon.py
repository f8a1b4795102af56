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
pile up: `codemem.code.lexicon_writer`.
BM25 follows LanceDB's (k1 1.2, b 0.75, idf ln(1 + (N - df + 0.5) / (df + 0.5))) with N,
the average length and df counted over live rows only, so a file edited in place ranks
exactly as after a full rebuild.
"""

from __future__ import annotations

import heapq
import json
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from codemem.code.columns import Columns, Strings
from codemem.code.files import is_test_path
from codemem.code.lexicon_build import (
    NAME_KEY_BYTES,
    NULL_DOCSTRING,
    NULL_PARENT,
    NULL_SIGNATURE,
    NULL_SYMBOL,
    NULL_SYMBOL_KIND,
    SEGMENT_FORMAT,
    SEGMENT_KIND,
    hashes,
    key_hash,
)
from codemem.code.lexicon_postings import MAX_TOKEN_BYTES, distinct
from codemem.errors import NotARegularFile
from codemem.infra import read_regular_bytes

LEXICON_DIR = "lexicon"
# A symbol search's hit, for the definition it points at (`Lexicon.definitions_at`): its path,
# first and last line, the chunk's symbol, and the lines of the traceback frames in a file of
# its name. (A tuple: search builds them without loading this module's numpy.)
SymbolHit = tuple[str, int, int, str | None, tuple[int, ...]]
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

    def _each(self) -> Iterator[tuple[int, Segment]]:
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
        for i, seg in self._each():
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
                readers[s] = self._chunk_reader(s)
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
        for s, seg in self._each():
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
                live = ~self._doc_dead(seg, prefix, seg.array(f"{prefix}_docs")[_spans(a, b)])
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
            idx = _spans(a, b)
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
            if self._release:  # as `_each` does
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

    def _chunk_reader(self, s: int) -> Callable[[int], dict[str, Any]]:
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

    def _symbol_row(self, s: int, row: int) -> dict[str, Any]:
        seg, codes, value = self.segments[s], self.codes[s], self.segments[s].values
        path = value("s_path")[row]
        null = value("s_null")[row]
        return {
            "path": seg.paths[path],
            "language": codes[value("p_language")[path]],
            "name": seg.strings("s_name")[row],
            "qualname": seg.strings("s_qualname")[row],
            "kind": codes[value("s_kind")[row]],
            "start_line": value("s_start")[row],
            "end_line": value("s_end")[row],
            "signature": None if null & NULL_SIGNATURE else seg.strings("s_signature")[row],
            "docstring": None if null & NULL_DOCSTRING else seg.strings("s_docstring")[row],
            "parent": None if null & NULL_PARENT else seg.strings("s_parent")[row],
            "is_test": bool(value("p_test")[path]),
        }

    def symbols_named(
        self, names: Iterable[str], *, most: int | None = None, pinned: Iterable[str] = ()
    ) -> list[dict[str, Any]]:
        """Symbol rows whose name is one of `names`. With `most`, a name defined in more places
        than that (which a search skips: it says little) gives `most + 1` of its rows, those
        outside tests first (enough to tell, even counting those alone), and those whose
        qualified name ends with one of `pinned` (`Class.method`): its other rows, however
        many, are never built."""
        wanted = list(dict.fromkeys(names))
        live = [(s, seg, *self._live_named(seg, wanted)) for s, seg in self._each()]
        counts = np.zeros(len(wanted), np.int64)
        for *_, name_of, _ in live:
            counts += np.bincount(name_of, minlength=len(wanted))
        crowded = counts > most if most is not None else np.zeros(len(wanted), bool)
        endings: dict[str, tuple[str, ...]] = {}
        for ending in pinned:
            last = ending.rsplit(".", 1)[-1]
            endings[last] = (*endings.get(last, ()), ending)
        out: list[dict[str, Any]] = []
        spare: dict[int, list[tuple[bool, int, int]]] = {}  # crowded name -> (test, seg, row)
        for s, seg, found, name_of, file_of in live:
            out.extend(self._symbol_row(s, row) for row in found[~crowded[name_of]].tolist())
            many = np.flatnonzero(crowded[name_of])
            if not len(many):
                continue
            files = distinct(file_of[many])
            tests = {f: is_test_path(seg.paths[f]) for f in files.tolist()}
            qualnames = seg.strings("s_qualname")
            for k in many.tolist():
                row, name = int(found[k]), int(name_of[k])
                pins = endings.get(wanted[name])
                if pins and (qualnames[row] or "").endswith(pins):
                    out.append(self._symbol_row(s, row))
                else:
                    spare.setdefault(name, []).append((tests[int(file_of[k])], s, row))
        for rows in spare.values():  # none of them pinned: the first few, tests last
            first = heapq.nsmallest(int(most or 0) + 1, rows)
            out.extend(self._symbol_row(s, row) for _, s, row in first)
        return _ordered(out)

    def definitions_at(
        self, hits: Sequence[SymbolHit], names: Iterable[str]
    ) -> list[dict[str, Any] | None]:
        """For each hit, the definition it points at: of its file's symbol rows within its lines,
        those named one of `names` or holding one of its `lines`, the narrowest (the first in
        line order on a tie); else the file's first row of its qualified name; else None.

        Worked out on the file's line columns with numpy: only the rows chosen are built, so a
        hit in a file of 300,000 definitions costs no row per definition."""
        wanted = list(dict.fromkeys(names))
        by_path: dict[str, list[int]] = {}
        for k, (path, *_) in enumerate(hits):
            by_path.setdefault(path, []).append(k)
        out: list[dict[str, Any] | None] = [None] * len(hits)
        for s, seg in self._each():
            located = seg.find_paths(by_path)
            if not located:
                continue
            offsets = seg.values("p_symbols")
            starts, ends = seg.array("s_start"), seg.array("s_end")
            named_rows = self._live_named(seg, wanted)[0] if wanted else np.zeros(0, np.int64)
            for path, i in located:
                first, last = offsets[i], offsets[i + 1]
                here_starts, here_ends = starts[first:last], ends[first:last]
                named = np.zeros(last - first, bool)
                named[named_rows[(named_rows >= first) & (named_rows < last)] - first] = True
                by_start = np.argsort(here_starts, kind="stable")  # once per file, not per hit
                sorted_starts = here_starts[by_start]
                first_of: dict[str, int] | None = None
                for k in by_path[path]:
                    _, start, end, qualname, lines = hits[k]
                    lo = int(np.searchsorted(sorted_starts, start, "left"))
                    hi = int(np.searchsorted(sorted_starts, end, "right"))
                    begun = by_start[lo:hi]  # the rows starting within the hit's lines
                    begun = begun[here_ends[begun] <= end]
                    pointed = named[begun]
                    for line in lines:
                        pointed |= (here_starts[begun] <= line) & (here_ends[begun] >= line)
                    found = begun[pointed]
                    if len(found):  # the narrowest, then the first: they end on one line
                        spans = here_ends[found] - here_starts[found]
                        found = found[spans == spans.min()]
                        found = found[here_starts[found] == here_starts[found].min()]
                    elif qualname is not None:  # worked out for the file once, if ever
                        if first_of is None:
                            first_of = self._first_of_each(seg, first, last, here_starts, here_ends)
                        found = np.array([first_of[qualname]] if qualname in first_of else [])
                    rows = [self._symbol_row(s, first + int(f)) for f in found.tolist()]
                    out[k] = min(rows, key=_line_order, default=None)
        return out

    def _first_of_each(
        self, seg: Segment, first: int, last: int, starts: np.ndarray, ends: np.ndarray
    ) -> dict[str, int]:
        """qualified name -> the first of the rows first..last-1 of `seg` (their places among
        them, with these lines) so named, in line order: one decode of the column, one pass."""
        qualnames = seg.strings("s_qualname").tolist()[first:last]
        out: dict[str, int] = {}
        for place in np.lexsort((ends, starts)).tolist():
            out.setdefault(qualnames[place], place)
        return out

    def _live_named(
        self, seg: Segment, wanted: list[str]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The live symbol rows of `seg` named one of `wanted`: rows, each one's name (its index
        in `wanted`) and file (its number in `seg`)."""
        encoded = _name_keys(wanted)
        found, name_of = _named_rows(seg, encoded)
        if not len(found):
            return found, name_of, found
        file_of = seg.array("s_path")[found].astype(np.int64)
        live = ~seg.dead[file_of]
        cut = np.array([len(e) == NAME_KEY_BYTES for e in encoded], bool)
        cut_rows = np.flatnonzero(cut[name_of] & live)
        if len(cut_rows):  # a longer name cut to the same key: check the whole name
            names_here = seg.strings("s_name")
            for k in cut_rows.tolist():
                live[k] = names_here[int(found[k])] == wanted[int(name_of[k])]
        return found[live], name_of[live], file_of[live]

    def definers(self, names: Iterable[str]) -> dict[str, set[str]]:
        """name -> the live files defining it, for those of `names` some file defines (reads
        only the name index and the symbols' paths, no rows)."""
        wanted = list(dict.fromkeys(names))
        out: dict[str, set[str]] = {}
        for _, seg in self._each():
            found, name_of, file_of = self._live_named(seg, wanted)
            if not len(found):
                continue
            width = len(seg.paths)
            pairs = distinct(name_of * width + file_of)
            file_ids = pairs % width
            files = distinct(file_ids).tolist()
            decoded = dict(zip(files, map(seg.paths.__getitem__, files), strict=True))
            for i, file in zip((pairs // width).tolist(), file_ids.tolist(), strict=True):
                out.setdefault(wanted[i], set()).add(decoded[file])
        return out

    def symbols_in(self, paths: Iterable[str]) -> list[dict[str, Any]]:
        """Symbol rows of these files, every one (a file's bytes bound them)."""
        wanted = list(dict.fromkeys(paths))
        out: list[dict[str, Any]] = []
        for s, seg in self._each():
            offsets = seg.values("p_symbols")
            for _, i in seg.find_paths(wanted):
                out.extend(self._symbol_row(s, r) for r in range(offsets[i], offsets[i + 1]))
        return _ordered(out)

    def chunks_holding(
        self, lines: Mapping[str, Iterable[int]]
    ) -> dict[tuple[str, int], list[dict[str, Any]]]:
        """(path, line) -> (id, path, start_line, end_line, kind) of each chunk of that file
        whose lines hold that line, in the index's order. Only the holders are made rows, so a
        file of any number of chunks costs one pass of numpy over its line columns per line."""
        wanted = {path: sorted(set(held)) for path, held in lines.items()}
        out: dict[tuple[str, int], list[dict[str, Any]]] = {}
        for s, seg in self._each():
            offsets, ids, codes = seg.values("p_chunks"), seg.strings("c_id"), self.codes[s]
            starts, ends, kinds = seg.array("c_start"), seg.array("c_end"), seg.values("c_kind")
            for path, i in seg.find_paths(wanted):
                first, last = offsets[i], offsets[i + 1]
                here_starts, here_ends = starts[first:last], ends[first:last]
                for line in wanted[path]:
                    docs = first + np.flatnonzero((here_starts <= line) & (here_ends >= line))
                    out[(path, line)] = [
                        {"id": ids[doc], "path": path, "start_line": int(starts[doc]),
                         "end_line": int(ends[doc]), "kind": codes[kinds[doc]]}
                        for doc in docs.tolist()
                    ]  # fmt: skip
        return out

    def chunks_by_id(self, ids: list[str]) -> list[dict[str, Any]]:
        """Chunk rows with these ids. An id is `path#lines#n`, the file's `n`th chunk (from 0),
        read there alone; a file's ids are read one by one only for an id of another shape."""
        by_path: dict[str, set[str]] = {}
        for chunk_id in ids:
            by_path.setdefault(chunk_id.rsplit("#", 2)[0], set()).add(chunk_id)
        out: list[dict[str, Any]] = []
        for s, seg in self._each():
            offsets, chunk_ids = seg.values("p_chunks"), seg.strings("c_id")
            found: list[int] = []
            for path, i in seg.find_paths(by_path):
                first, last = offsets[i], offsets[i + 1]
                wanted = by_path[path]
                places = {first + _ordinal(c) for c in wanted}
                if first - 1 in places:  # an id of another shape: read the file's ids
                    places = set(range(first, last))
                found += sorted(d for d in places if first <= d < last and chunk_ids[d] in wanted)
            if found:
                row = self._chunk_reader(s)
                out.extend(row(doc) for doc in found)
        return out


def _ordinal(chunk_id: str) -> int:
    """The `n` of a chunk id `path#lines#n`: its place among its file's chunks (-1: none)."""
    tail = chunk_id.rsplit("#", 1)[-1]
    return int(tail) if tail.isascii() and tail.isdigit() else -1


def _name_keys(names: Iterable[str]) -> list[bytes]:
    """Each name's key in the name index: its first `NAME_KEY_BYTES` bytes."""
    return [n.encode("utf-8", "surrogateescape")[:NAME_KEY_BYTES] for n in names]


def _named_rows(seg: Segment, keys: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """The symbol rows of `seg` whose name key is one of `keys`, and for each row the index of
    its key in `keys` (a cut key also finds the longer names it begins: check those whole)."""
    raw, rows = seg.cols.bytes("sn_keys"), seg.array("sn_rows")
    none = np.empty(0, np.int64)
    if not len(rows) or not keys:
        return none, none
    stored = np.frombuffer(raw, f"S{len(raw) // len(rows)}")
    fits = [i for i, key in enumerate(keys) if len(key) <= stored.dtype.itemsize]
    if not fits:
        return none, none
    query = np.array([keys[i] for i in fits], stored.dtype)
    lo, hi = np.searchsorted(stored, query, "left"), np.searchsorted(stored, query, "right")
    return rows[_spans(lo, hi)], np.repeat(np.array(fits, np.int64), hi - lo)


def _spans(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The indexes a[0]..b[0]-1, a[1]..b[1]-1, ... as one array."""
    lengths = (b - a).astype(np.int64)
    total = int(lengths.sum())
    if not total:
        return np.zeros(0, np.int64)
    shift = np.repeat(a.astype(np.int64) - (np.cumsum(lengths) - lengths), lengths)
    spans: np.ndarray = np.arange(total, dtype=np.int64) + shift
    return spans


def _line_order(row: dict[str, Any]) -> tuple[int, int, str]:
    """A file's rows in line order (as `_ordered` lists them)."""
    return row["start_line"], row["end_line"], row["qualname"]


def _ordered(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows in an order that does not depend on how the segments fall."""
    return sorted(rows, key=lambda r: (r["path"], r["start_line"], r["end_line"], r["qualname"]))


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


__all__ = ["LEXICON_DIR", "Lexicon", "LexiconDamage", "key_hash", "lexicon_damage"]
