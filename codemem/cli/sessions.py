"""`codemem sessions ...`: past conversations (recall memory), listed, shown and exported."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from codemem.cli import AppContext
from codemem.cli.output import OUTPUT_HELP, echo_exact, echo_json, output_path
from codemem.cli.stores import open_recall
from codemem.errors import UsageError
from codemem.infra import create_private, printable, printable_text

if TYPE_CHECKING:
    from codemem.memory import Recall


@click.group("sessions")
def sessions_group() -> None:
    """Past conversations (recall memory, in .codemem/local/recall.sqlite)."""


@sessions_group.command("list")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print a JSON array of {id, started, model, title, message_count, last_message}.",
)
@click.pass_obj
def sessions_list_command(app: AppContext, as_json: bool) -> None:
    """List sessions, newest first."""
    from codemem.memory import session_dict

    recall = open_recall(app)
    sessions = recall.list_sessions() if recall else []
    if as_json:
        echo_json([session_dict(session) for session in sessions], indent=2)
        return
    if not sessions:
        click.echo("No sessions yet.")
    for session in sessions:
        line = f"{session.id}  {session.message_count:>4} messages  {session.model or '-'}  "
        click.echo(printable(line + (session.title or "")).rstrip())


def _recall(app: AppContext, session_id: str) -> Recall:
    recall = open_recall(app)
    if recall is None:
        raise UsageError(f"no session '{session_id}': no conversation has been recorded here yet")
    return recall


def _transcript_text(app: AppContext, session_id: str, fmt: str) -> str:
    return _recall(app, session_id).export_session(session_id, fmt)


@sessions_group.command("show")
@click.argument("session_id")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print the session as JSON: {id, started, model, title, ..., messages}.",
)
@click.pass_obj
def sessions_show_command(app: AppContext, session_id: str, as_json: bool) -> None:
    """Show a session's messages (an id or a unique prefix of one)."""
    text = _transcript_text(app, session_id, "json" if as_json else "markdown")
    # Tools' results are the repository's files and commands' output, terminal codes and all.
    click.echo(text if as_json else printable_text(text), nl=False)


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
    "--output",
    "-o",
    metavar="FILE",
    help=f"Write to this file; {OUTPUT_HELP} (SESSION_ID.md or .json).",
)
@click.pass_obj
def sessions_export_command(app: AppContext, session_id: str, fmt: str, output: str | None) -> None:
    """Export a session as Markdown or JSON (to stdout, or --output FILE)."""
    recall = _recall(app, session_id)
    session = recall.get_session(session_id).session
    text = recall.export_session(session.id, fmt)
    if output is None:  # exact for a pipe or a file; on a terminal tools' codes are escaped
        echo_exact(text, nl=False)
        return
    path = output_path(output, f"{session.id}.{'md' if fmt == 'markdown' else 'json'}")
    create_private(path)  # a whole conversation: the owner's alone, like recall.sqlite
    path.write_text(text, encoding="utf-8")
    click.echo(f"Wrote {path}.", err=True)
