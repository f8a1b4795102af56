"""The code index: the codebase parsed with tree-sitter into a local index.

Other packages use only what this module exports, never its submodules:

- `CodeIndex(ws, config)`: refresh (telling a `RunProgress` how far it came; from what a
  `pending_check` found, `Pending`), search (`Hit`), repo map (`RepoMap`, `MapDefinition`), symbols (`SymbolRow`), file facts
  (`FileFacts`), status, publishing to and starting from a shared folder (`Published`,
  `SharedStart`); LanceDB, the manifest, the tag store and the reference graph stay private
  to this package.
- pure helpers about files and languages (`is_test_path`, `path_skip_reason`,
  `language_for_path`, `is_code`...) and the parser the review and the digest run on diffs
  (`parse_file`, `split_source`, `Symbol`).

Names from modules that load tree-sitter or pyarrow are imported on first use (`__getattr__`
below), to keep start-up fast: importing `codemem.code` loads none of tree-sitter, pyarrow,
LanceDB, numpy or pydantic.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from codemem.code.files import (
    GENERATED_NAMES,
    SECRET_NAMES,
    content_skip_reason,
    is_test_path,
    list_candidates,
    path_skip_reason,
    read_repo_file,
)
from codemem.code.globs import matches_any
from codemem.code.index import CodeIndex, FileFacts, SymbolRow
from codemem.code.model import Symbol
from codemem.code.run_progress import RunProgress
from codemem.code.text import tokenize

if TYPE_CHECKING:
    from codemem.code.indexer import IndexSummary
    from codemem.code.languages import (
        CODE_LANGUAGES,
        display_name,
        is_code,
        language_family,
        language_for_path,
    )
    from codemem.code.manifest import last_indexed
    from codemem.code.parse import parse_file, split_source
    from codemem.code.publish import Published, SharedStart
    from codemem.code.repomap import MapDefinition, RepoMap
    from codemem.code.search import Hit
    from codemem.code.staleness import Pending

_LAZY = {
    "IndexSummary": "codemem.code.indexer",  # pyarrow
    "CODE_LANGUAGES": "codemem.code.languages",  # tree-sitter
    "display_name": "codemem.code.languages",
    "is_code": "codemem.code.languages",
    "language_family": "codemem.code.languages",
    "language_for_path": "codemem.code.languages",
    "parse_file": "codemem.code.parse",
    "split_source": "codemem.code.parse",
    "MapDefinition": "codemem.code.repomap",
    "RepoMap": "codemem.code.repomap",
    "Hit": "codemem.code.search",
    "Pending": "codemem.code.staleness",  # what a search's `pending_check` found
    "last_indexed": "codemem.code.manifest",  # `watch --status`: the manifest's settings alone
    "Published": "codemem.code.publish",  # the indexer, so tree-sitter
    "SharedStart": "codemem.code.publish",
}

__all__ = [
    # the index
    "CodeIndex",
    "FileFacts",
    "Hit",
    "IndexSummary",
    "MapDefinition",
    "Pending",
    "Published",
    "RepoMap",
    "RunProgress",
    "SharedStart",
    "SymbolRow",
    "last_indexed",
    # files
    "GENERATED_NAMES",
    "SECRET_NAMES",
    "content_skip_reason",
    "is_test_path",
    "list_candidates",
    "matches_any",
    "path_skip_reason",
    "read_repo_file",
    # languages and parsing
    "CODE_LANGUAGES",
    "display_name",
    "language_family",
    "Symbol",
    "is_code",
    "language_for_path",
    "parse_file",
    "split_source",
    "tokenize",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'codemem.code' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
