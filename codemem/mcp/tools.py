"""The tools the MCP server offers: the agent's own, plus `memory_read` and `remember`.

Every tool is registered in a `ToolRegistry` from `build_tools`, so its name, JSON schema,
argument validation, limits, locking and messages are exactly those of `codemem chat`. The two
tools only an outside agent needs (the built-in agent sees its blocks in its context, and
`remember` is a CLI verb) are thin functions over the same `MemoryStore` and `Archive` calls.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from codemem.agent.tools import Tool, ToolRegistry, build_tools
from codemem.agent.tools.memory_tools import refuse_duplicate
from codemem.errors import MemoryEditError
from codemem.memory import refuse_secret

if TYPE_CHECKING:
    from codemem.agent.tools import ToolContext

# The order clients list them in: find, read memory, change memory.
MCP_TOOLS = [
    "search_code",
    "repo_map",
    "memory_read",
    "archival_search",
    "conversation_search",
    "memory_append",
    "memory_replace",
    "memory_rethink",
    "archival_insert",
    "remember",
]
WRITE_TOOLS = frozenset(
    {"memory_append", "memory_replace", "memory_rethink", "archival_insert", "remember"}
)
# What is true inside another host: it sees the blocks only when it asks for them.
HOST_DESCRIPTIONS = {
    "memory_append": """\
Append text to the end of a core memory block (on a new line).

Core memory blocks are what codemem always knows about this repository, shared with the team \
through git; the codemem agent always has them in its context, but you see them only after \
memory_read (or the load_memory prompt), so read the block before adding to it. Save durable \
facts: the user's preferences to their users/<name> block, project facts to `project`, \
conventions to `conventions`. Keep entries short; put details in archival memory. Text the \
block already holds is refused.""",
}
READ_ONLY_REASON = (
    "the codemem MCP server was started with --read-only, so it does not change memory"
)


def memory_read(ctx: ToolContext, label: str | None = None) -> str:
    """Read core memory: every block (as the codemem agent sees them) or one block.

    Core memory blocks hold what is always worth knowing about this repository: `project`
    (what it is, how to build and test it), `conventions` (how the code is written) and
    `users/<name>` (the developer's preferences). Each shows its characters used / limit.

    Args:
        label: One block's label, e.g. project, conventions or users/alice; omit it for all blocks.
    """
    if label is None:
        return ctx.store.render_blocks(max_chars=ctx.settings.memory_chars)
    return ctx.store.render_blocks([label])


def remember(ctx: ToolContext, text: str, block: str | None = None, tags: list[str] = []) -> str:  # noqa: B006
    """Remember something: as an archival note (the default), or appended to a core memory block.

    The same as `codemem remember`. An identical note is refused; notes that say nearly the
    same thing are listed so they can be merged.

    Args:
        text: What to remember; make it self-contained (what, where, and why).
        block: Append to this core memory block instead (e.g. project or conventions).
        tags: A few lower-case tags for the note, like ["build", "payments"] (notes only).
    """
    refuse_secret(text)
    if block is not None:
        if tags:
            raise MemoryEditError("tags apply to archival notes, not to blocks: leave them out")
        refuse_duplicate(ctx, block, text)
        saved = ctx.store.append(block, text)
        return f"Added to {block}: {saved.chars:,} / {saved.limit:,} characters."
    result = ctx.archive.insert(text, tags=tags)
    ctx.memory_changed()
    lines = [f"Saved note {result.id}."]
    for hit in result.near_duplicates:
        flat = " ".join(hit.note.content.split())
        flat = flat if len(flat) <= 80 else flat[:77] + "..."
        lines.append(f"Note: similar to {hit.note.id} ({hit.score:.0%}): {flat}")
    return "\n".join(lines)


def build_mcp_tools(ctx: ToolContext, read_only: bool = False) -> ToolRegistry:
    """The registry of MCP tools bound to `ctx`, in `MCP_TOOLS` order.

    With `read_only`, every tool that changes memory is left out; calling one anyway is an
    error that says why. Tools of the agent the server does not offer are simply unknown.
    """
    agent = build_tools(ctx, read_only=read_only, names=MCP_TOOLS)
    extra = {"memory_read": Tool.from_function(memory_read, "read")}
    if not read_only:
        extra["remember"] = Tool.from_function(remember, "memory")
    registry = ToolRegistry(context=ctx, max_chars=agent.max_chars)
    for name in MCP_TOOLS:
        tool = agent.tools.get(name) or extra.get(name)
        if tool is not None and name in HOST_DESCRIPTIONS:
            schema = replace(tool.schema, description=HOST_DESCRIPTIONS[name])
            tool = Tool(schema, tool.function, tool.access)
        if tool is not None:
            registry.add(tool)
        elif read_only and name in WRITE_TOOLS:
            registry.unavailable[name] = READ_ONLY_REASON
    return registry
