"""The agent loop: `run(task)` repeats `step()` until the model answers without tools.

    agent = Agent(provider, tools, context, transcript=TranscriptWriter(recall, model))
    answer = agent.run("Why does checkout fail for empty carts?")

`step()` is one model call and the tool calls it asks for. Limits (model calls, dollars,
wall time) are checked in one place before each step and end the run with `LimitsExceeded`;
Ctrl-C ends the current step with `Interrupted`, every open tool call answered so the
conversation stays valid and the text of an answer cut off mid-stream kept, marked as
interrupted (`Message.cut_off`); SIGTERM or SIGHUP (`Terminated`, raised by the command
line) does the same and ends the session. An answer a broken stream cut off is kept the same
way before its error ends the run, so the next turn (and a resumed session) knows what the
user was shown. The transcript is written to recall memory as it grows (the
task, each model turn before its tools run, each result) and again in `finally`, so a kill
loses at most the step in progress's unanswered calls, which a resumed session answers.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Protocol

from codemem.agent.compaction import Compaction
from codemem.agent.context import Context, Conversation, Prompt
from codemem.agent.messages import Message, Response, ToolCall
from codemem.agent.providers.base import Provider
from codemem.agent.providers.errors import ContextOverflow
from codemem.agent.tools.registry import ToolRegistry, ToolResult
from codemem.agent.transcript import TranscriptWriter, repair
from codemem.config import AgentConfig
from codemem.errors import CodememError, Terminated

log = logging.getLogger("codemem")

INTERRUPTED = "interrupted by the user before this tool call finished"
# A call whose JSON the output limit cut off: told only that it is not valid JSON, a model
# sends the same call again, cut at the same place, until the step limit.
CUT_BY_OUTPUT_LIMIT = (
    "the answer reached the output limit ({limit:,} tokens) before this call's arguments were "
    "complete, so it was not run; send less per call (a long file: write_file a first part, "
    "then add the rest with edit_file)"
)


class LimitsExceeded(CodememError):
    """A run hit its step, cost or time limit."""

    exit_code = 4  # out of budget, like a review out of time


class Interrupted(CodememError):
    """Ctrl-C stopped the current step; the conversation so far is saved."""

    exit_code = 130


class Observer(Protocol):
    """What the loop reports as it works (the CLI's observers implement it)."""

    stream: bool  # ask the provider to stream and call `on_text` with each delta

    def on_text(self, delta: str) -> None: ...

    def on_message(self, message: Message, response: Response) -> None: ...

    def on_tool_call(self, call: ToolCall) -> None: ...

    def on_tool_result(self, call: ToolCall, result: ToolResult) -> None: ...

    def on_compaction(self, compaction: Compaction) -> None: ...


class AgentObserver:
    """An `Observer` that ignores everything: subclass it and override only what you need."""

    stream = False  # ask the provider to stream and call `on_text` with each delta

    def on_text(self, delta: str) -> None: ...

    def on_message(self, message: Message, response: Response) -> None: ...

    def on_tool_call(self, call: ToolCall) -> None: ...

    def on_tool_result(self, call: ToolCall, result: ToolResult) -> None: ...

    def on_compaction(self, compaction: Compaction) -> None: ...


@dataclass
class Limits:
    """Per-task limits; None means no limit."""

    max_steps: int | None = 50
    max_cost: float | None = None
    max_seconds: float | None = None

    @classmethod
    def from_settings(cls, settings: AgentConfig) -> Limits:
        return cls(settings.max_steps, settings.max_cost, settings.max_seconds)


class Agent:
    """One conversation with one model, its tools and its context."""

    def __init__(
        self,
        provider: Provider,
        tools: ToolRegistry,
        context: Context,
        *,
        transcript: TranscriptWriter | None = None,
        limits: Limits | None = None,
        observer: Observer | None = None,
    ) -> None:
        self.provider = provider
        self.tools = tools
        self.context = context
        self.transcript = transcript or TranscriptWriter(None, getattr(provider, "model", None))
        self.limits = limits or Limits.from_settings(context.settings)
        self.observer: Observer = observer or AgentObserver()
        self.steps = 0
        self._started = time.monotonic()
        self._cost_start = 0.0
        self.spent = 0.0  # dollars of providers used earlier in this session (/model)
        self._streamed: list[str] = []  # the text of the answer streaming now

    @property
    def conversation(self) -> Conversation:
        return self.context.conversation

    @property
    def messages(self) -> list[Message]:
        return self.conversation.history

    @property
    def cost(self) -> float:
        """Dollars this session has cost so far."""
        return self.spent + self.provider.meter.cost

    # -- the loop -------------------------------------------------------------------------

    def run(self, task: str) -> str:
        """Work on `task` until the model answers without tools; returns the answer."""
        self.steps, self._started, self._cost_start = 0, time.monotonic(), self.cost
        session = self.transcript.start(task)
        self.context.ctx.session_id = session
        repair(self.messages)  # a resumed session may end in unanswered calls
        self.messages.append(Message.user(task))
        self.save()  # the task is on record before any work starts
        try:
            while True:
                self.check_limits()
                response = self.step()
                if not response.message.tool_calls:
                    return response.message.content
        finally:
            self.save()

    def check_limits(self) -> None:
        """The one place limits are checked (before each step)."""
        limits = self.limits
        if limits.max_steps is not None and self.steps >= limits.max_steps:
            raise LimitsExceeded(
                f"step limit reached ({self.steps} model calls) before a final answer: "
                "raise it with --max-steps or agent.max_steps"
            )
        spent = self.cost - self._cost_start
        if limits.max_cost is not None and spent >= limits.max_cost:
            raise LimitsExceeded(
                f"cost limit reached (${spent:.4f} of ${limits.max_cost:.2f}): raise agent.max_cost"
            )
        elapsed = time.monotonic() - self._started
        if limits.max_seconds is not None and elapsed >= limits.max_seconds:
            raise LimitsExceeded(
                f"time limit reached ({elapsed:.0f}s of {limits.max_seconds:g}s): "
                "raise agent.max_seconds"
            )

    def step(self) -> Response:
        """One model call and the tool calls it asks for."""
        try:
            response = self.query()
            self.steps += 1
            self.messages.append(response.message)
            self.save()  # what the tools are about to do is on record before they do it
            self.observer.on_message(response.message, response)
            self.execute(response.message.tool_calls, cut=response.stop_reason == "max_tokens")
            return response
        except Terminated:  # SIGTERM or SIGHUP: the session ends, with its calls answered
            self.keep_cut_off()
            repair(self.messages, INTERRUPTED)
            raise
        except KeyboardInterrupt:
            self.keep_cut_off()
            repair(self.messages, INTERRUPTED)
            raise Interrupted(
                "interrupted: the step was stopped; the conversation is saved"
            ) from None
        except Exception:  # a stream broken after its first text: what the user saw is kept
            self.keep_cut_off()
            raise
        finally:
            self.save()

    def query(self) -> Response:
        """Ask the model, compacting first when the context is too full (and once more on
        an overflow the estimate missed)."""
        prompt = self.context.build()
        if self.context.needs_compaction(prompt):
            prompt = self._compact(prompt) or prompt
        try:
            return self._complete(prompt)
        except ContextOverflow:
            log.warning("the request did not fit the context window; compacting and retrying")
            compacted = self._compact(prompt, force=True)
            if compacted is None:
                raise
            return self._complete(compacted)

    def _complete(self, prompt: Prompt) -> Response:
        self._streamed = []
        on_text = self._on_text if self.observer.stream else None
        response = self.provider.complete(
            prompt.system,
            prompt.messages,
            prompt.tools,
            max_tokens=self.context.settings.max_output_tokens,
            on_text=on_text,
        )
        self._streamed = []  # the answer is whole: nothing is cut off any more
        return response

    def _on_text(self, delta: str) -> None:
        self._streamed.append(delta)  # kept before it is shown: a Ctrl-C may land in the show
        self.observer.on_text(delta)

    def keep_cut_off(self) -> None:
        """Add the answer a Ctrl-C or a signal stopped mid-stream, as far as it came."""
        partial, self._streamed = "".join(self._streamed), []
        if partial.strip():
            self.messages.append(Message.cut_off(partial))

    def execute(self, calls: list[ToolCall], cut: bool = False) -> None:
        """Run each tool call; its result (or its error) goes back to the model. With `cut`
        (the answer stopped at the output limit), a call whose arguments do not parse is
        answered with why."""
        for call in calls:
            self.observer.on_tool_call(call)
            if cut and call.parse_error:
                why = CUT_BY_OUTPUT_LIMIT.format(limit=self.context.output_limit)
                result = ToolResult(f"{call.name}: {why}", is_error=True)
            else:
                result = self.tools.execute(call)
            self.messages.append(
                Message.tool_result(call.id, result.content, is_error=result.is_error)
            )
            self.save()
            self.observer.on_tool_result(call, result)

    # -- housekeeping ---------------------------------------------------------------------

    def save(self) -> None:
        """Write new messages to recall memory (never fails the loop)."""
        try:
            self.transcript.save(self.messages)
        except Exception as exc:  # recall is a record; the conversation itself is in memory
            log.warning("could not save the conversation to recall memory: %s", exc)

    def _compact(self, prompt: Prompt, force: bool = False) -> Prompt | None:
        compaction = self.context.compact(prompt, force=force)
        if compaction is None or not compaction.evicted:
            return None
        self._record(compaction)
        return self.context.build()

    def _record(self, compaction: Compaction) -> None:
        """Save a compaction's summary to recall (never fails the loop, as `save`) and say so."""
        self.save()
        try:
            self.transcript.save_summary(self.conversation)
        except Exception as exc:  # a full disk, a database locked past its wait
            log.warning("could not save the summary to recall memory: %s", exc)
        self.observer.on_compaction(compaction)

    def compact(self) -> Compaction | None:
        """Summarize everything but the latest exchange now (`/compact`); None when there is
        nothing to summarize, `evicted == 0` when the summary would not have been smaller."""
        prompt = self.context.build()
        compaction = self.context.compact(prompt, force=True)
        if compaction is not None and compaction.evicted:
            self._record(compaction)
        return compaction

    def switch_provider(self, provider: Provider) -> None:
        """Continue the conversation with another model (`/model`)."""
        self.spent += self.provider.meter.cost
        self.provider = provider
        self.context.provider = provider
        self.context.estimator = getattr(provider, "estimator", None) or self.context.estimator
        self.transcript.model = getattr(provider, "model", None)

    def clear(self) -> None:
        """Start a new conversation (a new recall session), keeping memory and tools."""
        self.save()
        self.context.new_conversation()
        self.transcript = TranscriptWriter(self.transcript.recall, self.transcript.model)
        self.context.ctx.session_id = None
