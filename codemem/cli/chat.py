"""`codemem chat`: the REPL.

Each message runs the agent until it answers; edits and commands not allowed by config are
shown (diff or command line) and asked about. Slash commands act without the model. While
the chat runs it holds `.codemem/local/sessions/chat.<pid>.lock`, so the sleep-time daemon
knows to wait (`codemem.agent.session.chat_running`).
"""

from __future__ import annotations

import shlex
import sys
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.text import Text

from codemem.agent.chatlock import chat_running  # noqa: F401  (re-exported for the daemon)
from codemem.cli import AppContext, output
from codemem.cli.agent import terminated_unwinds
from codemem.errors import CodememError

if TYPE_CHECKING:  # the agent is imported when the command runs
    from codemem.agent.loop import Agent
    from codemem.cli.chat_ui import ChatObserver, Reader
    from codemem.config import Config
    from codemem.workspace import Workspace

HELP = """\
/help                     this list
/memory [LABEL]           the memory blocks (with how full each is), or one block
/remember [--block LABEL] TEXT   save TEXT as an archival note (or append it to a block)
/search QUERY             search the code, archival notes and past conversations
/map [FOCUS...]           the repo map, optionally around files or symbols
/compact                  summarize the conversation so far to free the context
/model [NAME]             show the model, or switch to another one
/cost                     tokens, dollars and how full the context is
/clear                    start a new conversation (memory stays)
/exit                     leave (Ctrl-D works too)
Enter sends; Alt+Enter or Ctrl+J starts a new line; Ctrl-C stops the agent's turn
(also at an approval prompt) or a slash command."""
STOPPED = "Stopped (Ctrl-C): the turn ended here; the conversation so far is kept."
STOPPED_COMMAND = "Stopped (Ctrl-C)."
SEARCH_K = 5  # results per source shown by /search


def one_line(text: str, width: int = 100) -> str:
    """`text` on one line, cut to `width` with an ellipsis."""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


class Repl:
    """One chat session: reads messages, runs the agent, handles slash commands."""

    def __init__(
        self,
        ws: Workspace,
        config: Config,
        agent: Agent,
        console: Console,
        reader: Reader,
        observer: ChatObserver,
    ) -> None:
        self.ws = ws
        self.config = config
        self.agent = agent
        self.console = console
        self.reader = reader
        self.observer = observer

    def loop(self) -> None:
        while True:
            text = self.reader.message("› ")
            if text is None:
                return
            text = text.strip()
            if not text:
                continue
            try:
                if text.startswith("/"):
                    if self.command(text) is False:
                        return
                    continue
                self.send(text)
            except KeyboardInterrupt:  # a slow /search or /map, not only the agent's turn
                self.observer.end_stream()
                self.console.print(Text(STOPPED_COMMAND, style="yellow"))

    def send(self, text: str) -> None:
        from codemem.agent.loop import Interrupted

        try:
            self.agent.run(text)
        except Interrupted:
            self.observer.end_stream()
            self.console.print(Text(STOPPED, style="yellow"))
        except CodememError as exc:  # a provider failure or a limit: the chat goes on
            self.observer.end_stream()
            self.console.print(Text(f"error: {exc}", style="red"))
        self.status()

    def status(self) -> None:
        prompt = self.agent.context.build()
        self.console.print(
            Text(
                f"context {prompt.ratio:.0%} of {prompt.window:,} tokens · ${self.agent.cost:.4f}",
                style="dim",
            )
        )

    # -- slash commands -------------------------------------------------------------------

    def command(self, line: str) -> bool | None:
        """Run a slash command; False means leave the chat."""
        name, _, rest = line[1:].partition(" ")
        rest = rest.strip()
        handler = getattr(self, f"do_{name.lower()}", None)
        if name.lower() in ("exit", "quit", "q"):
            return False
        if handler is None:
            self.console.print(f"Unknown command /{name}: /help lists them.", markup=False)
            return None
        try:
            handler(rest)
        except CodememError as exc:
            self.console.print(Text(f"error: {exc}", style="red"))
        return None

    def do_help(self, rest: str) -> None:
        self.console.print(HELP, markup=False, highlight=False)

    def do_memory(self, rest: str) -> None:
        from codemem.cli.memory import usage_bar

        store = self.agent.context.ctx.store
        if rest:
            block = store.get(rest)
            self.console.print(
                f"{block.label} ({block.chars:,} / {block.limit:,}): {block.description}",
                markup=False,
            )
            self.console.print(block.value or "(empty)", markup=False, highlight=False)
            return
        blocks = store.context_blocks()
        if not blocks:
            self.console.print("No memory blocks yet: run `codemem init`.")
        width = max((len(b.label) for b in blocks), default=0)
        for block in blocks:
            bar = click.unstyle(usage_bar(block.chars, block.limit))
            self.console.print(f"{block.label:<{width}}  {bar}", markup=False, highlight=False)

    def do_remember(self, rest: str) -> None:
        from codemem.memory import refuse_secret  # the memory layer is loaded by then

        ctx = self.agent.context.ctx
        if rest.startswith("--block"):
            parts = rest.split(None, 2)
            if len(parts) < 3:
                self.console.print("Usage: /remember --block LABEL TEXT", markup=False)
                return
            refuse_secret(parts[2])
            block = ctx.store.append(parts[1], parts[2])
            self.console.print(
                f"Added to {block.label}: {block.chars:,} / {block.limit:,} characters."
            )
            return
        if not rest:
            self.console.print("Usage: /remember TEXT", markup=False)
            return
        refuse_secret(rest)
        source = f"session {ctx.session_id}" if ctx.session_id else None
        result = ctx.archive.insert(rest, source=source)
        ctx.memory_changed()
        self.console.print(f"Saved note {result.id}.")

    def _tool(self, name: str, arguments: dict) -> None:
        result = self.agent.tools.call(name, arguments)
        style = "red" if result.is_error else None
        self.console.print(Text(result.content, style=style or ""))

    def do_search(self, rest: str) -> None:
        if not rest:
            self.console.print("Usage: /search QUERY", markup=False)
            return
        ctx = self.agent.context.ctx
        self.console.print(Text("— code", style="bold"))
        self._tool("search_code", {"query": rest, "k": SEARCH_K})
        notes = ctx.archive.search(rest, k=SEARCH_K)
        lines = [f"  note {hit.note.id}: {one_line(hit.note.content)}" for hit in notes]
        self.console.print(Text("— archival notes", style="bold"))
        self.console.print("\n".join(lines) or "  (none)", markup=False, highlight=False)
        found = ctx.recall.search(rest, k=SEARCH_K) if ctx.recall else []
        lines = [
            f"  session {hit.message.session_id} #{hit.message.seq} {hit.message.role}: "
            f"{one_line(hit.snippet or hit.message.content)}"
            for hit in found
        ]
        self.console.print(Text("— past conversations", style="bold"))
        self.console.print("\n".join(lines) or "  (none)", markup=False, highlight=False)
        if len(notes) == SEARCH_K or len(found) == SEARCH_K:
            self.console.print(Text(f"more: codemem recall {shlex.quote(rest)} -k 20", style="dim"))

    def do_map(self, rest: str) -> None:
        self._tool("repo_map", {"focus": shlex.split(rest) if rest else None})

    def do_compact(self, rest: str) -> None:
        compaction = self.agent.compact()
        if compaction is None:
            self.console.print("Nothing to compact yet.")
        elif not compaction.evicted:
            self.console.print(
                f"Kept the messages: a summary would not make the context smaller "
                f"({compaction.tokens_before:,} tokens)."
            )

    def do_model(self, rest: str) -> None:
        if not rest:
            self.console.print(f"Model: {self.agent.provider.model}", markup=False)
            return
        from codemem.agent.providers import resolve_provider

        self.agent.switch_provider(resolve_provider(rest, self.config))
        self.console.print(f"Now using {self.agent.provider.model}.", markup=False)

    def do_cost(self, rest: str) -> None:
        self.console.print(self.agent.provider.meter.summary(), markup=False)
        self.console.print(f"Session total: ${self.agent.cost:.4f}")
        self.status()

    def do_clear(self, rest: str) -> None:
        self.agent.clear()
        self.console.print("Started a new conversation; memory is unchanged.")


