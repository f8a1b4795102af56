"""`codemem map`: the ranked repo map within a token budget.

Reads only the tag store and the cached reference graph (no LanceDB, no pyarrow), so a warm
map costs little more than Python's start-up.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import click

from codemem.cli import AppContext
from codemem.errors import UsageError

if TYPE_CHECKING:  # the code index is imported when the command runs
    from codemem.code import CodeIndex


def focus_entry(root: Path, entry: str) -> str:
    """A focus entry as the map reads it: existing paths become repository-relative.

    `--focus src/app.py`, `--focus ./app.py` from a subdirectory and an absolute path all name
    the same file; anything that is not an existing path is passed on (a repository-relative
    path from elsewhere, or a symbol).
    """
    candidate = Path(entry).expanduser()
    if entry and os.path.exists(candidate):
        try:
            return candidate.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            pass
    return entry


def _index_now(index: CodeIndex) -> None:
    """Build the index when there is no tag store yet (the first `codemem map` in a repo)."""
    try:
        from codemem.code import IndexSummary  # noqa: F401  (the indexer and its parsers load)
    except ImportError:
        raise UsageError("no code index yet: run `codemem index` first") from None
    click.echo("codemem: no index yet; indexing the repository first...", err=True)
    index.refresh()


@click.command("map")
@click.option(
    "--tokens",
    type=click.IntRange(min=1),
    default=None,
    help="Token budget, estimated as characters / 4 (default: map.tokens, 1024).",
)
@click.option(
    "--focus",
    "focus",
    multiple=True,
    metavar="PATH_OR_SYMBOL",
    help="A file, directory, symbol or qualified name to center the map on (repeatable).",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print {tokens, used_tokens, files} as one JSON object on stdout.",
)
@click.pass_obj
def map_command(app: AppContext, tokens: int | None, focus: tuple[str, ...], as_json: bool) -> None:
    """Print the ranked repo map: the files and definitions that matter most.

    Files are ranked by PageRank over the reference graph (which files use names defined
    in which), personalized toward --focus (a focused file comes first, its own best
    definitions before any other file's, as its path at least whatever the budget leaves);
    each file is shown with its top definitions'
    signatures and line numbers, as many as fit in the token budget. Test files rank below
    the code they test unless focused. With --json, prints {"tokens", "used_tokens",
    "files": [{"path", "rank", "definitions": [...]}]}.
    """
    from codemem.code import CodeIndex

    ws = app.workspace()
    config = None  # read only when needed: a map with --tokens starts without pydantic
    if tokens is None:
        config = app.config()
        tokens = config.map.tokens
    index = CodeIndex(ws, config)
    entries = [focus_entry(ws.root, f) for f in focus]
    repo_map = index.repo_map(tokens, entries)
    if repo_map is None:
        _index_now(index)
        repo_map = index.repo_map(tokens, entries)
        if repo_map is None:
            raise UsageError("the index has no repo-map data: run `codemem index --full`")
    for entry in repo_map.unmatched:
        click.echo(f"codemem: warning: --focus {entry!r} matches no file or symbol", err=True)
    if as_json:
        click.echo(json.dumps(repo_map.to_json()))
    elif repo_map.text:
        click.echo(repo_map.text, nl=False)
    else:
        click.echo(
            "codemem: the map is empty (nothing indexed, or the budget is too small)", err=True
        )
