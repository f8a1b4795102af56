"""A stand-in for pydantic while lancedb is imported (`codemem.code.lancedb_loading`).

lancedb defines dozens of pydantic models and dataclasses as it loads (function and
embedding configs, full-text queries, its `LanceModel`), so `import lancedb` imports pydantic
and pydantic_core: 40-70 ms of the index's critical path. codemem runs none of them but one:
every read (`to_arrow`, `search`) builds a `Query` from keyword arguments the query builder
already checked, and reads its fields. The stand-in's `BaseModel` does that much (declared
fields from keywords or their defaults, others ignored as pydantic does, `model_dump`);
pydantic dataclasses, validators and types are left undecorated or inert. The stand-in leaves
`sys.modules` once lancedb is imported, so any later `import pydantic` gets the real package.
"""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

MODULES = ("pydantic", "pydantic.dataclasses", "pydantic.fields", "pydantic_core")
# The lancedb releases whose use of pydantic, as it loads and on codemem's calls, this
# stand-in was checked against (tests/code/test_store_import.py). Another release could
# validate or convert a value on a path codemem runs: it imports the real pydantic. 0.41
# added only `TypeAdapter`, used when a table's metadata names an embedding function
# (codemem's tables name none). pyproject.toml caps lancedb below the next release: raise the
# cap and this list together.
CHECKED_RELEASES = ("0.40.", "0.41.")


def fits(lancedb_version: str | None) -> bool:
    """Whether the stand-in was checked against this lancedb release."""
    return lancedb_version is not None and lancedb_version.startswith(CHECKED_RELEASES)


class FieldInfo:
    """What `Field(...)` and `PrivateAttr(...)` return: a default kept for `BaseModel`."""

    def __init__(self, default: Any = None, *_args: Any, **options: Any) -> None:
        self.default = default
        self.default_factory: Callable[[], Any] | None = options.get("default_factory")

    def value(self) -> Any:
        return self.default_factory() if self.default_factory is not None else self.default


class BaseModel:
    """Holds its declared fields: each keyword that names one, else its default."""

    model_config: dict[str, Any] = {}

    def __init__(self, **values: Any) -> None:
        for name in _fields(type(self)):
            if name in values:
                value = values[name]
            else:
                value = getattr(type(self), name, None)
                if isinstance(value, FieldInfo):
                    value = value.value()
            setattr(self, name, value)

    def model_dump(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _fields(type(self))}


def _fields(model: type) -> list[str]:
    """The fields a model declares (its annotations and its bases'), private ones left out."""
    names: dict[str, None] = {}
    for cls in reversed(model.__mro__):
        if issubclass(cls, BaseModel):
            names.update(dict.fromkeys(vars(cls).get("__annotations__", {})))
    return [n for n in names if not n.startswith("_") and n != "model_config"]


def _unchanged(*args: Any, **_options: Any) -> Any:
    """A decorator (bare or with options) that returns what it decorates."""
    if len(args) == 1 and callable(args[0]) and not _options:
        return args[0]
    return lambda target: target


class TypeAdapter:
    """pydantic's own `TypeAdapter`, imported when one is first made: lancedb makes one only
    to validate what a table's metadata says of an embedding function, which codemem's
    tables never hold, and by then the stand-ins are out of `sys.modules`."""

    def __new__(cls, *args: Any, **options: Any) -> Any:
        return importlib.import_module("pydantic").TypeAdapter(*args, **options)


def _inert(*_args: Any, **_options: Any) -> Any:
    """What a validator or constrained type is at class definition: only a marker."""
    return _inert


def _module(name: str, **names: Any) -> types.ModuleType:
    """A stand-in module: its names go to lancedb's modules only (`_asked_by_lancedb`). Any
    other asker (another thread's import meanwhile, a REST client model lancedb loads) gets
    the real module's, the stand-ins leaving `sys.modules` first, so its models validate."""
    module = types.ModuleType(name)

    def attribute(attr: str) -> Any:
        if attr.startswith("__"):  # what tools scanning `sys.modules` ask
            raise AttributeError(attr)
        if _asked_by_lancedb():
            if attr in names:
                return names[attr]
            raise AttributeError(f"module {name!r} has no attribute {attr!r}")
        for stand_in, held in list(sys.modules.items()):
            if stand_in in MODULES and getattr(held, "_stand_in", False):
                del sys.modules[stand_in]
        return getattr(importlib.import_module(name), attr)

    module.__getattr__ = attribute  # type: ignore[method-assign]  # a module's __getattr__ (PEP 562)
    module._stand_in = True  # type: ignore[attr-defined]
    return module


def _asked_by_lancedb() -> bool:
    """Whether the code asking for a name (past the import machinery) is lancedb's."""
    frame: types.FrameType | None = sys._getframe(2)
    while frame is not None and frame.f_globals.get("__name__", "").startswith("importlib"):
        frame = frame.f_back
    asker = str(frame.f_globals.get("__name__", "")) if frame is not None else ""
    return asker.partition(".")[0] == "lancedb"


def stand_ins() -> dict[str, types.ModuleType]:
    """The stand-in modules, by name: the names lancedb's import-time code takes from them."""
    dataclasses = _module("pydantic.dataclasses", dataclass=_unchanged)
    fields = _module("pydantic.fields", FieldInfo=FieldInfo)
    pydantic = _module(
        "pydantic",
        BaseModel=BaseModel,
        ConfigDict=dict,
        Field=FieldInfo,
        PrivateAttr=FieldInfo,
        AfterValidator=_inert,
        BeforeValidator=_inert,
        conint=_inert,
        field_validator=_unchanged,
        model_validator=_unchanged,
        GetCoreSchemaHandler=object,
        TypeAdapter=TypeAdapter,
        dataclasses=dataclasses,
        fields=fields,
    )
    pydantic.__path__ = []  # a package: `import pydantic.dataclasses` finds the stand-in
    schema = _module("pydantic_core.core_schema")
    core = _module("pydantic_core", CoreSchema=dict, core_schema=schema)
    return dict(zip(MODULES, (pydantic, dataclasses, fields, core), strict=True))


@contextmanager
def pydantic_stood_in() -> Iterator[None]:
    """While lancedb is imported, pydantic is the stand-in; it leaves `sys.modules` after,
    whether or not the import worked. Not used when pydantic is already imported."""
    modules = stand_ins()
    sys.modules.update(modules)
    try:
        yield
    finally:
        for name, module in modules.items():
            if sys.modules.get(name) is module:
                del sys.modules[name]
