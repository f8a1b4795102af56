"""`codemem search`: hybrid search over the code index, no model needed."""

from __future__ import annotations

import fnmatch
import json
import logging
import sys
from typing import TYPE_CHECKING, Any

import click

from codemem.cli import AppContext, describe_failure, end_without_teardown
from codemem.cli.output import NOTHING_FOUND, dash_hint_command
from codemem.daemon.query_client import ask_daemon, say_stale
from codemem.infra import printable

if TYPE_CHECKING:
    from codemem.code import CodeIndex, Pending
    from codemem.workspace import Workspace

log = logging.getLogger("codemem")


def _read_query(query: str | None, query_file: str | None) -> str:
    if query_file:
        if query_file == "-":
            return sys.stdin.read()
        try:
            with open(query_file, encoding="utf-8", errors="replace") as handle:
                return handle.read()
        except OSError as exc:
            raise click.BadParameter(
                f"cannot read {query_file}: {exc.strerror}", param_hint="--query-file"
            ) from None
    return query or ""


def _snippet(text: str, terms: set[str], max_lines: int = 4) -> list[str]:
    """The first lines of a hit that mention a query term (or simply its first lines), each
    with its control characters escaped (a cloned file's terminal codes, a lone `\\r`)."""
    lines = [printable(line.strip()) for line in text.split("\n") if line.strip()]
    hits = [line for line in lines if any(t in line.lower() for t in terms)]
    return (hits or lines)[:max_lines]


@click.command("search", cls=dash_hint_command("codemem search", "search for text"))
@click.argument("query", required=False)
@click.option(
    "-k",
    "k",
    type=click.IntRange(1, 1000),
    default=None,
    help="Number of results (default: search.k, 10).",
)
@click.option(
    "--level",
    type=click.Choice(["file", "symbol", "chunk"]),
    default="chunk",
    show_default=True,
    help="Rank whole files, definitions, or chunks.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print one JSON array to stdout, best first: {path, score, start_line, end_line, symbol, kind, language}.",
)
@click.option(
    "-l",
    "--files-with-matches",
    "paths_only",
    is_flag=True,
    help="Print only the paths of the results, one per line, best first, each once.",
)
@click.option(
    "--path",
    "path_globs",
    multiple=True,
    metavar="GLOB",
    help="Only results whose path matches GLOB or lies under that folder (repeatable).",
)
@click.option(
    "--lang",
    "languages",
    multiple=True,
    metavar="LANG",
    help="Only results in language LANG, e.g. python, go (repeatable).",
)
@click.option(
    "--query-file",
    type=str,
    default=None,
    help="Read the query from a file ('-' for standard input); whole issue reports work.",
)
@click.option(
    "--no-refresh",
    is_flag=True,
    help="Use the index as it is: do not build it if missing, nor bring it up to date with "
    "files saved since its last run, nor ask a running `codemem watch`.",
)
@click.pass_obj
def search_command(
    app: AppContext,
    query: str | None,
    k: int | None,
    level: str,
    as_json: bool,
    paths_only: bool,
    path_globs: tuple[str, ...],
    languages: tuple[str, ...],
    query_file: str | None,
    no_refresh: bool,
) -> None:
    """Search the code for QUERY: identifiers, error messages, tracebacks or plain English.

    \b
    Examples:
      codemem search "where are tokens refreshed"
      codemem search parse_config --level symbol --lang python --path 'src/**'
      codemem search -l "retry policy" | xargs $EDITOR
      codemem search -- --max-steps      (a query that starts with '-')
      pytest 2>&1 | codemem search --query-file - --level file --json

    With --json every item has path, score, start_line, end_line (1-based), symbol,
    kind and language; at --level file each path appears once.

    Exit status: 0 when something was found, 1 when nothing was (also with --json,
    which then prints []), 2 for a usage mistake.
    """
    text = _read_query(query, query_file)
    if not text.strip() and query_file:
        raise click.UsageError(f"--query-file {query_file}: the file holds no query")
    if not text.strip():
        raise click.UsageError("give a QUERY or --query-file")
    if as_json and paths_only:
        raise click.UsageError("give --json or -l, not both")
    ws = app.workspace()
    if path_globs or languages:
        # Filters apply to a deeper list of candidates, so k results can still come back.
        wanted = k or app.config().search.k
        hits = _search(app, ws, text, min(1000, max(10 * wanted, 200)), level, no_refresh)
        hits = [hit for hit in hits if _kept(hit, path_globs, languages)][:wanted]
    else:
        hits = _search(app, ws, text, k, level, no_refresh)
    end_without_teardown()  # a search writes nothing but derived files, already saved
    ctx = click.get_current_context()
    if as_json:
        keys = ("path", "score", "start_line", "end_line", "symbol", "kind", "language")
        click.echo(json.dumps([{key: hit[key] for key in keys} for hit in hits]))
        ctx.exit(0 if hits else NOTHING_FOUND)
    if not hits:
        click.echo("No results.", err=True)
        ctx.exit(NOTHING_FOUND)
    if paths_only:
        for path in dict.fromkeys(hit["path"] for hit in hits):
            click.echo(printable(path))
        return
    from codemem.code import tokenize

    terms = {t for t in tokenize(text) if len(t) > 2}
    for n, hit in enumerate(hits, 1):
        where = click.style(f"{printable(hit['path'])}:{hit['start_line']}", fg="cyan", bold=True)
        kind, symbol = hit["kind"], hit["symbol"]
        label = f"  {kind} {printable(symbol)}" if symbol else (f"  {kind}" if kind else "")
        click.echo(f"{n:>2}. {where}{label}  ({hit['score']:.3f})")
        if level != "file":
            for line in _snippet(hit["text"], terms):
                click.echo("      " + _highlight(line[:160], terms))


