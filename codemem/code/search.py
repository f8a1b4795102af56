"""Hybrid retrieval over the code index.

query analysis → candidates (BM25 over chunks and files, exact symbols, paths, optional
vectors) → weighted reciprocal-rank fusion → aggregation to file, symbol or chunk →
light priors (reference-graph centrality; tests below the code they test; files nearer the
root first) → below the top five, the files the best one uses (for an issue report) and the
files the best ones usually change with.
"""

from __future__ import annotations

import heapq
import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from codemem.code import file_stages, followup, history, stages
from codemem.code.cochange import CoChange
from codemem.code.files import is_example_path, is_test_path, read_repo_file
from codemem.code.fusion import (
    STAGE_WEIGHTS,
    TEST_FACTOR,
    StageResults,
    example_prior,
    rank_files,
    rrf,
    unique_paths,
)
from codemem.code.manifest import Manifest
from codemem.code.manifest_rows import INDEXED
from codemem.code.query import AnalyzedQuery, analyze_query
from codemem.errors import UsageError
from codemem.infra import RedactedLines
from codemem.workspace import Workspace

if TYPE_CHECKING:
    from codemem.code.file_uses import FileUses
    from codemem.code.lexicon import Lexicon
    from codemem.code.lexicon_rows import LexiconRows, SymbolHit
    from codemem.code.store import CodeStore
    from codemem.code.tags import TagStore
    from codemem.config import Config
    from codemem.config.snapshot import SearchSettings

log = logging.getLogger("codemem")

LEVELS = ("file", "symbol", "chunk")
# Full-text chunks a search ranks files from: a file's rank counts its best few chunks. An issue
# report's many words match many chunks a little, so it needs a deeper list to find a file's
# several chunks (in the dev sets 300 put more fixed files first than 200, 400 or 600; a short
# query's files, in semble's, did best at 200).
CHUNK_DEPTH = 200
REPORT_CHUNK_DEPTH = 300
FILE_REPEAT_DECAY = 0.5  # each further span of an already listed file counts this much less
FILE_RANK_WEIGHT = 6.0  # how much a span's file's rank counts, against its own stage ranks


@dataclass(slots=True)
class Hit:
    """One search result. `to_json` is the contract other tools rely on."""

    path: str
    score: float
    start_line: int
    end_line: int
    symbol: str | None
    kind: str | None
    language: str | None
    text: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "score": round(self.score, 6),
            "start_line": self.start_line,
            "end_line": self.end_line,
            "symbol": self.symbol,
            "kind": self.kind,
            "language": self.language,
        }


def chunk_depth(query: AnalyzedQuery, k: int = 10) -> int:
    """How many full-text chunks a search for the best `k` hits ranks files from."""
    return max(REPORT_CHUNK_DEPTH if query.is_report else CHUNK_DEPTH, k * 20)


