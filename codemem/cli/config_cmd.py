"""`codemem config show|get|set|path|example`: the settings in effect and where each came from.

Sources, later ones winning: default < user (~/.config/codemem/config.yml) < project
(.codemem/config.yml) < environment (CODEMEM_*) < flags. `set` edits the project file only,
validating the result before it is written (atomically).
"""

from __future__ import annotations

import difflib
import json
from importlib import resources
from pathlib import Path
from typing import Any

import click
import yaml

from codemem.cli import AppContext
from codemem.errors import ConfigError, UsageError

_MISSING = object()


def example_text() -> str:
    """The example configuration shipped inside the package: every key with its default."""
    return (resources.files("codemem") / "data" / "example.yml").read_text(encoding="utf-8")


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """`{"a": {"b": 1}}` -> `{"a.b": 1}`; lists and scalars are leaves, empty mappings too."""
    if not isinstance(data, dict) or (not data and prefix):
        return {prefix: data}
    out: dict[str, Any] = {}
    for key, value in data.items():
        out.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return out


def settings_with_sources(app: AppContext) -> list[tuple[str, Any, str]]:
    """(dotted key, value in effect, where it came from) for every setting, validated."""
    from codemem.config import read_layers, validate_layers

    layers = read_layers(app.workspace().config_file)
    config = validate_layers(layers)
    origin: dict[str, str] = {}
    for kind, _source, data in layers:
        for key in flatten(data):
            origin[key] = kind
    rows = []
    for key, value in flatten(config.model_dump(mode="json")).items():
        # A layer may set a whole mapping (`providers: {gpu: {...}}`): its leaves are its own.
        source = next((origin[part] for part in _prefixes(key) if part in origin), "default")
        rows.append((key, value, source))
    return rows


def _prefixes(key: str) -> list[str]:
    parts = key.split(".")
    return [".".join(parts[:n]) for n in range(len(parts), 0, -1)]


def _lookup(data: dict[str, Any], key: str) -> Any:
    value: Any = data
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _unknown(key: str, known: list[str]) -> UsageError:
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]}?" if close else "; `codemem config show` lists them"
    return UsageError(f"no setting {key!r}{hint}")


def _shown(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


@click.group("config", invoke_without_command=True)
@click.pass_context
def config_group(ctx: click.Context) -> None:
    """Show, read and change the settings (with where each value comes from).

    \b
    Sources, later ones winning: default < user (~/.config/codemem/config.yml)
    < project (.codemem/config.yml) < environment (CODEMEM_*) < flags.
    Without a subcommand: the same as `codemem config show`.
    """
    if ctx.invoked_subcommand is None:
        ctx.invoke(show_command)


@config_group.command("show")
@click.option(
    "--json", "as_json", is_flag=True, help="Print {key: {value, source}} as one JSON object."
)
@click.pass_obj
def show_command(app: AppContext, as_json: bool = False) -> None:
    """Every setting in effect, validated, with its source."""
    rows = settings_with_sources(app)
    if as_json:
        click.echo(
            json.dumps({key: {"value": value, "source": source} for key, value, source in rows})
        )
        return
    width = max(len(key) for key, _, _ in rows)
    for key, value, source in rows:
        line = f"{key:<{width}}  {_shown(value)}"
        click.echo(f"{line}  " + click.style(f"({source})", dim=True))


@config_group.command("get")
@click.argument("key")
@click.option("--json", "as_json", is_flag=True, help="Print {key, value, source} as JSON.")
@click.pass_obj
def get_command(app: AppContext, key: str, as_json: bool) -> None:
    """The value of KEY (e.g. search.k, or a whole section such as sleep)."""
    rows = settings_with_sources(app)
    found = [(k, v, s) for k, v, s in rows if k == key or k.startswith(key + ".")]
    if not found:
        raise _unknown(key, sorted({k for k, _, _ in rows} | {k.split(".")[0] for k, _, _ in rows}))
    if len(found) == 1 and found[0][0] == key:
        _, value, source = found[0]
        if as_json:
            click.echo(json.dumps({"key": key, "value": value, "source": source}))
        else:
            click.echo(_shown(value))
        return
    if as_json:
        click.echo(json.dumps({k: {"value": v, "source": s} for k, v, s in found}))
        return
    for k, v, s in found:
        click.echo(f"{k}  {_shown(v)}  " + click.style(f"({s})", dim=True))


@config_group.command("set")
@click.argument("key")
@click.argument("value")
@click.pass_obj
def set_command(app: AppContext, key: str, value: str) -> None:
    """Set KEY to VALUE in the project config (.codemem/config.yml).

    VALUE is read as YAML: 20, false, "[a, b]", null. The file is validated with the new
    value before it is written; the comments at its top are kept, others are not.
    """
    from codemem.config import read_layers, validate_layers
    from codemem.infra import atomic_write

    ws = app.workspace()
    path = ws.config_file
    if not ws.dir.is_dir():
        raise UsageError(f"no {ws.dir.name}/ in {ws.root}: run `codemem init` first")
    layers = read_layers(path)
    data = next(data for kind, _, data in layers if kind == "project")
    try:
        parsed = yaml.safe_load(value) if value.strip() else value
    except yaml.YAMLError:
        parsed = value  # not YAML: the text as it is
    _assign(data, key, parsed)
    try:
        validate_layers(layers)
    except ConfigError as exc:
        raise ConfigError(f"{key} not set: {exc}") from None
    text = _header(path) + yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    atomic_write(path, text)
    click.echo(f"Set {key} = {_shown(parsed)} in {ws.relative(path)}.")


def _assign(data: dict[str, Any], key: str, value: Any) -> None:
    *parents, last = key.split(".")
    level = data
    for part in parents:
        child = level.get(part)
        if not isinstance(child, dict):
            child = level[part] = {}
        level = child
    level[last] = value


def _header(path: Path) -> str:
    """The comment lines at the top of the file (the template's explanations and examples)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    except FileNotFoundError:
        return ""
    header = []
    for line in lines:
        if line.strip() and not line.lstrip().startswith("#"):
            break
        header.append(line)
    text = "".join(header)
    return text if not text or text.endswith("\n\n") else text.rstrip("\n") + "\n\n"


@config_group.command("path")
@click.option("--json", "as_json", is_flag=True, help="Print {user, project} paths as JSON.")
@click.pass_obj
def path_command(app: AppContext, as_json: bool) -> None:
    """Where the user and project config files are (and whether they exist)."""
    from codemem.config import user_config_dir

    files = {"user": user_config_dir() / "config.yml", "project": app.workspace().config_file}
    if as_json:
        click.echo(
            json.dumps({kind: {"path": str(p), "exists": p.is_file()} for kind, p in files.items()})
        )
        return
    for kind, file in files.items():
        click.echo(f"{kind:<8} {file}{'' if file.is_file() else '  (not created)'}")


@config_group.command("example")
def example_command() -> None:
    """Print the example configuration: every key, its default and what it does."""
    click.echo(example_text(), nl=False)
