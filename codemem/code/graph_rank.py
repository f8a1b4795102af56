"""How the reference graph ranks: the rules that weigh an edge, and the ranking itself.

An edge goes from a file that uses a name to every file that defines it, weighted the way
Aider's repo map does (long compound names count more, private and widely defined names
less, repeated uses with diminishing returns). Files are ranked by personalized PageRank,
computed by power iteration over edge arrays with `np.bincount`, and each file's rank is then
spread over the definitions it points at, which ranks definitions. The graph these run on is
built by `codemem.code.graph_build` and read by `codemem.code.graph`.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from functools import lru_cache
from math import sqrt
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

DAMPING = 0.85
MAX_ITERATIONS = 50
TOLERANCE = 1e-6  # per node, on the L1 change between iterations (as networkx does)
MENTIONED_MULTIPLIER = 10.0
# Rank a file passes to its own definitions counts this much of rank from other files, so an
# unused helper in a central file does not outrank what other files actually use.
SELF_FLOW = 0.1
SELF_WEIGHT = 0.1  # a file using its own names says little about what matters
UNREFERENCED_WEIGHT = 0.1  # self-edge keeping an unused or ignored definition rankable
SPREAD_BATCH = 1 << 20  # edges whose flow is worked out per step
MAX_DEFINERS = 20  # a name defined in more files than this (`eval`, `run`) links nothing
# Keyword-like names, builtins and the methods of builtin containers and strings: every file
# uses them and a few files happen to define them, so as links they are noise.
STOP_NAMES = frozenset(
    """
    self cls this super None True False null nil undefined NULL nullptr true false args kwargs
    new delete return yield await async print len str int float bool list dict set tuple
    object type range isinstance issubclass getattr setattr hasattr repr hash iter next
    sorted reversed enumerate zip map filter sum min max abs any all open format round
    append extend insert pop remove clear copy update get keys values items add discard
    join split strip replace startswith endswith lower upper encode decode read write close
    index count sort push length forEach toString valueOf then catch
    """.split()
)
_CACHE_FORMAT = 4  # bump whenever the rules below change
# Changes with anything that shapes the graph, so a cache built by other rules is rebuilt.
BUILD_KEY = zlib.crc32(
    repr(
        (
            _CACHE_FORMAT,
            sorted(STOP_NAMES),
            MAX_DEFINERS,
            SELF_WEIGHT,
            UNREFERENCED_WEIGHT,
            SELF_FLOW,
        )
    ).encode()
)


def is_ignored_name(name: str) -> bool:
    """Names that would link every file to every other: keywords-like, one letter, dunders."""
    return (
        len(name) < 2
        or name in STOP_NAMES
        or (name.startswith("__") and name.endswith("__"))
        or not (name[0].isalpha() or name[0] in "_$")
    )


def name_weight(name: str, definers: int) -> float:
    """Aider's identifier weight: how much one use of `name` says about its definer.

    Long compound names (snake, kebab, camel; 8+ characters) are specific, and so, beyond
    Aider, are capitalized type-like names (`Symbol`, `Expr`): x10. Private names and names
    defined in more than five files: x0.1.
    """
    weight = 1.0
    has_alpha = any(c.isalpha() for c in name)
    is_snake = "_" in name and has_alpha
    is_kebab = "-" in name and has_alpha
    is_camel = any(c.isupper() for c in name) and any(c.islower() for c in name)
    is_type_like = name[:1].isupper() and is_camel and len(name) >= 4
    if ((is_snake or is_kebab or is_camel) and len(name) >= 8) or is_type_like:
        weight *= 10
    if name.startswith("_"):
        weight *= 0.1
    if definers > 5:
        weight *= 0.1
    return weight


_cached_name_weight = lru_cache(maxsize=1 << 16)(name_weight)  # searches meet the same names


def use_weight(name: str, definers: int, uses: int) -> float:
    """The weight of the edge from a file using `name` `uses` times to each of the `definers`
    files defining it: `name_weight` × √uses, and 0 for a name that links nothing (ignored, or
    defined in no file or in more than `MAX_DEFINERS`). `graph_build` computes the same over
    arrays; `file_uses` per file at search time."""
    if not 0 < definers <= MAX_DEFINERS or is_ignored_name(name):
        return 0.0
    return _cached_name_weight(name, definers) * sqrt(uses)


def pagerank(
    n: int,
    src: np.ndarray,
    dst: np.ndarray,
    weight: np.ndarray,
    personalization: np.ndarray | None = None,
) -> np.ndarray:
    """Weighted PageRank of `n` nodes by power iteration; dangling rank goes to the teleport set.

    Self-loops are left out: a file using its own names says nothing about its importance,
    and a self-loop would make its node a sink that hoards rank.
    """
    import numpy as np

    if n == 0:
        return np.zeros(0)
    cross = src != dst
    src, dst, weight = src[cross], dst[cross], weight[cross]
    if personalization is None or personalization.sum() <= 0:
        teleport = np.full(n, 1.0 / n)
    else:
        teleport = personalization / personalization.sum()
    # `np.add.at` adds in index order, as `np.bincount` would, without an index copy per call.
    out = np.zeros(n)
    np.add.at(out, src, weight)
    share = weight / out[src]
    del weight
    dangling = out == 0
    rank = np.full(n, 1.0 / n)
    for _ in range(MAX_ITERATIONS):
        previous = rank
        moved = previous[src]
        moved *= share
        flow = np.zeros(n)
        np.add.at(flow, dst, moved)
        del moved
        rank = DAMPING * (flow + previous[dangling].sum() * teleport) + (1 - DAMPING) * teleport
        if np.abs(rank - previous).sum() < n * TOLERANCE:
            break
    normalized: np.ndarray = rank / rank.sum()
    return normalized


def spread(
    arrays: Mapping[str, np.ndarray], rank: np.ndarray, edge_weight: np.ndarray
) -> np.ndarray:
    """Each file's rank split over its out-edges, summed per definition key (file, name)."""
    import numpy as np

    src, key, key_file = arrays["edge_src"], arrays["edge_key"], arrays["key_file"]
    if not len(edge_weight):
        return np.zeros(len(key_file))
    # Sums taken a batch of edges at a time, in edge order: the very sums one `bincount` over
    # every edge makes, with small temporaries.
    out = np.zeros(len(rank))
    for lo in range(0, len(src), SPREAD_BATCH):
        np.add.at(out, src[lo : lo + SPREAD_BATCH], edge_weight[lo : lo + SPREAD_BATCH])
    scores = np.zeros(len(key_file))
    for lo in range(0, len(src), SPREAD_BATCH):
        hi = lo + SPREAD_BATCH
        some = src[lo:hi]
        flow = rank[some] * edge_weight[lo:hi] / out[some]
        flow[some == key_file[key[lo:hi]]] *= SELF_FLOW
        np.add.at(scores, key[lo:hi], flow)
    return scores
