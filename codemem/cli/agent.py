"""`codemem ask` (one read-only answer) and `codemem run` (a headless task).

`codemem chat` lives in `codemem.cli.chat`; what all three share (loading the model, keeping
the index fresh) is here.
"""

from __future__ import annotations

import contextlib
import re
import signal
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import click

from codemem.cli import AppContext
from codemem.cli.observers import JsonObserver, PlainObserver
from codemem.cli.output import echo_json, warn_problems
from codemem.errors import CodememError, PathOutsideRepository, Terminated, UsageError
from codemem.infra import confine, printable, printable_text

if TYPE_CHECKING:  # the agent is imported when a command runs, not for `--help`
    from codemem.agent.loop import Agent
    from codemem.config import AgentConfig, Config
    from codemem.workspace import Workspace

CONFIGURE_HELP = """\
To get answers from a model, configure one (any of these):
  codemem ask --model anthropic/claude-sonnet-4-6 "..."    with ANTHROPIC_API_KEY set
  export CODEMEM_MODEL=openai/gpt-5                          with OPENAI_API_KEY set
  model: ollama/qwen2.5-coder                                in .codemem/config.yml (local, no key)
Any OpenAI-compatible server works too: define it under providers: (`codemem config example` shows how)."""

_CITATION = re.compile(r"(?<![\w/.-])((?:[\w.-]+/)*[\w.-]+\.[A-Za-z0-9]+)(?::(\d+)(?:-(\d+))?)?")


def load_agent_settings(
    app: AppContext, model: str | None
) -> tuple[Workspace, Config, AgentConfig]:
    """(workspace, config, agent settings) with --model applied; memory set up if missing."""
    ws = app.workspace()
    config = app.config({"model": model} if model else None)
    settings = config.agent
    if not ws.blocks_dir.is_dir():
        from codemem.memory import initialize_memory

        initialize_memory(ws)
        click.echo(
            "codemem: set up memory in .codemem/ (commit it to share it with your team)", err=True
        )
    return ws, config, settings


def refresh_index_quietly(ws: Workspace, config: Config, settings: AgentConfig) -> None:
    """Bring the index up to date before a session (a failure is a warning, not an error)."""
    if not settings.refresh_index:
        return
    from codemem.code import CodeIndex

    try:
        summary = CodeIndex(ws, config).refresh()
    except CodememError as exc:
        click.echo(f"codemem: warning: the code index could not be updated: {exc}", err=True)
        return
    changed = summary.added + summary.changed + summary.removed
    if changed:
        click.echo(f"codemem: indexed {changed} changed files", err=True)


