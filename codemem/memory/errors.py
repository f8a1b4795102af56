"""Errors of the memory layer.

Every one is a `MemoryEditError`, so the agent's tool layer catches one type and returns the
message to the model. The messages are contracts: they say what went wrong and what to do.
"""

from __future__ import annotations

from codemem.errors import MemoryEditError

__all__ = [
    "BlockExistsError",
    "BlockFormatError",
    "ConflictError",
    "ConflictMarkersError",
    "DuplicateNoteError",
    "GitBusyError",
    "InvalidLabelError",
    "LimitExceededError",
    "LineOutOfRangeError",
    "MemoryEditError",
    "NotFoundError",
    "OldTextError",
    "ReadOnlyError",
    "UnknownLabelError",
]


class InvalidLabelError(MemoryEditError):
    """A label that is not a relative path of lower-case words."""


class UnknownLabelError(MemoryEditError):
    """No block with that label exists."""


class BlockExistsError(MemoryEditError):
    """A block with that label already exists."""


class LimitExceededError(MemoryEditError):
    """The edit would take a block past its character limit."""


class ReadOnlyError(MemoryEditError):
    """The block is marked `read_only: true`."""


class OldTextError(MemoryEditError):
    """`replace` found the old text zero times or more than once."""


class LineOutOfRangeError(MemoryEditError):
    """`insert` was given a line the block does not have."""


class BlockFormatError(MemoryEditError):
    """A memory file (block, note, digest, record) that cannot be read: its frontmatter, too
    large, not UTF-8 text."""


class ConflictError(MemoryEditError):
    """Someone else changed the content between the read and the write."""


class ConflictMarkersError(MemoryEditError):
    """An edit that would keep git's conflict markers in a block (or write new ones, in a
    block or a note)."""


class DuplicateNoteError(MemoryEditError):
    """An archival note with exactly this content already exists."""


class NotFoundError(MemoryEditError):
    """No note or session with that id."""


class GitBusyError(MemoryEditError):
    """A committed memory file not written while a git operation waits for the user."""
