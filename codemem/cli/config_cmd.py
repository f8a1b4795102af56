"""`codemem config show|get|set|trust|path|example`: the settings in effect and where each
came from.

Sources, later ones winning: default < user (~/.config/codemem/config.yml) < project
(.codemem/config.yml) < environment (CODEMEM_*) < flags. `set` edits the project file only,
validating the result before it is written (atomically). `trust` lets the project file choose
what only the user may (`codemem.config.trust`).
"""

from __future__ import annotations

import difflib
import json
from importlib import resources
from typing import Any

import click
import yaml

from codemem.cli import AppContext
from codemem.cli.output import dash_hint_command
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
    withheld, trusted = _withheld(app)
    if not trusted:
        rows += [(key, value, UNTRUSTED) for key, value in flatten(withheld).items()]
    return rows


UNTRUSTED = "project, not trusted: ignored"


def _withheld(app: AppContext) -> tuple[dict[str, Any], bool]:
    """The project file's settings that need trust (`codemem.config.trust`), by dotted key,
    and whether they are trusted as they are."""
    from codemem.config import read_project_file, user_config_dir
    from codemem.config.trust import fingerprint, project_key, read_trusted, withheld_settings

    path = app.workspace().config_file
    withheld = withheld_settings(read_project_file(path))
    stored = read_trusted(user_config_dir()).get(project_key(path))
    return withheld, not withheld or stored == fingerprint(withheld)


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
    """A value as one line of text, its control characters escaped (a committed config's
    string can hold terminal codes: YAML writes ESC as `\\e`)."""
    from codemem.infra import printable

    return printable(value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))


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
        click.echo(json.dumps(_json_rows(rows)))
        return
    width = max(len(key) for key, _, _ in rows)
    for key, value, source in rows:
        line = f"{_shown(key):<{width}}  {_shown(value)}"
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
    effective = [row for row in found if row[2] != UNTRUSTED]
    if all(k == key for k, _, _ in found) and len(effective) <= 1:
        _, value, source = effective[0] if effective else (key, None, "default")
        if as_json:
            click.echo(json.dumps(_json_rows([(key, value, source), *found])[key] | {"key": key}))
            return
        click.echo(_shown(value))
        for _, ignored, _ in found[len(effective) :]:
            click.echo(f"{key}: {_shown(ignored)} is ignored until you trust it", err=True)
        return
    if as_json:
        click.echo(json.dumps(_json_rows(found)))
        return
    for k, v, s in found:
        click.echo(f"{_shown(k)}  {_shown(v)}  " + click.style(f"({s})", dim=True))


def _json_rows(rows: list[tuple[str, Any, str]]) -> dict[str, dict[str, Any]]:
    """{key: {value, source}}; a setting the project sets but may not yet (not trusted) also
    has {untrusted: its value there}."""
    out: dict[str, dict[str, Any]] = {}
    for key, value, source in rows:
        if source == UNTRUSTED:
            out.setdefault(key, {"value": None, "source": "default"})["untrusted"] = value
        else:
            out[key] = {"value": value, "source": source} | out.get(key, {})
    return out


