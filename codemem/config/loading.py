"""Validating the layers (`codemem.config.layers`) into one `Config`, and the one error
translator.

A settings file may hold keys this codemem does not know: a teammate's newer codemem wrote
them in the committed `.codemem/config.yml`, or they are typos. Each is named in one warning
per run (with the closest known key) and ignored, so one member upgrading first does not
stop every command of the others. Under `permissions:` an unknown key stays an error: what it
would restrict cannot be ignored safely. The environment and the command line, typed for
this run, are held to every key as well.
"""

from __future__ import annotations

import difflib
import logging
from pathlib import Path
from typing import Any, get_args, get_origin

from pydantic import BaseModel, ValidationError

from codemem.config.agent import provider_settings
from codemem.config.layers import merge, read_layers
from codemem.config.schema import Config
from codemem.config.trust import WithheldLayer, as_written
from codemem.errors import ConfigError

log = logging.getLogger("codemem")

FILE_LAYERS = ("user", "project")  # settings files, which other codemem versions also read
STRICT_SECTIONS = ("permissions",)  # an unknown key there is refused, never ignored
_warned: set[tuple[str, str]] = set()  # (file, key): one warning per run


def _keys_at(loc: tuple[Any, ...]) -> list[str]:
    """The valid keys of the section that `loc` (a path ending in one key) points into."""
    model: type[BaseModel] = Config
    parts = list(loc[:-1])
    while parts:
        field = model.model_fields.get(str(parts.pop(0)))
        if field is None:
            return []
        annotation = field.annotation
        if get_origin(annotation) is dict:  # `providers`, `agent.models`: skip the entry's name
            annotation = get_args(annotation)[1]
            if not parts:
                return []
            parts.pop(0)
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    return list(model.model_fields)


def describe(error: ValidationError) -> str:
    """`key.path: problem` for the first error: the one translator of every config section."""
    first = error.errors()[0]
    loc = _key_path(first)
    key = ".".join(str(part) for part in loc)
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        message = f"unknown key{_hint(loc)} (`codemem config example` shows every key)"
    return f"{key}: {message}" if key else message


def _key_path(error: Any) -> tuple[Any, ...]:
    # pydantic adds the member of a union it tried (`literal['a','b']`) to the path: not a key.
    return tuple(part for part in error["loc"] if not (isinstance(part, str) and "[" in part))


def _hint(loc: tuple[Any, ...]) -> str:
    close = difflib.get_close_matches(str(loc[-1]), _keys_at(loc), n=1, cutoff=0.6)
    return f", did you mean {close[0]}?" if close else ""


def unknown_keys(data: dict[str, Any]) -> list[tuple[str, ...]]:
    """The paths of the keys in `data` (one layer) that no section has."""
    try:
        Config.model_validate(data)
    except ValidationError as exc:
        found = []
        for error in exc.errors():
            if error["type"] == "extra_forbidden":
                path = _present(data, _key_path(error))
                if path and path not in found:
                    found.append(path)
        return found
    return []


def _present(data: Any, loc: tuple[Any, ...]) -> tuple[str, ...]:
    """`loc` as keys of `data`: parts that are no key there (the union member pydantic tried,
    a model's name) are left out."""
    path: list[str] = []
    for part in loc:
        if isinstance(data, dict) and part in data:
            path.append(part)
            data = data[part]
    return tuple(path) if path and path[-1] == loc[-1] else ()


def _without(data: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    """A copy of `data` less the key at `path` (the mappings on the way copied, not changed)."""
    out = dict(data)
    head, *rest = path
    if rest:
        out[head] = _without(out[head], tuple(rest))
    else:
        del out[head]
    return out


def unknown_key_problem(path: tuple[str, ...]) -> str:
    """`key.path: unknown key...`: the line naming a key no section has."""
    return f"{'.'.join(path)}: unknown key{_hint(path)} (`codemem config example` shows every key)"


def known_part(data: dict[str, Any], source: str) -> dict[str, Any]:
    """A settings file's layer less the keys this codemem does not know (a newer version's, or
    typos), each named once per run in a warning; one under `permissions:` is left in, for
    `validate_layer` to refuse."""
    for path in unknown_keys(data):
        if path[0] in STRICT_SECTIONS:
            continue
        data = _without(data, path)
        key = ".".join(path)
        if (source, key) not in _warned:
            _warned.add((source, key))
            close = _hint(path).removeprefix(", ")
            log.warning(
                "%s: %s: unknown key, ignored: %s (`codemem config example` shows every key)",
                source,
                key,
                f"{close} Or a newer codemem's setting?" if close else "a newer codemem's setting?",
            )
    return data


def validate_layer(data: dict[str, Any], source: str) -> None:
    """Validate one layer on its own, so the error names the file it came from."""
    try:
        Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{source}: {describe(exc)}") from None


def _sources(layers: list[tuple[str, dict[str, Any]]], section: Any) -> str:
    """The layers that set `section`, for an error only their combination shows."""
    names = [source for source, data in layers if section in data]
    return " + ".join(names) or "configuration"


def load_config(
    project_file: Path | None = None,
    flags: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
) -> Config:
    """Load the effective configuration for one run."""
    return validate_layers(read_layers(project_file, flags, environ))


def validate_layers(read: list[tuple[str, str, dict[str, Any]]]) -> Config:
    """Validate each layer alone (the error names its file), then their merge: first as the
    files have them, settings not yet trusted included (`codemem.config.trust`), then as
    they apply."""
    if any(isinstance(data, WithheldLayer) for _kind, _source, data in read):
        _validated([(kind, source, as_written(data)) for kind, source, data in read])
    return _validated(read)


def _validated(read: list[tuple[str, str, dict[str, Any]]]) -> Config:
    layers = [
        (source, known_part(data, source) if kind in FILE_LAYERS else data)
        for kind, source, data in read
        if data
    ]
    merged: dict[str, Any] = {}
    for source, data in layers:
        validate_layer(data, source)
        merged = merge(merged, data)
    # Layers valid alone can still clash (compact_to in one file, compact_at in another).
    try:
        config = Config.model_validate(merged)
    except ValidationError as exc:
        section = (*exc.errors()[0]["loc"], "")[0]
        raise ConfigError(f"{_sources(layers, section)}: {describe(exc)}") from None
    for name in config.providers:
        try:
            provider_settings(name, config.providers)
        except ConfigError as exc:
            raise ConfigError(f"{_sources(layers, 'providers')}: {exc}") from None
    return config
