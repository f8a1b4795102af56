"""Helpers for the agent tests (imported by name: pytest puts this folder on sys.path)."""

from __future__ import annotations

from codemem.agent.loop import AgentObserver


class Recorder(AgentObserver):
    """Records every event the loop reports, as (kind, detail) pairs."""

    def __init__(self, stream: bool = False) -> None:
        self.stream = stream
        self.events: list[tuple[str, object]] = []
        self.text: list[str] = []

    def on_text(self, delta: str) -> None:
        self.text.append(delta)

    def on_message(self, message, response) -> None:
        self.events.append(("message", message.content))

    def on_tool_call(self, call) -> None:
        self.events.append(("call", call.name))

    def on_tool_result(self, call, result) -> None:
        self.events.append(("result", (call.name, result.is_error)))

    def on_compaction(self, compaction) -> None:
        self.events.append(("compaction", compaction.evicted))


def block_value(ws, label: str) -> str:
    from codemem.memory import MemoryStore

    return MemoryStore(ws).get(label).value


def recall_rows(ws, session_id: str) -> list[tuple[str, str]]:
    """(role, content) of every recall row of a session."""
    from codemem.memory import Recall

    with Recall(ws) as recall:
        return [(m.role, m.content) for m in recall.get_session(session_id).messages]


class Model:
    """A scripted model: plays `actions` in order and answers each summary request with the
    next of `summaries` (an exception in either list is raised when its turn comes)."""

    def __init__(self, actions, summaries=("- summary",)) -> None:
        self.actions = list(actions)
        self.summaries = list(summaries)
        self.summary_requests: list[str] = []

    def __call__(self, parts, messages, tools):
        if parts and parts[0].startswith("You maintain the running summary"):
            self.summary_requests.append(messages[0].content)
            item = self.summaries.pop(0)
        else:
            item = self.actions.pop(0)
        if isinstance(item, BaseException):
            raise item
        return item

    def provider(self, info=None):
        from codemem.agent.providers import ScriptedProvider

        kwargs = {"info": info} if info is not None else {}
        return ScriptedProvider([self] * 200, **kwargs)


def is_summary_call(call) -> bool:
    return bool(call.system) and call.system[0].startswith("You maintain the running summary")
