"""Commits' patch ids, computed once per clone: `.codemem/local/patch-ids.json`.

A commit's patch id (`patches.commit_patch_ids`) never changes, but computing it is a diff of
the whole commit: every pass would pay it again for each commit it lists, and for up to
`commits.REWRITTEN_LIMIT` commits HEAD no longer holds, on every pass while a digested head
stays unreachable (about a second per thousand commits). `PatchIds` answers from the file
and asks git only for the commits it has not seen, then keeps their ids there too ("" for
a commit with none: a memory-only one). Two other answers git gives that never change are
kept there too, each under a hash of its question: the merge base of two commits, and the
text the commit that added a digest holds at a given HEAD; so a pass with nothing new asks
git none of them again.

The file is derived: one that does not read, fails its checksum or has the wrong shape is
started afresh (its ids are computed again), and one that cannot be written only costs
time. Each write is atomic, of what the file holds then plus the new ids, so two passes at
once never tear it; at worst one's new ids are computed again by the next pass. The newest
`MAX_KEPT` ids are kept.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Sequence
from pathlib import Path

from codemem.errors import CodememError
from codemem.infra import git_text, read_checked, run_git, write_checked
from codemem.sleep.patches import OUTSIDE_MEMORY, commit_patch_ids, range_patch_id
from codemem.workspace import Workspace

log = logging.getLogger("codemem")

FILE_NAME = "patch-ids.json"
VERSION = 1
MAX_KEPT = 20_000  # far more than one pass reads; older ids are computed again if ever asked
MAX_BYTES = 16 * 1024 * 1024
_ID = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


class PatchIds:
    """{commit: patch id} from the file (`FILE_NAME` in `.codemem/local/`) and, for the rest,
    from git."""

    def __init__(self, root: Path, ws: Workspace | None = None, *, save: bool = True) -> None:
        """`ws`: keep them in its `.codemem/local/` (None: for this process only); with `save`
        False, read from there but never written (a dry run)."""
        self.root = root
        self.ws = ws
        self.path = ws.local_dir / FILE_NAME if ws is not None else None
        self.save = save
        self.known: dict[str, str] = _read(self.path) if self.path is not None else {}

    def of(self, shas: Sequence[str]) -> dict[str, str]:
        """{commit: its stable patch id} for the `shas` that change something outside
        `.codemem/`; git is asked only about those not seen before (one pipeline)."""
        new = [sha for sha in dict.fromkeys(shas) if sha not in self.known]
        if new:
            found = commit_patch_ids(self.root, new)
            computed = {sha: found.get(sha, "") for sha in new}
            self.known.update(computed)
            if self.save and self.ws is not None:
                self._write(self.ws, computed)
        return {sha: self.known[sha] for sha in shas if self.known.get(sha)}

    def of_range(self, base: str, head: str) -> str | None:
        """The stable patch id of what `base..head` changed outside `.codemem/`, when that range
        holds two commits or more that do (`squashes.squashed_keys`); kept under a name of the
        pair, as a commit's is."""
        name = hashlib.sha1(f"range {base} {head}".encode()).hexdigest()
        if name not in self.known:
            count = git_text(self.root, "rev-list", "--count", f"{base}..{head}", *OUTSIDE_MEMORY)
            several = int(count.strip() or 0) >= 2
            found = (range_patch_id(self.root, base, head) if several else None) or ""
            self.known[name] = found
            if self.save and self.ws is not None:
                self._write(self.ws, {name: found})
        return self.known[name] or None

    def merge_base(self, head: str, tip: str) -> str | None:
        """The best common ancestor of the commits `head` and `tip` (None: none), kept under a
        name of the pair: a pass whose HEAD has not moved asks git nothing
        (`squashes.squashed_keys`). GitError for a commit not in this clone."""
        return self._derived(
            f"merge-base {head} {tip}",
            lambda: git_text(self.root, "merge-base", head, tip, ok=(0, 1)).strip(),
        )

    def added_text(self, head: str, relative: str) -> str | None:
        """The sha1 of the text (LF line ends) that the last commit in `head`'s history that
        added the file `relative` holds there, None when none does; kept under a name of
        the pair (`overlaps.as_codemem_wrote`)."""

        def ask() -> str:
            added = git_text(
                self.root, "log", "-1", "--diff-filter=A", "--format=%H", head, "--", relative
            ).strip()
            if not added:
                return ""
            blob = run_git(self.root, "cat-file", "blob", f"{added}:{relative}")
            return hashlib.sha1(lf(blob)).hexdigest()

        return self._derived(f"added {head} {relative}", ask)

    def _derived(self, question: str, ask: Callable[[], str]) -> str | None:
        """What `ask` answers (a commit or hash id, "" for none), from the file when `question`
        was asked before; kept there under a hash of `question`."""
        name = hashlib.sha1(question.encode("utf-8", "surrogateescape")).hexdigest()
        if name not in self.known:
            self.known[name] = ask()
            if self.save and self.ws is not None:
                self._write(self.ws, {name: self.known[name]})
        return self.known[name] or None

    def _write(self, ws: Workspace, computed: dict[str, str]) -> None:
        """The file as it is now (another pass may have added to it) plus `computed`."""
        path = ws.local_dir / FILE_NAME
        kept = {**_read(path), **computed}
        try:
            ws.ensure_local()
        except (OSError, CodememError) as exc:  # a read-only clone: the ids are computed again
            log.debug("cannot keep %s: %s", FILE_NAME, exc)
            return
        write_checked(path, VERSION, {"ids": list(kept.items())[-MAX_KEPT:]}, ("ids",))


def _read(path: Path) -> dict[str, str]:
    """The kept ids, or none when the file is missing or damaged (then it is made again)."""
    record = read_checked(path, VERSION, ("ids",), MAX_BYTES)
    if record is None:
        return {}
    try:
        ids = {sha: patch for sha, patch in record["ids"]}
        if not all(
            _ID.fullmatch(sha) and _ID.fullmatch(patch or "0" * 40) for sha, patch in ids.items()
        ):
            raise ValueError("an entry that is no commit id")
    except (ValueError, TypeError) as exc:
        log.debug("%s is damaged (%s): making it again", path, exc)
        return {}
    return ids


def lf(data: bytes) -> bytes:
    """`data` with CRLF line ends made LF (a CRLF checkout holds the text git does)."""
    return data.replace(b"\r\n", b"\n")
