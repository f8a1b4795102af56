"""`codemem memory ...`, `codemem remember`, `codemem recall` and `codemem sessions ...`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from codemem.cli import AppContext
from codemem.errors import UsageError
from codemem.infra import create_private

if TYPE_CHECKING:  # memory is imported when a command runs, not for `--help`
    from collections.abc import Iterable

    from codemem.memory import Archive, MemoryStore, Recall
    from codemem.workspace import Workspace


def _store(app: AppContext) -> MemoryStore:
    from codemem.memory import MemoryStore

    return MemoryStore(app.workspace())


def _archive(app: AppContext) -> Archive:
    from codemem.memory import Archive

    return Archive(app.workspace())


def _recall(app: AppContext) -> Recall | None:
    """The recall database, or None when no session was ever recorded (nothing is created)."""
    from codemem.memory import Recall

    ws = app.workspace()
    return Recall(ws) if ws.recall_db.exists() else None


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


def usage_bar(chars: int, limit: int, width: int = 20) -> str:
    """`[██████░░░…]  1,234 / 8,000`, coloured by how full the block is."""
    ratio = chars / limit if limit else 1.0
    filled = min(width, round(ratio * width))
    color = "green" if ratio < 0.75 else "yellow" if ratio < 0.9 else "red"
    bar = click.style("█" * filled, fg=color) + "░" * (width - filled)
    return f"[{bar}] {chars:>6,} / {limit:,}"


def _warn_problems(problems: Iterable[object]) -> None:
    for problem in problems:
        click.echo(f"codemem: warning: {problem}", err=True)


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


# -- codemem memory ---------------------------------------------------------------------------


@click.group("memory")
def memory_group() -> None:
    """Core memory blocks: the Markdown files in .codemem/blocks/ the agent always sees.

    A block's label is its path under blocks/ without .md (project, conventions,
    users/alice). Edits are atomic and locked, and refuse to go past a block's limit.
    """


@memory_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of blocks.")
@click.pass_obj
def list_command(app: AppContext, as_json: bool) -> None:
    """List the blocks with how full each one is (characters used / limit)."""
    store = _store(app)
    blocks, problems = store.scan()
    _warn_problems(problems)
    if as_json:
        _echo_json([block.to_json() for block in blocks])
        return
    if not blocks:
        click.echo("No memory blocks yet: run `codemem init`, or `codemem memory create LABEL`.")
        return
    width = max(len(block.label) for block in blocks)
    for block in blocks:
        flags = " read-only" if block.read_only else ""
        active = " (you)" if block.label == store.user_label else ""
        click.echo(f"{block.label:<{width}}  {usage_bar(block.chars, block.limit)}{flags}{active}")
        if block.description:
            click.echo(f"{'':<{width}}  {block.description}")


@memory_group.command("show")
@click.argument("label", required=False)
@click.option("--raw", is_flag=True, help="Print only the block's value.")
@click.option("--json", "as_json", is_flag=True, help="Print the block(s) as JSON.")
@click.pass_obj
def show_command(app: AppContext, label: str | None, raw: bool, as_json: bool) -> None:
    """Show one block, or with no LABEL the text the agent sees for all of them."""
    store = _store(app)
    if label is None:
        _warn_problems(store.problems())
        if as_json:
            _echo_json([block.to_json() for block in store.context_blocks()])
        else:
            click.echo(store.render_blocks())
        return
    block = store.get(label)
    if as_json:
        _echo_json(block.to_json())
    elif raw:
        click.echo(block.value)
    else:
        flags = "  read-only" if block.read_only else ""
        click.echo(f"{block.label}  {usage_bar(block.chars, block.limit)}{flags}")
        if block.description:
            click.echo(block.description)
        click.echo("-" * 40)
        click.echo(block.value)


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

    store = _store(app)
    block = store.get(label)
    edited = click.edit(block.value + "\n", extension=".md", require_save=True)
    if edited is None:
        click.echo(f"No change to {label}.")
        return
    value = edited[:-1] if edited.endswith("\n") else edited
    if value == block.value:
        click.echo(f"No change to {label}.")
        return
    try:
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
    text = _read_text_option(value, file)
    block = _store(app).rethink(label, text[:-1] if file and text.endswith("\n") else text)
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
    block = _store(app).create(label, description, value, limit, read_only)
    click.echo(f"Created {label} ({block.limit:,} characters) in {block.path}.")


@memory_group.command("rm")
@click.argument("label")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
def rm_command(app: AppContext, label: str, yes: bool) -> None:
    """Delete a block after asking (git keeps its history); --yes skips the question."""
    store = _store(app)
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
    _store(app).rename(old, new)
    click.echo(f"Renamed {old} to {new}.")


@memory_group.command("history")
@click.argument("label")
@click.option("-n", "limit", type=click.IntRange(min=1), help="Show at most N commits.")
@click.option("--patch", "-p", is_flag=True, help="Show each commit's diff of the block.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of commits.")
@click.pass_obj
def history_command(
    app: AppContext, label: str, limit: int | None, patch: bool, as_json: bool
) -> None:
    """Show the commits that changed a block, newest first (from git)."""
    from codemem.memory import file_history, validate_label

    store = _store(app)
    changes = file_history(
        app.workspace().root, store.path_for(validate_label(label)), limit, patch
    )
    if as_json:
        _echo_json([change.__dict__ for change in changes])
        return
    if not changes:
        click.echo(f"No commits touch {label} yet.")
    for change in changes:
        click.echo(f"{change.commit[:10]}  {change.date[:10]}  {change.author}: {change.subject}")
        if patch and change.patch:
            click.echo(change.patch + "\n")


@memory_group.command("import")
@click.option("--dry-run", is_flag=True, help="Only say what would be imported.")
@click.option("--json", "as_json", is_flag=True, help="Print what happened to each part as JSON.")
@click.pass_obj
def import_command(app: AppContext, dry_run: bool, as_json: bool) -> None:
    """Import CLAUDE.md, AGENTS.md, .cursorrules and other agents' instruction files.

    Each section goes to the block it belongs in (style and rules to conventions, the rest
    to project), marked with where it came from; sections imported before are skipped.
    """
    from codemem.memory import import_instructions

    parts = import_instructions(_store(app), _archive(app), dry_run=dry_run)
    if as_json:
        _echo_json(
            [
                {"source": p.source, "heading": p.heading, "target": p.target, "status": p.status}
                for p in parts
            ]
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
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write this file instead (default: AGENTS.md or CLAUDE.md at the root).",
)
@click.pass_obj
def export_command(app: AppContext, fmt: str, output: Path | None) -> None:
    """Write the shared blocks into AGENTS.md or CLAUDE.md, inside a marked region.

    The rest of the file is left as it is; running it again with no change writes nothing.
    """
    from codemem.memory import export_instructions

    path, changed = export_instructions(_store(app), fmt, output)
    click.echo(f"{'Updated' if changed else 'Unchanged:'} {path}")


# -- codemem remember / recall ----------------------------------------------------------------


@click.command("remember")
@click.argument("text")
@click.option("--block", "label", help="Append to this core memory block instead.")
@click.option("--archive", "to_archive", is_flag=True, help="Save an archival note (the default).")
@click.option("--tag", "tags", multiple=True, help="Tag the note (repeatable).")
@click.option("--source", help="Where the note comes from (a commit, a session id...).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def remember_command(
    app: AppContext,
    text: str,
    label: str | None,
    to_archive: bool,
    tags: tuple[str, ...],
    source: str | None,
    as_json: bool,
) -> None:
    """Remember TEXT: as an archival note (default) or appended to a block with --block.

    TEXT '-' reads standard input. A note identical to an existing one is refused; notes
    that say nearly the same thing are listed so you can tidy up.
    """
    if text == "-":
        text = sys.stdin.read()
    if label and to_archive:
        raise UsageError("give --block LABEL or --archive, not both")
    if label:
        if tags or source:
            raise UsageError("--tag and --source apply to archival notes, not to blocks")
        block = _store(app).append(label, text)
        if as_json:
            _echo_json(block.to_json())
        else:
            click.echo(f"Added to {label}: {block.chars:,} / {block.limit:,} characters.")
        return
    result = _archive(app).insert(text, tags=tags, source=source)
    if as_json:
        _echo_json(
            {
                "id": result.id,
                "path": str(result.note.path),
                "near_duplicates": [
                    {"id": hit.note.id, "similarity": round(hit.score, 3)}
                    for hit in result.near_duplicates
                ],
            }
        )
        return
    click.echo(f"Saved note {result.id}.")
    for hit in result.near_duplicates:
        click.echo(
            f"codemem: note: similar to {hit.note.id} ({hit.score:.0%}): {_line(hit.note.content)}",
            err=True,
        )


def _line(text: str, width: int = 80) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 3] + "..."


@click.command("recall")
@click.argument("query")
@click.option("--archive", "only_archive", is_flag=True, help="Search archival notes only.")
@click.option(
    "--conversations", "only_conversations", is_flag=True, help="Search past conversations only."
)
@click.option("--tag", "tags", multiple=True, help="Notes with this tag (repeatable).")
@click.option("--all-tags", is_flag=True, help="Notes must have every --tag, not any.")
@click.option("--role", "roles", multiple=True, help="Messages with this role (repeatable).")
@click.option("--since", help="From this date or time (ISO, e.g. 2025-03-01).")
@click.option("--until", help="Up to this date or time, inclusive.")
@click.option(
    "-k", "k", type=click.IntRange(min=1), default=10, show_default=True, help="Results per source."
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print {archive: [...], conversations: [...]} as JSON."
)
@click.pass_obj
def recall_command(
    app: AppContext,
    query: str,
    only_archive: bool,
    only_conversations: bool,
    tags: tuple[str, ...],
    all_tags: bool,
    roles: tuple[str, ...],
    since: str | None,
    until: str | None,
    k: int,
    as_json: bool,
) -> None:
    """Search archival notes and past conversations (QUERY '' lists the newest)."""
    if only_archive and only_conversations:
        raise UsageError("give --archive or --conversations, not both (neither searches both)")
    out: dict[str, list[dict[str, Any]]] = {}
    if not only_conversations:
        archive = _archive(app)
        _warn_problems(archive.scan()[1])
        notes = archive.search(
            query,
            tags=tags or None,
            match="all" if all_tags else "any",
            since=since,
            until=until,
            k=k,
        )
        out["archive"] = [note.to_json() for note in notes]
    if not only_archive:
        recall = _recall(app)
        messages = (
            recall.search(query, roles=roles or None, since=since, until=until, k=k)
            if recall
            else []
        )
        out["conversations"] = [message.to_json() for message in messages]
    if as_json:
        _echo_json(out)
        return
    for hit in out.get("archive", []):
        tags_text = f" [{', '.join(hit['tags'])}]" if hit["tags"] else ""
        click.echo(f"note {hit['id']}{tags_text}: {_line(hit['content'])}")
    for hit in out.get("conversations", []):
        click.echo(f"session {hit['session']} #{hit['seq']} {hit['role']}: {_line(hit['snippet'])}")
    if not any(out.values()):
        click.echo("Nothing found.")


# -- codemem sessions ------------------------------------------------------------------------


@click.group("sessions")
def sessions_group() -> None:
    """Past conversations (recall memory, in .codemem/local/recall.sqlite)."""


@sessions_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of sessions.")
@click.pass_obj
def sessions_list_command(app: AppContext, as_json: bool) -> None:
    """List sessions, newest first."""
    from codemem.memory import session_dict

    recall = _recall(app)
    sessions = recall.list_sessions() if recall else []
    if as_json:
        _echo_json([session_dict(session) for session in sessions])
        return
    if not sessions:
        click.echo("No sessions yet.")
    for session in sessions:
        click.echo(
            f"{session.id}  {session.message_count:>4} messages  {session.model or '-'}  {session.title or ''}".rstrip()
        )


def _transcript_text(app: AppContext, session_id: str, fmt: str) -> str:
    recall = _recall(app)
    if recall is None:
        raise UsageError(f"no session '{session_id}': no conversation has been recorded here yet")
    return recall.export_session(session_id, fmt)


@sessions_group.command("show")
@click.argument("session_id")
@click.option("--json", "as_json", is_flag=True, help="Print the session as JSON.")
@click.pass_obj
def sessions_show_command(app: AppContext, session_id: str, as_json: bool) -> None:
    """Show a session's messages (an id or a unique prefix of one)."""
    click.echo(_transcript_text(app, session_id, "json" if as_json else "markdown"), nl=False)


