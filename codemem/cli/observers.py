"""How `codemem ask` and `codemem run` show an agent at work: plain text, or JSON events.

Both follow the agent loop's `Observer` protocol (`codemem.agent.loop`).
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

import click

from codemem.cli.output import echo_json
from codemem.infra import printable, printable_text

if TYPE_CHECKING:  # the agent is imported when a command runs, not for `--help`
    from codemem.agent.compaction import Compaction
    from codemem.agent.messages import Message, Response, ToolCall
    from codemem.agent.tools.registry import ToolResult


class PlainObserver:
    """Plain-text progress: tool calls on stderr, the answer (streamed or not) on stdout."""

    def __init__(self, stream: bool = False, quiet_tools: bool = False) -> None:
        self.stream = stream
        self.streamed = False
        self.quiet_tools = quiet_tools
        self._at_line_start = True

    def on_text(self, delta: str) -> None:
        self.streamed = True
        sys.stdout.write(printable_text(delta))  # each control character on its own
        sys.stdout.flush()
        self._at_line_start = delta.endswith("\n")

    def on_message(self, message: Message, response: Response) -> None:
        if self.streamed and not self._at_line_start:
            sys.stdout.write("\n")
            self._at_line_start = True
        if message.tool_calls and message.content and not self.stream:
            click.echo(printable_text(message.content), err=True)
        self.streamed = self.streamed and not message.tool_calls

    def on_tool_call(self, call: ToolCall) -> None:
        if not self.quiet_tools:
            arguments = json.dumps(call.arguments, ensure_ascii=False)
            click.echo(printable(f"-> {call.name} {arguments[:200]}"), err=True)

    def on_tool_result(self, call: ToolCall, result: ToolResult) -> None:
        if result.is_error and not self.quiet_tools:
            click.echo(
                f"   error: {printable(result.content.splitlines()[0][:200] if result.content else '')}",
                err=True,
            )

    def on_compaction(self, compaction: Compaction) -> None:
        click.echo(
            f"codemem: summarized {compaction.evicted} older messages "
            f"({compaction.tokens_before:,} -> {compaction.tokens_after:,} tokens)",
            err=True,
        )


class JsonObserver:
    """One JSON object per line on stdout for every event (`codemem run --json`).

    With `stream`, the provider streams the answer (its pieces are no events), so that one cut
    off by Ctrl-C or a signal is kept as far as it came; `on_cut_off` prints it.
    """

    streamed = False  # the answer is printed as a JSON event, never streamed as text

    def __init__(self, stream: bool = False) -> None:
        self.stream = stream

    def on_text(self, delta: str) -> None: ...

    def on_cut_off(self, message: Message) -> None:
        """The answer a Ctrl-C or a signal stopped mid-stream, as recall keeps it (its text so
        far, then the `[interrupted: ...]` line)."""
        echo_json(
            {
                "type": "message",
                "role": "assistant",
                "content": message.content,
                "interrupted": True,
            }
        )

    def on_message(self, message: Message, response: Response) -> None:
        if message.tool_calls:
            if message.content:
                echo_json({"type": "message", "role": "assistant", "content": message.content})
        else:
            echo_json({"type": "final", "content": message.content})

    def on_tool_call(self, call: ToolCall) -> None:
        echo_json(
            {"type": "tool_call", "id": call.id, "name": call.name, "arguments": call.arguments}
        )

    def on_tool_result(self, call: ToolCall, result: ToolResult) -> None:
        echo_json(
            {
                "type": "tool_result",
                "id": call.id,
                "name": call.name,
                "is_error": result.is_error,
                "content": result.content,
            }
        )

    def on_compaction(self, compaction: Compaction) -> None:
        echo_json(
            {
                "type": "compaction",
                "evicted": compaction.evicted,
                "tokens_before": compaction.tokens_before,
                "tokens_after": compaction.tokens_after,
            }
        )
