"""Writing the lexicon (`codemem.code.lexicon`): a segment per committed batch, listed in
order, and size-tiered merges of the newest segments. Hold the index lock.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from codemem.code.columns import Columns
from codemem.code.lexicon import LEXICON_DIR, LIST_FORMAT, LIST_NAME, Lexicon, list_check, read_list
from codemem.code.lexicon_build import from_batch
from codemem.code.rows import Batch
from codemem.infra import atomic_write, make_folder

# Size tiers: a segment with fewer chunks than TIER_DOCS[t] is of tier t, a larger one of the
# top tier, never merged again (a merge holds its segments' postings in memory). Whenever the
# newest MERGE_AT segments are of one lower tier they are merged into one: a full build of
# 20,000-chunk batches ends with one segment per 160,000 chunks, and incremental runs (a
# segment each) never leave more than a few small ones.
MERGE_AT = 8
TIER_DOCS = (4_000, 32_000)


def write_list(folder: Path, names: list[str]) -> None:
    record = {"format": LIST_FORMAT, "segments": names, "check": list_check(names)}
    atomic_write(folder / LIST_NAME, json.dumps(record), durable=False)  # derived


class LexiconWriter:
    """Adds a segment per committed batch (hold the index lock)."""

    def __init__(self, index_dir: Path, *, fresh: bool) -> None:
        self.folder = index_dir / LEXICON_DIR
        make_folder(self.folder)
        # A damaged list raises: the refresh's integrity check should have found it, and the
        # caller rebuilds the index (`CodeIndex.refresh`) rather than lose its rows here.
        self.names = (None if fresh else read_list(self.folder)) or []
        for path in self.folder.iterdir():  # left by a run killed before listing it
            if path.name != LIST_NAME and path.name not in self.names:
                path.unlink(missing_ok=True)
        numbers = [int(n[4:10]) for n in self.names if n[4:10].isdigit()]
        self.next = max(numbers, default=0) + 1
        if not (self.folder / LIST_NAME).exists():
            write_list(self.folder, self.names)

    def _new_name(self) -> str:
        name = f"seg-{self.next:06d}.bin"
        self.next += 1
        return name

    def add(self, batch: Batch, removed: Iterable[str] = ()) -> None:
        """One segment for the batch's rows that replaces the rows of `removed` files too.

        Call `merge_tail` next, once the batch is let go: a merge's arrays then never sit
        beside a batch's rows in memory.
        """
        removed = list(removed)
        if not len(batch) and not removed:
            return
        name = self._new_name()
        from_batch(batch, removed).write(self.folder / name)
        self.names.append(name)
        write_list(self.folder, self.names)

    def _tier(self, name: str) -> int:
        docs = len(Columns.open(self.folder / name).view("c_path"))
        return next((t for t, cap in enumerate(TIER_DOCS) if docs < cap), len(TIER_DOCS))

    def merge_tail(self) -> None:
        """Merge the newest `MERGE_AT` segments while they are of one tier below the top.

        The merged segment is written, listed in their place, and only then are they removed
        (a reader that opened them keeps its mapping); a stop in between leaves stray files
        the next writer removes.
        """
        from codemem.code.lexicon_merge import merge_segments  # only when merging

        while len(self.names) >= MERGE_AT:
            tail = self.names[-MERGE_AT:]
            tiers = {self._tier(name) for name in tail}
            if len(tiers) != 1 or tiers == {len(TIER_DOCS)}:
                return
            segments = Lexicon(self.folder.parent).segments[-MERGE_AT:]
            name = self._new_name()
            merge_segments(segments).write(self.folder / name)
            del segments
            self.names = [*self.names[:-MERGE_AT], name]
            write_list(self.folder, self.names)
            for old in tail:
                (self.folder / old).unlink(missing_ok=True)
