"""Memory tools: edit core memory blocks, save and search archival notes, search past talk.

The names and parameters are a contract shared with the MCP server and external scripts.
Every refusal of the memory layer (unknown label, over the limit, read-only, old text not
found exactly once...) is a `MemoryEditError` whose message goes back to the model as is. Text
holding a recognised secret is refused before anything is written (`codemem.memory.refuse_secret`):
memory is committed and shared.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from codemem.agent.tools.registry import ToolFunction
from codemem.errors import MemoryEditError
from codemem.memory import has_conflict, refuse_secret

if TYPE_CHECKING:
    from codemem.agent.tools.toolbox import ToolContext
    from codemem.memory import Block

NOTE_PREVIEW_CHARS = 2_000
MESSAGE_PREVIEW_CHARS = 600
NOTE_CONFLICT = (
    "[this note holds git conflict markers: two teammates wrote different text in one place "
    "and both sides are shown; ask the user which holds before relying on either]"
)


def _saved(action: str, block: Block) -> str:
    return f"{action} {block.label}: now {block.chars:,} / {block.limit:,} characters."


def refuse_duplicate(ctx: ToolContext, label: str, text: str) -> None:
    """Raise `MemoryEditError` when every line of `text` is already in the block, in order
    (a model tends to save the same fact again and again)."""
    wanted = _stripped_lines(text)
    if not wanted:
        return
    have = _stripped_lines(ctx.store.get(label).value)
    if "\n" + "\n".join(wanted) + "\n" in "\n" + "\n".join(have) + "\n":
        raise MemoryEditError(
            f"{label} already contains this text, so nothing was added; "
            "use memory_replace to change what is there"
        )


def _stripped_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def memory_append(ctx: ToolContext, label: str, content: str) -> str:
    """Append text to the end of a core memory block (on a new line).

    Core memory blocks are always in your context. Save durable facts here: the user's
    preferences to their users/<name> block, project facts to `project`, conventions to
    `conventions`. Keep entries short; put details in archival memory. Text the block
    already holds is refused.

    Args:
        label: The block's label, e.g. project, conventions or users/alice.
        content: The text to add.
    """
    refuse_secret(content)
    refuse_duplicate(ctx, label, content)
    return _saved("Appended to", ctx.store.append(label, content))


def memory_replace(ctx: ToolContext, label: str, old_string: str, new_string: str) -> str:
    """Replace one exact piece of text in a core memory block (to correct or delete it).

    Args:
        label: The block's label.
        old_string: Text that occurs exactly once in the block, copied exactly.
        new_string: The replacement; an empty string deletes the old text.
    """
    refuse_secret(new_string)
    return _saved("Updated", ctx.store.replace(label, old_string, new_string))


def memory_insert(ctx: ToolContext, label: str, text: str, line: int = -1) -> str:
    """Insert text into a core memory block after a given number of lines.

    Args:
        label: The block's label.
        text: The text to insert (one or more lines).
        line: Insert after this many lines: 0 puts it first, -1 (the default) at the end.
    """
    refuse_secret(text)
    refuse_duplicate(ctx, label, text)
    return _saved("Inserted into", ctx.store.insert(label, text, line))


def memory_rethink(ctx: ToolContext, label: str, new_value: str) -> str:
    """Rewrite a whole core memory block, e.g. to reorganize or condense it.

    Args:
        label: The block's label.
        new_value: The block's complete new text (everything not in it is removed).
    """
    refuse_secret(new_value)
    if label in ctx.store.left_out:  # its whole text was never in the prompt
        raise MemoryEditError(
            f"{label} was left out of your context (core memory past agent.memory_chars), so "
            "a rewrite of the whole block would drop lines you have not seen: change it with "
            "memory_replace or memory_append instead"
        )
    # written over what the model saw, never over what a person saved since (`ConflictError`)
    seen = ctx.store.shown.get(label)
    return _saved("Rewrote", ctx.store.rethink(label, new_value, expected=seen))


def memory_create(ctx: ToolContext, label: str, description: str, value: str) -> str:
    """Create a new core memory block for a topic that deserves its own block.

    Args:
        label: A new label: lower-case words, digits, '-', '_' and '/', like api or users/bob.
        description: One sentence saying what belongs in the block.
        value: The block's first text (may be empty).
    """
    refuse_secret(description, value)
    return _saved("Created", ctx.store.create(label, description, value))


def archival_insert(ctx: ToolContext, content: str, tags: list[str] = []) -> str:  # noqa: B006
    """Save a note to archival memory: details, decisions, how-tos, findings worth keeping.

    Notes are Markdown files in .codemem/archive/, shared with the team through git, and
    found later with archival_search.

    Args:
        content: The note; make it self-contained (say what, where, and why).
        tags: A few lower-case tags, like ["build", "payments"].
    """
    source = f"session {ctx.session_id}" if ctx.session_id else None
    refuse_secret(content)
    result = ctx.archive.insert(content, tags=tags, source=source)
    ctx.memory_changed()
    text = f"Saved archival note {result.id}."
    for hit in result.near_duplicates[:3]:
        text += (
            f"\nNote: it is {hit.score:.0%} similar to {hit.note.id}: {_line(hit.note.content)}"
            " (consider merging them)"
        )
    return text


def archival_search(
    ctx: ToolContext, query: str, tags: list[str] | None = None, k: int = 10
) -> str:
    """Search archival memory notes (BM25 over text and tags); an empty query lists the newest.

    Args:
        query: Words to look for.
        tags: Only notes with any of these tags.
        k: How many notes to return.
    """
    hits = ctx.archive.search(query, tags=tags, k=_positive(k))
    if not hits:
        return "No archival notes match." + ("" if query.strip() else " The archive is empty.")
    parts = []
    for hit in hits:
        note = hit.note
        tag_text = f" [{', '.join(note.tags)}]" if note.tags else ""
        content = note.content
        if len(content) > NOTE_PREVIEW_CHARS:
            content = (
                content[:NOTE_PREVIEW_CHARS]
                + f"… [{len(note.content) - NOTE_PREVIEW_CHARS:,} more characters]"
            )
        flag = f"\n{NOTE_CONFLICT}" if has_conflict(note.content) else ""
        parts.append(
            f"## note {note.id} ({note.created.date().isoformat()}){tag_text}{flag}\n{content}"
        )
    return "\n\n".join(parts)


def conversation_search(
    ctx: ToolContext,
    query: str,
    roles: list[str] | None = None,
    since: str | None = None,
    until: str | None = None,
    k: int = 10,
) -> str:
    """Search past conversations (recall memory), including earlier parts of this one.

    Args:
        query: Words to look for (any of them); empty lists the newest messages.
        roles: Only messages with these roles: user, assistant, tool, summary.
        since: Only messages from this date or time on (ISO 8601, e.g. 2025-03-01).
        until: Only messages up to this date or time (inclusive).
        k: How many messages to return.
    """
    recall = ctx.recall
    if recall is None:
        return "No conversations have been recorded yet."
    try:
        hits = recall.search(query, roles=roles, since=since, until=until, k=_positive(k))
    except ValueError as exc:
        raise MemoryEditError(f"conversation_search: {exc}") from None
    if not hits:
        return "No messages match."
    parts = []
    for hit in hits:
        message = hit.message
        content = " ".join(message.content.split())
        if len(content) > MESSAGE_PREVIEW_CHARS:
            content = content[:MESSAGE_PREVIEW_CHARS] + "…"
        when = message.created.strftime("%Y-%m-%d %H:%M") if message.created else "unknown time"
        title = f" ({hit.session_title})" if hit.session_title else ""
        parts.append(
            f"- session {message.session_id}{title} #{message.seq} {message.role}, {when}: {content}"
        )
    return "\n".join(parts)


def _positive(k: int) -> int:
    if k < 1:
        raise MemoryEditError(f"k must be at least 1, not {k}")
    return min(k, 50)


def _line(text: str, width: int = 100) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


MEMORY_READ_TOOLS: list[ToolFunction] = [archival_search, conversation_search]
MEMORY_WRITE_TOOLS: list[ToolFunction] = [
    memory_append,
    memory_replace,
    memory_insert,
    memory_rethink,
    memory_create,
    archival_insert,
]
