"""A tool's JSON schema, derived from a plain function's type hints and docstring.

    def read_file(ctx: ToolContext, path: str, start_line: int | None = None) -> str:
        \"\"\"Read a file of the repository.

        Args:
            path: Repository-relative path.
            start_line: First line to show (1-based).
        \"\"\"

becomes a `ToolSpec` with the summary as description, one property per parameter (the
`Args:` text as its description; no default means required) and a pydantic model that
validates the model's arguments (lax: "5" is accepted for an int; unknown keys refused).
A leading parameter annotated `ToolContext` is bound by the registry, not shown to the model.
"""

from __future__ import annotations

import inspect
import re
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, create_model

from codemem.agent.messages import ToolSpec

_SECTION = re.compile(
    r"^\s*(Args|Arguments|Parameters|Returns|Raises|Yields|Examples?|Notes?):\s*$"
)
_ARG_LINE = re.compile(r"^(\s*)(\*{0,2}\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")
_SIMPLE = {str: "string", int: "integer", float: "number", bool: "boolean"}


@dataclass
class Docstring:
    """A Google-style docstring: the summary text and one description per argument."""

    summary: str
    args: dict[str, str]


def parse_docstring(doc: str | None) -> Docstring:
    """Split a docstring into its description and its `Args:` entries (continuations joined)."""
    lines = inspect.cleandoc(doc or "").splitlines()
    summary: list[str] = []
    args: dict[str, str] = {}
    section = None
    current = None
    arg_indent = None
    for line in lines:
        header = _SECTION.match(line)
        if header:
            section, current, arg_indent = header.group(1), None, None
            continue
        if section is None:
            summary.append(line)
        elif section in ("Args", "Arguments", "Parameters"):
            match = _ARG_LINE.match(line)
            indent = len(line) - len(line.lstrip())
            if match and (arg_indent is None or indent <= arg_indent):
                arg_indent = indent
                current = match.group(2).lstrip("*")
                args[current] = match.group(3).strip()
            elif current and line.strip():
                args[current] = f"{args[current]} {line.strip()}".strip()
    return Docstring("\n".join(summary).strip(), args)


def _is_context(annotation: Any) -> bool:
    """Whether an annotation (a class, or a string under postponed evaluation) is ToolContext."""
    name = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
    return isinstance(name, str) and name.split(".")[-1] == "ToolContext"


def json_type(annotation: Any) -> dict[str, Any]:
    """The JSON schema of a Python annotation (str, int, float, bool, list, Literal, unions)."""
    if annotation in _SIMPLE:
        return {"type": _SIMPLE[annotation]}
    if annotation is Any:
        return {}
    origin = get_origin(annotation)
    args = get_args(annotation)
    if origin in (Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        if len(options) == 1:
            return json_type(options[0])
        return {"anyOf": [json_type(a) for a in options]}
    if origin is Literal:
        values = list(args)
        kinds = {type(v) for v in values}
        schema: dict[str, Any] = {"enum": values}
        if len(kinds) == 1 and next(iter(kinds)) in _SIMPLE:
            schema["type"] = _SIMPLE[next(iter(kinds))]
        return schema
    if origin in (list, tuple, set, frozenset) or annotation in (list, tuple):
        item = json_type(args[0]) if args else {}
        return {"type": "array", "items": item} if item else {"type": "array"}
    if origin is dict or annotation is dict:
        return {"type": "object"}
    raise TypeError(f"unsupported annotation for a tool parameter: {annotation!r}")


@dataclass
class FunctionSchema:
    """Everything derived from one tool function."""

    name: str
    description: str
    parameters: dict[str, Any]
    arguments: type[BaseModel]  # validates the model's arguments
    takes_context: bool
    signature: str  # `read_file(path, start_line=None, end_line=None)`, for error messages

    def spec(self) -> ToolSpec:
        return ToolSpec(self.name, self.description, self.parameters)


def function_schema(fn: Callable[..., Any], name: str | None = None) -> FunctionSchema:
    """Derive the tool schema and argument validator of `fn` (see the module docstring)."""
    name = name or fn.__name__
    doc = parse_docstring(fn.__doc__)
    params = list(inspect.signature(fn).parameters.values())
    takes_context = bool(params) and _is_context(params[0].annotation)
    # The context type is usually imported only for type checking: stand in for it.
    hints = typing.get_type_hints(fn, localns={"ToolContext": object})
    if takes_context:
        params = params[1:]
    properties: dict[str, Any] = {}
    required: list[str] = []
    fields: dict[str, Any] = {}
    shown: list[str] = []
    for param in params:
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise TypeError(f"{name}: *args and **kwargs cannot be tool parameters")
        if param.name not in hints:
            raise TypeError(f"{name}: parameter {param.name!r} needs a type hint")
        annotation = hints[param.name]
        prop = json_type(annotation)
        if doc.args.get(param.name):
            prop["description"] = doc.args[param.name]
        if param.default is param.empty:
            required.append(param.name)
            fields[param.name] = (annotation, ...)
            shown.append(param.name)
        else:
            if param.default is not None:
                prop["default"] = param.default
            fields[param.name] = (annotation, param.default)
            shown.append(f"{param.name}={param.default!r}")
        properties[param.name] = prop
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    schema["additionalProperties"] = False
    model = create_model(f"{name}_arguments", __config__=ConfigDict(extra="forbid"), **fields)
    return FunctionSchema(
        name=name,
        description=doc.summary,
        parameters=schema,
        arguments=model,
        takes_context=takes_context,
        signature=f"{name}({', '.join(shown)})",
    )
