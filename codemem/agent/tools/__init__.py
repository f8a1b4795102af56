"""The agent's tools: plain typed functions, their schemas derived, bound to a `ToolContext`.

`build_tools(ctx, read_only)` is the one entry point (the loop, the CLI and the MCP server
use it); `ToolRegistry.call(name, arguments)` validates, runs and budgets a call and turns
every failure into an error result for the model.
"""

from codemem.agent.tools.permissions import (
    PermissionPolicy,
    Prompter,
    Request,
    Rule,
)
from codemem.agent.tools.registry import Tool, ToolError, ToolRegistry, ToolResult
from codemem.agent.tools.schema import function_schema
from codemem.agent.tools.toolbox import TOOL_ORDER, ToolContext, build_tools

__all__ = [
    "TOOL_ORDER",
    "PermissionPolicy",
    "Prompter",
    "Request",
    "Rule",
    "Tool",
    "ToolContext",
    "ToolError",
    "ToolRegistry",
    "ToolResult",
    "build_tools",
    "function_schema",
]
