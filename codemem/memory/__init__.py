"""The three memories of the MemGPT design, stored in the repository.

- Core memory: `MemoryStore` (alias `Blocks`) over `.codemem/blocks/*.md`, rendered into the
  agent's context by `render_blocks`.
- Archival memory: `Archive` over `.codemem/archive/*.md`, mirrored into LanceDB.
- Recall memory: `Recall`, conversation history in `.codemem/local/recall.sqlite`.

`initialize_memory(ws)` sets a repository up; every refusal is a `MemoryEditError` whose
message tells the agent (or the person) what to do instead.
"""

from __future__ import annotations

from codemem.errors import MemoryEditError
from codemem.memory.archive import Archive, InsertResult, Note, NoteHit
from codemem.memory.blocks import Block, MemoryStore
from codemem.memory.errors import (
    BlockExistsError,
    BlockFormatError,
    ConflictError,
    DuplicateNoteError,
    InvalidLabelError,
    LimitExceededError,
    LineOutOfRangeError,
    NotFoundError,
    OldTextError,
    ReadOnlyError,
    UnknownLabelError,
)
from codemem.memory.initialize import initialize_memory
from codemem.memory.instructions import export_instructions, import_instructions
from codemem.memory.labels import validate_label
from codemem.memory.recall import Message, MessageHit, Recall, Session, Transcript
from codemem.memory.render import render_blocks
from codemem.memory.users import user_slug

Blocks = MemoryStore

__all__ = [
    "Archive", "Block", "BlockExistsError", "BlockFormatError", "Blocks", "ConflictError",
    "DuplicateNoteError", "InsertResult", "InvalidLabelError", "LimitExceededError",
    "LineOutOfRangeError", "MemoryEditError", "MemoryStore", "Message",
    "MessageHit", "Note", "NoteHit", "NotFoundError", "OldTextError", "ReadOnlyError", "Recall",
    "Session", "Transcript", "UnknownLabelError", "export_instructions",
    "import_instructions", "initialize_memory", "render_blocks", "user_slug", "validate_label",
]
