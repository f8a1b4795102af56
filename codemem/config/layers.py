"""The layers of settings above the defaults, read and merged but not validated.

Files, environment and flags are read here without pydantic, so that a run can tell from
`layers_key` that its settings are the ones an earlier run validated (`codemem index` with
nothing to do then needs no validation at all); `codemem.config.loading` validates them.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from codemem import __version__
from codemem.config.home import user_config_dir
from codemem.config.trust import trust_path, trusted_part
from codemem.errors import ConfigError, FileTooLarge, NotARegularFile
from codemem.infra import load_yaml, read_regular_bytes

ENV_PREFIX = "CODEMEM_"


MAX_SETTINGS_BYTES = 1024 * 1024  # a settings file is a few KB; a link to /dev/zero is not one
MAX_SETTINGS_DEPTH = 32  # the deepest key is four levels down: deeper is not settings
# What PyYAML raises for text that parses but whose values cannot be built (`2025-02-30`, an
# integer of 5,000 digits, `!!int x`) or are nested beyond Python's recursion limit.
_UNBUILDABLE = (ValueError, TypeError, AttributeError, OverflowError, RecursionError)


def read_yaml_file(path: Path) -> dict[str, Any]:
    """Read a YAML mapping; an empty file is an empty mapping.

    A file larger than `MAX_SETTINGS_BYTES`, not a regular file (a FIFO, a device), not UTF-8,
    not YAML or nested deeper than `MAX_SETTINGS_DEPTH` is a `ConfigError` naming it.
    """
    text = _settings_text(path)
    return {} if text is None else settings_from_text(text, path)


def settings_from_text(text: str, path: Path) -> dict[str, Any]:
    """The settings mapping `text` (read from `path`, named in errors) holds, as
    `read_yaml_file` reads it."""
    import yaml  # PyYAML (a tenth of start-up): only when there is a file to read

    try:
        data = load_yaml(text, unique_keys=True)  # a person's two settings: never one dropped
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{path}:{where}: invalid YAML: {problem}") from None
    except _UNBUILDABLE as exc:
        raise ConfigError(f"{path}: invalid YAML: {_first_line(exc)}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of keys at the top level")
    if _deeper_than(data, MAX_SETTINGS_DEPTH):
        raise ConfigError(f"{path}: nested deeper than {MAX_SETTINGS_DEPTH} levels")
    return data


def _settings_text(path: Path) -> str | None:
    """The file's text (None: no such file), read without hanging on a FIFO and never past
    `MAX_SETTINGS_BYTES`. Links are followed: a dotfiles manager links the user's file."""
    try:
        data = read_regular_bytes(path, MAX_SETTINGS_BYTES, follow_links=True)
    except FileNotFoundError:
        return None
    except NotARegularFile:
        raise ConfigError(f"{path}: cannot read: not a regular file") from None
    except FileTooLarge:
        raise ConfigError(
            f"{path}: larger than {MAX_SETTINGS_BYTES:,} bytes: not a settings file"
        ) from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: cannot read: not UTF-8 ({exc.reason} at byte {exc.start})"
        ) from None


