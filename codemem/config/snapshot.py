"""The settings a search reads, kept as plain values by the run that validated them.

Validating the layers loads pydantic: in a fresh `codemem search` that is a third of the
process. `codemem index` validates them anyway; it records, with their `layers_key`, what a
search reads (`search_snapshot`), and a later process whose layers have the same key reads
that back (`read_search_snapshot`) instead of validating again: equal keys validate to equal
settings, so the errors are still those of the layers themselves (a changed file has another
key and is validated). Only the `search:` section, `index.embeddings` and
`index.max_file_bytes` (how much of a file a snippet reads) are kept: nothing that names a key
or an address, and with embeddings on, the settings are validated as usual.
A record made by other code (a field added to `search:`, a default changed: the module that
defines those sections differs) is not read back either.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from codemem.config.schema import Config

NO_EMBEDDINGS = "none"
# The module that defines `search:` and `index:` (read as bytes: importing it loads pydantic).
SECTIONS_SOURCE = Path(__file__).with_name("core.py")


@dataclass(frozen=True)
class SearchSettings:
    """What a search reads of `Config`, as recorded: `search` (the section's fields as
    attributes), `index.embeddings` (always "none": with vectors the settings are
    validated, since the embedder reads the whole `index:` section) and `index.max_file_bytes`."""

    search: Any
    index: Any


def search_snapshot(config: Config) -> str:
    """The settings of `config` a search reads, as JSON to record beside the layers' key."""
    data = {
        "sections": sections_key(),
        "search": config.search.model_dump(),
        "embeddings": config.index.embeddings,
        "max_file_bytes": config.index.max_file_bytes,
    }
    return json.dumps(data, sort_keys=True)


def read_search_snapshot(text: str) -> SearchSettings | None:
    """The settings `search_snapshot` recorded in `text`, or None when it cannot stand in for
    the validated settings (nothing recorded, unreadable, recorded by other code, or embeddings
    on)."""
    try:
        data = json.loads(text or "null")
        sections, search, embeddings = data["sections"], data["search"], data["embeddings"]
        max_file_bytes = data["max_file_bytes"]
    except (ValueError, TypeError, KeyError):  # nothing recorded (null), or not this shape
        return None
    if not isinstance(max_file_bytes, int) or max_file_bytes <= 0:
        return None
    if embeddings != NO_EMBEDDINGS or not isinstance(search, dict):
        return None
    if not sections or sections != sections_key():
        return None
    if not all(isinstance(name, str) and name.isidentifier() for name in search):
        return None
    return SearchSettings(
        SimpleNamespace(**search),
        SimpleNamespace(embeddings=embeddings, max_file_bytes=max_file_bytes),
    )


@cache  # the module does not change under a running process; a run asks up to three times
def sections_key() -> str:
    """A digest of the module that defines `search:` and `index:` ("" when it cannot be read):
    what was recorded under another is not read back."""
    try:
        return hashlib.sha1(SECTIONS_SOURCE.read_bytes()).hexdigest()
    except OSError:  # no source beside (a frozen build): nothing is read back
        return ""
