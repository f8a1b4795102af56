"""The one rendering of core memory: the text the agent sees for its blocks."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from codemem.memory.markers import has_conflict

if TYPE_CHECKING:
    from codemem.memory.block_folder import Block
    from codemem.memory.errors import BlockFormatError


CONFLICT_NOTE = (
    "this block holds git conflict markers: two teammates wrote different text in one place and "
    "both sides are shown; ask the user which holds before relying on either. An edit that "
    "keeps the markers is refused; a memory_rethink of the whole value without them, once the "
    "user says what it should hold, resolves it"
)


def render_blocks(blocks: Iterable[Block], problems: Iterable[BlockFormatError] = ()) -> str:
    """The text the agent sees: each block's label, description, characters used / limit, value."""
    parts = ["<memory_blocks>"]
    for block in blocks:
        read_only = ' read_only="true"' if block.read_only else ""
        parts.append(
            f'<block label="{block.label}" chars="{block.chars:,} / {block.limit:,}"{read_only}>\n'
            f"<description>{block.description}</description>\n"
            f"<value>\n{block.value}\n</value>\n</block>"
        )
        if has_conflict(block.value):
            parts.append(f'<merge_conflict label="{block.label}">{CONFLICT_NOTE}</merge_conflict>')
    for problem in problems:
        parts.append(f"<unreadable_block>{problem}</unreadable_block>")
    parts.append("</memory_blocks>")
    return "\n".join(parts)
