"""The names a reference graph is built on: every defined name, sorted, and what the rules say
of each (ignored, and the weight of one use), worked out on bytes with numpy.

`defined_names` reads each file's definitions once from the tag store and keeps them as one
blob of UTF-8 bytes plus a 64-bit hash per (file, name), never as a Python object per name:
names are told apart by hash (two names sharing one, odds of about one in a million on the
Linux kernel's 2.7 million names, count as one). The distinct names are sorted on their bytes
(8 at a time, only ties going on to the next 8), which is Python's string order for valid
UTF-8; a name with undecodable bytes (kept as lone surrogates) sorts another way, so then
the names are sorted as strings. `is_ignored_name` and `name_weight` (`codemem.code.graph_rank`)
are evaluated on byte classes for ASCII names, and called as they are on the others: the
results are the same as calling them on every name.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass

import numpy as np

from codemem.code.columns import Strings
from codemem.code.graph_rank import STOP_NAMES, is_ignored_name, name_weight
from codemem.code.lexicon_postings import distinct_indexed
from codemem.code.tags import TagStore
from codemem.infra import trim_heap

GATHER_BYTES = 1 << 20  # bytes of names copied into sorted order per step
WORD_BATCH = 1 << 20  # names whose next 8 bytes are read per step
# Fewer defined names than this: the build's temporaries are a few MB at most, and handing
# their pages back (`trim_heap`, a walk of every malloc arena: a millisecond or two each
# time, beside LanceDB's threads) would only lengthen the end of a small index run.
TRIM_MIN_NAMES = 100_000


def trim_for(names: int) -> None:
    """`trim_heap` in a graph build of `names` defined names, when it has `TRIM_MIN_NAMES`."""
    if names >= TRIM_MIN_NAMES:
        trim_heap()


# Byte classes of ASCII text, one bit each; any byte from 0x80 up is NON_ASCII.
ALPHA, UPPER, LOWER, UNDERSCORE, DASH, NON_ASCII = 1, 2, 4, 8, 16, 32
_CLASSES = np.zeros(256, dtype=np.uint8)
_CLASSES[ord("A") : ord("Z") + 1] = ALPHA | UPPER
_CLASSES[ord("a") : ord("z") + 1] = ALPHA | LOWER
_CLASSES[ord("_")] = UNDERSCORE
_CLASSES[ord("-")] = DASH
_CLASSES[0x80:] = NON_ASCII
# masks[r]: the first r bytes of a big-endian 8-byte word.
_MASKS = np.array([((1 << 64) - 1) ^ ((1 << (64 - 8 * r)) - 1) for r in range(9)], dtype=np.uint64)


@dataclass
class DefinedNames:
    """The defined names, sorted, and who defines them.

    `blob`/`offsets` are the names as `string_columns` stores them; keys are the (name id,
    defining file) pairs, sorted; `hashes` are the names' hashes in ascending order and
    `id_of_hash` each one's name id.
    """

    blob: np.ndarray  # uint8
    offsets: np.ndarray  # int64, one more than names
    key_name: np.ndarray  # int32
    key_file: np.ndarray  # int32
    hashes: np.ndarray  # int64, ascending
    id_of_hash: np.ndarray  # int32

    def __len__(self) -> int:
        return len(self.offsets) - 1


def defined_names(store: TagStore, paths: list[str]) -> DefinedNames:
    """Every name defined in `paths` (file ids are positions in `paths`)."""
    def_hash, per_file, text = array("q"), array("q"), bytearray()
    for defs, _ in store.scan(paths, references=False):
        names = dict.fromkeys([d[0] for d in defs if d[0]])
        per_file.append(len(names))  # each file's names: their file ids come from these at once
        if names:
            def_hash.extend(map(hash, names))
            text += "\0".join(names).encode("utf-8", "surrogateescape")
            text += b"\0"
    text += bytes(8)  # so an 8-byte word can be read at any name's start
    data = np.frombuffer(text, dtype=np.uint8)
    hashes, first, inverse = distinct_indexed(np.frombuffer(def_hash, dtype=np.int64))
    del def_hash
    ends = np.flatnonzero(data[:-8] == 0)  # each definition's NUL
    position = np.int32 if len(data) < 1 << 31 else np.int64
    starts = np.where(first > 0, ends[first - 1] + 1, 0).astype(position)
    lengths = (ends[first] - starts).astype(position)
    del ends, first
    trim_for(len(hashes))  # what the hashes' sort freed goes back before the names' sort's
    order = _byte_order(data, starts, lengths)
    starts, lengths = starts[order], lengths[order]
    blob, offsets = _gather(data, starts, lengths)
    del text, data, starts, lengths
    if not _bytes_sort_as_strings(blob, offsets):
        order, blob, offsets = _sort_as_strings(blob, offsets, order)
    id_of_hash = np.empty(len(order), dtype=np.int32)
    id_of_hash[order] = np.arange(len(order), dtype=np.int32)
    del order
    defined = id_of_hash[inverse]
    del inverse
    files = np.repeat(np.arange(len(per_file), dtype=np.int32), np.frombuffer(per_file, np.int64))
    del per_file
    by_key = np.lexsort((files, defined))
    key_name, key_file = defined[by_key], files[by_key]
    return DefinedNames(blob, offsets, key_name, key_file, hashes, id_of_hash)


def _byte_order(data: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The order of the names at `starts` (of `lengths` bytes) in `data`, compared as bytes.

    Sorted on their first 8 bytes, then each run of names still tied on the next 8, and so
    on: few names share long prefixes, so little is sorted twice.
    """
    words = np.ndarray((len(data) - 7,), dtype=">u8", buffer=data, strides=(1,))

    def word(items: np.ndarray, w: int) -> np.ndarray:
        """Bytes 8w to 8w + 8 of each name in `items` (zeros past its end), big-endian."""
        out = np.empty(len(items), dtype=np.uint64)
        for lo in range(0, len(items), WORD_BATCH):  # in batches: small temporaries
            some = items[lo : lo + WORD_BATCH]
            left = np.clip(lengths[some] - 8 * w, 0, 8)
            at = np.minimum(starts[some].astype(np.int64) + 8 * w, len(words) - 1)
            np.bitwise_and(words[at].astype(np.uint64), _MASKS[left], out=out[lo : lo + WORD_BATCH])
        return out

    everything = np.arange(len(starts))
    keys = word(everything, 0)
    order = np.argsort(keys)  # any order among ties: the next words decide
    keys = keys[order]
    tied = np.zeros(len(order), dtype=bool)  # tied with the name before, on the words so far
    np.equal(keys[1:], keys[:-1], out=tied[1:])
    del keys, everything
    longest = int(lengths.max()) if len(lengths) else 0
    w = 1
    while 8 * w < longest and tied.any():
        member = tied.copy()
        member[:-1] |= tied[1:]
        at = np.flatnonzero(member)
        group = np.cumsum(~tied[at])
        items = order[at]
        keys = word(items, w)
        by = np.lexsort((keys, group))
        order[at], keys, group = items[by], keys[by], group[by]
        still = np.zeros(len(at), dtype=bool)
        still[1:] = (group[1:] == group[:-1]) & (keys[1:] == keys[:-1])
        tied[at] = still
        w += 1
    return order


