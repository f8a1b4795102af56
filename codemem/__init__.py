"""codemem: a memory-first coding agent for the command line."""

__version__ = "0.2.0"  # the one place the version is written (pyproject reads it)
