"""Fusing the retrieval stages into one file ranking (pure functions, no I/O).

Kept apart from the stages so the benchmark's fusion lab can replay recorded stage
outputs and compare fusion methods on every instance in milliseconds.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from codemem.code.cochange import CoChange, companions
from codemem.code.files import is_borrowed_path, is_example_path, is_test_path
from codemem.code.languages import is_prose, language_for_path
from codemem.code.query import AnalyzedQuery
from codemem.code.stages import Candidate

# How much each stage's vote counts.
STAGE_WEIGHTS = {
    "bm25": 1.0,
    "bm25_files": 1.0,
    "symbols": 1.0,
    "paths": 1.2,
    "vectors": 1.0,
    "messages": 1.0,
    "callees": 0.3,
    "stems": 0.5,
}
TEST_FACTOR = 0.6  # tests below the code they test...
EXAMPLE_FACTOR = 0.6  # ...examples below the code they use...
DOC_FACTOR = 0.5  # ...and prose and configuration below code, unless the query asks for them
# An issue report's fix is rarely in vendored, third-party or legacy copies (`is_borrowed_path`):
# they repeat the words of the code they copy. A question may ask about them, so only reports.
BORROWED_FACTOR = 0.5
# A file name the query matches this well (`stages.stem_matches`: half its words, or all of
# them by words a few files share) gets the name stage's whole vote; a weaker match a share.
STEM_FULL_MATCH = 0.5
CENTRALITY_WEIGHT = 0.15
DEEPER_TWIN_FACTOR = 0.95  # a file deeper than another of the same name, both candidates
# Companions (files that usually change with the best few) join below the kept top files.
COMPANION_KEEP = 5  # the first files are never moved: Acc@1..5 stay what the stages gave
COMPANION_ANCHORS = 2  # whose history is followed
COMPANION_WEIGHT = 0.25  # × the top score × P(companion | anchor)
COMPANION_LIMIT = 20  # the best companions considered (only a few slots are left)
COMPANION_SURE = 0.5  # a companion this likely goes straight below the kept files...
COMPANION_SLOTS = 1  # ...this many at most
# An issue report's documentation, changelog or manifest that changed with the best files:
# only the history finds them, and in the dev sets such a companion was a fixed file about
# twice as often as a source file as likely to change; its odds count this much more.
PROSE_COMPANION_FACTOR = 1.5
# Below the kept files of an issue report, a file the history never saw change with any of the
# first ten is seldom part of the fix (in the dev sets, at ranks 6-10, a gold file 6 % of the
# time against 15 % for one that did); it counts this much, so a tied file takes its slot.
UNTIED_FACTOR = 0.5
UNTIED_ANCHORS = 10
# Used files: what the best file takes names from, raised below the kept files, for issue
# reports only (a question asks for one place; a reported problem's fix often spans files).
USED_ANCHORS = 1
USED_WEIGHT = 1.0  # × the top score × the used file's share of the anchor's uses
# Below the kept files of an issue report, the slots go to the code a fix spans: tests there
# count this much more (in the dev sets no test below the fifth file was ever a gold file).
LATER_TEST_FACTOR = 0.5
# C-family counterparts: a header and its implementation are one module, and a fix to one of
# the kept files of an issue report often edits the other; it joins below the kept files.
HEADER_SUFFIXES = frozenset({"h", "hh", "hpp", "hxx"})
SOURCE_SUFFIXES = frozenset({"c", "cc", "cpp", "cxx", "m", "mm"})
# A header's inline or template implementation, kept beside it: `array-inl.h` (or `_inl`,
# `-impl`, `_impl`) and `array.ipp` (or `.inl`, `.tpp`, `.tcc`) are `array.h`'s.
INLINE_MARKS = ("-inl", "_inl", "-impl", "_impl")
INLINE_SUFFIXES = frozenset({"inl", "ipp", "tpp", "tcc"})
COUNTERPART_WEIGHT = 0.5  # × the top score


@dataclass
class StageResults:
    """What each retrieval stage proposed for one query, best first."""

    chunks: list[Candidate] = field(default_factory=list)
    files: list[Candidate] = field(default_factory=list)
    symbols: list[Candidate] = field(default_factory=list)
    paths: list[Candidate] = field(default_factory=list)
    vectors: list[Candidate] = field(default_factory=list)
    messages: list[Candidate] = field(default_factory=list)  # where an error message is raised
    callees: list[Candidate] = field(default_factory=list)  # what the named definitions call
    stems: list[Candidate] = field(default_factory=list)  # files named by a word of the query

    def file_lists(self) -> dict[str, list[str]]:
        return {
            "bm25": files_by_chunks(self.chunks),
            "bm25_files": unique_paths(self.files),
            "symbols": unique_paths(self.symbols),
            "paths": unique_paths(self.paths),
            "vectors": unique_paths(self.vectors),
            "messages": unique_paths(self.messages),
            "callees": unique_paths(self.callees),
            "stems": unique_paths(self.stems),
        }


def unique_paths(cands: list[Candidate]) -> list[str]:
    return list(dict.fromkeys(c.path for c in cands))


CHUNKS_PER_FILE = 5  # a file's BM25 rank counts its best chunks...
CHUNK_SUPPORT = 0.3  # ...each after the first this much


def files_by_chunks(chunks: list[Candidate]) -> list[str]:
    """Files ranked by their chunks' BM25 scores: the best chunk's, plus a share of the next
    few, so that a file that answers the query in several places passes one that matches
    it in one small chunk."""
    per_file: dict[str, list[float]] = defaultdict(list)
    for cand in chunks:  # best first
        per_file[cand.path].append(cand.score)
    scores = {
        path: found[0] + CHUNK_SUPPORT * sum(found[1:CHUNKS_PER_FILE])
        for path, found in per_file.items()
    }
    return sorted(scores, key=lambda p: -scores[p])


def rrf(
    lists: dict[str, list[str]],
    weights: dict[str, float],
    k: int,
    shares: Mapping[str, Sequence[float]] | None = None,
) -> dict[str, float]:
    """Weighted reciprocal-rank fusion: each list votes w / (k + rank), an entry of a list
    given `shares` that share of it (a file name the query only partly holds)."""
    scores: dict[str, float] = defaultdict(float)
    shares = shares or {}
    for stage, keys in lists.items():
        w = weights.get(stage, 1.0)
        part = shares.get(stage)
        for rank, key in enumerate(keys):
            vote = w if part is None else w * part[rank]
            scores[key] += vote / (k + rank + 1)
    return scores


def apply_priors(
    scores: dict[str, float],
    query: AnalyzedQuery,
    languages: dict[str, str | None],
    centrality: Mapping[str, float],
    *,
    test_prior: bool = True,
    graph_prior: bool = True,
    depth_prior: bool = True,
) -> dict[str, float]:
    """Light priors: tests, examples and prose below code unless asked for, and, for an issue
    report, vendored and legacy code; central files up; of two files of the same name ranked
    alike, the one nearer the root first."""
    if test_prior:
        factor = 1 / TEST_FACTOR if query.asks_for_tests else TEST_FACTOR
        doc_factor = 1.0 if query.asks_for_docs else DOC_FACTOR
        for path in scores:
            if is_test_path(path):
                scores[path] *= factor
            elif is_prose(path, languages.get(path)):
                scores[path] *= doc_factor
            if is_example_path(path):
                scores[path] *= example_prior(query)
            if query.is_report and is_borrowed_path(path):
                scores[path] *= BORROWED_FACTOR
    if graph_prior and centrality:
        top = max(centrality.values()) or 1.0
        for path in scores:
            scores[path] *= 1.0 + CENTRALITY_WEIGHT * (centrality.get(path, 0.0) / top) ** 0.5
    if depth_prior:
        deeper_twins_down(scores)
    return scores


def deeper_twins_down(scores: dict[str, float]) -> None:
    """Files that share their name with a candidate nearer the root count a little less: the
    shallower one is the general one (`lib/ecto/schema.ex` before `lib/ecto/repo/schema.ex`,
    `hash/hash.h` before `hash/internal/hash.h`). Only when one twin is the shallowest."""
    twins: dict[str, list[str]] = defaultdict(list)
    for path in scores:
        twins[path.rsplit("/", 1)[-1]].append(path)
    for paths in twins.values():
        if len(paths) < 2:
            continue
        depths = [p.count("/") for p in paths]
        least = min(depths)
        if depths.count(least) == 1:
            for path, depth in zip(paths, depths, strict=True):
                if depth > least:
                    scores[path] *= DEEPER_TWIN_FACTOR


def example_prior(query: AnalyzedQuery) -> float:
    """How much an example's score counts: below library code unless examples are asked for."""
    return 1.0 if query.asks_for_examples else EXAMPLE_FACTOR


