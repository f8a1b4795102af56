"""Tools as values: a `Tool` wraps one function; a `ToolRegistry` validates and runs calls.

`ToolRegistry.call(name, arguments)` never raises for anything the model did wrong: an
unknown tool, bad arguments, a refused permission or a failing tool all come back as a
`ToolResult` with `is_error=True` and a message that says what to do instead. Only
`KeyboardInterrupt` (and other `BaseException`s) pass through, so Ctrl-C still stops a step.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from codemem.agent.messages import ToolCall, ToolSpec
from codemem.agent.tools.budget import truncate
from codemem.agent.tools.schema import FunctionSchema, function_schema
from codemem.errors import CodememError

log = logging.getLogger("codemem")

# A tool: a typed function whose first parameter may be the `ToolContext` (see schema.py).
ToolFunction = Callable[..., Any]


class ToolError(CodememError):
    """A tool could not do what was asked; the message goes back to the model."""


@dataclass
class ToolResult:
    """What a tool call produced: the text for the model and whether it failed."""

    content: str
    is_error: bool = False
    data: dict[str, Any] = field(default_factory=dict)  # extras for the UI (e.g. a diff)


@dataclass
class Tool:
    """One tool: its schema, its function and what kind of access it needs.

    `access` is "read" (never changes anything), "memory" (edits .codemem memory) or
    "write" (changes files or runs commands: follows the permission policy).
    """

    schema: FunctionSchema
    function: Callable[..., Any]
    access: str = "read"

    @classmethod
    def from_function(cls, fn: ToolFunction, access: str = "read") -> Tool:
        return cls(function_schema(fn), fn, access)

    @property
    def name(self) -> str:
        return self.schema.name

    @property
    def spec(self) -> ToolSpec:
        return self.schema.spec()


def describe_validation(error: ValidationError) -> str:
    """`start_line: Input should be a valid integer; unknown argument 'x'` from pydantic."""
    problems = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"]) or "arguments"
        if item["type"] == "missing":
            problems.append(f"missing required argument '{where}'")
        elif item["type"] == "extra_forbidden":
            problems.append(f"unknown argument '{where}'")
        else:
            problems.append(f"{where}: {item['msg']}")
    return "; ".join(problems)


class ToolRegistry:
    """The tools one agent (or the MCP server) offers, bound to one `ToolContext`."""

    def __init__(self, tools: Iterable[Tool] = (), context: Any = None, max_chars: int = 20_000):
        self.context = context
        self.max_chars = max_chars
        self.tools: dict[str, Tool] = {}
        self.unavailable: dict[str, str] = {}  # name -> why it is not offered here
        for tool in tools:
            self.add(tool)

    def add(self, tool: Tool) -> None:
        if tool.name in self.tools:
            raise ValueError(f"tool {tool.name!r} registered twice")
        self.tools[tool.name] = tool

    def __contains__(self, name: object) -> bool:
        return name in self.tools

    def __iter__(self) -> Iterator[Tool]:
        return iter(self.tools.values())

    def __len__(self) -> int:
        return len(self.tools)

    @property
    def names(self) -> list[str]:
        return list(self.tools)

    def specs(self) -> list[ToolSpec]:
        """The schemas to send to the model, in registration order."""
        return [tool.spec for tool in self.tools.values()]

    def execute(self, call: ToolCall) -> ToolResult:
        """Run one tool call from the model (a call whose JSON did not parse is refused)."""
        if call.parse_error:
            return ToolResult(
                f"{call.name}: {call.parse_error}; send the arguments as a JSON object", True
            )
        return self.call(call.name, call.arguments)

    def call(self, name: str, arguments: dict[str, Any] | None = None) -> ToolResult:
        """Validate `arguments`, run the tool, and return its (budgeted) result."""
        tool = self.tools.get(name)
        if tool is None:
            if name in self.unavailable:
                return ToolResult(f"{name} is not available here: {self.unavailable[name]}", True)
            names = ", ".join(self.tools) or "none"
            return ToolResult(f"unknown tool '{name}': the tools are {names}", True)
        try:
            parsed = tool.schema.arguments.model_validate(arguments or {})
        except ValidationError as exc:
            return ToolResult(
                f"invalid arguments for {name}: {describe_validation(exc)}; "
                f"the signature is {tool.schema.signature}",
                True,
            )
        fn = tool.function
        if tool.schema.takes_context:
            fn = functools.partial(fn, self.context)
        try:
            value = fn(**parsed.model_dump())
        except CodememError as exc:
            return ToolResult(_prefixed(name, str(exc)), True)
        except Exception as exc:  # a tool's bug must not end the conversation: report it
            log.debug("tool %s failed", name, exc_info=True)
            return ToolResult(f"{name} failed: {type(exc).__name__}: {exc}", True)
        result = value if isinstance(value, ToolResult) else ToolResult(str(value))
        if len(result.content) > self.max_chars:
            result.content = truncate(
                result.content, self.max_chars, "narrow the request to see the rest"
            )
        return result


def _prefixed(name: str, message: str) -> str:
    return message if message.startswith(name) else f"{name}: {message}"
