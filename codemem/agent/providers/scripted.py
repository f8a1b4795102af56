"""A provider that plays back a script: for tests of agent logic and for demos without a key.

    provider = ScriptedProvider([
        tool_call_response(tool_call("read_file", path="app.py")),
        "The bug is on line 3.",
        RateLimited("scripted: rate limited"),   # raised when its turn comes
    ])

Each `complete` takes the next item; `.calls` records what the agent sent.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codemem.agent.messages import Message, Response, ToolCall, ToolSpec, Usage
from codemem.agent.providers.base import System, TextCallback
from codemem.agent.providers.errors import ProviderFailure
from codemem.agent.providers.models import CostMeter, ModelInfo
from codemem.agent.providers.tokens import TokenEstimator, system_parts
from codemem.errors import ConfigError

ScriptItem = (
    str
    | Message
    | Response
    | BaseException
    | Callable[[list[str], list[Message], list[ToolSpec]], Any]
)
_ids = itertools.count(1)


def tool_call(name: str, id: str | None = None, **arguments: Any) -> ToolCall:
    """A well-formed tool call for a script."""
    return ToolCall(id or f"call_{next(_ids)}", name, arguments, json.dumps(arguments))


def tool_call_response(*calls: ToolCall, text: str = "") -> Response:
    """An assistant turn that calls tools."""
    return Response(Message.assistant(text, list(calls)), "tool_use")


@dataclass
class ScriptedCall:
    """What one `complete` call received (copied, so later edits do not change it)."""

    system: list[str]
    messages: list[Message]
    tools: list[ToolSpec]
    max_tokens: int | None
    streamed: bool


@dataclass
class ScriptedProvider:
    """Returns queued responses in order and records `.calls`.

    An item may be a string (a plain answer), a `Message`, a `Response`, an exception
    (raised), or a function of (system parts, messages, tools) returning one of those.
    """

    script: Iterable[ScriptItem] = ()
    model: str = "scripted/demo"
    info: ModelInfo = field(default_factory=lambda: ModelInfo("scripted", 200_000, 8_192))
    calls: list[ScriptedCall] = field(default_factory=list)
    meter: CostMeter = field(default_factory=CostMeter)
    estimator: TokenEstimator = field(default_factory=TokenEstimator)

    def __post_init__(self) -> None:
        self.queue: deque[ScriptItem] = deque(self.script)

    def add(self, *items: ScriptItem) -> None:
        """Append items to the script."""
        self.queue.extend(items)

    @property
    def remaining(self) -> int:
        """Items not played yet."""
        return len(self.queue)

    def complete(
        self,
        system: System,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec] = (),
        *,
        max_tokens: int | None = None,
        on_text: TextCallback | None = None,
    ) -> Response:
        """Play the next item of the script."""
        parts = system_parts(system)
        self.calls.append(
            ScriptedCall(
                parts, copy.deepcopy(list(messages)), list(tools), max_tokens, on_text is not None
            )
        )
        if not self.queue:
            raise ProviderFailure(
                f"{self.model}: the script has no response left (call {len(self.calls)})"
            )
        item = self.queue.popleft()
        if callable(item) and not isinstance(item, BaseException):
            item = item(parts, list(messages), list(tools))
        if isinstance(item, BaseException):
            raise item
        response = _as_response(item)
        if response.usage == Usage():
            response.usage = Usage(
                input_tokens=self.estimator.estimate(system, messages, tools),
                output_tokens=self.estimator.text_tokens(response.message.content) + 1,
            )
        if on_text is not None and response.message.content:
            for piece in re.findall(r"\s*\S+\s*|\s+", response.message.content):
                on_text(piece)
        self.meter.add(response.usage, self.info)
        return response

    def count_tokens(
        self, system: System, messages: Sequence[Message], tools: Sequence[ToolSpec] = ()
    ) -> int:
        """An estimate (there is no tokenizer behind a script)."""
        return self.estimator.estimate(system, messages, tools)

    @classmethod
    def from_file(cls, path: Path, model: str | None = None) -> ScriptedProvider:
        """Load a demo script: a YAML list of answers or {text, tool_calls, error} items."""
        import yaml

        try:
            items = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or []
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"{path}: cannot read the script: {exc}") from None
        if not isinstance(items, list):
            raise ConfigError(f"{path}: a script is a list of responses")
        return cls([_from_yaml(item, path) for item in items], model=model or f"scripted/{path}")


def _as_response(item: Any) -> Response:
    if isinstance(item, Response):
        return copy.deepcopy(item)
    if isinstance(item, Message):
        return Response(copy.deepcopy(item), "tool_use" if item.tool_calls else "end_turn")
    if isinstance(item, str):
        return Response(Message.assistant(item), "end_turn")
    raise TypeError(f"a script item must be a str, Message or Response, not {type(item).__name__}")


def _from_yaml(item: Any, path: Path) -> ScriptItem:
    if isinstance(item, str):
        return item
    if not isinstance(item, dict):
        raise ConfigError(f"{path}: each response is a string or a mapping")
    if "error" in item:
        return ProviderFailure(str(item["error"]))
    calls = [
        tool_call(str(call["name"]), **(call.get("arguments") or {}))
        for call in item.get("tool_calls") or []
    ]
    text = str(item.get("text") or "")
    return tool_call_response(*calls, text=text) if calls else text