class Searcher:
    """Answers queries against one workspace's index (reuse it for many queries)."""

    def __init__(
        self,
        ws: Workspace,
        config: Config | SearchSettings,
        manifest: Manifest | None = None,
        *,
        centrality: Callable[[], Mapping[str, float]] | None = None,
        cochange: Callable[[], CoChange | None] | None = None,
        uses: Callable[[], FileUses | None] | None = None,
        tags: Callable[[], TagStore | None] | None = None,
    ):
        self.ws = ws
        self.config = config
        loaded = manifest or Manifest.load(ws.index_dir)
        if loaded is None:
            raise UsageError("no index yet: run `codemem index` first")
        self.manifest: Manifest = loaded
        self._store: Lexicon | None = None
        self._rows: LexiconRows | None = None
        self._tables: CodeStore | None = None
        self._centrality: Mapping[str, float] | None = None
        self._centrality_source = centrality or self._load_centrality
        self._cochange_source = cochange or (lambda: history.load_cochange(ws))
        self._uses_source = uses or self._load_uses
        self._tags_source = tags or self._load_tags  # the tag store, for the used files
        self._packages: dict[str, list[str]] | None = None

    @property
    def store(self) -> Lexicon:
        """What the stages read: the lexicon (no LanceDB)."""
        if self._store is None:
            from codemem.code.lexicon import Lexicon  # numpy: only once a query needs rows

            self._store = Lexicon(self.ws.index_dir)
        return self._store

    @property
    def rows(self) -> LexiconRows:
        """The lexicon's rows looked up by name, file, line or id."""
        if self._rows is None:
            from codemem.code.lexicon_rows import LexiconRows  # numpy, as `store`

            self._rows = LexiconRows(self.store)
        return self._rows

    @property
    def tables(self) -> CodeStore:
        """The LanceDB tables: read only for vectors."""
        if self._tables is None:
            from codemem.code.store import CodeStore  # lancedb and pyarrow: vectors only

            self._tables = CodeStore(self.ws.index_dir)
        return self._tables

    def _load_centrality(self) -> Mapping[str, float]:
        from codemem.code.graph import load_graph, read_prior

        prior = read_prior(self.ws.index_dir)
        return prior if prior is not None else load_graph(self.ws.index_dir).file_centrality()

    def _load_uses(self) -> FileUses | None:
        from codemem.code.file_uses import FileUses  # once a search ranks

        return FileUses(self._tags_source, self.rows.definers)

    def _load_tags(self) -> TagStore | None:
        from codemem.code.tags import TagStore

        tags = TagStore.load(self.ws.index_dir)
        return tags if tags.exists else None

    def package_files(self) -> dict[str, list[str]]:
        """Folder name → the package files it names (`file_stages.package_files`), read once."""
        if self._packages is None:
            self._packages = file_stages.package_files(self.manifest)
        return self._packages

    def centrality(self) -> Mapping[str, float]:
        if self._centrality is None:
            try:
                self._centrality = self._centrality_source()
            except Exception as exc:  # the prior is optional; search works without it
                log.debug("no graph prior: %s", exc)
                self._centrality = {}
        return self._centrality

    def cochange(self) -> CoChange | None:
        """Which files changed together in the repository's recent commits (None without
        history, or when the stage is off)."""
        if not self.config.search.cochange:
            return None
        try:
            return self._cochange_source()
        except Exception as exc:  # the companions are optional; search works without them
            log.debug("no co-change data: %s", exc)
            return None

    def uses(self) -> FileUses | None:
        """Which files each file uses, from the tag store and the lexicon (None when the
        stage is off)."""
        if not self.config.search.uses:
            return None
        try:
            return self._uses_source()
        except Exception as exc:  # optional, as the prior is; search works without it
            log.debug("no file uses: %s", exc)
            return None

    def search(self, text: str, k: int = 10, level: str = "chunk") -> list[Hit]:
        if level not in LEVELS:
            raise UsageError(f"unknown level {level!r}: choose one of {', '.join(LEVELS)}")
        opts = self.config.search
        query = analyze_query(text, enabled=opts.query_analysis)
        results = self.collect(query, depth=chunk_depth(query, k))
        file_scores = self.rank_files(results, query)
        if level == "file":
            return self._file_hits(file_scores, k)
        return self._span_hits(file_scores, results, k, level, query)

    def collect(self, query: AnalyzedQuery, depth: int | None = None) -> StageResults:
        """Run every enabled stage for one query (`depth` chunks: `chunk_depth` by default)."""
        opts = self.config.search
        depth = depth or chunk_depth(query)
        if query.frames:
            file_stages.weigh_frames(query.frames, self.manifest)
        results = StageResults(
            chunks=stages.bm25_chunks(self.store, query, depth) if opts.bm25 else [],
            files=stages.bm25_files(self.store, query, 100) if opts.bm25 else [],
            symbols=stages.symbol_matches(self.rows, query) if opts.symbols else [],
            paths=file_stages.path_matches(self.manifest, query) if opts.paths else [],
            stems=file_stages.stem_matches(self.manifest, query) if opts.stems else [],
            vectors=self._vector_stage(query.text, depth) if opts.vectors else [],
        )
        if opts.stems:  # files named by the documentation pages the query finds
            best = unique_paths(results.chunks[: 4 * file_stages.DOC_PAGES])[
                : file_stages.DOC_PAGES
            ]
            best += unique_paths(results.files)[: file_stages.DOC_PAGES]
            named = {c.path for c in results.stems}
            results.stems += [
                c
                for c in file_stages.doc_subjects(self.manifest, query, best, self.package_files)
                if c.path not in named
            ]
        self._follow_up_stages(results, query)
        return results

    def _follow_up_stages(self, results: StageResults, query: AnalyzedQuery) -> None:
        """The stages that read code: where an error message is raised, what named code calls."""
        opts = self.config.search
        if opts.messages and query.errors:
            cands = followup.message_candidates(self.store, query)
            results.messages = followup.message_matches(cands, self.chunk_texts(cands), query)
        if opts.callees and results.symbols:
            sources = self.callee_sources(results.symbols)
            bodies = self.chunk_texts(sources, by_line=True)
            names = {n for body in bodies.values() for n in followup.called_names(body)}
            most = followup.MAX_CALLEE_DEFINITIONS
            rows = self.rows.symbols_named(sorted(names), most=most) if names else []
            results.callees = followup.callee_matches(sources, bodies, rows)

    @staticmethod
    def callee_sources(symbols: list[stages.Candidate]) -> list[stages.Candidate]:
        """The definitions whose callees are followed: the best few functions the query names."""
        return [c for c in symbols if c.kind in followup.CALLER_KINDS][: followup.CALLEE_SOURCES]

    def chunk_texts(
        self, cands: list[stages.Candidate], *, by_line: bool = False
    ) -> dict[Any, str]:
        """Each candidate's lines from the work tree, keyed by chunk id (or by path and line)."""
        files: dict[str, list[str]] = {}
        out: dict[Any, str] = {}
        for cand in cands:
            if cand.path not in files:
                files[cand.path] = self._lines(cand.path)
            key = (cand.path, cand.start_line) if by_line else cand.chunk_id
            out[key] = "\n".join(files[cand.path][max(0, cand.start_line - 1) : cand.end_line])
        return out

    def _lines(self, path: str) -> list[str]:
        """A work-tree file's lines (none when it cannot be read)."""
        return self._read(path).splitlines()

    def _read(self, path: str) -> str:
        """A work-tree file's text (empty when it cannot be read, or is no longer a regular
        file of the repository: a pull may have made it a link to /dev/zero or a FIFO)."""
        return self._read_worktree(path).decode("utf-8", "replace")

    def _line_count(self, path: str) -> int:
        data = self._read_worktree(path)
        return max(1, data.count(b"\n") + (not data.endswith(b"\n")))

    def _read_worktree(self, path: str) -> bytes:
        """A file's bytes as the index reads them (`read_repo_file`, within the index's
        `max_file_bytes`), empty if it cannot be: a file grown past what the index takes (a
        10 MB line a pull brought) gives no snippet, rather than seconds of secret redaction."""
        data, _ = read_repo_file(self.ws.root, path, self.config.index.max_file_bytes)
        return data or b""

    def languages(self, paths: Iterable[str] | None = None) -> dict[str, str | None]:
        """path -> language of `paths` (default: of every file; a search asks only for its
        candidates)."""
        if paths is None:
            return {path: entry.language for path, entry in self.manifest.files.items()}
        return self.manifest.languages(paths)

    def rank_files(self, results: StageResults, query: AnalyzedQuery) -> dict[str, float]:
        opts = self.config.search
        candidates = [p for paths in results.file_lists().values() for p in paths]
        return rank_files(
            results,
            query,
            self.languages(candidates),
            self.centrality() if opts.graph_prior else {},
            rrf_k=opts.rrf_k,
            test_prior=opts.test_prior,
            graph_prior=opts.graph_prior,
            depth_prior=opts.depth_prior,
            uses=self.uses(),
            cochange=self.cochange(),
            present=self._indexed,
            with_stem=self.manifest.with_stem,
            untied=opts.untied,
        )

    def _indexed(self, paths: Iterable[str]) -> set[str]:
        """Those of `paths` the index holds now."""
        return {p for p in paths if (e := self.manifest.entry(p)) and e.status == INDEXED}

    def _vector_stage(self, text: str, depth: int) -> list[stages.Candidate]:
        if self.config.index.embeddings == "none":
            return []
        from codemem.code.embed import make_embedder

        embedder = make_embedder(self.config.index, root=self.ws.root)
        if embedder is None or not self.tables.has_vectors():
            return []
        return stages.vector_chunks(self.tables, embedder.embed_query(text), depth)

    def _file_hits(self, scores: dict[str, float], k: int) -> list[Hit]:
        ranked = sorted(scores.items(), key=lambda kv: -kv[1])[:k]
        languages = self.languages(path for path, _ in ranked)
        return [
            Hit(path, score, 1, self._line_count(path), None, "file", languages.get(path))
            for path, score in ranked
        ]

    def _span_hits(
        self,
        file_scores: dict[str, float],
        results: StageResults,
        k: int,
        level: str,
        query: AnalyzedQuery,
    ) -> list[Hit]:
        """Rank chunks: their own stage ranks plus the rank of the file they are in."""
        chunks, symbols, paths, vectors = (
            results.chunks,
            results.symbols,
            results.paths,
            results.vectors,
        )
        file_rank = {
            p: r for r, (p, _) in enumerate(sorted(file_scores.items(), key=lambda kv: -kv[1]))
        }
        located = self._chunks_at(symbols + [p for p in paths if p.start_line])
        lists: dict[str, list[str]] = {
            "bm25": [c.chunk_id for c in chunks if c.chunk_id],
            "vectors": [c.chunk_id for c in vectors if c.chunk_id],
        }
        lists["symbols"] = [cid for c in symbols if (cid := located.get((c.path, c.start_line)))]
        lists["paths"] = [cid for c in paths if (cid := located.get((c.path, c.start_line)))]
        lists["messages"] = [c.chunk_id for c in results.messages if c.chunk_id]
        by_id = {c.chunk_id: c for c in chunks + vectors + results.messages}
        by_id.update(
            self._rows_by_id({cid for lst in lists.values() for cid in lst} - by_id.keys())
        )
        scores = rrf(lists, STAGE_WEIGHTS, self.config.search.rrf_k)
        rrf_k = self.config.search.rrf_k
        for cid in scores:
            cand = by_id.get(cid)
            if cand is not None and cand.path in file_rank:
                scores[cid] += FILE_RANK_WEIGHT / (rrf_k + file_rank[cand.path] + 1)
        for cid in scores:
            cand = by_id.get(cid)
            if cand is not None:
                scores[cid] *= span_prior(cand, query)
        ranked = sorted(scores.items(), key=lambda kv: -kv[1])
        picked: list[tuple[stages.Candidate, float]] = []
        seen: set[tuple[str, str | None]] = set()
        for cid, score in ranked:
            cand = by_id.get(cid)
            if cand is None or (level == "symbol" and not cand.symbol):
                continue
            key = (cand.path, cand.symbol) if level == "symbol" else (cid, None)
            if key not in seen:
                seen.add(key)
                picked.append((cand, score))
        if level == "chunk":  # a symbol list names definitions; a chunk list shows places
            picked = spread_over_files(picked, k)
        # At symbol level a chunk may become a definition another one already is (a class's
        # outline, the method the query names): twice the hits are refined for k distinct.
        out = [
            Hit(c.path, score, c.start_line, c.end_line, c.symbol, c.kind, c.language)
            for c, score in picked[: 2 * k if level == "symbol" else k]
        ]
        if level == "symbol":
            self._refine_symbols(out, query)
            out = _distinct(out)[:k]
        elif query.identifiers:
            self._name_data(out, query)
        self._attach_text(out)
        return out

    def _chunks_at(self, cands: list[stages.Candidate]) -> dict[tuple[str, int], str]:
        """The id of the chunk containing each candidate's line."""
        wanted = {(c.path, c.start_line) for c in cands if c.start_line}
        if not wanted:
            return {}
        lines: defaultdict[str, list[int]] = defaultdict(list)
        for path, line in wanted:
            lines[path].append(line)
        holding = self.rows.chunks_holding(lines)
        out: dict[tuple[str, int], str] = {}
        for path, line in wanted:
            inside = holding.get((path, line))
            if inside:  # the narrowest chunk: a method rather than its class outline
                best = min(
                    inside, key=lambda r: (r["kind"] == "outline", r["end_line"] - r["start_line"])
                )
                out[(path, line)] = best["id"]
        return out

    def _rows_by_id(self, ids: set[str]) -> dict[str, stages.Candidate]:
        if not ids:
            return {}
        rows = self.rows.chunks_by_id(sorted(ids))
        return {r["id"]: stages.candidate_from_row(r, 0.0) for r in rows}

    def _refine_symbols(self, hits: list[Hit], query: AnalyzedQuery) -> None:
        """At symbol level a hit is the most specific definition the query points at.

        A chunk holding a whole small class becomes the method a traceback frame or an
        identifier of the query names; otherwise the hit spans the chunk's definition.
        """
        if not hits:
            return
        frame_lines: defaultdict[str, set[int]] = defaultdict(set)
        for frame in query.frames:
            frame_lines[frame.path.rsplit("/", 1)[-1]].add(frame.line)
        spans = [
            (h.path, h.start_line, h.end_line, h.symbol,
             tuple(sorted(frame_lines.get(h.path.rsplit("/", 1)[-1], ()))))
            for h in hits
        ]  # fmt: skip
        _point_at(self.rows, hits, spans, query.identifiers)

    def _name_data(self, hits: list[Hit], query: AnalyzedQuery) -> None:
        """A module chunk (constants, variables, `#define`s: data without chunks of their own)
        that holds a definition the query names becomes that definition: its place, not the
        first line of the 80 around it."""
        module = [h for h in hits if h.symbol is None and h.kind == "module"]
        if not module:
            return
        spans = [(h.path, h.start_line, h.end_line, None, ()) for h in module]
        _point_at(self.rows, module, spans, query.identifiers)

    def _attach_text(self, hits: list[Hit]) -> None:
        """Read each hit's lines from the work tree for snippets, secrets redacted as in the index."""
        files: dict[str, RedactedLines] = {}
        for hit in hits:
            if hit.path not in files:
                files[hit.path] = RedactedLines(self._read(hit.path))
            hit.text = "\n".join(files[hit.path].lines(hit.start_line, hit.end_line))


