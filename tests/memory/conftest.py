"""Fixtures for the memory tests: a workspace in a real git repo, stores with a fixed clock."""

from __future__ import annotations

import pytest
from memory_helpers import Clock

from codemem.memory import Archive, MemoryStore, Recall
from codemem.workspace import Workspace


@pytest.fixture
def repo(repo_factory, monkeypatch):
    """A repository with three blocks, for the commands (alice is the user)."""
    monkeypatch.setenv("CODEMEM_USER", "alice")
    root = repo_factory()
    store = MemoryStore(Workspace(root))
    store.create("project", "What the project is.", value="A shop.")
    store.create("conventions", "Conventions.", value="x" * 5400)
    store.create("users/alice", "Alice.", read_only=True)
    return root


@pytest.fixture
def ws(repo_factory) -> Workspace:
    return Workspace(repo_factory())


@pytest.fixture
def store(ws) -> MemoryStore:
    return MemoryStore(ws, user="alice")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def archive(ws, clock) -> Archive:
    return Archive(ws, clock=clock)


@pytest.fixture
def recall(ws, clock):
    with Recall(ws, clock=clock) as recall:
        yield recall
