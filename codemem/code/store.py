"""The LanceDB tables of the code index: files, chunks and symbols.

The only module that speaks LanceDB: opening the database, the schemas, writes, and the
queries answered from the tables (vectors, whole tables) live here; the rest of codemem sees
rows as plain values through `codemem.code.CodeIndex`. Search reads the lexicon
(`codemem.code.lexicon`) instead, without loading LanceDB; these tables stay the record the
status, the rows and the embeddings read.

Rows are written per batch of files and a file is recorded as indexed (in the manifest)
only after its batch is committed, so an interrupted run leaves a consistent index that
the next run completes. Scalar indexes cover rows added since they were built (LanceDB
scans unindexed rows directly); `maintain` folds new rows in, compacts fragments and prunes
old versions (only while no reader holds `readers.lock`) so thousands of incremental runs, however quick,
neither slow search nor grow the disk without bound.
"""

from __future__ import annotations

import functools
import importlib
import importlib.machinery
import importlib.util
import logging
import os
import re
import sys
import types
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pydantic.dataclasses
from pyarrow.vendored import docscrape  # pyarrow's copy of numpydoc's docstring parser
from pydantic import BaseModel, ConfigDict

from codemem.code.rows import CHUNKS, FILES, SCALAR_INDEXES, SYMBOLS, Batch
from codemem.infra import SharedLock, imports_uncollected

log = logging.getLogger("codemem")

CHUNK_COLUMNS = [
    "id",
    "path",
    "language",
    "start_line",
    "end_line",
    "kind",
    "symbol",
    "symbol_kind",
    "is_test",
]
SYMBOL_COLUMNS = [
    "path", "language", "name", "qualname", "kind", "start_line", "end_line", "signature", "docstring",
    "parent", "is_test",
]  # fmt: skip
FILE_COLUMNS = ["path", "language", "lines", "symbols", "chunks", "syntax_errors", "is_test"]
PATHS_PER_FILTER = 500
# `import lancedb` costs about a second, much of it in the generated REST-namespace client
# that codemem never uses: that package is loaded without running its eager `__init__` (its
# submodules still import normally on demand), and its `models` package, from which
# `lance_namespace` takes a hundred-odd classes by name, hands out stand-ins that import
# their class when first used (`_DeferredModel`).
_SKIPPED_INIT = "lance_namespace_urllib3_client"
_MODELS = f"{_SKIPPED_INIT}.models"
_MODEL_IMPORT = re.compile(rf"^from {re.escape(_MODELS)}\.(\w+) import (\w+)$", re.MULTILINE)
# lancedb's `embeddings` package imports a dozen providers (OpenAI, Cohere, open_clip and its
# tqdm...) that codemem never uses (it embeds with its own `codemem.code.embed`); lancedb
# itself takes only these names from it, so they are all the package loads until another is
# asked for (`_embeddings_without_providers`).
_EMBEDDINGS = "lancedb.embeddings"
_EMBEDDING_BASICS = {
    **dict.fromkeys(
        ["EmbeddingFunction", "EmbeddingFunctionConfig", "TextEmbeddingFunction"], "base"
    ),
    **dict.fromkeys(["EmbeddingFunctionRegistry", "get_registry", "register"], "registry"),
}