@sessions_group.command("export")
@click.argument("session_id")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["markdown", "json"]),
    default="markdown",
    show_default=True,
)
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write to this file."
)
@click.pass_obj
def sessions_export_command(
    app: AppContext, session_id: str, fmt: str, output: Path | None
) -> None:
    """Export a session as Markdown or JSON (to stdout, or --output FILE)."""
    text = _transcript_text(app, session_id, fmt)
    if output is None:
        click.echo(text, nl=False)
    else:
        create_private(output)  # a whole conversation: the owner's alone, like recall.sqlite
        output.write_text(text, encoding="utf-8")
        click.echo(f"Wrote {output}.", err=True)


# -- codemem merge-file -----------------------------------------------------------------------


@click.command("merge-file")
@click.argument("base", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("ours", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("theirs", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("path")
def merge_file_command(base: Path, ours: Path, theirs: Path, path: str) -> None:
    """Merge a .codemem/ file as git's merge driver: BASE OURS THEIRS PATH (%O %A %B %P).

    Learned regions and derived files keep our side (the next digest derives them again),
    lists both sides appended to are united, frontmatter is merged key by key; conflict
    markers are left only where two people wrote different text in one place, and then
    the exit code is 1. `codemem init`, and any codemem command in a clone that lacks it,
    registers the driver: `git config merge.codemem.driver "<python> -m codemem merge-file
    %O %A %B %P"`, with `.codemem/.gitattributes` naming the files.
    """
    from codemem.conventions import merge_files  # on first use: start-up stays light

    if merge_files(base, ours, theirs, path):
        raise SystemExit(1)
