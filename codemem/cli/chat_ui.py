"""What `codemem chat` shows and asks: streamed Markdown, tool activity, diffs, approvals.

On a terminal the answer is rendered as Markdown while it streams: lines that can no longer
change are printed for good and only the last few are redrawn (so long answers scroll
normally). Without a terminal (piped input, tests) everything is plain text and approvals
are read as lines from standard input.
"""

from __future__ import annotations

import io
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol, TextIO

from rich.console import Console
from rich.live import Live
from rich.markdown import Markdown
from rich.syntax import Syntax
from rich.text import Text

from codemem.infra import create_private, printable, printable_text, private_dir

if TYPE_CHECKING:
    from prompt_toolkit import PromptSession
    from prompt_toolkit.input import Input
    from prompt_toolkit.key_binding import KeyPressEvent
    from prompt_toolkit.output import Output

    from codemem.agent.compaction import Compaction
    from codemem.agent.messages import Message, Response, ToolCall
    from codemem.agent.tools.permissions import Answer, Request
    from codemem.agent.tools.registry import ToolResult

LIVE_LINES = 8  # lines of the streamed answer still redrawn
ARGUMENT_CHARS = 60  # of each tool-call argument shown
REFRESH_SECONDS = 0.08


class MarkdownStream:
    """Renders growing Markdown: stable lines printed once, the tail redrawn in place."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.text = ""
        self.printed = 0  # rendered lines already printed for good
        self.live: Live | None = None
        self._last = 0.0

    def _lines(self, text: str) -> list[str]:
        buffer = io.StringIO()
        width = self.console.width
        render = Console(
            file=buffer, width=width, force_terminal=True, color_system=_color_system(self.console)
        )
        # the model's text: what a repository steered it to write is shown, never obeyed
        render.print(Markdown(printable_text(text)))
        return buffer.getvalue().splitlines()

    def update(self, delta: str) -> None:
        self.text += delta
        now = time.monotonic()
        if now - self._last < REFRESH_SECONDS:
            return
        self._last = now
        self._draw(final=False)

    def _draw(self, final: bool) -> None:
        lines = self._lines(self.text)
        keep = 0 if final else LIVE_LINES
        stable = max(self.printed, len(lines) - keep)
        if self.live is None:
            self.live = Live(Text(""), console=self.console, auto_refresh=False, transient=True)
            self.live.start()
        if stable > self.printed:
            self.live.console.print(Text.from_ansi("\n".join(lines[self.printed : stable])))
            self.printed = stable
        self.live.update(Text.from_ansi("\n".join(lines[stable:])), refresh=True)

    def finish(self) -> None:
        if self.live is None and not self.text:
            return
        self._draw(final=True)
        if self.live is not None:
            self.live.stop()
            self.live = None


ColorSystem = Literal["standard", "256", "truecolor", "windows"]
_COLOR_SYSTEMS: tuple[ColorSystem, ...] = ("standard", "256", "truecolor", "windows")


def _color_system(console: Console) -> ColorSystem | None:
    """The colour system `console` settled on, as `Console(color_system=...)` takes it."""
    return next((name for name in _COLOR_SYSTEMS if name == console.color_system), None)


def preview(value: object, limit: int = ARGUMENT_CHARS) -> str:
    """A tool-call argument as JSON, cut at a word or item boundary when long, and marked:
    `"def total(self)…" (1,234 chars)` or `["a", "b", …]`."""
    text = json.dumps(value, ensure_ascii=False)
    if len(text) <= limit:
        return text
    if isinstance(value, str):
        cut = value[:limit]
        boundary = max(cut.rfind(" "), cut.rfind("\n"))
        if boundary > limit // 2:
            cut = cut[:boundary]
        return f"{json.dumps(cut.rstrip(), ensure_ascii=False)}… ({len(value):,} chars)"
    boundary = text.rfind(", ", 0, limit)
    head = text[:boundary] if boundary > 0 else text[:limit]
    close = {"[": "]", "{": "}"}.get(text[0], "")
    return f"{head}, …{close}"


class ChatObserver:
    """Shows the agent at work in the chat."""

    def __init__(self, console: Console, interactive: bool, stream: bool = True) -> None:
        self.console = console
        self.interactive = interactive
        self.stream = stream
        self._markdown: MarkdownStream | None = None
        self._plain_started = False
        self.approved_diff: str | None = None  # shown when asking: not shown again after

    def on_text(self, delta: str) -> None:
        if self.interactive:
            if self._markdown is None:
                self._markdown = MarkdownStream(self.console)
            self._markdown.update(delta)
        else:
            self._plain_started = True
            self.console.file.write(printable_text(delta))  # each control character alone
            self.console.file.flush()

    def end_stream(self) -> None:
        if self._markdown is not None:
            self._markdown.finish()
            self._markdown = None
        if self._plain_started:
            self.console.file.write("\n")
            self._plain_started = False

    def on_message(self, message: Message, response: Response) -> None:
        streamed = self._markdown is not None or self._plain_started
        self.end_stream()
        if not streamed and message.content:
            self.show_markdown(message.content)

    def show_markdown(self, text: str) -> None:
        text = printable_text(text)  # the model's: no terminal codes a repository steered in
        if self.interactive:
            self.console.print(Markdown(text))
        else:
            self.console.print(text, markup=False, highlight=False)

    def on_tool_call(self, call: ToolCall) -> None:
        arguments = ", ".join(f"{k}={preview(v)}" for k, v in call.arguments.items())
        # the name is the model's (JSON leaves C1 codes as they are): one line, no codes
        self.console.print(Text(printable(f"● {call.name}({arguments})"), style="dim cyan"))

    def on_tool_result(self, call: ToolCall, result: ToolResult) -> None:
        if result.is_error:
            first = result.content.splitlines()[0] if result.content else ""
            self.console.print(Text(f"  ✗ {printable_text(first[:300])}", style="red"))
            return
        diff = result.data.get("diff")
        if diff and diff != self.approved_diff:
            self.show_diff(diff)
        elif call.name == "run_command":
            code = result.data.get("exit_code")
            self.console.print(Text(f"  exit code {code}", style="dim"))

    def show_diff(self, diff: str) -> None:
        diff = printable_text(diff)  # file content may hold terminal codes that hide lines
        if self.interactive:
            self.console.print(
                Syntax(diff, "diff", theme="ansi_dark", background_color="default", word_wrap=True)
            )
        else:
            self.console.print(diff.rstrip("\n"), markup=False, highlight=False)

    def on_compaction(self, compaction: Compaction) -> None:
        self.console.print(
            Text(
                f"(summarized {compaction.evicted} older messages: {compaction.tokens_before:,} → "
                f"{compaction.tokens_after:,} tokens; they stay searchable)",
                style="dim",
            )
        )


class ChatPrompter:
    """Asks before an edit or a command: shows the diff or the command, reads y / n / a."""

    def __init__(
        self, console: Console, observer: ChatObserver, ask: Callable[[str], str | None]
    ) -> None:
        self.console = console
        self.observer = observer
        self.ask = ask

    def approve(self, request: Request) -> Answer:
        self.observer.end_stream()
        # Escaped: a command or a name with terminal codes must not show something else.
        self.console.print(Text(f"Allow {printable_text(request.summary)}?", style="bold yellow"))
        if request.tool == "run_command":
            self.console.print(Text(f"  $ {printable_text(request.detail)}", style="bold"))
        elif request.detail:
            self.observer.show_diff(request.detail)
            self.observer.approved_diff = request.detail
        while True:
            answer = self.ask("[y]es / [n]o / [a]lways this session: ")
            if answer is None:
                return "no"
            choice = answer.strip().lower()
            if choice in ("y", "yes"):
                return "yes"
            if choice in ("n", "no", ""):
                return "no"
            if choice in ("a", "always"):
                return "always"
            self.console.print("Please answer y, n or a.")


class Reader(Protocol):
    """Where the chat reads from: a whole message, or one line (an answer to a question)."""

    def message(self, prompt: str) -> str | None: ...

    def line(self, prompt: str = "") -> str | None: ...


class LineInput:
    """Input without a terminal: one message per line; a line ending in `\\` continues."""

    def __init__(self, stream: TextIO | None = None, echo: Console | None = None) -> None:
        self.stream = stream or sys.stdin
        self.echo = echo

    def line(self, prompt: str = "") -> str | None:
        raw = self.stream.readline()
        if not raw:
            return None
        text = raw.rstrip("\n")
        if self.echo is not None and prompt:
            self.echo.print(f"{prompt}{text}", markup=False, highlight=False)
        return text

    def message(self, prompt: str) -> str | None:
        parts: list[str] = []
        while True:
            text = self.line(prompt if not parts else "... ")
            if text is None:
                return "\n".join(parts) if parts else None
            if text.endswith("\\"):
                parts.append(text[:-1])
                continue
            parts.append(text)
            return "\n".join(parts)


class TerminalInput:
    """prompt_toolkit input: history in a file, Enter sends, Alt+Enter or Ctrl+J adds a line."""

    def __init__(
        self, history_file: Path, input: Input | None = None, output: Output | None = None
    ) -> None:
        from prompt_toolkit import PromptSession
        from prompt_toolkit.history import FileHistory
        from prompt_toolkit.key_binding import KeyBindings

        bindings = KeyBindings()

        @bindings.add("escape", "enter")
        @bindings.add("c-j")
        def _newline(event: KeyPressEvent) -> None:
            event.current_buffer.insert_text("\n")

        private_dir(history_file.parent)
        create_private(history_file)  # what the person typed: theirs alone
        self.session: PromptSession[str] = PromptSession(
            history=FileHistory(str(history_file)),
            key_bindings=bindings,
            input=input,
            output=output,
        )

    def message(self, prompt: str) -> str | None:
        while True:
            try:
                return self.session.prompt(prompt, multiline=False)
            except KeyboardInterrupt:
                continue  # Ctrl-C clears the line; Ctrl-D leaves
            except EOFError:
                return None

    def line(self, prompt: str = "") -> str | None:
        """One answer (an approval); Ctrl-D is no answer, Ctrl-C raises `KeyboardInterrupt`
        so that it stops the whole turn, not only the call being asked about."""
        from prompt_toolkit import prompt as ask

        try:
            return ask(prompt)
        except EOFError:
            return None
