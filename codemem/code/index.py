"""The code index as the rest of codemem sees it: `CodeIndex`.

One object per workspace refreshes the index, searches it, renders the repo map and reads
symbols and file facts as typed rows. The manifest, the LanceDB tables (`codemem.code.store`),
the lexicon search reads (`codemem.code.lexicon`), the tag store and the reference graph are
this package's private business.

Start-up stays fast: this module imports nothing heavy at the top; LanceDB and pyarrow (via
the store), tree-sitter (via the indexer) and numpy (via the graph) are imported inside the
methods that need them. The repo map reads only the tag store and the cached graph, and a
search only the lexicon (numpy), so neither loads LanceDB (a search with vectors does).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from codemem.config.defaults import defaults_if_unset
from codemem.config.layers import LayersReader
from codemem.config.snapshot import SearchSettings, read_search_snapshot
from codemem.errors import CodememError, IndexingError
from codemem.infra import imports_uncollected

if TYPE_CHECKING:
    from codemem.code.cochange import CoChange
    from codemem.code.graph import RefGraph
    from codemem.code.indexer import IndexSummary
    from codemem.code.manifest import Manifest
    from codemem.code.publish import Published, SharedStart
    from codemem.code.repomap import MapDefinition, RepoMap
    from codemem.code.run_progress import RunProgress
    from codemem.code.search import Hit
    from codemem.code.staleness import Pending, PendingCheck
    from codemem.code.store import CodeStore
    from codemem.code.tags import TagStore
    from codemem.config import Config
    from codemem.workspace import Workspace

Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class SymbolRow:
    """One definition as the index holds it."""

    path: str
    language: str
    name: str
    qualname: str
    kind: str
    start_line: int
    end_line: int
    signature: str
    docstring: str
    parent: str | None
    is_test: bool


@dataclass(frozen=True, slots=True)
class FileFacts:
    """What the index knows about one indexed file."""

    path: str
    language: str
    lines: int
    symbols: int
    chunks: int
    syntax_errors: int
    is_test: bool


class CodeIndex:
    """The code index of one workspace: refresh, search, repo map, symbols, file facts, status.

    Keep one per workspace: the repo map's tag store and graph stay loaded between calls and
    are reloaded only when an index run changed them. Without `config` the workspace's
    settings are loaded when first needed (the repo map and the rows need none); when no
    layer sets anything, they are the defaults of the two sections the code index reads,
    read without pydantic (`codemem.config.defaults`).
    """

    def __init__(self, ws: Workspace, config: Config | None = None) -> None:
        self.ws = ws
        self._config = config  # given: these settings, whatever the files say
        self._layers = LayersReader(ws.config_file)  # else the files', read again when edited
        # The settings loaded here and what `search_settings` read back, each with the
        # `layers_key` they came from.
        self._loaded: tuple[str, Config] | None = None
        self._recorded: tuple[str, SearchSettings | None] | None = None
        self._stamp: tuple[int, int] | None = None  # of the tag store file last loaded
        self._tags: TagStore | None = None
        self._graph: RefGraph | None = None
        self._maps: dict[tuple[int, tuple[str, ...]], RepoMap] = {}
        self._verified: tuple[int, int] | None = None  # the manifest last found undamaged
        # Co-change data and the manifest it was loaded under (re-checked after an index run).
        self._history: tuple[tuple[int, int] | None, CoChange | None] | None = None
        # What the last refresh took from the shared folder of `index.shared`, if it looked.
        self.started_from: SharedStart | None = None

    @property
    def config(self) -> Config:
        """The given settings, else the workspace's, validated again only once a settings
        file changed."""
        return self._settings()[0]

    def _settings(self) -> tuple[Config, str]:
        """`config` and the `layers_key` it was validated from ("" for given settings)."""
        if self._config is not None:
            return self._config, ""
        layers, key = self._layers.read()
        if self._loaded is None or self._loaded[0] != key:
            # No layer sets anything: the defaults, read without pydantic.
            config = defaults_if_unset(layers)
            if config is None:
                from codemem.config import validate_layers  # pydantic: when needed

                config = validate_layers(layers)
            self._loaded = (key, config)
        return self._loaded[1], key

    @property
    def _settings_key(self) -> str:
        """The `layers_key` of the workspace's settings (read again once a file changed)."""
        return self._layers.read()[1]

    def search_settings(self) -> Config | SearchSettings:
        """The settings a search reads: without `config`, those the last complete index run
        validated from the same layers (recorded in the manifest; no pydantic, a third of a
        fresh search), else the configuration, validated as usual. Read again only once a
        settings file changed, as `config`."""
        if self._config is not None:
            return self._config
        key = self._settings_key
        if self._recorded is None or self._recorded[0] != key:
            recorded = None
            manifest = self._manifest()
            if manifest is not None:
                try:
                    if manifest.settings_key == key:
                        recorded = read_search_snapshot(manifest.search_settings)
                finally:
                    manifest.close()
            self._recorded = (key, recorded)  # None: validated (`config`) while the key holds
        return self._recorded[1] or self.config

    # -- the index as a whole ----------------------------------------------------------------

    def exists(self) -> bool:
        """Whether an index was built (read from the manifest, without the database)."""
        return self._manifest() is not None

    def refresh(
        self,
        *,
        full: bool = False,
        progress: Progress | None = None,
        lock_wait: float | None = None,
        saved: Collection[str] = (),
        pending: Pending | None = None,
        run: RunProgress | None = None,
    ) -> IndexSummary:
        """Bring the index up to date with the work tree (`full`: rebuild from scratch).

        `saved`: files the caller knows were written (`codemem watch`'s events), read even
        where git's stat data vouches for them (`core.checkStat=minimal` misses a same-size
        save given its old mtime back).

        With `index.shared` set and no local index yet, it first starts from the index
        published there (`start_from`; what it took is in `started_from`). Another writer
        at work is waited for up to `lock_wait` seconds (None: the indexer's bound), then
        `LockTimeout`: the index is as that writer last committed it, and searchable.

        `pending`: what a `pending_check` just found changed; its listing of the work tree
        is used instead of reading another. `run`: told what the run plans and commits, for a
        search on another thread (`codemem watch`'s) that waits for it.
        """
        with imports_uncollected():
            from codemem.code.history import has_history, refresh_beside
            from codemem.code.indexer import refresh_index  # tree-sitter, workers: on first use
            from codemem.code.unchanged import check_unchanged

        self.started_from = None
        tree = pending.tree if pending is not None and not full and not saved else None
        if not full and self._config is None and not saved and tree is None:
            # Settings as an earlier run validated them, and no file changed: no pydantic.
            unchanged = check_unchanged(self.ws, self._settings_key, lock_wait)
            if unchanged.summary is not None:
                return unchanged.summary
            tree = unchanged.tree
        if not self.exists():
            self._check_buildable()
        # The co-change history a search reads, from git on the other core meanwhile: for a
        # new or rebuilt index (later runs leave a moved HEAD to the next search).
        history = refresh_beside(self.ws) if full or not has_history(self.ws) else None
        config, settings_key = self._settings()
        if saved and not full:
            from codemem.code.worktree import ListingSettings, WorkTree

            tree = WorkTree.read(self.ws.root, ListingSettings.of(config.index), saved)
        if not full and config.index.shared and not self.exists():
            self.started_from = self.start_from(config.index.shared)
        try:
            summary = refresh_index(
                self.ws,
                config,
                full=full,
                progress=progress,
                settings_key=settings_key,
                tree=tree,
                lock_wait=lock_wait,
                run=run,
            )
        except CodememError:
            raise
        except Exception:  # LanceDB failing under the write: a damaged index is rebuilt
            if self._repair(wait=True, force=True) is None:
                raise
            return refresh_index(
                self.ws, config, full=True, progress=progress, settings_key=settings_key
            )
        if not summary.checked:
            # The refresh checked the files without LanceDB (its parsers fork before the
            # database loads); the tables are checked now.
            damage = self._repair()
            if damage is not None:
                summary = refresh_index(
                    self.ws, config, full=True, progress=progress, settings_key=settings_key
                )
        if history is not None:
            history.join()
        return summary

    def unindexed(self) -> list[str] | None:
        """The paths whose work-tree content the index does not hold (added, changed or
        deleted since last indexed), read without the index's lock: what a search answered
        while another writer holds it is stale for. None: it cannot be told now."""
        from codemem.code.staleness import unindexed_paths

        return unindexed_paths(self.ws, self.config)

    def pending_check(self) -> PendingCheck:
        """Start reading, on a thread, what a refresh would do now (`PendingCheck.result`:
        the files added, changed or removed since the index was last committed), without the
        index's lock: one `git ls-files` on the other core while the caller searches. With
        the settings the index recorded when they still hold (no pydantic), else `config`."""
        from codemem.code.staleness import PendingCheck, recorded_listing

        recorded = recorded_listing(self.ws, self._settings_key) if self._config is None else None
        if recorded is None:
            return PendingCheck(self.ws, settings=self.config.index)
        return PendingCheck(self.ws, recorded)

    def rebuild_due(self) -> bool:
        """Whether the next refresh rebuilds the index from scratch: there is none, or its
        settings (`index.max_file_bytes`, ...) or codemem's index format changed since."""
        from codemem.code.staleness import rebuild_due

        return rebuild_due(self.ws, self.config)

    def rebuilding(self) -> str | None:
        """Who is rebuilding the index from scratch now (`codemem index --full`, a new index
        format), as the index lock names them; None when nobody is. Searches meanwhile read
        the last complete index: the rebuild is written beside it and swapped in at its end."""
        from codemem.code.staleness import rebuilding

        return rebuilding(self.ws)

    def _check_buildable(self) -> None:
        """Before a first run: `IndexingError` saying there is no index and how to get one when
        `.codemem/local/` cannot be written (a CI job's checkout mounted read-only), where the
        run's first write said only `the file system is read-only`. There is no setting that
        puts the index elsewhere: it is this clone's, beside the work tree it describes."""
        ws = self.ws
        folder = next((p for p in (ws.local_dir, ws.dir) if p.is_dir()), ws.root)
        if os.access(folder, os.W_OK):
            return
        read_only = os.statvfs(folder).f_flag & os.ST_RDONLY
        why = "on a read-only file system" if read_only else "not writable by you"
        raise IndexingError(
            f"no code index yet, and none can be built here: .codemem/local/ is {why}; run "
            "`codemem index` in a writable checkout of this repository and bring its "
            ".codemem/local/ along (a CI cache), or mount a writable folder at .codemem/local/"
        )

    def publish(self, target: str, keep: int | None = None) -> Published:
        """Publish the index (refreshed first by the caller) as HEAD's into the shared folder
        `target`; a commit already published there is left as it is (`published` False).
        Then all but the `keep` (default: index.shared_keep; 0 keeps all) most recently
        published commits there are removed."""
        from codemem.code.publish import publish_index

        if keep is None:
            keep = self.config.index.shared_keep
        return publish_index(self.ws, self.config, target, keep)

    def start_from(self, target: str) -> SharedStart:
        """Replace the local index with the one published in `target` for HEAD or its nearest
        published ancestor; a refresh then updates it from the work tree. A damaged or
        unsafe published index is refused in one logged line (`used` False)."""
        from codemem.code.publish import start_from_shared

        self._stamp = None  # the tag store and graph may be new
        return start_from_shared(self.ws, self.config, target)

    def status(self) -> dict[str, Any]:
        """What `codemem status` reports: contents per language, freshness, problems."""
        from codemem.code.index_status import collect_status  # lists the repository's files

        return collect_status(self.ws, self.config)

    @staticmethod
    def warm_up() -> None:
        """Load the database layer now (a long-lived process's first write is then fast)."""
        from codemem.code import store  # lancedb and pyarrow: about a second of imports

        store.warm_up()

    # -- search ------------------------------------------------------------------------------

    def search(self, query: str, *, k: int = 10, level: str = "chunk") -> list[Hit]:
        """The best `k` hits for `query` at `level` ("file", "symbol" or "chunk"), with text.

        Raises UsageError when there is no index yet or the level is unknown.
        """
        with imports_uncollected():
            from codemem.code.search import Searcher

        self.verify()
        settings = self.search_settings()
        try:
            searcher = Searcher(
                self.ws,
                settings,
                centrality=self._centrality,
                cochange=self._cochange,
                tags=self._tag_store,
            )
            with imports_uncollected():  # the first query loads numpy and the lexicon
                return searcher.search(query, k=k, level=level)
        except CodememError:
            raise
        except Exception:  # a segment (or LanceDB, for vectors) failing: damage, or a bug?
            if self.verify(wait=True, again=True) is None:
                raise
        return Searcher(
            self.ws,
            settings,
            centrality=self._centrality,
            cochange=self._cochange,
            tags=self._tag_store,
        ).search(query, k=k, level=level)

    def verify(self, *, wait: bool = False, again: bool = False) -> str | None:
        """Check the index and rebuild it if it is damaged; returns what was damaged, or None.

        Checked once per index run seen (`again` to check anyway); skipped while another
        process writes the index (the writer checks it first) unless `wait`. The rebuild
        says so in one line on the log.
        """
        stamp = self._manifest_stamp()
        if stamp is None or (stamp == self._verified and not again):
            return None
        damage = self._repair(wait=wait, force=again)
        if damage is not None:
            from codemem.code.indexer import refresh_index  # tree-sitter and workers

            refresh_index(self.ws, self.config, full=True)
        self._verified = self._manifest_stamp()
        return damage

    def _repair(self, *, wait: bool = False, force: bool = False) -> str | None:
        """The deep check; a damaged index is removed (the caller rebuilds it)."""
        from codemem.code.integrity import repair_unless_busy

        damage = repair_unless_busy(self.ws, wait=wait, force=force)
        if damage is not None:
            self._stamp = None  # the tag store and graph will be new
        return damage

    # -- the repo map ------------------------------------------------------------------------

    def repo_map(self, tokens: int, focus: Iterable[str] = ()) -> RepoMap | None:
        """The ranked map within `tokens` (estimated), or None when the index has no map data.

        A map already rendered for the same budget and focus is returned as is (an agent's
        context asks for the same map every step).
        """
        from codemem.code.repomap import render_repo_map

        loaded = self._map_data()
        if loaded is None:
            return None
        key = (tokens, tuple(focus))
        if key not in self._maps:
            self._maps[key] = render_repo_map(*loaded, tokens=tokens, focus=key[1])
        return self._maps[key]

    def file_ranks(self) -> dict[str, float]:
        """Every mapped file's rank in the reference graph (empty without map data)."""
        loaded = self._map_data()
        return loaded[1].rank_files() if loaded is not None else {}

    def definitions(self, path: str) -> list[MapDefinition]:
        """One file's definitions in source order, from the repo-map data (no database)."""
        from codemem.code.repomap import MapDefinition

        tags = self._tag_store()
        if tags is None:
            return []
        return [MapDefinition(*d) for d in tags.definitions(path)]

    def files_using(self, names: set[str]) -> dict[str, set[str]] | None:
        """path -> which of `names` the file uses; None when there is no repo-map data."""
        tags = self._tag_store()
        if tags is None:
            return None
        out: dict[str, set[str]] = {}
        paths = tags.paths
        for path, (_, refs) in zip(paths, tags.scan(paths, definitions=False), strict=True):
            used = names & refs.keys()
            if used:
                out[path] = used
        return out

    # -- rows --------------------------------------------------------------------------------

    def skipped_files(self) -> dict[str, str]:
        """path -> why the index leaves it out (`binary`, `too_large`, `secret`...), in path order."""
        manifest = self._manifest()
        if manifest is None:
            return {}
        indexed = set(manifest.indexed_paths())
        return {
            path: entry.status
            for path, entry in sorted(manifest.files.items())
            if path not in indexed
        }

    def indexed_languages(self) -> dict[str, str]:
        """path -> language of every indexed file, in path order (manifest only, no database)."""
        manifest = self._manifest()
        if manifest is None:
            return {}
        return {
            path: manifest.files[path].language or "" for path in sorted(manifest.indexed_paths())
        }

    def file_facts(self) -> list[FileFacts]:
        """Every indexed file's facts, in path order (reads the files table)."""
        from codemem.code.rows import FILES

        self.verify()
        rows = self._store().all_rows(FILES)
        return sorted((FileFacts(**row) for row in rows), key=lambda f: f.path)

    def symbols(self) -> list[SymbolRow]:
        """Every definition of the index, by path, line and qualified name."""
        from codemem.code.rows import SYMBOLS

        self.verify()
        rows = [SymbolRow(**row) for row in self._store().all_rows(SYMBOLS)]
        return sorted(rows, key=lambda r: (r.path, r.start_line, r.qualname))

    # -- private -----------------------------------------------------------------------------

    def _manifest(self) -> Manifest | None:
        from codemem.code.manifest import Manifest

        return Manifest.load(self.ws.index_dir)

    def _manifest_stamp(self) -> tuple[int, int] | None:
        from codemem.code.manifest import MANIFEST_NAME

        try:
            stat = (self.ws.index_dir / MANIFEST_NAME).stat()
        except OSError:
            return None
        return stat.st_mtime_ns, stat.st_size

    def _store(self) -> CodeStore:
        from codemem.code.store import CodeStore  # lancedb and pyarrow: about a second

        return CodeStore(self.ws.index_dir)

    def _tag_store(self) -> TagStore | None:
        """The tag store, reloaded when an index run rewrote it; None when there is none."""
        from codemem.code.tags import TAGS_FILE, TagStore

        self.verify()  # as a search does: a damaged or another clone's index is rebuilt first
        try:
            stat = (self.ws.index_dir / TAGS_FILE).stat()
        except OSError:
            return None
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp != self._stamp:
            tags = TagStore.load(self.ws.index_dir)
            if not tags.exists:
                # Unreadable: check the index (LanceDB is loaded only to rebuild it) and retry.
                if self.verify(again=True) is None:
                    return None
                tags = TagStore.load(self.ws.index_dir)
                if not tags.exists:
                    return None
                stat = (self.ws.index_dir / TAGS_FILE).stat()
                stamp = (stat.st_mtime_ns, stat.st_size)
            self._stamp, self._tags, self._graph, self._maps = stamp, tags, None, {}
        return self._tags

    def _centrality(self) -> Mapping[str, float]:
        """The search prior: each file's rank in the reference graph, read from the graph
        file's prior column (neither the tags nor the graph are loaded); built if missing."""
        from codemem.code.graph import read_prior

        prior = read_prior(self.ws.index_dir)
        if prior is not None:
            return prior
        loaded = self._map_data()
        return loaded[1].file_centrality() if loaded is not None else {}

    def _cochange(self) -> CoChange | None:
        """Which files changed together lately: read from git (or its derived file) once per
        index run seen, so a long-lived process pays for it once, not per query."""
        from codemem.code.history import load_cochange  # runs git

        stamp = self._manifest_stamp()
        if self._history is None or self._history[0] != stamp:
            self._history = (stamp, load_cochange(self.ws))
        return self._history[1]

    def _map_data(self) -> tuple[TagStore, RefGraph] | None:
        """The tag store and its reference graph (from the graph cache, built if missing)."""
        from codemem.code.graph import load_graph

        tags = self._tag_store()
        if tags is None:
            return None
        if self._graph is None:
            self._graph = load_graph(self.ws.index_dir, tags)
        return tags, self._graph
