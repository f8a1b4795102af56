"""Reading the layers (files, environment, flags), merging them, and the one error translator."""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Any, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from codemem.config.agent import provider_settings
from codemem.config.schema import Config
from codemem.errors import ConfigError

ENV_PREFIX = "CODEMEM_"


def user_config_dir() -> Path:
    """The user's codemem folder: $CODEMEM_HOME, else ~/.config/codemem."""
    home = os.environ.get("CODEMEM_HOME")
    if home:
        return Path(home).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "codemem"


def read_yaml_file(path: Path) -> dict[str, Any]:
    """Read a YAML mapping; an empty file is an empty mapping."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{path}:{where}: invalid YAML: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of keys at the top level")
    return data


def environment_overrides(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """Map CODEMEM_MODEL and CODEMEM_<SECTION>__<KEY>[__<KEY>...] variables to config keys.

    Values are read as YAML (`20`, `false`, `[a, b]`, `{base_url: ...}`); each `__` goes one
    level down, so CODEMEM_PROVIDERS__GPU__BASE_URL sets `providers.gpu.base_url`.
    """
    variables = os.environ if environ is None else environ
    out: dict[str, Any] = {}
    for name, value in variables.items():
        if not name.startswith(ENV_PREFIX):
            continue
        rest = name[len(ENV_PREFIX) :]
        if rest == "MODEL":
            out["model"] = value
        elif "__" in rest:
            *parents, key = rest.lower().split("__")
            level = out
            for part in parents:
                level = level.setdefault(part, {})
            level[key] = yaml.safe_load(value) if value else value
    return out


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge `over` into a copy of `base` (mappings merge, everything else replaces)."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


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


LAYERS = ("user", "project", "environment", "flags")  # above the defaults, later ones winning


def read_layers(
    project_file: Path | None = None,
    flags: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
) -> list[tuple[str, str, dict[str, Any]]]:
    """Every layer above the defaults as (kind, where it came from, data), in `LAYERS` order."""
    user_file = user_config_dir() / "config.yml"
    layers = [("user", str(user_file), read_yaml_file(user_file))]
    if project_file is not None:
        layers.append(("project", str(project_file), read_yaml_file(project_file)))
    layers.append(("environment", "environment", environment_overrides(environ)))
    layers.append(("flags", "command-line flags", flags or {}))
    return layers


def load_config(
    project_file: Path | None = None,
    flags: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
) -> Config:
    """Load the effective configuration for one run."""
    return validate_layers(read_layers(project_file, flags, environ))


def validate_layers(read: list[tuple[str, str, dict[str, Any]]]) -> Config:
    """Validate each layer alone (the error names its file), then their merge."""
    layers = [(source, data) for _kind, source, data in read if data]
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
