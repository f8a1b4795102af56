"""`codemem memory ...`: the core memory blocks, listed, shown, edited, imported and exported."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from codemem.cli import AppContext
from codemem.cli.output import OUTPUT_HELP, echo_exact, echo_json, output_path, warn_problems
from codemem.cli.stores import open_archive, open_store
from codemem.errors import UsageError
from codemem.infra import printable, printable_text

if TYPE_CHECKING:  # the workspace is imported when a command runs, not for `--help`
    from codemem.workspace import Workspace


def usage_bar(chars: int, limit: int, width: int = 20) -> str:
    """`[██████░░░…]  1,234 / 8,000`, coloured by how full the block is."""
    ratio = chars / limit if limit else 1.0
    filled = min(width, round(ratio * width))
    color = "green" if ratio < 0.75 else "yellow" if ratio < 0.9 else "red"
    bar = click.style("█" * filled, fg=color) + "░" * (width - filled)
    return f"[{bar}] {chars:>6,} / {limit:,}"


def _read_text_option(value: str | None, file: str | None) -> str:
    if (value is None) == (file is None):
        raise UsageError("give exactly one of --value TEXT or --file FILE ('-' reads stdin)")
    if value is not None:
        return value
    assert file is not None  # exactly one of the two was given
    if file == "-":
        return sys.stdin.read()
    try:
        return Path(file).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read {file}: {exc.strerror}") from None


@click.group("memory")
def memory_group() -> None:
    """Core memory blocks: the Markdown files in .codemem/blocks/ the agent always sees.

    A block's label is its path under blocks/ without .md (project, conventions,
    users/alice). Edits are atomic and locked, and refuse to go past a block's limit.
    """


@memory_group.command("list")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print a JSON array of {label, description, chars, limit, read_only, value, path}.",
)
@click.pass_obj
def list_command(app: AppContext, as_json: bool) -> None:
    """List the blocks with how full each one is (characters used / limit)."""
    store = open_store(app)
    blocks, problems = store.scan()
    warn_problems([*problems, *store.conflicts(blocks)])
    if as_json:
        echo_json([block.to_json() for block in blocks], indent=2)
        return
    if not blocks:
        left_out = None if app.workspace().dir.is_dir() else app.workspace().memory_left_out()
        fix = left_out or "run `codemem init`, or `codemem memory create LABEL`"
        click.echo(f"No memory blocks yet: {fix}.")
        return
    width = max(len(block.label) for block in blocks)
    for block in blocks:
        flags = " read-only" if block.read_only else ""
        active = " (you)" if block.label == store.user_label else ""
        click.echo(f"{block.label:<{width}}  {usage_bar(block.chars, block.limit)}{flags}{active}")
        if block.description:  # a clone's text: no terminal codes, one line
            click.echo(f"{'':<{width}}  {printable(block.description)}")


@memory_group.command("show")
@click.argument("label", required=False)
@click.option(
    "--raw",
    is_flag=True,
    help="Print only the block's value, exactly (terminal codes escaped on a terminal).",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print the block as JSON, {label, chars, limit, value, ...} (no LABEL: an array of them).",
)
@click.pass_obj
def show_command(app: AppContext, label: str | None, raw: bool, as_json: bool) -> None:
    """Show one block, or with no LABEL the text the agent sees for all of them."""
    store = open_store(app)
    if label is None:
        blocks, problems = store.scan()
        warn_problems([*problems, *store.conflicts(blocks)])
        if as_json:
            echo_json([block.to_json() for block in store.context_blocks()], indent=2)
        else:
            limit = app.config().agent.memory_chars  # as the agent sees them: within its budget
            click.echo(printable_text(store.render_blocks(max_chars=limit)))
        return
    block = store.get(label)
    warn_problems(store.conflicts([block]))
    if as_json:
        echo_json(block.to_json(), indent=2)
    elif raw:  # exact for a pipe or a file; on a terminal a clone's codes are escaped
        echo_exact(block.value)
    else:
        flags = "  read-only" if block.read_only else ""
        click.echo(f"{block.label}  {usage_bar(block.chars, block.limit)}{flags}")
        if block.description:  # a clone's text: no terminal codes (--json is exact)
            click.echo(printable(block.description))
        click.echo("-" * 40)
        click.echo(printable_text(block.value))


@memory_group.command("edit")
@click.argument("label")
@click.pass_obj
def edit_command(app: AppContext, label: str) -> None:
    """Open a block's value in $EDITOR; saved changes are written back safely.

    If someone else changes the block while it is open (or the text is over the limit),
    nothing is overwritten: the edit is refused, what you typed is kept in a file under
    .codemem/local/edits/ and the message says which.
    """
    from codemem.errors import MemoryEditError
    from codemem.memory import refuse_secret

    store = open_store(app)
    block = store.get(label)
    try:
        edited = click.edit(block.value + "\n", extension=".md", require_save=True)
    except click.ClickException as exc:  # no such editor, or it exited non-zero: nothing read
        raise UsageError(
            f"the editor failed ({exc.format_message()}): set $VISUAL or $EDITOR to one that "
            f"works, or replace the block's value with `codemem memory set {label} --file FILE`"
        ) from None
    if edited is None:
        click.echo(f"No change to {label}.")
        return
    value = edited[:-1] if edited.endswith("\n") else edited
    if value == block.value:
        click.echo(f"No change to {label}.")
        return
    try:
        refuse_secret(value)
        block = store.rethink(label, value, expected=block.value)
    except MemoryEditError as exc:
        kept = _keep_edit(app.workspace(), label, edited)
        raise type(exc)(f"{exc}; what you typed is kept in {kept}") from None
    click.echo(f"Saved {label}: {block.chars:,} / {block.limit:,} characters.")


def _keep_edit(ws: Workspace, label: str, text: str) -> Path:
    """Save a refused edit as .codemem/local/edits/LABEL-TIME.md (git ignores local/)."""
    from codemem.infra import atomic_write, utc_now

    folder = ws.ensure_local() / "edits"
    folder.mkdir(exist_ok=True)
    path = folder / f"{label.replace('/', '--')}-{utc_now():%Y%m%d-%H%M%S}.md"
    atomic_write(path, text)
    return path


@memory_group.command("set")
@click.argument("label")
@click.option("--value", help="The new value.")
@click.option("--file", "file", help="Read the new value from this file ('-' for stdin).")
@click.pass_obj
def set_command(app: AppContext, label: str, value: str | None, file: str | None) -> None:
    """Replace a block's whole value."""
    from codemem.memory import refuse_secret

    text = _read_text_option(value, file)
    refuse_secret(text)
    block = open_store(app).rethink(label, text[:-1] if file and text.endswith("\n") else text)
    click.echo(f"Saved {label}: {block.chars:,} / {block.limit:,} characters.")


