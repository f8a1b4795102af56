"""Fixtures of the review tests: the `shop` repository with learned conventions in memory."""

from __future__ import annotations

import pytest


@pytest.fixture
def shop(repo_factory):
    """fixtures/review/shop as a committed git repository (memory included)."""
    return repo_factory("review/shop")
