"""Tool schemas derived from type hints and docstrings; the registry's validation and errors."""

from __future__ import annotations

from typing import Literal

import pytest

from codemem.agent.messages import ToolCall
from codemem.agent.tools import TOOL_ORDER, Tool, ToolContext, ToolError, ToolRegistry, build_tools
from codemem.agent.tools.schema import function_schema, parse_docstring
from codemem.errors import MemoryEditError


def sample(
    ctx: ToolContext,
    path: str,
    start: int | None = None,
    mode: Literal["a", "b"] = "a",
    tags: list[str] = [],  # noqa: B006 - the schema shows the default; calls get a copy
    focus: str | list[str] | None = None,
) -> str:
    """Do a sample thing.

    More detail on a second paragraph.

    Args:
        path: Where to look,
            continued on the next line.
        start: First line.
        mode: Which mode.
        tags: Some tags.
        focus: One or several.

    Returns:
        Text.
    """
    return f"{path}|{start}|{mode}|{tags}|{focus}"


def test_schema_from_hints_and_docstring():
    schema = function_schema(sample)
    assert schema.name == "sample"
    assert schema.takes_context is True
    assert schema.description == "Do a sample thing.\n\nMore detail on a second paragraph."
    assert schema.parameters == {
        "type": "object",
        "properties": {
            "path": {"type": "string", "description": "Where to look, continued on the next line."},
            "start": {"type": "integer", "description": "First line."},
            "mode": {
                "enum": ["a", "b"],
                "type": "string",
                "description": "Which mode.",
                "default": "a",
            },
            "tags": {
                "type": "array",
                "items": {"type": "string"},
                "description": "Some tags.",
                "default": [],
            },
            "focus": {
                "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
                "description": "One or several.",
            },
        },
        "required": ["path"],
        "additionalProperties": False,
    }
    assert schema.signature == "sample(path, start=None, mode='a', tags=[], focus=None)"


def test_docstring_without_args_section():
    doc = parse_docstring("Just a summary.")
    assert (doc.summary, doc.args) == ("Just a summary.", {})


def test_unsupported_annotation_is_refused():
    def bad(x: object) -> str:
        """Bad."""
        return ""

    with pytest.raises(TypeError, match="unsupported annotation"):
        function_schema(bad)


@pytest.fixture
def registry():
    def boom(ctx: ToolContext, kind: str) -> str:
        """Fail in various ways.

        Args:
            kind: How.
        """
        if kind == "tool":
            raise ToolError("boom: nothing here")
        if kind == "memory":
            raise MemoryEditError("unknown block 'x'")
        if kind == "os":
            raise FileNotFoundError("gone")
        return "x" * 50_000

    reg = ToolRegistry(
        [Tool.from_function(sample), Tool.from_function(boom)], context="CTX", max_chars=1000
    )
    reg.unavailable["write_file"] = "read-only"
    return reg


def test_call_validates_and_coerces(registry):
    result = registry.call("sample", {"path": "a.py", "start": "5", "tags": ["x"]})
    assert (result.content, result.is_error) == ("a.py|5|a|['x']|None", False)


def test_bad_arguments_come_back_as_an_error(registry):
    result = registry.call("sample", {"start": "five", "extra": 1})
    assert result.is_error
    assert result.content == (
        "invalid arguments for sample: missing required argument 'path'; start: Input should be "
        "a valid integer, unable to parse string as an integer; unknown argument 'extra'; "
        "the signature is sample(path, start=None, mode='a', tags=[], focus=None)"
    )


def test_unknown_and_unavailable_tools(registry):
    assert registry.call("nope", {}).content == "unknown tool 'nope': the tools are sample, boom"
    assert registry.call("write_file", {}).content == "write_file is not available here: read-only"


def test_failures_become_error_results(registry):
    assert registry.call("boom", {"kind": "tool"}).content == "boom: nothing here"
    assert registry.call("boom", {"kind": "memory"}).content == "boom: unknown block 'x'"
    assert registry.call("boom", {"kind": "os"}).content == "boom failed: FileNotFoundError: gone"


def test_results_are_truncated_to_the_budget(registry):
    result = registry.call("boom", {"kind": "long"})
    assert (
        result.content
        == "x" * 1000
        + "\n[output truncated: 49,000 more characters; narrow the request to see the rest]"
    )


def test_unparsable_arguments_are_refused(registry):
    call = ToolCall(
        "c1",
        "sample",
        {},
        "{oops",
        "arguments are not valid JSON (Expecting property name at char 1): {oops",
    )
    result = registry.execute(call)
    assert result.is_error
    assert result.content == (
        "sample: arguments are not valid JSON (Expecting property name at char 1): {oops; "
        "send the arguments as a JSON object"
    )


def test_build_tools_offers_the_contract(ctx):
    tools = build_tools(ctx)
    assert tools.names == TOOL_ORDER
    signatures = {tool.name: tool.schema.signature for tool in tools}
    assert signatures == {
        "memory_append": "memory_append(label, content)",
        "memory_replace": "memory_replace(label, old_string, new_string)",
        "memory_insert": "memory_insert(label, text, line=-1)",
        "memory_rethink": "memory_rethink(label, new_value)",
        "memory_create": "memory_create(label, description, value)",
        "archival_insert": "archival_insert(content, tags=[])",
        "archival_search": "archival_search(query, tags=None, k=10)",
        "conversation_search": "conversation_search(query, roles=None, since=None, until=None, k=10)",
        "search_code": "search_code(query, k=10, level='chunk', detail=False)",
        "repo_map": "repo_map(focus=None, tokens=None)",
        "read_file": "read_file(path, start_line=None, end_line=None)",
        "list_files": "list_files(glob='**')",
        "grep": "grep(pattern, glob=None)",
        "edit_file": "edit_file(path, old_string, new_string)",
        "write_file": "write_file(path, content)",
        "run_command": "run_command(command, timeout=120)",
        "git_diff": "git_diff(rev=None)",
        "git_log": "git_log(n=20)",
    }
    for spec in tools.specs():
        assert spec.description, spec.name
        for name, prop in spec.parameters["properties"].items():
            assert prop.get("description"), f"{spec.name}.{name}"


def test_read_only_tools(ctx):
    tools = build_tools(ctx, read_only=True)
    assert tools.names == [
        "search_code",
        "repo_map",
        "read_file",
        "list_files",
        "grep",
        "git_diff",
        "git_log",
        "archival_search",
        "conversation_search",
    ]
    result = tools.call("edit_file", {"path": "a", "old_string": "b", "new_string": "c"})
    assert result.content == (
        "edit_file is not available here: this session is read-only (codemem ask); "
        "say what to change instead"
    )


def test_named_subset(ctx):
    tools = build_tools(ctx, names=["memory_append", "archival_search"])
    assert tools.names == ["archival_search", "memory_append"]
