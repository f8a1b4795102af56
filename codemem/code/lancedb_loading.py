"""Importing LanceDB fast: what `codemem.code.store.import_lancedb` applies while it runs.

`import lancedb` costs a fresh process about a second without these, most of it in code that
codemem never runs: the generated REST-namespace client (its package, its hundred-odd models),
the embedding providers, pydantic validators of classes nobody instantiates, pyarrow's
compute help, the override checks meant for lancedb's developers, the package-metadata
machinery that only reads lancedb's version, the HTTP client that downloads embedding
models, and the garbage collector traversing all of it. Each is skipped or deferred to first use here, with the ordinary import
as the fallback when a lancedb version needs more (`install_stand_ins`, `loading_lancedb`,
`drop_stand_ins`). This module never imports lancedb itself: only the store does.
"""

from __future__ import annotations

import functools
import importlib
import importlib.machinery
import importlib.util
import os
import re
import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from pyarrow.vendored import docscrape  # pyarrow's copy of numpydoc's docstring parser

from codemem.code.pydantic_stand_in import fits, pydantic_stood_in
from codemem.infra import imports_uncollected

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


def install_stand_ins() -> bool:
    """Put the stand-ins in `sys.modules` before lancedb is imported: the REST client's
    package without its `__init__`, its models package, lancedb's embeddings package without
    its providers. Whether it did (then `drop_stand_ins` undoes it if the import fails)."""
    if _SKIPPED_INIT in sys.modules:
        return False
    spec = importlib.util.find_spec(_SKIPPED_INIT)
    if spec is None or not spec.submodule_search_locations:
        return False
    sys.modules[_SKIPPED_INIT] = _package_without_init(spec)
    models = importlib.util.find_spec(_MODELS)
    if models is not None and models.origin and models.submodule_search_locations:
        sys.modules[_MODELS] = _deferred_models(models)
    embeddings = _embeddings_without_providers()
    if embeddings is not None and _EMBEDDINGS not in sys.modules:
        sys.modules[_EMBEDDINGS] = embeddings
    return True


@contextmanager
def loading_lancedb() -> Iterator[None]:
    """What holds while lancedb is imported: the REST client's model modules stand in
    (`_model_modules_deferred`), no override checks (`_without_override_checks`), lancedb's
    version read from its installed metadata file (`_version_without_metadata`), the HTTP
    client imported when first used (`_downloads_deferred`), pydantic not imported at all
    (`_pydantic_for_lancedb`), pyarrow's compute docs parsed once per options class
    (`_options_docs_parsed_once`), and no garbage collection (`imports_uncollected`: a tenth
    of the import's time, and its first collection's)."""
    with (
        _pydantic_for_lancedb(),  # first: it asks whether the real `overrides` is loaded
        _model_modules_deferred(),
        _without_override_checks(),
        _version_without_metadata(),
        _downloads_deferred(),
        _options_docs_parsed_once(),
        imports_uncollected(),
    ):
        yield


def drop_stand_ins() -> None:
    """Forget every module of lancedb and its REST client, stand-in or real (an import that
    failed with the stand-ins is then done the ordinary way). A compiled extension stays: the
    Rust core cannot be initialised twice in one process, and imports no Python module."""
    for name in [
        m for m in sys.modules if m.startswith((_SKIPPED_INIT, "lance_namespace", "lancedb"))
    ]:
        if not str(getattr(sys.modules[name], "__file__", "")).endswith(_EXTENSIONS):
            del sys.modules[name]


_EXTENSIONS = tuple(importlib.machinery.EXTENSION_SUFFIXES)


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
            setattr(module, name, getattr(package, name))  # the package's stand-in, kept there
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


def stands_in_for_pydantic() -> bool:
    """Whether lancedb loads with the pydantic stand-in in a process that has not imported
    pydantic: the installed lancedb is a release the stand-in was checked against."""
    return fits(_installed_version("lancedb"))


@contextmanager
def _pydantic_for_lancedb() -> Iterator[None]:
    """While lancedb is imported, pydantic is a stand-in (`codemem.code.pydantic_stand_in`):
    its import is 40-70 ms of the index's critical path. A process that already imported
    pydantic (a config layer needed it) keeps it, its models and dataclasses built when first
    used (`_models_built_on_first_use`, `_dataclasses_built_on_first_use`); so does one
    whose real `overrides` checks will import the REST client's models, and one whose lancedb
    is a release the stand-in was not checked against (`pydantic_stand_in.fits`)."""
    # The real `overrides` checks lancedb's namespace methods against the REST client's
    # models, which then import (with real pydantic).
    overrides_checks = sys.version_info < (3, 12) and "overrides" in sys.modules
    loaded = "pydantic" in sys.modules or "pydantic_core" in sys.modules
    if loaded or overrides_checks or not stands_in_for_pydantic():
        with _models_built_on_first_use(), _dataclasses_built_on_first_use():
            yield
    else:
        with pydantic_stood_in():
            yield


