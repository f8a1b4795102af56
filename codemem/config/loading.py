"""Validating the layers (`codemem.config.layers`) into one `Config`, and the one error
translator."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, get_args, get_origin

from pydantic import BaseModel, ValidationError

from codemem.config.agent import provider_settings
from codemem.config.layers import merge, read_layers
from codemem.config.schema import Config
from codemem.config.trust import WithheldLayer, as_written
from codemem.errors import ConfigError


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
    # pydantic adds the member of a union it tried (`literal['a','b']`) to the path: not a key.
    loc = tuple(part for part in first["loc"] if not (isinstance(part, str) and "[" in part))
    key = ".".join(str(part) for part in loc)
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        close = difflib.get_close_matches(str(loc[-1]), _keys_at(loc), n=1, cutoff=0.6)
        hint = f", did you mean {close[0]}?" if close else ""
        message = f"unknown key{hint} (`codemem config example` shows every key)"
    return f"{key}: {message}" if key else message


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
        _validated([(source, as_written(data)) for _kind, source, data in read])
    return _validated([(source, data) for _kind, source, data in read])


def _validated(layers: list[tuple[str, dict[str, Any]]]) -> Config:
    layers = [(source, data) for source, data in layers if data]
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
