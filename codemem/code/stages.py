"""Candidate generators for retrieval: full-text, symbols, vectors (`Candidate`).

Each stage asks the lexicon (`codemem.code.lexicon` ranks, `codemem.code.lexicon_rows` looks
definitions up; vectors: the LanceDB store) for rows and returns candidates best first;
`codemem.code.search` fuses them with the stages that name files (`codemem.code.file_stages`:
paths, traceback frames, file names). Every stage can be switched off in config
(`search.<stage>: false`) for ablations.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from codemem.code.files import is_test_path
from codemem.code.query import IDENT_RE, STOP_WORDS, AnalyzedQuery, looks_like_code

if TYPE_CHECKING:
    import numpy as np

    from codemem.code.lexicon import Lexicon
    from codemem.code.lexicon_rows import LexiconRows
    from codemem.code.store import CodeStore

MAX_DEFINITIONS = 25  # a name defined in more places than this says little about where to look
NAME_WEIGHT = 1.0  # a capitalised word of the query (`Router`) that is also a definition's name
# Which definition of a name is the one meant: the type rather than an `impl` of it or a field.
KIND_WEIGHTS = {
    "class": 1.5,
    "struct": 1.5,
    "interface": 1.5,
    "trait": 1.5,
    "type": 1.5,
    "enum": 1.5,
    "module": 1.2,
    "namespace": 1.0,
    "impl": 0.5,
    "field": 0.5,
    "variable": 0.7,
}
TEST_DEFINITION_WEIGHT = 0.5
# A query of this many words or fewer (stop words aside) is a search, not a report.
STEM_MAX_WORDS = 24
PHRASE_NAMES = True  # a short query's words in a row may spell a definition's name


@dataclass(slots=True)
class Candidate:
    """A span some stage thinks is relevant."""

    path: str
    score: float
    start_line: int = 0
    end_line: int = 0
    symbol: str | None = None
    kind: str | None = None
    language: str | None = None
    chunk_id: str | None = None
    is_test: bool = False


def candidate_from_row(row: dict[str, Any], score: float) -> Candidate:
    return Candidate(
        path=row["path"],
        score=score,
        start_line=row.get("start_line") or 0,
        end_line=row.get("end_line") or 0,
        symbol=row.get("symbol") or row.get("qualname"),
        kind=row.get("symbol_kind") or row.get("kind"),
        language=row.get("language"),
        chunk_id=row.get("id"),
        is_test=bool(row.get("is_test")),
    )


def bm25_chunks(store: Lexicon, query: AnalyzedQuery, limit: int) -> list[Candidate]:
    """Chunks ranked by BM25 over their code-aware search text."""
    text = query.fts_query()
    if not text:
        return []
    return [candidate_from_row(row, float(row["_score"])) for row in store.fts_chunks(text, limit)]


def bm25_files(store: Lexicon, query: AnalyzedQuery, limit: int) -> list[Candidate]:
    """Whole files ranked by BM25 (a file is relevant as a whole, not only in one chunk)."""
    text = query.fts_query()
    if not text:
        return []
    return [candidate_from_row(row, float(row["_score"])) for row in store.fts_files(text, limit)]


def symbol_matches(lookup: LexiconRows, query: AnalyzedQuery, limit: int = 200) -> list[Candidate]:
    """Definitions whose name is an identifier of the query, rarest names first."""
    names = list(
        dict.fromkeys(
            query.identifiers
            + [f.function for f in query.frames if f.function]
            + (query.names if NAME_WEIGHT else [])
        )
    )
    names = [n for n in names if (len(n) > 2 or n in query.exact) and n.lower() not in STOP_WORDS][
        :200
    ]
    names += [n for n in phrase_names(query) if n not in names] if PHRASE_NAMES else []
    if not names:
        return []
    pins = [".".join(d.split(".")[-2:]) for d in query.dotted if "." in d]
    rows = lookup.symbols_named(names, most=MAX_DEFINITIONS, pinned=pins)
    by_name: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_name[row["name"]].append(row)
    strong: dict[str, float] = {}  # a frame's function, as much as its frame counts
    for frame in query.frames:
        if frame.function:
            strong[frame.function] = max(strong.get(frame.function, 0.0), frame.weight)
    plain_names = set(query.names) - set(query.identifiers)
    out: list[Candidate] = []
    for name, defs in by_name.items():
        if len(defs) > MAX_DEFINITIONS:
            continue
        weight = (1.0 + strong.get(name, 0.0)) * (1.5 if looks_like_code(name) else 1.0)
        if name in plain_names:
            weight *= NAME_WEIGHT
        for row in defs:
            own = KIND_WEIGHTS.get(row.get("kind") or "", 1.0)
            if is_test_path(row["path"]):
                own *= TEST_DEFINITION_WEIGHT
            out.append(candidate_from_row(row, weight * own / len(defs)))
    for dotted in query.dotted:
        # `pkg.Class.method` pins the definition whose qualname ends that way.
        parts = dotted.split(".")
        for row in by_name.get(parts[-1], []):
            if len(parts) > 1 and (row["qualname"] or "").endswith(".".join(parts[-2:])):
                out.append(candidate_from_row(row, 2.0))
    out.sort(key=lambda c: -c.score)
    return out[:limit]


def phrase_names(query: AnalyzedQuery) -> list[str]:
    """Names a short query spells in words: "hash code builder" → `HashCodeBuilder`,
    `hashCodeBuilder`, `hash_code_builder` (two or three words in a row, none a stop word)."""
    if not is_short(query):
        return []
    words = IDENT_RE.findall(query.text)
    out: list[str] = []
    for size in (2, 3):
        for n in range(len(words) - size + 1):
            run = words[n : n + size]
            if any(w.lower() in STOP_WORDS or not w.isalpha() for w in run):
                continue
            pascal = "".join(w[:1].upper() + w[1:] for w in run)
            out += [pascal, pascal[:1].lower() + pascal[1:], "_".join(w.lower() for w in run)]
    return list(dict.fromkeys(out))


def is_short(query: AnalyzedQuery) -> bool:
    """A search rather than a report: in a long report a word naming a file is mostly by chance."""
    words = [w for w in IDENT_RE.findall(query.text) if w.lower() not in STOP_WORDS]
    return len(words) <= STEM_MAX_WORDS


def vector_chunks(store: CodeStore, vector: np.ndarray, limit: int) -> list[Candidate]:
    """Chunks nearest to the query embedding."""
    rows = store.nearest_chunks(vector, limit)
    return [candidate_from_row(row, 1.0 - float(row.get("_distance", 0.0))) for row in rows]