@contextmanager
def _models_built_on_first_use() -> Iterator[None]:
    """While lancedb is imported, pydantic models are built when first used (`defer_build`).

    lancedb imports the REST namespace client's hundred-odd request and response models,
    which codemem never uses; pydantic builds each one's validator as its class is defined
    (a tenth of lancedb's import). Defined while `BaseModel`'s own config defers that, they
    inherit it and are built on first use, which pydantic documents as the same behaviour.
    The config is restored before anything else runs.
    """
    from pydantic import BaseModel  # already imported: see `_pydantic_for_lancedb`

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
    import pydantic.dataclasses  # pydantic is already imported: see `_pydantic_for_lancedb`
    from pydantic import ConfigDict

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


_METADATA = "importlib.metadata"


@contextmanager
def _version_without_metadata() -> Iterator[None]:
    """While lancedb is imported, `importlib.metadata` is a stand-in that knows its version.

    lancedb's `__init__` imports `importlib.metadata` (its email, zip and CSV parsers: about
    9 ms) and asks it for lancedb's version, the only use lancedb makes of it while loading;
    the index pays that on its critical path. The stand-in answers from the `Version` of the
    `METADATA` file in the one `lancedb-*.dist-info` folder beside the package, what `version`
    reads; asked anything else, or when that is not found, it hands over to the real module.
    A process that already loaded the real module keeps it, and the stand-in leaves
    `sys.modules` and the `importlib` package once lancedb is imported.
    """
    version = _installed_version("lancedb")
    if _METADATA in sys.modules or version is None:
        yield
        return
    had = hasattr(importlib, "metadata")
    stand_in = types.ModuleType(_METADATA)

    def real() -> types.ModuleType:
        if sys.modules.get(_METADATA) is stand_in:
            del sys.modules[_METADATA]
        return importlib.import_module(_METADATA)

    def known_version(name: str) -> str:
        return version if name == "lancedb" else str(real().version(name))

    stand_in.version = known_version  # type: ignore[attr-defined]
    stand_in.__getattr__ = lambda name: getattr(real(), name)  # type: ignore[method-assign]
    sys.modules[_METADATA] = stand_in
    importlib.metadata = stand_in  # what `import importlib.metadata` then reads
    try:
        yield
    finally:
        if sys.modules.get(_METADATA) is stand_in:
            del sys.modules[_METADATA]
        if getattr(importlib, "metadata", None) is stand_in:
            if _METADATA in sys.modules:  # the real one, loaded meanwhile
                importlib.metadata = sys.modules[_METADATA]
            elif not had:
                del importlib.metadata


def _installed_version(package: str) -> str | None:
    """The `Version` its metadata records, read from the one `<package>-*.dist-info` folder
    beside the installed package; None when there is no such folder, or several."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))).parent
    found = [
        n for n in os.listdir(folder) if n.startswith(f"{package}-") and n.endswith(".dist-info")
    ]
    if len(found) != 1:
        return None
    try:
        with open(folder / found[0] / "METADATA", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("Version:"):
                    return line[len("Version:") :].strip()
                if not line.strip():  # the headers end here
                    break
    except OSError:
        pass
    return None


_HTTP_CLIENT = "urllib.request"


@contextmanager
def _downloads_deferred() -> Iterator[None]:
    """While lancedb is imported, `urllib.request` is a stand-in that imports the real module
    when first used.

    lancedb's embedding utilities import it (and with it `http.client`, the email parser and
    `ssl`: about 10 ms of the index's critical path) to download models, which codemem never
    asks for. The stand-in leaves `sys.modules` once lancedb is imported; a module that bound
    it (`urllib.request.urlopen`) reaches the real one through it, and a later
    `import urllib.request` imports the real one as usual. A process that already loaded it
    keeps it.
    """
    if _HTTP_CLIENT in sys.modules:
        yield
        return
    import urllib

    stand_in = types.ModuleType(_HTTP_CLIENT)

    def real() -> types.ModuleType:
        if sys.modules.get(_HTTP_CLIENT) is stand_in:
            del sys.modules[_HTTP_CLIENT]
        return importlib.import_module(_HTTP_CLIENT)  # and `urllib.request` is the real one

    stand_in.__getattr__ = lambda name: getattr(real(), name)  # type: ignore[method-assign]
    sys.modules[_HTTP_CLIENT] = stand_in
    urllib.request = stand_in  # type: ignore[attr-defined]  # what `import urllib.request` reads
    try:
        yield
    finally:
        if sys.modules.get(_HTTP_CLIENT) is stand_in:
            del sys.modules[_HTTP_CLIENT]
