"""The baseline: plain Okapi BM25 over whole files, no code awareness at all.

Tokens are maximal runs of ASCII letters and digits, lowercased (so `snake_case` and
`camelCase` both split only where a non-alphanumeric sits). k1 = 1.2, b = 0.75, Lucene's idf
`ln(1 + (N - df + 0.5) / (df + 0.5))`, and the issue text is the query with repeated terms
counted (as Lucene and rank_bm25 do). Every regular tracked text file of the checkout is a
document. Term counts are cached per git blob id, so moving a clone from one commit to the
next only reads the files that changed.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from checkout import TrackedFile, is_text

TOKEN = re.compile(rb"[a-z0-9]+")
K1 = 1.2
B = 0.75


def tokenize(data: bytes) -> list[bytes]:
    """Lowercased runs of ASCII alphanumerics."""
    return TOKEN.findall(data.lower())


@dataclass
class _Doc:
    terms: dict[bytes, int]
    length: int


@dataclass
class WholeFileBM25:
    """A BM25 ranker over one checkout at a time, with a content cache across checkouts."""

    k1: float = K1
    b: float = B
    _cache: dict[str, _Doc | None] = field(default_factory=dict)  # blob id -> doc (None: binary)
    _docs: list[tuple[str, _Doc]] = field(default_factory=list)
    _avgdl: float = 1.0

    def load(self, root: Path, files: list[TrackedFile]) -> int:
        """Make the documents those files of the checkout at `root`; returns how many."""
        docs = []
        for f in files:
            if f.blob not in self._cache:
                self._cache[f.blob] = self._read(root / f.path)
            doc = self._cache[f.blob]
            if doc is not None:
                docs.append((f.path, doc))
        self._docs = docs
        total = sum(doc.length for _, doc in docs)
        self._avgdl = total / len(docs) if docs and total else 1.0
        return len(docs)

    @staticmethod
    def _read(path: Path) -> _Doc | None:
        try:
            data = path.read_bytes()
        except OSError:
            return None
        if not is_text(data):
            return None
        tokens = tokenize(data)
        return _Doc(dict(Counter(tokens)), len(tokens))

    def rank(self, query: str) -> list[tuple[str, float]]:
        """Every document with a positive score, best first (ties broken by path)."""
        qtf = Counter(tokenize(query.encode("utf-8", "replace")))
        wanted = qtf.keys()
        df: Counter[bytes] = Counter()
        hits = []
        for path, doc in self._docs:
            common = doc.terms.keys() & wanted
            if common:
                df.update(common)
                hits.append((path, doc, common))
        n = len(self._docs)
        idf = {t: math.log(1 + (n - d + 0.5) / (d + 0.5)) for t, d in df.items()}
        scored = []
        for path, doc, common in hits:
            norm = self.k1 * (1 - self.b + self.b * doc.length / self._avgdl)
            score = 0.0
            for t in common:
                tf = doc.terms[t]
                score += qtf[t] * idf[t] * tf * (self.k1 + 1) / (tf + norm)
            scored.append((path, score))
        scored.sort(key=lambda item: (-item[1], item[0]))
        return scored

    def forget(self) -> None:
        """Drop the content cache (between repositories)."""
        self._cache.clear()
        self._docs = []
