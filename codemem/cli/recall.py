"""`codemem remember` and `codemem recall`: archival notes and past conversations."""

from __future__ import annotations

import sys
from typing import Any

import click

from codemem.cli import AppContext
from codemem.cli.output import NOTHING_FOUND, echo_json, warn_problems
from codemem.cli.stores import open_archive, open_recall, open_store
from codemem.errors import UsageError
from codemem.infra import printable


@click.command("remember")
@click.argument("text")
@click.option("--block", "label", help="Append to this core memory block instead.")
@click.option("--archive", "to_archive", is_flag=True, help="Save an archival note (the default).")
@click.option("--tag", "tags", multiple=True, help="Tag the note (repeatable).")
@click.option("--source", help="Where the note comes from (a commit, a session id...).")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print {id, path, near_duplicates} as JSON (with --block: the block, as `memory show --json`).",
)
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
    that say nearly the same thing are listed so you can tidy up. Text holding a secret (an
    API key, a private key) is refused: memory is committed and shared.
    """
    from codemem.memory import refuse_secret  # imported when the command runs, not for --help

    if text == "-":
        text = sys.stdin.read()
    if label and to_archive:
        raise UsageError("give --block LABEL or --archive, not both")
    if label and (tags or source):
        raise UsageError("--tag and --source apply to archival notes, not to blocks")
    refuse_secret(text)  # memory is committed: a key never reaches the file the hook would stop
    if not label:  # a note before init would make `.codemem/` for it (a block refuses itself)
        app.workspace().check_initialized()
    if label:
        block = open_store(app).append(label, text)
        if as_json:
            echo_json(block.to_json(), indent=2)
        else:
            click.echo(f"Added to {label}: {block.chars:,} / {block.limit:,} characters.")
        return
    result = open_archive(app).insert(text, tags=tags, source=source)
    if as_json:
        echo_json(
            {
                "id": result.id,
                "path": str(result.note.path),
                "near_duplicates": [
                    {"id": hit.note.id, "similarity": round(hit.score, 3)}
                    for hit in result.near_duplicates
                ],
            },
            indent=2,
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
    """Search archival notes and past conversations (QUERY '' lists the newest).

    Exit status: 0 when something was found, 1 when nothing was (also with --json, which
    then prints empty lists), 2 for a usage mistake, as `codemem search`.
    """
    if only_archive and only_conversations:
        raise UsageError("give --archive or --conversations, not both (neither searches both)")
    out: dict[str, list[dict[str, Any]]] = {}
    if not only_conversations:
        archive = open_archive(app)
        every, problems = archive.scan()
        warn_problems([*problems, *archive.conflicts(every)])
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
        recall = open_recall(app)
        messages = (
            recall.search(query, roles=roles or None, since=since, until=until, k=k)
            if recall
            else []
        )
        out["conversations"] = [message.to_json() for message in messages]
    found = any(out.values())
    if as_json:
        echo_json(out, indent=2)
        if not found:
            click.get_current_context().exit(NOTHING_FOUND)
        return
    for hit in out.get("archive", []):  # a cloned note's text: one line, no terminal codes
        tags_text = f" [{', '.join(hit['tags'])}]" if hit["tags"] else ""
        click.echo(printable(f"note {hit['id']}{tags_text}: {_line(hit['content'])}"))
    for hit in out.get("conversations", []):
        line = f"session {hit['session']} #{hit['seq']} {hit['role']}: {_line(hit['snippet'])}"
        click.echo(printable(line))
    if not found:  # on stderr, as `search` says it: a pipe reads no line for a hit
        click.echo("Nothing found.", err=True)
        click.get_current_context().exit(NOTHING_FOUND)
