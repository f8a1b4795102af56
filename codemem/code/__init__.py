"""Archival memory: the codebase parsed with tree-sitter into a local index."""

# -- the language table: names, display names, families, which are code --------------------
from codemem.code.languages import CODE_LANGUAGES, display_name, is_code, language_family

__all__ = ["CODE_LANGUAGES", "display_name", "is_code", "language_family"]