def _distinct(hits: list[Hit]) -> list[Hit]:
    """The hits without those naming a definition an earlier one names (same place)."""
    seen: set[tuple[str, int, int, str | None]] = set()
    out = []
    for hit in hits:
        key = (hit.path, hit.start_line, hit.end_line, hit.symbol)
        if key not in seen:
            seen.add(key)
            out.append(hit)
    return out


def _point_at(
    rows: LexiconRows, hits: list[Hit], spans: Sequence[SymbolHit], names: Iterable[str]
) -> None:
    """Each hit becomes the definition `LexiconRows.definitions_at` finds for its span."""
    for hit, choice in zip(hits, rows.definitions_at(spans, names), strict=True):
        if choice:
            hit.symbol, hit.kind = choice["qualname"], choice["kind"]
            hit.start_line, hit.end_line = choice["start_line"], choice["end_line"]


def span_prior(cand: stages.Candidate, query: AnalyzedQuery) -> float:
    """A chunk's own prior: a test or example chunk below code, as its file is (decided from
    the path now rather than the index's `is_test`, which keeps the rule of the run that
    wrote it)."""
    prior = example_prior(query) if is_example_path(cand.path) else 1.0
    if not query.asks_for_tests and is_test_path(cand.path):
        prior *= TEST_FACTOR
    return prior


