"""The conversation in recall memory: saved after every step, and loaded to resume.

Each message becomes one recall row: `user`, `assistant` (tool calls as JSON) or `tool`
(`tool_results` holds `{"tool_call_id", "is_error"}`); an answer cut off mid-stream is an
`assistant` row whose `tool_results` is `{"interrupted": true}`. A compaction adds a `summary` row
whose `tool_results` is `{"evicted": N}`: the first N messages of the session left the
context and this summary stands for them. Resuming replays exactly that.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from codemem.agent.context import Conversation
from codemem.agent.messages import Message, ToolCall
from codemem.infra import signals_held

if TYPE_CHECKING:
    from codemem.memory import Recall

SUMMARY_ROLE = "summary"
# The call is on record before it runs (`Agent.step`), so a session killed meanwhile cannot
# tell whether it ran: the model is told to look before it tries again.
NOT_RUN = (
    "no result: the session stopped while this tool call ran or before it started; "
    "check what it did before running it again"
)


def repair(history: list[Message], note: str = NOT_RUN) -> list[Message]:
    """Give every tool call without a result an error result (after a crash or Ctrl-C)."""
    answered = {m.tool_call_id for m in history if m.role == "tool"}
    added: list[Message] = []
    for index in range(len(history) - 1, -1, -1):
        message = history[index]
        if message.role == "assistant" and message.tool_calls:
            missing = [call for call in message.tool_calls if call.id not in answered]
            added = [Message.tool_result(call.id, note, is_error=True) for call in missing]
            break
        if message.role == "user":
            break
    history.extend(added)
    return added


class TranscriptWriter:
    """Appends a session's new messages to recall memory; one writer per session."""

    def __init__(
        self,
        recall: Recall | None,
        model: str | None,
        session_id: str | None = None,
        saved: int = 0,
    ) -> None:
        self.recall = recall
        self.model = model
        self.session_id = session_id
        self.saved = saved  # messages of the history already written

    def start(self, title: str) -> str | None:
        """Open the session in recall (once); returns its id."""
        if self.recall is not None and self.session_id is None:
            first_line = next((line.strip() for line in title.splitlines() if line.strip()), "")
            short = first_line if len(first_line) <= 80 else first_line[:79] + "…"
            self.session_id = self.recall.start_session(self.model, short or None)
        return self.session_id

    def save(self, history: list[Message]) -> int:
        """Write the messages not written yet; returns how many were written."""
        if self.recall is None or self.session_id is None:
            return 0
        written = 0
        for message in history[self.saved :]:
            calls = [asdict(call) for call in message.tool_calls] or None
            results = None
            if message.role == "tool":
                results = {"tool_call_id": message.tool_call_id, "is_error": message.is_error}
            elif message.interrupted:
                results = {"interrupted": True}
            # A Ctrl-C or SIGTERM as the row's commit returns would leave it written but not
            # counted, and the step's clean-up would write it again: a duplicated turn (with
            # its tool calls twice, which no API accepts on resume). Held, it comes after.
            with signals_held():
                self.recall.add_message(
                    self.session_id, message.role, message.content, calls, results
                )
                self.saved += 1
            written += 1
        return written

    def save_summary(self, conversation: Conversation) -> None:
        """Record a compaction (after the messages it covers are saved)."""
        self.save(conversation.history)
        if self.recall is not None and self.session_id is not None:
            self.recall.add_message(
                self.session_id,
                SUMMARY_ROLE,
                conversation.summary,
                tool_results={"evicted": conversation.evicted},
            )


def to_message(
    role: str,
    content: str,
    tool_calls: Any,
    tool_results: Any,
) -> Message:
    """A loop message from one recall row."""
    calls = [  # a recall row's calls of another shape (a hand edit) are left out
        ToolCall(
            **{key: value for key, value in call.items() if key in ToolCall.__dataclass_fields__}
        )
        for call in (tool_calls if isinstance(tool_calls, list) else [])
        if isinstance(call, dict)
        and isinstance(call.get("id"), str)
        and isinstance(call.get("name"), str)
        and isinstance(call.get("arguments", {}), dict)
    ]
    results = tool_results if isinstance(tool_results, dict) else {}
    return Message(
        role=role,  # type: ignore[arg-type]  # recall stores the loop's roles as plain text
        content=content,
        tool_calls=calls,
        tool_call_id=results.get("tool_call_id"),
        is_error=bool(results.get("is_error", False)),
        interrupted=results.get("interrupted") is True,
    )


def load_conversation(recall: Recall, session_id: str) -> tuple[str, Conversation, int]:
    """(full session id, the conversation as it was, messages already in recall)."""
    transcript = recall.get_session(session_id)
    conversation = Conversation()
    for row in transcript.messages:
        if row.role == SUMMARY_ROLE:
            conversation.summary = row.content
            results = row.tool_results if isinstance(row.tool_results, dict) else {}
            evicted = results.get("evicted", 0)
            conversation.evicted = evicted if isinstance(evicted, int) else 0
        elif row.role in ("user", "assistant", "tool"):
            conversation.history.append(
                to_message(row.role, row.content, row.tool_calls, row.tool_results)
            )
    saved = len(conversation.history)
    conversation.evicted = min(conversation.evicted, saved)
    return transcript.session.id, conversation, saved