@click.command("chat")
@click.option("--model", "-m", help="Model to use (default: config).")
@click.option(
    "--continue", "-c", "resume_last", is_flag=True, help="Resume the most recent session."
)
@click.option(
    "--session", "session_id", metavar="ID", help="Resume this session (an id or a unique prefix)."
)
@click.pass_obj
@terminated_unwinds()
def chat_command(
    app: AppContext, model: str | None, resume_last: bool, session_id: str | None
) -> None:
    """Talk with the agent about this repository; it remembers across sessions.

    Edits and commands are shown and need your approval unless `permissions:` in config
    allows them. Type /help for the slash commands. Without a terminal, each line of
    standard input is one message (end a line with a backslash to continue it).
    """
    from codemem.agent.providers import resolve_provider
    from codemem.agent.session import ChatLock, create_agent, latest_session
    from codemem.agent.tools.permissions import PermissionPolicy
    from codemem.cli.agent import load_agent_settings, refresh_index_quietly
    from codemem.cli.chat_ui import ChatObserver, ChatPrompter, LineInput, TerminalInput

    if resume_last and session_id:
        raise click.UsageError("give --continue or --session ID, not both")
    ws, config, settings = load_agent_settings(app, model)
    provider = resolve_provider(config.model, config)
    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    console = (
        output.console(highlight=False)
        if interactive
        else output.console(file=sys.stdout, highlight=False, soft_wrap=True)
    )
    reader = (
        TerminalInput(ws.sessions_dir / "chat_history") if interactive else LineInput(echo=None)
    )
    observer = ChatObserver(console, interactive, stream=settings.stream)
    prompter = ChatPrompter(console, observer, reader.line)
    policy = PermissionPolicy(config.permissions, prompter=prompter)
    resume = latest_session(ws) if resume_last else session_id
    refresh_index_quietly(ws, config, settings)
    with ChatLock(ws):
        agent = create_agent(
            ws, config, provider, permissions=policy, observer=observer, resume=resume
        )
        if resume:
            count = len(agent.messages)
            console.print(
                f"Resumed session {agent.transcript.session_id} ({count} messages).", markup=False
            )
            last = next(
                (m for m in reversed(agent.messages) if m.role == "assistant" and m.content), None
            )
            if last is not None:
                observer.show_markdown(last.content)
        elif interactive:
            console.print(
                Text(f"codemem chat · {provider.model} · /help for commands", style="dim")
            )
        Repl(ws, config, agent, console, reader, observer).loop()
