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


LEFT_OUT_LABELS = 50  # labels a left-out note names; the rest are counted
SHOWN_PROBLEMS = 20  # unreadable blocks named one by one; the rest are counted


def _part(block: Block) -> str:
    read_only = ' read_only="true"' if block.read_only else ""
    part = (
        f'<block label="{block.label}" chars="{block.chars:,} / {block.limit:,}"{read_only}>\n'
        f"<description>{block.description}</description>\n"
        f"<value>\n{block.value}\n</value>\n</block>"
    )
    if has_conflict(block.value):
        part += f'\n<merge_conflict label="{block.label}">{CONFLICT_NOTE}</merge_conflict>'
    return part


def render_blocks(
    blocks: Iterable[Block],
    problems: Iterable[BlockFormatError] = (),
    max_chars: int | None = None,
    first: Iterable[str] = (),
) -> tuple[str, list[Block]]:
    """The text the agent sees: each block's label, description, characters used / limit,
    value; and the blocks it shows. With `max_chars`, the blocks that fit in that many
    characters (those labelled in `first` tried first, then the others in order), the rest
    named (the first `LEFT_OUT_LABELS`) and counted in one `<blocks_left_out>` line: core
    memory past the budget is never sent whole (20,000 blocks were 5 MB in every prompt)."""
    blocks = list(blocks)
    parts = {id(block): _part(block) for block in blocks}
    kept = {id(block) for block in blocks}
    if max_chars is not None:
        ahead = set(first)
        order = [b for b in blocks if b.label in ahead] + [
            b for b in blocks if b.label not in ahead
        ]
        kept, used = set(), 0
        for block in order:
            if used + len(parts[id(block)]) <= max_chars:
                kept.add(id(block))
                used += len(parts[id(block)]) + 1
    shown = [block for block in blocks if id(block) in kept]
    out = ["<memory_blocks>", *(parts[id(block)] for block in shown)]
    problems = list(problems)
    out += [
        f"<unreadable_block>{problem}</unreadable_block>" for problem in problems[:SHOWN_PROBLEMS]
    ]
    if len(problems) > SHOWN_PROBLEMS:
        out.append(
            f"<unreadable_block>and {len(problems) - SHOWN_PROBLEMS:,} more block files that "
            "cannot be read (`codemem status` names them)</unreadable_block>"
        )
    left = [block.label for block in blocks if id(block) not in kept]
    if left:
        named = ", ".join(left[:LEFT_OUT_LABELS])
        more = f" and {len(left) - LEFT_OUT_LABELS:,} more" if len(left) > LEFT_OUT_LABELS else ""
        out.append(
            f'<blocks_left_out count="{len(left)}">Core memory holds more than the '
            f"{max_chars:,} characters kept for it here (agent.memory_chars), so these blocks "
            f"are not shown: {named}{more}. Read one with read_file .codemem/blocks/<label>.md "
            "when the task needs it; memory_append and memory_replace work on them as on any "
            "block.</blocks_left_out>"
        )
    out.append("</memory_blocks>")
    return "\n".join(out), shown