@memory_group.command("create")
@click.argument("label")
@click.option(
    "--description", required=True, help="What belongs in the block (shown to the agent)."
)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    help="Character limit (default 4,000; project 8,000; conventions 6,000).",
)
@click.option("--value", default="", help="Initial value.")
@click.option("--read-only", is_flag=True, help="Only people, editing the file, may change it.")
@click.pass_obj
def create_command(
    app: AppContext, label: str, description: str, limit: int | None, value: str, read_only: bool
) -> None:
    """Create a new block (the label `personal` makes your personal, cross-repository one)."""
    from codemem.memory import PERSONAL_LABEL, refuse_secret

    refuse_secret(description, value)
    if label != PERSONAL_LABEL:  # the personal block lives in the home folder, init or not
        app.workspace().check_initialized()
    block = open_store(app).create(label, description, value, limit, read_only)
    click.echo(f"Created {label} ({block.limit:,} characters) in {block.path}.")


@memory_group.command("rm")
@click.argument("label")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
def rm_command(app: AppContext, label: str, yes: bool) -> None:
    """Delete a block after asking (git keeps its history); --yes skips the question."""
    store = open_store(app)
    block = store.get(label)  # an unknown label fails before anything is asked
    if not yes:
        if not sys.stdin.isatty():
            raise UsageError(f"memory rm {label} needs confirmation: add --yes to delete it")
        click.confirm(f"Delete {label} ({block.chars:,} characters)?", abort=True, err=True)
    store.delete(label)
    click.echo(f"Deleted {label}.")