def import_lancedb() -> Any:
    """Import lancedb, skipping the eager import of its REST client package, of its
    embedding providers (`_embeddings_without_providers`) and the
    developers' override checks (`_without_override_checks`), its models and pydantic
    dataclasses built when first used (`_models_built_on_first_use`,
    `_dataclasses_built_on_first_use`), pyarrow's compute docs parsed once per options class
    (`_options_docs_parsed_once`)."""
    if "lancedb" in sys.modules:
        return sys.modules["lancedb"]
    # LanceDB's own log lines (a warning per unreadable index file...) would reach the user's
    # terminal beside codemem's one line about the same failure.
    os.environ.setdefault("LANCEDB_LOG", "error")
    stubbed = False
    if _SKIPPED_INIT not in sys.modules:
        spec = importlib.util.find_spec(_SKIPPED_INIT)
        if spec is not None and spec.submodule_search_locations:
            sys.modules[_SKIPPED_INIT] = _package_without_init(spec)
            stubbed = True
            models = importlib.util.find_spec(_MODELS)
            if models is not None and models.origin and models.submodule_search_locations:
                sys.modules[_MODELS] = _deferred_models(models)
            embeddings = _embeddings_without_providers()
            if embeddings is not None and _EMBEDDINGS not in sys.modules:
                sys.modules[_EMBEDDINGS] = embeddings
    try:
        with (
            _model_modules_deferred(),
            _without_override_checks(),
            _models_built_on_first_use(),
            _dataclasses_built_on_first_use(),
            _options_docs_parsed_once(),
            imports_uncollected(),  # a tenth of the import's time, and its first collection's
        ):
            import lancedb
    except ImportError:
        if not stubbed:
            raise
        # A lancedb version that needs the whole client: import it the ordinary way.
        for name in [
            m for m in sys.modules if m.startswith((_SKIPPED_INIT, "lance_namespace", "lancedb"))
        ]:
            del sys.modules[name]
        import lancedb
    return lancedb


