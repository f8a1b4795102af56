"""Archival memory: the codebase parsed with tree-sitter into a local index."""