def rank_files(
    results: StageResults,
    query: AnalyzedQuery,
    languages: dict[str, str | None],
    centrality: Mapping[str, float],
    *,
    rrf_k: int = 20,
    test_prior: bool = True,
    graph_prior: bool = True,
    depth_prior: bool = True,
    uses: Callable[[str], list[tuple[str, float]]] | None = None,
    cochange: CoChange | None = None,
    present: Callable[[Iterable[str]], Collection[str]] | None = None,
    with_stem: Callable[[str], list[str]] | None = None,
    untied: bool = True,
) -> dict[str, float]:
    """File scores from every stage's proposals, the priors, the files the best one uses
    (given `uses`, for an issue report), the headers and sources of the best ones (given
    `with_stem`, the indexed files by `file_stem`, for an issue report) and (given the
    repository's history) the files that usually change with the best ones and, for an issue
    report and given `untied`, the files that never changed with the first ten down."""
    # A file name votes by how well the query names the file (one candidate per file).
    stem_shares = [min(1.0, cand.score / STEM_FULL_MATCH) for cand in results.stems]
    scores = rrf(results.file_lists(), STAGE_WEIGHTS, rrf_k, {"stems": stem_shares})
    scores = apply_priors(
        scores,
        query,
        languages,
        centrality,
        test_prior=test_prior,
        graph_prior=graph_prior,
        depth_prior=depth_prior,
    )
    if not scores:
        return scores
    # Every step below moves files under the kept ones only, so these stay what they are.
    kept = kept_files(scores, COMPANION_KEEP)
    if test_prior and query.is_report and not query.asks_for_tests:
        later_tests_down(scores, kept)
    if uses is not None and query.is_report:
        add_used(scores, kept, uses, query)
    if with_stem is not None and query.is_report:
        add_counterparts(scores, kept, with_stem)
    if cochange is not None:
        add_companions(scores, kept, cochange, query, present)
        if untied and query.is_report:
            untied_down(scores, kept, cochange)
    return scores