@memory_group.command("mv")
@click.argument("old")
@click.argument("new")
@click.pass_obj
def mv_command(app: AppContext, old: str, new: str) -> None:
    """Rename a block (its file moves under .codemem/blocks/)."""
    open_store(app).rename(old, new)
    click.echo(f"Renamed {old} to {new}.")


@memory_group.command("history")
@click.argument("label")
@click.option("-n", "limit", type=click.IntRange(min=1), help="Show at most N commits.")
@click.option("--patch", "-p", is_flag=True, help="Show each commit's diff of the block.")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print a JSON array of {commit, date, author, subject, patch}.",
)
@click.pass_obj
def history_command(
    app: AppContext, label: str, limit: int | None, patch: bool, as_json: bool
) -> None:
    """Show the commits that changed a block, newest first (from git); a deleted block's too."""
    from codemem.memory import file_history, validate_label

    store = open_store(app)
    path = store.path_for(validate_label(label))
    changes = file_history(app.workspace().root, path, limit, patch)
    if not changes and not path.exists():  # no block, and none deleted (git keeps those)
        store.get(label)  # raises: unknown block, naming the blocks there are
    if as_json:
        echo_json([change.__dict__ for change in changes], indent=2)
        return
    if not changes:
        click.echo(f"No commits touch {label} yet.")
    for change in changes:  # names, subjects and patches are anyone's: no terminal codes
        author, subject = printable(change.author), printable(change.subject)
        click.echo(f"{change.commit[:10]}  {change.date[:10]}  {author}: {subject}")
        if patch and change.patch:
            click.echo(printable_text(change.patch) + "\n")


@memory_group.command("import")
@click.option("--dry-run", is_flag=True, help="Only say what would be imported.")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print a JSON array of {source, heading, target, status}, one per part.",
)
@click.pass_obj
def import_command(app: AppContext, dry_run: bool, as_json: bool) -> None:
    """Import CLAUDE.md, AGENTS.md, .cursorrules and other agents' instruction files.

    Each section goes to the block it belongs in (style and rules to conventions, the rest
    to project), marked with where it came from; sections imported before are skipped.
    """
    from codemem.memory import import_instructions

    app.workspace().check_initialized()  # `codemem init` imports them itself
    parts = import_instructions(open_store(app), open_archive(app), dry_run=dry_run)
    if as_json:
        echo_json(
            [
                {"source": p.source, "heading": p.heading, "target": p.target, "status": p.status}
                for p in parts
            ],
            indent=2,
        )
        return
    if not parts:
        click.echo("No instruction files found.")
    for part in parts:
        where = f"{part.source} § {part.heading}" if part.heading else part.source
        status = "would import" if dry_run and part.status == "imported" else part.status
        click.echo(f"{status:<12} {where} -> {part.target}")


@memory_group.command("export")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["agents-md", "claude-md"]),
    required=True,
    help="Write AGENTS.md or CLAUDE.md.",
)
@click.option(
    "--output",
    metavar="FILE",
    help=f"Write this file instead (default: AGENTS.md or CLAUDE.md at the root); {OUTPUT_HELP}.",
)
@click.pass_obj
def export_command(app: AppContext, fmt: str, output: str | None) -> None:
    """Write the shared blocks into AGENTS.md or CLAUDE.md, inside a marked region.

    The rest of the file is left as it is; running it again with no change writes nothing.
    """
    from codemem.memory import export_instructions

    name = "AGENTS.md" if fmt == "agents-md" else "CLAUDE.md"
    target = None if output is None else output_path(output, name)
    path, changed = export_instructions(open_store(app), fmt, target)
    click.echo(f"{'Updated' if changed else 'Unchanged:'} {path}")