def _gather(
    data: np.ndarray, starts: np.ndarray, lengths: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The names at `starts` copied one after another, each with its NUL: (blob, offsets)."""
    sizes = lengths + 1
    offsets = np.zeros(len(sizes) + 1, dtype=np.int64)
    np.cumsum(sizes, out=offsets[1:])
    blob = np.empty(int(offsets[-1]), dtype=np.uint8)
    lo = 0
    while lo < len(sizes):
        hi = max(
            int(np.searchsorted(offsets, offsets[lo] + GATHER_BYTES, side="right")) - 1, lo + 1
        )
        count = sizes[lo:hi]
        shift = np.repeat(starts[lo:hi] - offsets[lo:hi], count)
        positions = np.arange(offsets[lo], offsets[hi], dtype=np.int64)
        blob[offsets[lo] : offsets[hi]] = data[positions + shift]
        lo = hi
    return blob, offsets


def _non_ascii(blob: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Ids of the names with a byte from 0x80 up."""
    if not len(blob):
        return np.zeros(0, dtype=np.int64)
    high = np.bitwise_or.reduceat(blob >= 0x80, offsets[:-1])
    return np.flatnonzero(high)


def _decode(blob: np.ndarray, offsets: np.ndarray, k: int) -> str:
    return blob[offsets[k] : offsets[k + 1] - 1].tobytes().decode("utf-8", "surrogateescape")


def _bytes_sort_as_strings(blob: np.ndarray, offsets: np.ndarray) -> bool:
    """Whether byte order is string order here: every name is valid UTF-8."""
    try:
        for k in _non_ascii(blob, offsets).tolist():
            blob[offsets[k] : offsets[k + 1] - 1].tobytes().decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _sort_as_strings(
    blob: np.ndarray, offsets: np.ndarray, order: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(order, blob, offsets) again, the names compared as Python strings."""
    names = Strings(memoryview(blob), memoryview(offsets)).tolist()  # type: ignore[arg-type]
    again = sorted(range(len(names)), key=names.__getitem__)
    encoded = [names[k].encode("utf-8", "surrogateescape") + b"\0" for k in again]
    sizes = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum(sizes, out=offsets[1:])
    blob = np.frombuffer(bytearray(b"".join(encoded)), dtype=np.uint8)
    return order[np.array(again, dtype=np.int64)], blob, offsets


@dataclass
class NameRules:
    """What the graph's rules say of each name: ignored, and the weight of one use."""

    ignored: np.ndarray  # bool
    classes: np.ndarray  # uint8: the byte classes found in each name
    lengths: np.ndarray  # int64: bytes (characters, for ASCII names)
    first: np.ndarray  # uint8: each name's first byte
    fallback: dict[int, str]  # the non-ASCII names, for the rules as plain functions

    def weights(self, ids: np.ndarray, definers: np.ndarray) -> np.ndarray:
        """`name_weight(name, definers)` of each name in `ids`."""
        classes, lengths = self.classes[ids], self.lengths[ids]
        has_alpha = (classes & ALPHA) > 0
        camel = ((classes & UPPER) > 0) & ((classes & LOWER) > 0)
        compound = (((classes & (UNDERSCORE | DASH)) > 0) & has_alpha) | camel
        type_like = (self.first[ids] >= ord("A")) & (self.first[ids] <= ord("Z")) & camel
        weight = np.ones(len(ids))
        weight[(compound & (lengths >= 8)) | (type_like & (lengths >= 4))] *= 10
        weight[self.first[ids] == ord("_")] *= 0.1
        weight[definers > 5] *= 0.1
        for at in np.flatnonzero((classes & NON_ASCII) > 0).tolist():
            weight[at] = name_weight(self.fallback[int(ids[at])], int(definers[at]))
        return weight


def name_rules(names: DefinedNames) -> NameRules:
    """`is_ignored_name` of every name, and what `NameRules.weights` needs."""
    blob, offsets = names.blob, names.offsets
    count = len(names)
    if not count:
        empty = np.zeros(0, dtype=np.uint8)
        return NameRules(np.zeros(0, dtype=bool), empty, np.zeros(0, dtype=np.int64), empty, {})
    starts, ends = offsets[:-1], offsets[1:] - 1  # ends: each name's NUL
    classes = np.bitwise_or.reduceat(_CLASSES[blob], starts)
    lengths = ends - starts
    first = blob[starts]
    before = blob[np.maximum(ends - 2, 0)], blob[np.maximum(ends - 1, 0)]
    second = blob[np.minimum(starts + 1, len(blob) - 1)]
    underscore = ord("_")
    dunder = (first == underscore) & (second == underscore)
    dunder &= (before[0] == underscore) & (before[1] == underscore)
    leads = ((_CLASSES[first] & ALPHA) > 0) | (first == underscore) | (first == ord("$"))
    ignored = (lengths < 2) | dunder | ~leads
    stops = np.fromiter(map(hash, STOP_NAMES), dtype=np.int64, count=len(STOP_NAMES))
    at = np.minimum(np.searchsorted(names.hashes, stops), len(names.hashes) - 1)
    for k in names.id_of_hash[at[names.hashes[at] == stops]].tolist():
        ignored[k] |= _decode(blob, offsets, k) in STOP_NAMES
    fallback: dict[int, str] = {}
    for k in np.flatnonzero((classes & NON_ASCII) > 0).tolist():
        fallback[k] = name = _decode(blob, offsets, k)
        ignored[k] = is_ignored_name(name)
    return NameRules(ignored, classes, lengths, first, fallback)