@contextlib.contextmanager
def terminated_unwinds() -> Iterator[None]:
    """While an agent command runs (`ask`, `run`, `chat`; a decorator too), SIGTERM and SIGHUP
    raise `Terminated` (unless ignored, as under `nohup`): their default ends the process on
    the spot, which left the agent's command running in its own session, the step unsaved, a
    chat's terminal in raw mode and `run --json` without its end event."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread receives signals (a test's runner in a thread)
        return

    def raise_terminated(signum: int, frame: object) -> None:
        raise Terminated(signum)

    previous = {
        signum: signal.signal(signum, raise_terminated)
        for signum in (signal.SIGTERM, signal.SIGHUP)
        if signal.getsignal(signum) is not signal.SIG_IGN
    }
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def citations(ws: Workspace, text: str) -> list[dict[str, Any]]:
    """`path:line` (and bare path) references in `text` to files that exist in the repository."""
    found: dict[tuple[str, int | None, int | None], None] = {}
    for match in _CITATION.finditer(text):
        path, start, end = match.group(1), match.group(2), match.group(3)
        try:
            where = confine(ws.root, path)
        except PathOutsideRepository:
            continue
        if not where.full.is_file():
            continue
        first = int(start) if start else None
        last = int(end) if end else first
        found[(where.rel, first, last)] = None
    return [{"path": p, "start_line": s, "end_line": e} for p, s, e in found]


def usage_json(agent: Agent) -> dict[str, Any]:
    usage = agent.provider.meter.usage
    return {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cache_read_tokens": usage.cache_read_tokens,
        "cache_write_tokens": usage.cache_write_tokens,
        "cost": round(agent.cost, 6),
        "steps": agent.steps,
        "model": getattr(agent.provider, "model", None),
    }


# -- ask --------------------------------------------------------------------------------------


def _retrieval_only(
    ws: Workspace, config: Config, question: str, reason: str, as_json: bool
) -> None:
    """No model: say how to configure one, and show what retrieval finds for the question."""
    from codemem.agent.tools.toolbox import ToolContext  # the agent loads when a command runs
    from codemem.memory import has_conflict

    ctx = ToolContext(ws, config)
    try:
        note = ctx.ensure_index()
        if note:
            click.echo(f"codemem: warning: {note.strip('[]')}", err=True)
        hits = ctx.code.search(question, k=8, level="symbol")
    except CodememError as exc:
        click.echo(f"codemem: warning: code search failed: {exc}", err=True)
        hits = []
    every, problems = ctx.archive.scan()
    warn_problems([*problems, *ctx.archive.conflicts(every)])  # as `recall` names them
    notes = ctx.archive.search(question, k=5)
    if as_json:
        echo_json(
            {  # the fields --json promises, as an answer that failed has them, and retrieval's
                "answer": None,
                "error": reason,
                "citations": [],
                "files": sorted({hit.path for hit in hits}),
                "session": None,
                "usage": None,
                "code": [hit.to_json() for hit in hits],
                "notes": [hit.note.to_json() for hit in notes],
            }
        )
    else:
        click.echo(f"codemem: {reason}", err=True)
        if not config.model:  # a model named without its key: the reason's line is the fix
            click.echo(CONFIGURE_HELP, err=True)
        click.echo("\nWhat retrieval found:" if hits or notes else "\nRetrieval found nothing.")
        for hit in hits:
            what = f"  {hit.kind} {hit.symbol}" if hit.symbol else ""
            click.echo(printable(f"  {hit.path}:{hit.start_line}{what}"))
        for found in notes:
            flag = " (git conflict markers)" if has_conflict(found.note.content) else ""
            text = " ".join(found.note.content.split())[:100]
            click.echo(f"  note {printable(found.note.id)}{flag}: {printable(text)}")


@click.command("ask")
@click.argument("question")
@click.option(
    "--model", "-m", help="Model to use, e.g. anthropic/claude-sonnet-4-6 (default: config)."
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print {answer, citations, files, session, usage}."
)
@click.pass_obj
@terminated_unwinds()
def ask_command(app: AppContext, question: str, model: str | None, as_json: bool) -> None:
    """Answer one QUESTION about the code, with read-only tools.

    The agent searches memory and the code index and reads files; it changes nothing.
    With --json, prints one object: the answer, the files it cites (path:line), the
    session id and the token usage (on failure, the error, and an answer cut off mid-stream
    as `partial`). Without a configured model, it says how to configure
    one and shows what retrieval found.
    """
    from codemem.agent.loop import AgentObserver
    from codemem.agent.providers import MissingAPIKey, resolve_provider
    from codemem.agent.session import create_agent

    if not question.strip():
        raise UsageError("the question is empty")
    ws, config, settings = load_agent_settings(app, model)
    if not config.model:
        _retrieval_only(ws, config, question, "no model configured", as_json)
        return
    try:
        provider = resolve_provider(config.model, config)
    except MissingAPIKey as exc:
        _retrieval_only(ws, config, question, str(exc), as_json)
        return
    refresh_index_quietly(ws, config, settings)
    plain = None if as_json else PlainObserver(stream=settings.stream)
    quiet = AgentObserver()  # --json: streamed, nothing shown, so a cut-off answer is kept
    quiet.stream = settings.stream
    agent = create_agent(ws, config, provider, read_only=True, observer=plain or quiet)
    try:
        answer = agent.run(question)
    except (CodememError, Terminated) as exc:
        if as_json:  # a machine reader still gets one object; the exit code says it failed
            cut = agent.messages[-1] if agent.messages else None  # see Agent.keep_cut_off
            echo_json(
                {
                    "answer": None,
                    "partial": cut.content if cut and cut.interrupted else None,
                    "error": str(exc),
                    "citations": [],
                    "files": [],
                    "session": agent.transcript.session_id,
                    "usage": usage_json(agent),
                }
            )
        raise
    if as_json:
        cited = citations(ws, answer)
        echo_json(
            {
                "answer": answer,
                "citations": cited,
                "files": sorted({c["path"] for c in cited}),
                "session": agent.transcript.session_id,
                "usage": usage_json(agent),
            }
        )
    elif not (plain and plain.streamed):
        click.echo(printable_text(answer))


# -- run --------------------------------------------------------------------------------------


NOTHING_DONE = 1  # every edit and command the run tried was refused


def end_event(code: int, error: str | None = None) -> dict[str, Any]:
    """The last line of `codemem run --json`, whatever happened."""
    status = {0: "done", NOTHING_DONE: "refused"}.get(code)
    status = status or ("interrupted" if code > 128 else "failed")  # 128 + a signal's number
    return {"type": "end", "status": status, "exit_code": code, "error": error}


@click.command("run")
@click.argument("task")
@click.option("--model", "-m", help="Model to use (default: config).")
@click.option(
    "--yes",
    "-y",
    "assume_yes",
    is_flag=True,
    help="Allow edits and commands that would need approval (deny rules still apply).",
)
@click.option(
    "--max-steps",
    type=click.IntRange(min=1),
    help="Most model calls (default: agent.max_steps, 50).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON event per line.")
@click.pass_obj
@terminated_unwinds()
def run_command(
    app: AppContext,
    task: str,
    model: str | None,
    assume_yes: bool,
    max_steps: int | None,
    as_json: bool,
) -> None:
    """Carry out TASK headlessly: search, read, edit, run commands, save memories.

    Nobody is asked anything: edits and commands not allowed by the `permissions:` config
    are refused (the agent is told why) unless --yes is given. With --json, stdout carries
    one event per line: session, message, tool_call, tool_result, compaction, final, usage
    (and error on failure: an answer a Ctrl-C, a signal or a broken stream cut off is first a message
    event with "interrupted": true), and always last an end event:
    {"type": "end", "status": "done|refused|failed|interrupted", "exit_code": N, "error": ...}.

    Exit status: 0 done; 1 when every edit and command the agent tried was refused;
    2 a usage or configuration mistake (no model configured); 3 and up a failure.
    """
    try:
        code, error = _run(app, task, model, assume_yes, max_steps, as_json)
    except (CodememError, KeyboardInterrupt, Terminated) as exc:
        if as_json:
            said = not isinstance(exc, KeyboardInterrupt)
            code = 130 if isinstance(exc, KeyboardInterrupt) else exc.exit_code
            echo_json(end_event(code, str(exc) if said else "interrupted"))
        raise
    if as_json:
        echo_json(end_event(code, error))
    if error:
        click.echo(f"codemem: {error}", err=True)
    if code:
        click.get_current_context().exit(code)


def _run(
    app: AppContext,
    task: str,
    model: str | None,
    assume_yes: bool,
    max_steps: int | None,
    as_json: bool,
) -> tuple[int, str | None]:
    """Run the agent on `task`; (exit code, why the run did nothing, if it did nothing)."""
    from codemem.agent.loop import Limits
    from codemem.agent.providers import resolve_provider
    from codemem.agent.session import create_agent
    from codemem.agent.tools.permissions import PermissionPolicy, Request

    class CountingPolicy(PermissionPolicy):  # defined here: the agent loads when a run starts
        """A permission policy that counts the gated calls it decided and the ones it refused."""

        asked = 0
        refused = 0

        def check(self, request: Request) -> None:
            self.asked += 1
            try:
                super().check(request)
            except CodememError:
                self.refused += 1
                raise

    if not task.strip():
        raise UsageError("the task is empty")
    ws, config, settings = load_agent_settings(app, model)
    provider = resolve_provider(config.model, config)
    refresh_index_quietly(ws, config, settings)
    policy = CountingPolicy(config.permissions, assume_yes=assume_yes)
    limits = Limits.from_settings(settings)
    if max_steps:
        limits.max_steps = max_steps
    events = JsonObserver(stream=settings.stream) if as_json else None
    observer = events or PlainObserver(stream=settings.stream)
    agent = create_agent(ws, config, provider, permissions=policy, observer=observer, limits=limits)
    if as_json:
        session = agent.transcript.start(task)
        echo_json({"type": "session", "id": session, "model": getattr(provider, "model", None)})
    try:
        answer = agent.run(task)
    except (CodememError, KeyboardInterrupt, Terminated) as exc:
        if events is not None:
            if agent.messages and agent.messages[-1].interrupted:  # see Agent.keep_cut_off
                events.on_cut_off(agent.messages[-1])
            message = "interrupted" if isinstance(exc, KeyboardInterrupt) else str(exc)
            echo_json({"type": "error", "message": message})
            echo_json(
                {"type": "usage", "session": agent.transcript.session_id, **usage_json(agent)}
            )
        raise
    if as_json:
        echo_json({"type": "usage", "session": agent.transcript.session_id, **usage_json(agent)})
    elif not observer.streamed:
        click.echo(printable_text(answer))
    if policy.asked and policy.refused == policy.asked:
        return NOTHING_DONE, (
            f"every edit and command was refused ({policy.refused} of {policy.asked}): re-run "
            "with --yes, or allow them under permissions.allow"
        )
    return 0, None
