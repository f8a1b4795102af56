"""What an index run has to do, decided from git and the manifest alone (`make_plan`).

The index's fingerprint (`fingerprint`: the version, `INDEX_FORMAT` and the settings that shape
rows) decides a full rebuild; otherwise the work tree's listing (`codemem.code.worktree`) is
compared with what the manifest recorded: when its digest is the recorded one, nothing is read;
else `changes_since` says which files to read again and which to remove. The run itself
(`codemem.code.indexer`) carries the plan out.
"""

from __future__ import annotations

import hashlib
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from codemem import __version__
from codemem.code.extract import ExtractSettings
from codemem.code.files import MISSING, SKIP_RULES
from codemem.code.index_swap import build_dir
from codemem.code.manifest import Manifest
from codemem.code.tags import TagStore
from codemem.code.worktree import (
    FileIds,
    ListingSettings,
    WorkTree,
    load_listing,
    save_listing,
)
from codemem.config.snapshot import search_snapshot
from codemem.infra import imports_uncollected
from codemem.workspace import Workspace

if TYPE_CHECKING:
    from codemem.code.run_progress import RunProgress
    from codemem.config import Config


# Bump when rows, index settings or the tables' file format (store.TABLE_OPTIONS) change:
# existing indexes are rebuilt.
INDEX_FORMAT = 6  # 6: object-like C macros are constants (data, not chunks of their own)

# What a file's git attributes can decide (`codemem.code.attributes`): a file skipped so is
# read again when they change, as one they may now skip is.
MARKED_STATUSES = frozenset({"generated", "vendored", "binary", "minified"})


def extract_settings(config: Config) -> ExtractSettings:
    """What shapes a file's rows, of the settings (the workers' and the fingerprint's)."""
    return ExtractSettings(
        max_file_bytes=config.index.max_file_bytes,
        chunk_lines=config.index.chunk_lines,
        max_line_chars=config.index.max_line_chars,
    )


def fingerprint(config: Config) -> str:
    """Changes whenever rows would come out differently: then the index is rebuilt."""
    idx = config.index
    key = repr(
        (
            __version__,
            INDEX_FORMAT,
            extract_settings(config),
            idx.embeddings,
            idx.embeddings_dimensions,
        )
    )
    return hashlib.sha1(key.encode()).hexdigest()[:16]


@dataclass
class Plan:
    """What a refresh has to do, decided from git and the manifest alone."""

    full: bool
    target: Path  # where rows go: the index itself, or the folder a rebuild fills beside it
    manifest: Manifest  # what `target` holds (empty for a rebuild); saved as batches commit
    current: FileIds  # every candidate file (empty when nothing changed)
    todo: list[tuple[str, str | None]]
    removed: list[str]
    listing: str  # the work tree's digest: recorded when the run completes
    settings_key: str  # refresh_index's, recorded with the listing settings
    listing_settings: ListingSettings
    search_settings: str  # what a search reads of them (`codemem.config.snapshot`)
    recorded: bool = False  # a run with nothing to do saved the listing in the manifest
    tracked_local: int = 0  # `WorkTree.tracked_local` of the listing
    attributes: str = ""  # `WorkTree.attributes` of the listing, once its files are judged
    not_generated: frozenset[str] = frozenset()  # `Changes.not_generated`
    run: RunProgress | None = None  # told of each batch committed

    @property
    def nothing_to_do(self) -> bool:
        return not (self.full or self.todo or self.removed) and self.manifest.full_text

    def to_parse(self) -> list[tuple[str, str | None]]:
        return [(path, cid) for path, cid in self.todo if self.current[path][1] is None]


def make_plan(
    ws: Workspace, config: Config, full: bool, settings_key: str, tree: WorkTree | None
) -> Plan:
    index_dir = ws.index_dir
    fp = fingerprint(config)
    search = search_snapshot(config) if settings_key else ""
    old = Manifest.load(index_dir)
    if old is None or old.fingerprint != fp or TagStore.stored_version(index_dir) is None:
        full = True  # settings changed, or derived state is missing or older: rebuild it all
    settings = ListingSettings.of(config.index)
    if tree is None or tree.settings != settings:
        read = _listing_beside_imports if full else WorkTree.read
        tree = read(ws.root, settings)
    listing = tree.digest
    tracked = tree.tracked_local()
    target = build_dir(index_dir) if full else index_dir
    current: FileIds = {}
    todo: list[tuple[str, str | None]] = []
    removed: list[str] = []
    # An index checked under older skip rules may hold files they now skip: `changes_since`
    # judges every file again.
    same_rules = old is not None and old.skip_rules == SKIP_RULES
    if not full and old is not None and old.full_text and old.listing == listing and same_rules:
        manifest = old  # no row read, no path parsed
        attributes, not_generated = old.attributes, old.not_generated
    else:
        manifest = Manifest(fingerprint=fp) if full or old is None else old
        changes = changes_since(manifest, tree, index_dir, full)
        current, todo, removed = changes.current, changes.todo, changes.removed
        attributes, not_generated = tree.attributes, changes.not_generated
        listing = tree.digest  # with the saves git vouches for wrongly, `WorkTree.recheck`
        # Kept now, not held until the run completes (the kernel's: 78,000 entries, in every
        # worker forked after): it is used only once the manifest records its digest.
        save_listing(target, tree)
    return Plan(
        full,
        target,
        manifest,
        current,
        todo,
        removed,
        listing,
        settings_key,
        settings,
        search,
        tracked_local=tracked,
        attributes=attributes,
        not_generated=not_generated,
    )