@dataclass(frozen=True)
class Kept:
    """The best files of a ranking, which the steps after the priors never move."""

    files: list[str]  # best first (ties in the order scored)
    top: float  # the best score
    ceiling: float  # what a file raised below them may reach: just under the last of them
    whole: bool  # every scored file is among them: none lies below
    members: frozenset[str]  # `files`, to look up


def kept_files(scores: dict[str, float], keep: int = COMPANION_KEEP) -> Kept:
    """The `keep` best files of `scores` (which is not empty), the top score and the ceiling."""
    ranked = heapq.nlargest(keep, scores, key=scores.__getitem__)
    whole = len(ranked) == len(scores)
    return Kept(ranked, scores[ranked[0]], scores[ranked[-1]] * 0.999, whole, frozenset(ranked))


def later_tests_down(
    scores: dict[str, float], kept: Kept, *, factor: float = LATER_TEST_FACTOR
) -> None:
    """Tests below the `kept` files count `factor` less, in place: past the entry points an
    issue report's fix spans code (the files it uses, those that change with it), and a test
    there takes a slot from one. The kept files stay what the stages and priors gave."""
    if kept.whole:
        return
    for path in scores:
        if path not in kept.members and is_test_path(path):
            scores[path] *= factor


def counterparts(path: str, with_stem: Callable[[str], list[str]]) -> list[str]:
    """The headers of a C-family source file, or the sources of a header: the indexed files of
    its stem with the other kind of suffix (`lib/lazy.c` → `lib/lazy.h`), those in its own
    folder if any, else at most two elsewhere (`include/x.hpp` → `src/x.cpp`); then the
    header's inline implementation beside it, or the header an inline file implements
    (`inline_counterparts`)."""
    folder, _, name = path.rpartition("/")
    stem, dot, suffix = name.rpartition(".")
    suffix = suffix.lower()
    if not dot or not stem:
        return []
    inline = inline_counterparts(folder, stem, suffix, with_stem)
    if suffix not in HEADER_SUFFIXES | SOURCE_SUFFIXES:
        return inline
    others = HEADER_SUFFIXES if suffix in SOURCE_SUFFIXES else SOURCE_SUFFIXES
    found = [
        p
        for p in with_stem(stem.lower())
        if p.rsplit(".", 1)[-1].lower() in others and p.rsplit("/", 1)[-1][: len(stem)] == stem
    ]
    near = [p for p in found if p.rpartition("/")[0] == folder]
    return [*(near or (found if len(found) <= 2 else [])), *inline]


def inline_counterparts(
    folder: str, stem: str, suffix: str, with_stem: Callable[[str], list[str]]
) -> list[str]:
    """In `folder`: the header a C++ inline implementation file `<stem>.<suffix>` implements
    (`array-inl.h`, `array.ipp` → `array.h`), or a header's inline implementations (the
    reverse); in that order of `INLINE_MARKS` and file names."""
    mark = next((m for m in INLINE_MARKS if stem.lower().endswith(m)), "")
    if suffix in INLINE_SUFFIXES or (mark and suffix in HEADER_SUFFIXES):
        base = stem[: len(stem) - len(mark)]
        wanted: list[tuple[str, frozenset[str]]] = [(base, HEADER_SUFFIXES)]
    elif suffix in HEADER_SUFFIXES and not mark:
        wanted = [(stem + m, HEADER_SUFFIXES) for m in INLINE_MARKS]
        wanted.append((stem, INLINE_SUFFIXES))
    else:
        return []
    found: list[str] = []
    for name, suffixes in wanted:
        for p in with_stem(name.lower()):
            other_folder, _, other = p.rpartition("/")
            other_stem, _, other_suffix = other.rpartition(".")
            same = other_folder == folder and other_stem == name
            if same and other_suffix.lower() in suffixes and p not in found:
                found.append(p)
    return found


