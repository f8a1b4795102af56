"""Damage to the code index, found and repaired.

Everything under `.codemem/local/index/` is derived from the work tree, so damage (a deleted
or truncated file, a disk that filled up mid-write, a stray `rm`) is repaired by removing the
index and building it again. `find_damage` is the check: cheap file-level checks first
(manifest, tag store, graph cache, the footer every LanceDB file ends with, the lexicon's
list and segment headers), then, with `deep`, every lexicon column's checksum and the tables (`codemem.code.store.probe_tables`). `repair_index` runs it
under the index lock at the start of every refresh; `CodeIndex.search` runs it once per
manifest it sees, and again when a search fails.

An index is trusted only as this clone built it. Before the check, git is asked whether it
tracks any file under `.codemem/local/index/` (`git add -f` commits it anyway): a clone then
holds another clone's index, whose manifest can lie about what each file holds and whose
lexicon can answer with text no file has. Such an index is never used: it is removed and
built again from the work tree, and one line names the fix. The question costs one
`git ls-files`, asked only when the index's files are not as this clone last checked or
wrote them (a checkout writes them anew), so it adds no git process to a search or a no-op
refresh of an index that checks out.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from codemem.code.manifest import LEGACY_NAME, MANIFEST_NAME, Manifest
from codemem.code.manifest import damage as manifest_damage
from codemem.code.tags import TAGS_FILE, TagStore
from codemem.errors import LockTimeout, NotARegularFile
from codemem.infra import FileLock, atomic_write, read_regular_bytes
from codemem.workspace import LOCAL_DIR, UNTRACK_LOCAL, Workspace

log = logging.getLogger("codemem")

TABLES = ("files", "chunks", "symbols")
LANCE_FOOTER = b"LANC"  # every LanceDB data, index and version file ends with it
# The writers' lock, beside the index folder (`codemem.code.indexer.LOCK_NAME`: the indexer
# imports this module, so the name is repeated here).
WRITERS_LOCK = "index.lock"
WAIT_SECONDS = 120.0  # how long a failed search waits for a writer before checking
READERS_LOCK = "readers.lock"  # `codemem.code.store.READERS_LOCK` (that module loads pyarrow)
KEPT = {READERS_LOCK}
LEXICON_DIR = "lexicon"  # `codemem.code.lexicon.LEXICON_DIR` (that module loads numpy)
# The files of the index as they were when it last checked out: while none changed (a no-op
# refresh, the next search), the check costs one walk of the folder and LanceDB stays closed.
CHECKED_FILE = "checked.json"  # the locks outlive a rebuild
# What `_check` finds of an index that git tracks: another clone's.
FOREIGN = f"git tracks {LOCAL_DIR}/index: another clone's index, never used here"


def find_damage(index_dir: Path, *, deep: bool = True) -> str | None:
    """What is damaged in the index at `index_dir` (one short phrase), or None.

    No index at all, or one written by another codemem version, is not damage (the indexer
    rebuilds those anyway). Without `deep` LanceDB is not opened (for `codemem status`).
    Call it while holding the index lock: a write in progress looks like damage.
    """
    if not index_dir.is_dir():
        return None
    manifest_path = index_dir / MANIFEST_NAME
    parts = [p.name for p in index_dir.iterdir() if p.name not in KEPT]
    if not manifest_path.exists():
        derived = [name for name in parts if name == TAGS_FILE or name.endswith(".lance")]
        if LEGACY_NAME in parts:
            return None  # an earlier codemem's index: the indexer rebuilds it
        return f"{MANIFEST_NAME} is missing" if derived else None
    damage = manifest_damage(index_dir) or _code_in_databases(index_dir)
    if damage:
        return damage
    manifest = Manifest.load(index_dir)
    if manifest is None:
        return None  # another codemem's format: the indexer rebuilds it
    try:
        files, symbols, chunks = manifest.totals()
    except sqlite3.Error as exc:
        return f"{MANIFEST_NAME} is unreadable: {exc}"
    finally:
        manifest.close()
    if files and not (index_dir / TAGS_FILE).exists():
        return f"{TAGS_FILE} is missing"
    from codemem.code.graph import graph_damage  # not for a run whose index checked out

    damage = (
        TagStore.damage(index_dir)
        or graph_damage(index_dir)
        or _footer_damage(index_dir)
        or _code_in_pickles(index_dir)
    )
    if not damage and (files or (index_dir / LEXICON_DIR).exists()):
        from codemem.code.lexicon import lexicon_damage  # numpy: not for a run with nothing to do

        damage = lexicon_damage(index_dir, deep=deep)
    if damage or not deep:
        return damage
    from codemem.code.store import probe_tables  # lancedb: only for the deep check

    expected = {"files": files, "chunks": chunks, "symbols": symbols}
    return probe_tables(index_dir, expected)


def _code_in_pickles(index_dir: Path) -> str | None:
    """A pickle in the index that names code: not one codemem wrote. The folder is derived and
    local, but its files can come from elsewhere (a copied folder; a committed one is refused
    first, as `FOREIGN`): they then fail the quick check (their change times are not the ones
    last checked, whatever other times a copy keeps), and this finds what they would run."""
    from codemem.code.shared_copy import Refused, check_pickles  # only when the files changed

    try:
        check_pickles(index_dir)
    except Refused as exc:
        return str(exc)
    return None


def _code_in_databases(index_dir: Path) -> str | None:
    """An SQLite file in the index (the manifest) that holds a trigger or a view: SQL that
    would run, or be trusted, when codemem writes or reads it; codemem writes neither. Found
    before anything but the check opens the manifest."""
    from codemem.code.shared_copy import Refused, check_databases

    try:
        check_databases(index_dir)
    except Refused as exc:
        return str(exc)
    return None


def repair_index(
    ws: Workspace,
    *,
    deep: bool = True,
    force: bool = False,
    listing: list[list[Any]] | None = None,
) -> str | None:
    """Check the index of `ws` and, when damaged or tracked by git (`FOREIGN`), remove it so
    the caller's refresh rebuilds it.

    Returns what was damaged, and says so in one line (the log's warning). Skipped when no
    file changed since the index last passed the deep check, unless `force`. Without `deep`
    LanceDB is not loaded (the indexer forks its parsers before it opens the database).
    `listing` is the caller's `index_listing`, when it has one. Hold the index lock.
    """
    damage = _check(ws, deep=deep, force=force, listing=listing)
    if damage is None:
        return None
    if damage == FOREIGN:
        log.warning(
            "the code index is tracked by git (another clone's, never used here); rebuilding "
            "it from the work tree: untrack it with `%s`",
            UNTRACK_LOCAL,
        )
    else:
        log.warning("the code index was damaged (%s); rebuilding it from the work tree", damage)
    clear_index(ws.index_dir)
    return damage


def _check(
    ws: Workspace,
    *,
    deep: bool = True,
    force: bool = False,
    listing: list[list[Any]] | None = None,
) -> str | None:
    """`FOREIGN` or `find_damage`, unless the files are as they were when the index last
    checked out."""
    index_dir = ws.index_dir
    listing = index_listing(index_dir) if listing is None else listing
    if not force and listing == _checked_listing(index_dir):
        return None
    if listing and ws.tracked_local("index"):  # files this clone did not write, or check
        return FOREIGN
    damage = find_damage(index_dir, deep=deep)
    if damage is None and deep:
        _record_checked(index_dir, listing)
    return damage


def still_checked(index_dir: Path, listing: list[list[Any]]) -> bool:
    """Whether every file of the index (`listing`, from `index_listing`) is as it was when the
    index last passed the deep check."""
    return bool(listing) and listing == _checked_listing(index_dir)


def vouch_for_writes(index_dir: Path) -> None:
    """Record the index's files as checked after a writer's run: what it found checked, plus
    what it wrote itself under the lock. The deep check then stays for files changed by
    anybody else, and an edit to one file costs no scan of every table (seconds on a large
    repository). A write that went wrong raises in the writer; a read that fails later
    starts the deep check again (`CodeIndex.verify(again=True)`)."""
    _record_checked(index_dir, index_listing(index_dir))


def _record_checked(index_dir: Path, listing: list[list[Any]]) -> None:
    if listing:
        with suppress(OSError):  # only a shortcut for the next check
            atomic_write(index_dir / CHECKED_FILE, json.dumps(listing, separators=(",", ":")))


def repair_unless_busy(ws: Workspace, *, wait: bool = False, force: bool = False) -> str | None:
    """`repair_index` under the index lock; None at once when another process holds the lock
    (a writer checks for itself) unless `wait`. Returns what was damaged.

    Files that are as they last checked out need neither the check nor the lock (taking it
    writes the holder into the lock file): a writer at work meanwhile changes the listing,
    which then does not match, and the check waits its turn as usual.
    """
    if not force and still_checked(ws.index_dir, index_listing(ws.index_dir)):
        return None
    # `reading`: a checkout mounted read-only (a CI cache restored into it) is checked all
    # the same; only a repair, which it could not hold, then fails, in one line
    with _index_lock(ws.index_dir, wait, reading=True) as held:
        return repair_index(ws, force=force) if held else None


def inspect_index(ws: Workspace) -> str | None:
    """What is damaged (deep check, nothing repaired) or `FOREIGN`, or None; None too while a
    writer runs."""
    if not ws.index_dir.is_dir():
        return None
    with _index_lock(ws.index_dir, wait=False, reading=True) as held:
        return _check(ws) if held else None


@contextmanager
def _index_lock(index_dir: Path, wait: bool, reading: bool = False) -> Iterator[bool]:
    """The writers' lock (`codemem.code.indexer.index_lock`); yields whether it is held
    (`reading`: by a check that repairs nothing, where the lock file cannot be written too)."""
    lock = FileLock(index_dir.parent / WRITERS_LOCK, WAIT_SECONDS if wait else 0, reading=reading)
    try:
        lock.acquire()
    except LockTimeout:
        yield False
        return
    try:
        yield True
    finally:
        lock.release()


def index_listing(index_dir: Path) -> list[list[Any]]:
    """[path, size, mtime_ns, ctime_ns] of every file of the index (not the locks or the
    checked record): one walk of the folder, which a run takes once and passes on.

    The change time is the kernel's: a copy that keeps file times (`cp -a`, a tar or zip
    extracted, a CI cache restored) keeps sizes and modification times, the record in
    `CHECKED_FILE` with them, but not it, so files that came from elsewhere always get the
    full check (pickles, SQL, checksums) before anything reads them."""
    out: list[list[Any]] = []
    base = str(index_dir)
    for folder, dirs, files in os.walk(base):
        dirs.sort()
        prefix = "" if folder == base else folder[len(base) + 1 :].replace(os.sep, "/") + "/"
        for name in sorted(files):
            rel = prefix + name
            if rel in KEPT or rel == CHECKED_FILE or name.endswith(".tmp"):
                continue
            try:
                stat = os.stat(os.path.join(folder, name))
            except FileNotFoundError:
                continue
            out.append([rel, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns])
    return out


def _checked_listing(index_dir: Path) -> list[list[Any]] | None:
    try:  # an index can come from a commit: a link (to /dev/zero) is not followed
        listing = json.loads(read_regular_bytes(index_dir / CHECKED_FILE))
    except (OSError, ValueError, NotARegularFile):
        return None
    return listing if isinstance(listing, list) else None


def clear_index(index_dir: Path) -> None:
    """Remove everything derived under `index_dir` (not its lock files)."""
    for path in index_dir.iterdir():
        if path.name in KEPT:
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def _footer_damage(index_dir: Path) -> str | None:
    """A LanceDB file cut short: every data, index and version file ends with its footer."""
    for table in TABLES:
        folder = index_dir / f"{table}.lance"
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*")):
            if path.suffix not in (".lance", ".manifest") or not path.is_file():
                continue
            try:
                with path.open("rb") as handle:
                    size = handle.seek(0, 2)
                    handle.seek(max(0, size - len(LANCE_FOOTER)))
                    footer = handle.read()
            except OSError as exc:
                return f"{path.relative_to(index_dir)} is unreadable: {exc}"
            if footer != LANCE_FOOTER:
                return f"{path.relative_to(index_dir)} is cut short"
    return None
