"""Follow-up stages: they read the code of what the first stages found.

Where an error message of the query is raised (the chunks whose string literals hold it), and
what the functions the query names call (the fix is often one call further in). Both take the
code as text read by the caller (`Searcher.chunk_texts`), so the fusion lab can replay them.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from codemem.code.files import is_test_path
from codemem.code.query import STOP_WORDS, AnalyzedQuery
from codemem.code.stages import Candidate, candidate_from_row
from codemem.code.text import tokenize

if TYPE_CHECKING:
    from codemem.code.lexicon import Lexicon

# Error messages looked up as phrases in string literals (`message_matches`).
STRING_RE = re.compile(r'"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\'|`[^`]*`')
WORD_RE = re.compile(r"[a-z0-9]+")
DOCSTRING_RE = re.compile(r'"""(?:.|\n)*?"""|\'\'\'(?:.|\n)*?\'\'\'')
MIN_MESSAGE_PAIRS = 2
MESSAGE_SHARE = 0.5  # of the best chunk's pairs, for a chunk to count as a raise site too
# Callee expansion (`callee_matches`): the definitions named by the query pass weight to what they call.
CALL_RE = re.compile(r"\b([A-Za-z_]\w*)\s*\(")
CALL_KEYWORDS = frozenset(
    """if for while return elif switch catch sizeof print super isinstance len str int list
    dict set tuple range getattr setattr hasattr type function func new not and assert raise""".split()
)
MAX_CALLEE_DEFINITIONS = 3
CALLEE_SOURCES = 3
CALLER_KINDS = frozenset({"function", "method", "macro"})


def message_candidates(store: Lexicon, query: AnalyzedQuery, limit: int = 50) -> list[Candidate]:
    """Chunks holding the words of the query's error messages (checked by `message_matches`)."""
    words = dict.fromkeys(t for text in query.errors for t in tokenize(text) if t not in STOP_WORDS)
    if not words:
        return []
    return [
        candidate_from_row(row, float(row["_score"]))
        for row in store.fts_chunks(" ".join(words), limit)
    ]


def _literal_pairs(code: str) -> set[tuple[str, str]]:
    """Consecutive word pairs inside the string literals of some code."""
    code = DOCSTRING_RE.sub(" ", code)  # documentation, not a message the program prints
    words = [w for lit in STRING_RE.findall(code) for w in WORD_RE.findall(lit.lower())]
    return set(zip(words, words[1:], strict=False))


def message_matches(
    candidates: list[Candidate], texts: dict[str, str], query: AnalyzedQuery
) -> list[Candidate]:
    """The chunks whose string literals hold an error message of the query: where it is raised.

    An error line is a phrase to look up, not a bag of words: a chunk counts by how many
    consecutive word pairs of the message its literals repeat (a formatted value breaks the
    message into pieces, so a part is enough), at least `MIN_MESSAGE_PAIRS`.
    """
    messages = [WORD_RE.findall(text.lower()) for text in query.errors]
    wanted = [set(zip(m, m[1:], strict=False)) for m in messages]
    out: list[Candidate] = []
    for cand in candidates:
        code = texts.get(cand.chunk_id or "")
        if not code:
            continue
        pairs = _literal_pairs(code)
        found = max((len(w & pairs) for w in wanted), default=0)
        if found >= MIN_MESSAGE_PAIRS:
            out.append(
                Candidate(
                    cand.path, float(found), cand.start_line, cand.end_line, cand.symbol,
                    cand.kind, cand.language, cand.chunk_id, cand.is_test,
                )
            )  # fmt: skip
    out.sort(key=lambda c: -c.score)
    # A chunk that repeats a few words of a long message is not where it is raised.
    return [c for c in out if c.score >= MESSAGE_SHARE * out[0].score]


def called_names(body: str) -> list[str]:
    """Names a definition's body calls, in order of first call."""
    return [
        n
        for n in dict.fromkeys(CALL_RE.findall(body))
        if len(n) > 2 and n.lower() not in STOP_WORDS and n not in CALL_KEYWORDS
    ]


def callee_matches(
    sources: list[Candidate], bodies: dict[tuple[str, int], str], definitions: list[dict[str, Any]]
) -> list[Candidate]:
    """Files defining what the named definitions call: the fix is often one call further in.

    Each source (a definition the query names, best first) passes a share of its weight to
    the definitions of the names its body calls; a name defined in many places says
    nothing and is skipped, as in `symbol_matches`.
    """
    by_name: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in definitions:
        if not is_test_path(row["path"]):
            by_name[row["name"]].append(row)
    scores: dict[str, float] = defaultdict(float)
    firsts: dict[str, dict[str, Any]] = {}
    for rank, source in enumerate(sources):
        names = [
            n
            for n in called_names(bodies.get((source.path, source.start_line), ""))
            if n != source.symbol
        ]
        names = [n for n in names if 0 < len(by_name.get(n, ())) <= MAX_CALLEE_DEFINITIONS]
        for name in names:
            defs = by_name[name]
            for row in defs:
                scores[row["path"]] += 1.0 / ((rank + 1) * len(defs) * len(names) ** 0.5)
                firsts.setdefault(row["path"], row)
    ranked = sorted(scores.items(), key=lambda kv: -kv[1])
    return [candidate_from_row(firsts[p], s) for p, s in ranked]
