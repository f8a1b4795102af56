"""Small text helpers shared by archival and recall memory: tokens, BM25, similarity."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

_WORD = re.compile(r"[a-z0-9]+")


def tokenize(text: str) -> list[str]:
    """Lower-case words and numbers; `snake_case` and `dotted.names` split into their parts."""
    return _WORD.findall(text.lower())


def jaccard(a: str, b: str) -> float:
    """Similarity of the two texts' word sets (1.0: the same words)."""
    left, right = set(tokenize(a)), set(tokenize(b))
    if not left and not right:
        return 1.0
    return len(left & right) / len(left | right)


def normalize(text: str) -> str:
    """Text with runs of whitespace collapsed, for exact-duplicate checks."""
    return " ".join(text.split())


def bm25_scores(
    query: str, documents: Sequence[str], k1: float = 1.2, b: float = 0.75
) -> list[float]:
    """Okapi BM25 score of every document for `query` (0.0 when no query word occurs)."""
    terms = set(tokenize(query))
    docs = [Counter(tokenize(doc)) for doc in documents]
    if not terms or not docs:
        return [0.0] * len(docs)
    average = sum(sum(doc.values()) for doc in docs) / len(docs) or 1.0
    scores = []
    for doc in docs:
        length = sum(doc.values())
        score = 0.0
        for term in terms:
            frequency = doc.get(term, 0)
            if not frequency:
                continue
            having = sum(1 for other in docs if term in other)
            idf = math.log(1 + (len(docs) - having + 0.5) / (having + 0.5))
            score += idf * frequency * (k1 + 1) / (frequency + k1 * (1 - b + b * length / average))
        scores.append(score)
    return scores