def _deeper_than(data: Any, limit: int) -> bool:
    """Whether `data` nests mappings and lists more than `limit` levels (walked, not recursed)."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > limit:
            return True
        children = (
            value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
        )
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0]


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
            level[key] = _yaml_value(name, value) if value else value
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


LAYERS = ("user", "project", "environment", "flags")  # above the defaults, later ones winning


def read_layers(
    project_file: Path | None = None,
    flags: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
    *,
    read_file: Callable[[Path], dict[str, Any]] = read_yaml_file,
) -> list[tuple[str, str, dict[str, Any]]]:
    """Every layer above the defaults as (kind, where it came from, data), in `LAYERS` order;
    `read_file` reads a settings file (`LayersReader` passes its own, which remembers)."""
    user_dir = user_config_dir()
    user_file = user_dir / "config.yml"
    layers = [("user", str(user_file), read_file(user_file))]
    if project_file is not None:
        # What came with the repository chooses no endpoint, credential or permission of
        # yours until you trust it (`codemem.config.trust`).
        data = trusted_part(project_file, read_project_file(project_file, read_file), user_dir)
        layers.append(("project", str(project_file), data))
    layers.append(("environment", "environment", environment_overrides(environ)))
    layers.append(("flags", "command-line flags", flags or {}))
    return layers


def read_project_file(
    project_file: Path, read_file: Callable[[Path], dict[str, Any]] = read_yaml_file
) -> dict[str, Any]:
    """The project's settings, read only from inside its repository (the folder holding
    `.codemem/`): a cloned `config.yml` linked to a file elsewhere (another file of yours, a
    secret in /tmp, /dev/zero, a FIFO) is refused in one line before anything of it is read,
    never read as this project's settings. A link leading nowhere is no settings, as a
    missing file is (`init` leaves a committed one as it is)."""
    if project_file.is_symlink() and project_file.exists():
        root = project_file.parent.parent.resolve()
        target = project_file.resolve()
        if not target.is_relative_to(root):
            raise ConfigError(
                f"{project_file}: a link to {target}, outside the repository: the project's "
                "settings are read only from inside it; replace the link by the file"
            )
    return read_file(project_file)


Stamp = tuple[int, int, int] | None  # a file's (mtime_ns, size, inode); None: no such file


def file_stamp(path: Path) -> Stamp:
    """What tells an edited settings file from the one read before."""
    try:
        stat = path.stat()
    except OSError:  # missing (or unreadable: reading it says why)
        return None
    return stat.st_mtime_ns, stat.st_size, stat.st_ino


class LayersReader:
    """The layers of one workspace (`read_layers`) and their `layers_key`, each file parsed
    again only when its stamp (mtime_ns, size, inode) changed.

    A run asks several times (is anything to do, the settings, the search's settings) but
    parses each file once; a long-lived reader (the watch daemon's index) still sees an
    edited config.yml. The environment is read on every call: it costs nothing to read.
    """

    def __init__(self, project_file: Path | None = None) -> None:
        self.project_file = project_file
        self._files: dict[Path, tuple[Stamp, dict[str, Any]]] = {}
        self._key: tuple[Any, str] | None = None  # (what the key was made from, the key)

    def read(self) -> tuple[list[tuple[str, str, dict[str, Any]]], str]:
        """The layers as `read_layers` gives them (no flags), and their key; the mappings are
        the reader's own, to read, never to change."""
        stamps: list[tuple[Path, Stamp]] = []

        def read_file(path: Path) -> dict[str, Any]:
            stamp, data = self._file(path)
            stamps.append((path, stamp))
            return data

        layers = read_layers(self.project_file, read_file=read_file)
        environment = next(data for kind, _, data in layers if kind == "environment")
        # Trusting the project's settings (or withdrawing it) changes the project layer.
        made_from = (stamps, environment, file_stamp(trust_path(user_config_dir())))
        if self._key is None or self._key[0] != made_from:
            self._key = (made_from, layers_key(layers))
        return layers, self._key[1]

    def _file(self, path: Path) -> tuple[Stamp, dict[str, Any]]:
        stamp = file_stamp(path)
        known = self._files.get(path)
        if stamp is None or known is None or known[0] != stamp:
            # Stamped before the read: a write meanwhile leaves a stamp that differs next time.
            known = (stamp, read_yaml_file(path))
            if stamp is not None:  # a missing file costs nothing to look for again
                self._files[path] = known
        return known


def _yaml_value(name: str, text: str) -> Any:
    import yaml  # PyYAML: only when a variable sets a value

    try:
        value = load_yaml(text, unique_keys=True)
    except (yaml.YAMLError, *_UNBUILDABLE) as exc:
        problem = getattr(exc, "problem", None) or _first_line(exc)
        raise ConfigError(f"{name}: invalid YAML value: {problem}") from None
    if _deeper_than(value, MAX_SETTINGS_DEPTH):
        raise ConfigError(f"{name}: nested deeper than {MAX_SETTINGS_DEPTH} levels")
    return value


def layers_key(layers: list[tuple[str, str, dict[str, Any]]]) -> str:
    """A digest of what `layers` set (and of codemem's version, whose defaults lie beneath):
    equal keys validate to equal settings."""
    values = [(kind, data) for kind, _source, data in layers]
    text = json.dumps([__version__, values], sort_keys=True, default=repr)
    return hashlib.sha1(text.encode("utf-8", "surrogateescape")).hexdigest()