def _kept(hit: dict[str, Any], path_globs: tuple[str, ...], languages: tuple[str, ...]) -> bool:
    """Whether a hit passes `--path` (any glob, or a folder prefix) and `--lang` (any)."""
    path = hit["path"]
    if path_globs and not any(
        fnmatch.fnmatchcase(path, glob) or path.startswith(glob.rstrip("/") + "/")
        for glob in path_globs
    ):
        return False
    return not languages or (hit["language"] or "").lower() in {lang.lower() for lang in languages}


def _search(
    app: AppContext, ws: Workspace, text: str, k: int | None, level: str, no_refresh: bool
) -> list[dict[str, Any]]:
    """Hits as JSON objects with their text: from a running `codemem watch`, else in-process,
    from an index brought up to date with the saves made since its last run when they are few
    (`REFRESH_MOST_FILES`), else said to be stale for them (a warning)."""
    hits = None if no_refresh else ask_daemon(ws.root, text, k, level, told=app.told)
    if hits is not None:
        return hits
    from codemem.code import CodeIndex

    index = CodeIndex(ws)  # validates the settings unless the index recorded them validated
    settings = index.search_settings()
    check = None
    if not index.exists() and not no_refresh:
        from codemem.cli.index import run_index

        run_index(app, full=False)
    elif not no_refresh:
        check = index.pending_check()  # git lists the work tree while the search reads
    k = k or settings.search.k
    found = index.search(text, k=k, level=level)
    if check is not None and _caught_up(index, check.result()):
        found = index.search(text, k=k, level=level)
    if log.isEnabledFor(logging.INFO) and (holder := index.rebuilding()) is not None:
        log.info("search: %s is rebuilding the index; answered from the last complete one", holder)
    return [{**hit.to_json(), "text": hit.text} for hit in found]


# A search refreshes the index first for at most this many files saved since its last run: a
# fresh process's incremental run costs about 1.5 s for one file (LanceDB's imports, the
# parsers' start, a commit) and 20-30 ms more per file, so 50 keep the wait under 3 s
# (sympy, 2 cores: 1 file 1.6 s, 10 files 2.1 s, 50 files 2.7 s, 200 files 4.8 s).
REFRESH_MOST_FILES = 50
# How long a search waits for another process's index run before answering without it.
REFRESH_LOCK_WAIT = 0.5


def _caught_up(index: CodeIndex, pending: Pending) -> bool:
    """Bring `index` up to date with the saves `pending` (a `PendingCheck.result`) found,
    when they are few, no other run holds it and it can be written; else warn that the
    answer misses them.
    True when it was refreshed (search again)."""
    from codemem.errors import CodememError, LockTimeout

    stale = pending.paths
    if not stale:
        return False
    rebuild = index.rebuild_due()
    if rebuild or len(stale) > REFRESH_MOST_FILES:
        why = (
            "the index must be rebuilt (its settings or codemem's index format changed)"
            if rebuild
            else f"more than the {REFRESH_MOST_FILES} a search indexes first"
        )
        log.warning(
            "search: %d file(s) changed since the last index run, %s; this answer does not "
            "see those changes: run `codemem index` (or keep `codemem watch` running)",
            len(stale),
            why,
        )
        return False
    from codemem.cli.interrupts import abandon_after

    try:
        with abandon_after():  # an interrupted run leaves an index the next one completes
            index.refresh(lock_wait=REFRESH_LOCK_WAIT, pending=pending)
    except LockTimeout:  # another run holds the index: answered from what it last committed
        say_stale(stale, len(stale))
        return False
    except (CodememError, OSError) as exc:  # a checkout mounted read-only, a full disk
        why = (
            describe_failure(exc).removeprefix("error: ") if isinstance(exc, OSError) else str(exc)
        )
        log.warning(
            "search: %d file(s) changed since the last index run are not searched as they "
            "are now: %s",
            len(stale),
            why,
        )
        return False
    return True


def _highlight(line: str, terms: set[str]) -> str:
    import re

    if not terms:
        return line
    pattern = re.compile("|".join(sorted(map(re.escape, terms), key=len, reverse=True)), re.I)
    return pattern.sub(lambda m: click.style(m.group(0), fg="yellow", bold=True), line)