def add_counterparts(
    scores: dict[str, float],
    kept: Kept,
    with_stem: Callable[[str], list[str]],
    *,
    weight: float = COUNTERPART_WEIGHT,
) -> None:
    """Raise, in place and never above the `kept` files, the header or source of each kept
    C-family file (`counterparts`), proposed by a stage or not; tests are left where they are."""
    if kept.whole:
        return
    for anchor in kept.files:
        for path in counterparts(anchor, with_stem):
            if path not in kept.members and not is_test_path(path):
                scores[path] = min(kept.ceiling, scores.get(path, 0.0) + weight * kept.top)


def add_used(
    scores: dict[str, float],
    kept: Kept,
    uses: Callable[[str], list[tuple[str, float]]],
    query: AnalyzedQuery,
    *,
    anchors: int = USED_ANCHORS,
    weight: float = USED_WEIGHT,
) -> None:
    """Raise, in place and never above the `kept` files, the candidates the best-ranked files
    use: a fix that spans files often reaches into what its entry point calls. Only files some
    stage proposed (they match the query too) move; tests only when the query asks for them."""
    if kept.whole:
        return
    share: dict[str, float] = defaultdict(float)
    for anchor in kept.files[:anchors]:
        used = uses(anchor)
        total = sum(w for _, w in used) or 1.0
        for path, w in used:
            if path not in scores or path in kept.members:
                continue
            if query.asks_for_tests or not is_test_path(path):
                share[path] += w / total
    for path, part in share.items():
        scores[path] = min(kept.ceiling, scores[path] + weight * kept.top * part)


def add_companions(
    scores: dict[str, float],
    kept: Kept,
    cochange: CoChange,
    query: AnalyzedQuery,
    present: Callable[[Iterable[str]], Collection[str]] | None = None,
    *,
    anchors: int = COMPANION_ANCHORS,
    weight: float = COMPANION_WEIGHT,
    limit: int = COMPANION_LIMIT,
    sure: float = COMPANION_SURE,
    slots: int = COMPANION_SLOTS,
) -> None:
    """Raise the files that usually changed with the best-ranked ones, in place, never
    above the `kept` files; the anchors are the first of those. `present` keeps those of the
    given paths that are indexed now (history names deleted files too); tests join only when
    the query asks for them; for an issue report, prose (docs, changelogs, manifests) counts
    `PROSE_COMPANION_FACTOR` more."""
    top, ceiling = kept.top, kept.ceiling
    proposed = companions(cochange, kept.files[:anchors])
    if query.is_report:
        for path in proposed:
            if is_prose(path, language_for_path(path)):
                proposed[path] *= PROSE_COMPANION_FACTOR
    found = {
        path: proposed[path]
        for path in sorted(proposed, key=lambda p: (-proposed[p], p))
        if path not in kept.members and (query.asks_for_tests or not is_test_path(path))
    }
    found = dict(list(found.items())[: 3 * limit])  # some are gone since they changed
    indexed = present(found) if present is not None else found
    chosen = [p for p in found if p in indexed][:limit]
    sure_ones = [p for p in chosen if found[p] >= sure][:slots]
    for place, path in enumerate(sure_ones):  # straight after the kept files, in order
        scores[path] = ceiling * (1 - 0.001 * (place + 1))
    floor = ceiling * (1 - 0.001 * (len(sure_ones) + 1))
    for path in chosen:
        if path in sure_ones:
            continue
        raised = scores.get(path, 0.0) + weight * top * found[path]
        # Past the floor, squeezed under it (below the sure ones), in the same order.
        scores[path] = raised if raised < floor else floor * (1 - 0.01 * floor / raised)


def untied_down(
    scores: dict[str, float],
    kept: Kept,
    cochange: CoChange,
    *,
    anchors: int = UNTIED_ANCHORS,
    factor: float = UNTIED_FACTOR,
) -> None:
    """Files below the `kept` ones that never changed together with any of the first
    `anchors` files (`CoChange.partners`: in at least two shared commits) count `factor`
    less, in place: a fix that spans files spans files that change together, so a file the
    history ties to the others takes the slot of one it does not. Without any tie (no history
    for these files) nothing moves; the kept files stay what they are."""
    if kept.whole:
        return
    first = heapq.nlargest(anchors, scores, key=scores.__getitem__)
    tied: set[str] = set()
    for anchor in first:
        tied.update(cochange.partners(anchor))
    if not tied:
        return
    for path in scores:
        if path not in kept.members and path not in tied:
            scores[path] *= factor