@dataclass
class Changes:
    """What a refresh would do (`changes_since`)."""

    current: FileIds  # the ids of the paths it looked at
    todo: list[tuple[str, str | None]]  # the files to read (path, content id)
    removed: list[str]  # the paths to remove
    # Every listed path the repository says is not generated (`linguist-generated=false`).
    not_generated: frozenset[str] = frozenset()


def changes_since(
    manifest: Manifest, tree: WorkTree, index_dir: Path, full: bool = False
) -> Changes:
    """What a refresh of the index `manifest` describes (in `index_dir`) would do for the work
    tree `tree`. Reads only the rows of paths whose listing entries changed when the listing
    the manifest completed is kept (`load_listing`)."""
    # Rows recorded under these very settings, git attributes and skip rules need no second
    # look at their paths; after other attributes, a file they may have decided is read
    # again; after other skip rules (`SKIP_RULES`: the manifest's are older), every file is,
    # judged as any file a run reads, so those the rules now skip are dropped.
    same_attributes = manifest.attributes == tree.attributes
    same_rules = manifest.skip_rules == SKIP_RULES
    same = (
        not full
        and manifest.listing_settings == tree.settings.to_json()
        and same_attributes
        and same_rules
    )
    before = load_listing(index_dir, manifest.listing) if same and manifest.full_text else None
    if before is not None:  # only what changed since the listing the manifest completed
        tree.recheck(before)  # saves git vouched for wrongly (`WorkTree.read`'s `saved`)
        # A file missing when last read (gone meanwhile) is read again, listed as before.
        touched = tree.touched_since(before, also=manifest.paths_with_status(MISSING))
        files = manifest.read_rows(touched)
        current = tree.ids(files, only=touched)
    else:
        files = manifest.files
        current = tree.ids(files if same else None)
    # The paths looked at are judged again; the others keep what the manifest says.
    not_generated = tree.not_generated(current) if tree.attributes else frozenset[str]()
    if manifest.not_generated:  # after other attributes, every path was looked at
        not_generated |= manifest.not_generated.difference(current)
    # Indexed only because the repository said so, and no longer: read again.
    untrusted = () if same_attributes else manifest.not_generated - not_generated
    todo: list[tuple[str, str | None]] = []
    for path, (cid, reason) in current.items():
        entry = files.get(path)
        if reason is not None:
            if entry is None or entry.status != reason or entry.content_id != cid:
                todo.append((path, cid))  # recorded as skipped, rows removed if any
            continue
        if (
            entry is None
            or entry.content_id != cid
            or cid is None
            or entry.status == MISSING
            or not same_rules
            or (not same_attributes and (entry.status in MARKED_STATUSES or path in untrusted))
        ):
            todo.append((path, cid))  # a file missing when last read (gone meanwhile) is read again
    removed = [p for p in files if p not in current]
    return Changes(current, todo, removed, not_generated.difference(removed))


def _listing_beside_imports(root: Path, settings: ListingSettings) -> WorkTree:
    """The work tree's listing, read in a thread while this one loads what a rebuild parses
    with (the worker pool, the parsers): git stats every file on the other core meanwhile
    (sympy: 60 ms). The thread imports nothing, so a Ctrl-C in the middle of these imports
    leaves it no import lock to wait for. What it writes with (numpy) loads once the workers
    are forked, while they parse."""
    listed: Future[WorkTree] = Future()

    def read() -> None:
        try:
            listed.set_result(WorkTree.read(root, settings))
        except BaseException as exc:  # handed to the caller, waiting below
            listed.set_exception(exc)

    threading.Thread(target=read, name="codemem-listing", daemon=True).start()
    with imports_uncollected():
        from codemem.code import parse, workers  # noqa: F401  (see `indexer._refresh`)
    return listed.result()
