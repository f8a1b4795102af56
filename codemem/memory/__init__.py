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
from codemem.infra import same_yaml_value as same_frontmatter_value
from codemem.memory.archive import Archive
from codemem.memory.block_folder import Block, parse_block
from codemem.memory.blocks import MemoryStore
from codemem.memory.damage import Damage, memory_damage
from codemem.memory.errors import (
    BlockExistsError,
    BlockFormatError,
    ConflictError,
    ConflictMarkersError,
    DuplicateNoteError,
    GitBusyError,
    InvalidLabelError,
    LimitExceededError,
    LineOutOfRangeError,
    NotFoundError,
    OldTextError,
    ReadOnlyError,
    UnknownLabelError,
)
from codemem.memory.files import (
    check_memory_path,
    check_memory_write,
    folder_in_the_way,
    memory_file,
    read_memory_bytes,
    read_memory_file,
    remove_memory_file,
    replace_memory_file,
)
from codemem.memory.folder_reads import FolderReads
from codemem.memory.frontmatter import FENCE as FRONTMATTER_FENCE
from codemem.memory.frontmatter import Document as FrontmatterDocument
from codemem.memory.frontmatter import dump as dump_frontmatter
from codemem.memory.frontmatter import key_lines as frontmatter_key_lines
from codemem.memory.frontmatter import key_spans as frontmatter_key_spans
from codemem.memory.frontmatter import reads_as as frontmatter_reads_as
from codemem.memory.frontmatter import split as split_frontmatter
from codemem.memory.frontmatter import with_values as frontmatter_with_values
from codemem.memory.history import Change, file_history
from codemem.memory.initialize import initialize_memory
from codemem.memory.instructions import export_instructions, import_instructions
from codemem.memory.labels import default_description, default_limit, validate_label
from codemem.memory.leftovers import put_back_memory_files
from codemem.memory.markers import has_conflict
from codemem.memory.notes import InsertResult, Note, NoteHit
from codemem.memory.ranking import normalize
from codemem.memory.recall import MessageHit, Recall, Transcript
from codemem.memory.recall_rows import Message, Session
from codemem.memory.render import render_blocks
from codemem.memory.secret_text import refuse_secret
from codemem.memory.transcripts import session_dict
from codemem.memory.users import PERSONAL_LABEL, user_slug

Blocks = MemoryStore

__all__ = [
    "PERSONAL_LABEL",
    "FRONTMATTER_FENCE",
    "FrontmatterDocument",
    "dump_frontmatter",
    "frontmatter_key_lines",
    "frontmatter_key_spans",
    "frontmatter_reads_as",
    "same_frontmatter_value",
    "frontmatter_with_values",
    "split_frontmatter",
    "Archive",
    "Block",
    "FolderReads",
    "BlockExistsError",
    "BlockFormatError",
    "Blocks",
    "Change",
    "ConflictError",
    "ConflictMarkersError",
    "Damage",
    "DuplicateNoteError",
    "GitBusyError",
    "InsertResult",
    "InvalidLabelError",
    "LimitExceededError",
    "LineOutOfRangeError",
    "MemoryEditError",
    "MemoryStore",
    "Message",
    "MessageHit",
    "Note",
    "NoteHit",
    "NotFoundError",
    "OldTextError",
    "ReadOnlyError",
    "Recall",
    "Session",
    "Transcript",
    "UnknownLabelError",
    "check_memory_path",
    "check_memory_write",
    "has_conflict",
    "default_description",
    "default_limit",
    "export_instructions",
    "file_history",
    "folder_in_the_way",
    "import_instructions",
    "initialize_memory",
    "memory_damage",
    "memory_file",
    "normalize",
    "parse_block",
    "put_back_memory_files",
    "read_memory_bytes",
    "read_memory_file",
    "refuse_secret",
    "remove_memory_file",
    "render_blocks",
    "replace_memory_file",
    "session_dict",
    "user_slug",
    "validate_label",
]