@config_group.command(
    "set",
    cls=dash_hint_command("codemem config set", "set a value", keep_before=True),
)
@click.argument("key")
@click.argument("value")
@click.pass_obj
def set_command(app: AppContext, key: str, value: str) -> None:
    """Set KEY to VALUE in the project config (.codemem/config.yml).

    VALUE is read as YAML: 20, false, "[a, b]", null. The file is validated with the new
    value before it is written, and only that value changes in it: comments, order, quoting
    and line ends are kept (the file is committed; its diff shows what you set).
    """
    from codemem.config import read_layers, settings_from_text, user_config_dir, validate_layers
    from codemem.config.loading import unknown_key_problem, unknown_keys
    from codemem.config.trust import record_trust, withheld_settings
    from codemem.infra import update_text
    from codemem.memory import check_memory_write

    ws = app.workspace()
    path = ws.config_file
    ws.check_initialized()
    check_memory_write(ws, path)  # committed: not through a link, not while a merge waits
    layers = read_layers(path)
    try:
        parsed = yaml.safe_load(value) if value.strip() else value
    except yaml.YAMLError:
        parsed = value  # not YAML: the text as it is
    _, trusted = _withheld(app)
    data: dict[str, Any] = {}

    def edit(text: str | None) -> str:
        # Under the lock, on the text as it is now: a save landing meanwhile is edited again.
        data.clear()
        data.update(settings_from_text(text or "", path))  # whole: the layer lacks untrusted
        _assign(data, key, parsed)
        alone: dict[str, Any] = {}
        _assign(alone, key, parsed)
        for unknown in unknown_keys(alone):  # the file may hold a newer codemem's; not this one
            raise ConfigError(f"{key} not set: {path}: {unknown_key_problem(unknown)}")
        try:
            validate_layers([*layers[:1], ("project", str(path), data), *layers[2:]])
        except ConfigError as exc:
            raise ConfigError(f"{key} not set: {exc}") from None
        return _edited(text or "", data, key, parsed)

    lock = ws.ensure_local() / "locks" / f"{path.name}.lock"
    ends = "\n" if path.exists() else ws.new_file_line_ends(path)  # git's, for a new one
    update_text(path, edit, lock, folder=ws.swap_dir, new_ends=ends)
    click.echo(f"Set {key} = {_shown(parsed)} in {ws.relative(path)}.")
    withheld = withheld_settings(data)
    if withheld and trusted:  # you chose this value, and trusted the others already
        record_trust(path, withheld, user_config_dir())
    elif withheld:
        click.echo(
            f"{ws.relative(path)} holds settings you have not trusted yet "
            f"({_shown(', '.join(withheld))}): they apply once you run `codemem config trust`."
        )


def _assign(data: dict[str, Any], key: str, value: Any) -> None:
    *parents, last = key.split(".")
    level = data
    for part in parents:
        child = level.get(part)
        if not isinstance(child, dict):
            child = level[part] = {}
        level = child
    level[last] = value


def _edited(text: str, data: dict[str, Any], key: str, value: Any) -> str:
    """`text` (the project config, `\\n` line ends) with `key` set to `value` and every other line
    as written (`codemem.config.yaml_edit`); a file that is no mapping (only comments) gets
    `data` written below its leading comments."""
    from codemem.config.yaml_edit import set_in_text

    bom, text = ("\ufeff", text[1:]) if text.startswith("\ufeff") else ("", text)  # Notepad's
    edited = set_in_text(text, key, value)
    if edited is None:
        return bom + _header(text) + yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    return bom + edited


def _header(text: str) -> str:
    """The comment lines at the top of the file (the template's explanations and examples)."""
    header = []
    for line in text.splitlines(keepends=True):
        if line.strip() and not line.lstrip().startswith("#"):
            break
        header.append(line)
    joined = "".join(header)
    return joined if not joined or joined.endswith("\n\n") else joined.rstrip("\n") + "\n\n"


@config_group.command("trust")
@click.option("--revoke", is_flag=True, help="Withdraw the trust: ignore those settings again.")
@click.option("--json", "as_json", is_flag=True, help="Print {file, trusted, settings} as JSON.")
@click.pass_obj
def trust_command(app: AppContext, revoke: bool, as_json: bool) -> None:
    """Let this repository's .codemem/config.yml choose what only you may choose.

    \b
    A committed config comes with the code, from anyone who can push to the repository.
    Until you trust it, codemem ignores (with a warning) the settings that decide where
    your credentials and your code are sent (providers' endpoints, keys and headers,
    embeddings), what the agent may do without asking (permissions: mode allow, allow
    rules), the model in the pre-commit hook or `watch` (review.hook_llm,
    sleep.watch_llm), what spending limits count (max_cost, model prices) and the secret
    variables the agent's commands inherit (agent.command_env_keep). Trust
    covers those settings exactly as they are now: when a pull changes one, they are
    ignored again until you trust them again.
    """
    from codemem.config import read_project_file, user_config_dir
    from codemem.config.trust import record_trust, withheld_settings

    ws = app.workspace()
    path = ws.config_file
    withheld = withheld_settings(read_project_file(path))
    trusted = bool(withheld) and not revoke
    record_trust(path, withheld if trusted else None, user_config_dir())
    if as_json:
        click.echo(
            json.dumps({"file": str(path), "trusted": trusted, "settings": flatten(withheld)})
        )
        return
    shown = ws.relative(path)
    if not withheld:
        click.echo(f"{shown} sets nothing that needs trust: every setting in it applies.")
        return
    verb = "No longer trusted; ignored again" if revoke else "Trusted; these now apply"
    click.echo(f"{verb} ({shown}):")
    for key, value in flatten(withheld).items():
        click.echo(f"  {_shown(key)} = {_shown(value)}")


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
