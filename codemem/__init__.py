"""codemem: a memory-first coding agent for the command line."""

__version__ = "0.1.0"