def spread_over_files(
    ranked: list[tuple[stages.Candidate, float]], k: int
) -> list[tuple[stages.Candidate, float]]:
    """The k best spans of `ranked` (best first), each further span of a file already listed
    counting `FILE_REPEAT_DECAY` times less per earlier one, so that one file does not fill the
    list.

    A file's spans all count the same factor less, so they keep their order: only each file's
    best unlisted span can come next, and the heap holds that one alone (a heap of every span,
    each lowered when its file is listed again, was k times the spans of the best file: a
    chunk search with `-k 1000` in a file of 100,000 definitions took half a minute)."""
    spans: dict[str, list[int]] = defaultdict(list)  # each file's spans, best first
    for n, (cand, _) in enumerate(ranked):
        spans[cand.path].append(n)
    heap = [(-ranked[first][1], first, path) for path, (first, *_) in spans.items()]
    heapq.heapify(heap)
    shown: Counter[str] = Counter()
    out: list[tuple[stages.Candidate, float]] = []
    while heap and len(out) < k:
        neg, n, path = heapq.heappop(heap)
        out.append((ranked[n][0], -neg))
        shown[path] += 1
        listed = shown[path]
        if listed < len(spans[path]):
            after = spans[path][listed]
            heapq.heappush(heap, (-ranked[after][1] * FILE_REPEAT_DECAY**listed, after, path))
    return out