def _package_without_init(spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
    """The package of `spec` in `sys.modules`' way, its `__init__` not run: its submodules
    import as usual."""
    package = types.ModuleType(spec.name)
    package.__path__ = list(spec.submodule_search_locations or [])
    package.__spec__ = spec
    package.__file__ = spec.origin
    return package


def _deferred_models(spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
    """The REST client's `models` package with a stand-in for each class its `__init__`
    imports (read from that file's `from .models.<module> import <Class>` lines): a name it
    does not list is missing, so `import lancedb` fails and is done the ordinary way."""
    package = _package_without_init(spec)
    with open(spec.origin or "", encoding="utf-8") as fh:
        homes = {name: f"{_MODELS}.{module}" for module, name in _MODEL_IMPORT.findall(fh.read())}

    def stand_in(name: str) -> type:
        if name not in homes:
            raise AttributeError(f"module {_MODELS!r} has no attribute {name!r}")
        deferred = _DeferredModel(name, (), {"_home": homes[name], "__module__": homes[name]})
        setattr(package, name, deferred)
        return deferred

    package.__getattr__ = stand_in  # type: ignore[method-assign]  # a module's __getattr__ (PEP 562)
    package._homes = homes  # type: ignore[attr-defined]  # for `_model_modules_deferred`
    return package


def _embeddings_without_providers() -> types.ModuleType | None:
    """lancedb's `embeddings` package with only its base classes and registry loaded: any
    other name runs the package's `__init__` first (every provider, registered as usual).
    None when the package is not where lancedb's is."""
    lancedb_spec = importlib.util.find_spec("lancedb")
    if lancedb_spec is None or not lancedb_spec.submodule_search_locations:
        return None
    spec = importlib.machinery.PathFinder.find_spec(
        _EMBEDDINGS, list(lancedb_spec.submodule_search_locations)
    )
    if spec is None or spec.loader is None or not spec.submodule_search_locations:
        return None
    package = _package_without_init(spec)
    loaded: list[bool] = []

    def attribute(name: str) -> Any:
        if name in _EMBEDDING_BASICS:
            home = importlib.import_module(f"{_EMBEDDINGS}.{_EMBEDDING_BASICS[name]}")
            value = getattr(home, name)
        elif not loaded:
            loaded.append(True)
            spec.loader.exec_module(package)  # type: ignore[union-attr]  # the whole package
            return getattr(package, name)
        else:
            raise AttributeError(f"module {_EMBEDDINGS!r} has no attribute {name!r}")
        setattr(package, name, value)
        return value

    package.__getattr__ = attribute  # type: ignore[method-assign]  # a module's __getattr__ (PEP 562)
    return package


_STAND_IN_MODULES: dict[str, types.ModuleType] = {}  # the model modules' stand-ins, by name


@contextmanager
def _model_modules_deferred() -> Iterator[None]:
    """While lancedb is imported, each model module of the REST client is a stand-in too.

    `lancedb.namespace` imports eight of those models from their own modules (a tenth of the
    import) and uses them only inside functions: each module is a stand-in that hands out the
    same `_DeferredModel`s as the package. None is left in `sys.modules` once lancedb is
    imported, nor once a real model is imported (`_drop_stand_in_modules`), so a real model
    module never imports a stand-in.
    """
    package = sys.modules.get(_MODELS)
    homes: dict[str, str] = getattr(package, "_homes", {})
    for home in sorted(set(homes.values()) - set(sys.modules)):
        module = types.ModuleType(home)
        for name in (n for n, h in homes.items() if h == home):
            setattr(module, name, _DeferredModel(name, (), {"_home": home, "__module__": home}))
        sys.modules[home] = _STAND_IN_MODULES[home] = module
    try:
        yield
    finally:
        _drop_stand_in_modules()


def _drop_stand_in_modules() -> None:
    for home, module in _STAND_IN_MODULES.items():
        if sys.modules.get(home) is module:
            del sys.modules[home]
    _STAND_IN_MODULES.clear()


class _DeferredModel(type):
    """Stands for one model class of the REST client until it is used (called, asked for an
    attribute, or in `isinstance`): then the class is imported and the use goes to it."""

    _home: str

    def _model(cls) -> type:
        _drop_stand_in_modules()  # the real module imports the real ones
        real: type = getattr(importlib.import_module(cls._home), cls.__name__)
        return real

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        return cls._model()(*args, **kwargs)

    def __getattr__(cls, name: str) -> Any:
        return getattr(cls._model(), name)

    def __instancecheck__(cls, instance: Any) -> bool:
        return isinstance(instance, cls._model())

    def __subclasscheck__(cls, subclass: type) -> bool:
        return issubclass(subclass, cls._model())


def _marked_override(method: Any = None, **_checks: Any) -> Any:
    """`typing.override` (Python 3.12), also callable with the `overrides` package's options."""
    if method is None:
        return _marked_override
    with suppress(AttributeError, TypeError):
        method.__override__ = True
    return method


@contextmanager
def _models_built_on_first_use() -> Iterator[None]:
    """While lancedb is imported, pydantic models are built when first used (`defer_build`).

    lancedb imports the REST namespace client's hundred-odd request and response models,
    which codemem never uses; pydantic builds each one's validator as its class is defined
    (a tenth of lancedb's import). Defined while `BaseModel`'s own config defers that, they
    inherit it and are built on first use, which pydantic documents as the same behaviour.
    The config is restored before anything else runs.
    """
    saved = BaseModel.model_config
    BaseModel.model_config = {**saved, "defer_build": True}
    try:
        yield
    finally:
        BaseModel.model_config = saved


@contextmanager
def _dataclasses_built_on_first_use() -> Iterator[None]:
    """While lancedb is imported, pydantic dataclasses are built when first used too.

    `defer_build` on `BaseModel` does not reach pydantic dataclasses, which take their config
    from the decorator or the class: lancedb's full-text query classes (`MatchQuery`...),
    which codemem never uses, would build their validators at import (a twelfth of it). A
    class given no config of its own gets `defer_build`; the decorator is restored after.
    """
    real = pydantic.dataclasses.dataclass

    def deferred(_cls: Any = None, **options: Any) -> Any:
        def build(cls: Any) -> Any:
            if options.get("config") is None and getattr(cls, "__pydantic_config__", None) is None:
                return real(cls, **{**options, "config": ConfigDict(defer_build=True)})
            return real(cls, **options)

        return build if _cls is None else build(_cls)

    pydantic.dataclasses.dataclass = deferred
    try:
        yield
    finally:
        pydantic.dataclasses.dataclass = real


@contextmanager
def _options_docs_parsed_once() -> Iterator[None]:
    """While lancedb (and with it `pyarrow.compute`) is imported, each docstring is parsed once.

    `pyarrow.compute` writes the help of its 280-odd functions as it loads, parsing the
    docstring of each one's options class with numpydoc's parser: 109 parses of 57 distinct
    docstrings, a third of the module's import. The parser's results are kept for the
    import (they are only read), then the parser is put back.
    """
    real = docscrape.NumpyDocString
    docscrape.NumpyDocString = functools.cache(real)
    try:
        yield
    finally:
        docscrape.NumpyDocString = real


@contextmanager
def _without_override_checks() -> Iterator[None]:
    """While lancedb is imported, `overrides` is what lancedb uses on Python 3.12 and later.

    There lancedb decorates with `typing.override` and its `EnforceOverrides` is an empty
    class; below 3.12 it imports the `overrides` package, whose decorator disassembles the
    module being imported for each of about a hundred methods (a tenth of a second) to check
    signatures, a check for lancedb's own developers. A process that already loaded the real
    package keeps it, and the stand-in leaves `sys.modules` once lancedb is imported.
    """
    if sys.version_info >= (3, 12) or "overrides" in sys.modules:
        yield
        return
    stand_in = types.ModuleType("overrides")
    stand_in.override = stand_in.overrides = _marked_override  # type: ignore[attr-defined]
    stand_in.EnforceOverrides = type("EnforceOverrides", (), {})  # type: ignore[attr-defined]
    sys.modules["overrides"] = stand_in
    try:
        yield
    finally:
        if sys.modules.get("overrides") is stand_in:
            del sys.modules["overrides"]


def warm_up() -> None:
    """Load lancedb and its index module now rather than on the first write."""
    import_lancedb()
    import lancedb.index  # noqa: F401  (the scalar index refresh after each write)


# New tables are written in Lance's 2.0 file format. The default (2.2 in lancedb 0.40)
# compresses strings, which makes writing about four times the CPU (sympy's three tables:
# 0.28 s instead of 0.08 s; flask's: 34 ms instead of 10 ms of a 0.6 s cold index) to save
# a third of the index's size on disk (sympy: 53 MB of tables instead of 28, beside a 41 MB
# lexicon). Reads are as fast. Changing it means bumping the indexer's INDEX_FORMAT.
TABLE_OPTIONS = {"new_table_data_storage_version": "2.0"}


def connect(index_dir: Path) -> Any:
    """A LanceDB connection to `index_dir` (created if missing)."""
    index_dir.mkdir(parents=True, exist_ok=True)
    return import_lancedb().connect(str(index_dir), storage_options=TABLE_OPTIONS)


READERS_LOCK = "readers.lock"
# How long `maintain` waits for open readers before it falls back to pruning by age only.
READERS_WAIT_SECONDS = 2.0


def files_schema() -> pa.Schema:
    return pa.schema(
        [
            ("path", pa.string()),
            ("language", pa.string()),
            ("content_id", pa.string()),
            ("size", pa.int64()),
            ("lines", pa.int32()),
            ("symbols", pa.int32()),
            ("chunks", pa.int32()),
            ("syntax_errors", pa.int32()),
            ("is_test", pa.bool_()),
        ]
    )


def chunks_schema(dimensions: int | None) -> pa.Schema:
    fields = [
        ("id", pa.string()),
        ("path", pa.string()),
        ("language", pa.string()),
        ("start_line", pa.int32()),
        ("end_line", pa.int32()),
        ("kind", pa.string()),
        ("symbol", pa.string()),
        ("symbol_kind", pa.string()),
        ("is_test", pa.bool_()),
        ("text", pa.string()),
    ]
    if dimensions:
        fields.append(("vector", pa.list_(pa.float32(), dimensions)))
    return pa.schema(fields)


def symbols_schema() -> pa.Schema:
    return pa.schema(
        [
            ("path", pa.string()),
            ("language", pa.string()),
            ("name", pa.string()),
            ("name_lower", pa.string()),
            ("qualname", pa.string()),
            ("kind", pa.string()),
            ("start_line", pa.int32()),
            ("end_line", pa.int32()),
            ("signature", pa.string()),
            ("docstring", pa.string()),
            ("parent", pa.string()),
            ("is_test", pa.bool_()),
        ]
    )


def _quote(path: str) -> str:
    return "'" + path.replace("'", "''") + "'"


def _btree_config() -> Any:
    import_lancedb()
    from lancedb.index import BTree

    return BTree()


def sql_in_list(values: Iterable[str]) -> str:
    return "(" + ", ".join(_quote(v) for v in values) + ")"


def path_filter(paths: Iterable[str]) -> str:
    return "path IN " + sql_in_list(paths)


class CodeStore:
    """The code index tables in one LanceDB database."""

    def __init__(self, index_dir: Path, dimensions: int | None = None):
        self.index_dir = index_dir
        self.dimensions = dimensions
        # Held shared from before anything opens: `maintain` prunes old versions only while it
        # holds it alone (LanceDB deletes the files of a pruned version under its readers).
        self.readers = SharedLock(index_dir / READERS_LOCK)
        self.db = connect(index_dir)
        self._tables: dict[str, Any] = {}

    def close(self) -> None:
        """Done reading: old versions may be pruned again (also when garbage-collected)."""
        self._tables.clear()
        self.readers.close()

    def _schemas(self) -> dict[str, pa.Schema]:
        return {
            FILES: files_schema(),
            CHUNKS: chunks_schema(self.dimensions),
            SYMBOLS: symbols_schema(),
        }

    def table(self, name: str) -> Any:
        """Open a table, creating it empty if missing."""
        if name not in self._tables:
            try:
                self._tables[name] = self.db.open_table(name)
            except (FileNotFoundError, ValueError):
                self._tables[name] = self.db.create_table(name, schema=self._schemas()[name])
        return self._tables[name]

    def table_names(self) -> list[str]:
        result = self.db.list_tables()
        return list(getattr(result, "tables", result))

    def delete_paths(self, paths: list[str]) -> None:
        """Delete every row of these files from every table."""
        for start in range(0, len(paths), PATHS_PER_FILTER):
            where = path_filter(paths[start : start + PATHS_PER_FILTER])
            for name in (CHUNKS, SYMBOLS, FILES):
                self.table(name).delete(where)

    def write(self, batch: Batch, replace: bool = True) -> None:
        """Replace the rows of the batch's files with the batch's rows."""
        if not len(batch):
            return
        if replace:
            self.delete_paths(batch.files["path"])
        schemas = self._schemas()
        for name in (CHUNKS, SYMBOLS, FILES):
            if batch.count(name):
                table = pa.Table.from_pydict(getattr(batch, name), schema=schemas[name])
                if replace or name in self._tables:
                    self.table(name).add(table)
                else:
                    self._create_with(name, table)

    def _create_with(self, name: str, rows: pa.Table) -> None:
        """A new folder's first write: the table is created holding `rows` (one commit, where
        opening, creating it empty and adding take three round trips)."""
        try:
            self._tables[name] = self.db.create_table(name, data=rows, schema=rows.schema)
        except ValueError:  # it exists after all (a folder written before)
            self.table(name).add(rows)

    def ensure_scalar(self, name: str | None = None) -> None:
        """Build the scalar indexes that do not exist yet (of table `name`, default all).

        Each only speeds reads up: every filter still answers without it.
        """
        for table_name in SCALAR_INDEXES if name is None else (name,):
            table = self.table(table_name)
            indexed = {tuple(ix.columns) for ix in table.list_indices()}
            for column in SCALAR_INDEXES[table_name]:
                if (column,) in indexed:
                    continue
                if table.count_rows() == 0:
                    break
                table.create_index(column, config=_btree_config(), replace=True)

    def maintain(self, keep_versions_seconds: int = 300) -> None:
        """Fold new rows into the indexes, compact fragments and drop old versions.

        When no other store is open (no search is reading), every version but the newest is
        dropped: the index holds one copy of its data, however many runs came before. If
        readers stay open longer than `READERS_WAIT_SECONDS`, only versions older than
        `keep_versions_seconds` go this time.
        """
        alone = self.readers.exclusive(READERS_WAIT_SECONDS)
        keep = timedelta(0) if alone else timedelta(seconds=keep_versions_seconds)
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*removes every version.*")
                for name in (FILES, CHUNKS, SYMBOLS):
                    self.table(name).optimize(cleanup_older_than=keep)
        finally:
            if alone:
                self.readers.shared()

    # -- reads: what is not read from the lexicon -----------------------------------------

    def has_vectors(self) -> bool:
        return "vector" in self.table(CHUNKS).schema.names

    def nearest_chunks(self, vector: Any, limit: int) -> list[dict[str, Any]]:
        """Chunk rows nearest to `vector`, with `_distance`."""
        rows: list[dict[str, Any]] = (
            self.table(CHUNKS)
            .search(vector, vector_column_name="vector")
            .limit(limit)
            .select(CHUNK_COLUMNS)
            .to_list()
        )
        return rows

    def all_rows(self, name: str) -> list[dict[str, Any]]:
        """Every row of the files or symbols table (their own columns, no search text)."""
        columns = {FILES: FILE_COLUMNS, SYMBOLS: SYMBOL_COLUMNS}[name]
        rows: list[dict[str, Any]] = self.table(name).to_arrow().select(columns).to_pylist()
        return rows


# -- integrity: is every table readable and as full as the manifest says? -------------------

_PROBE_COLUMN = {FILES: "is_test", CHUNKS: "is_test", SYMBOLS: "is_test"}
_PROBE_QUERY = "codemem-integrity-probe"  # matches nothing: only opens each index


def probe_tables(index_dir: Path, expected_rows: dict[str, int]) -> str | None:
    """What is wrong with the tables, or None: each opens, holds at least the rows the manifest
    counts, every data file reads (one small column) and each scalar index there is answers
    (a missing one is no damage: the next run builds it).

    Reads without `CodeStore`, which would create a missing table instead of noticing it.
    """
    try:
        db = connect(index_dir)
        result = db.list_tables()
        names = set(getattr(result, "tables", result))
    except Exception as exc:  # any LanceDB or Arrow failure here means damage
        return f"the database cannot be opened: {_first_line(exc)}"
    for name, rows in expected_rows.items():
        if name not in names:
            if rows:
                return f"the {name} table is missing"
            continue
        try:
            table = db.open_table(name)
            count = table.count_rows()
            if count < rows:
                return f"the {name} table holds {count} rows, the manifest {rows}"
            table.search().select([_PROBE_COLUMN[name]]).limit(count + 1).to_arrow()
            indexes = table.list_indices() if count else []
            for column in SCALAR_INDEXES.get(name, ()):
                if any(ix.columns == [column] for ix in indexes):  # missing: only slower
                    table.search().where(f"{column} = {_quote(_PROBE_QUERY)}").limit(1).select(
                        [column]
                    ).to_list()
        except Exception as exc:  # any LanceDB or Arrow failure here means damage
            return f"the {name} table cannot be read: {_first_line(exc)}"
    return None


_RUST_SOURCE = re.compile(r",? /\S+\.rs:\d+:\d+")  # where in LanceDB's Rust the error was raised


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return _RUST_SOURCE.sub("", text[0] if text else type(exc).__name__)[:200]
