"""Fixtures for the MCP tests: the shop fixture as a real repository with memory set up."""

from __future__ import annotations

from pathlib import Path

import pytest

from codemem.memory import initialize_memory
from codemem.workspace import Workspace
from tests.helpers import git


@pytest.fixture
def repo(repo_factory) -> Path:
    """The shop fixture in a fresh git repository, .codemem/ initialized and committed (user `dev`)."""
    root = repo_factory("shop")
    initialize_memory(Workspace(root))
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "codemem init")
    return root
