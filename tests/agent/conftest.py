"""Fixtures for the agent tests: the shop fixture as a real repository with memory set up."""

from __future__ import annotations

import pytest
from agent_helpers import Recorder
from fakeserver import FakeServer

from codemem.agent.providers import ScriptedProvider
from codemem.agent.session import create_agent
from codemem.agent.tools import PermissionPolicy, ToolContext, build_tools
from codemem.config import Config, PermissionsConfig
from codemem.memory import initialize_memory
from codemem.workspace import Workspace
from tests.helpers import git


@pytest.fixture
def ws(repo_factory) -> Workspace:
    """The shop fixture in a fresh git repository, with .codemem/ initialized (user `dev`)."""
    workspace = Workspace(repo_factory("shop"))
    initialize_memory(workspace)
    git(workspace.root, "add", "-A")
    git(workspace.root, "commit", "-q", "-m", "codemem init")
    return workspace


@pytest.fixture
def server():
    """A local server speaking the Anthropic and OpenAI wire formats (see `fakeserver`)."""
    with FakeServer() as running:
        yield running


@pytest.fixture
def sleeps() -> list[float]:
    """What a test's `RetryPolicy(sleep=sleeps.append)` would have slept, in order."""
    return []


@pytest.fixture
def config() -> Config:
    """No index refresh at session start (tests that need the index build it)."""
    return Config.model_validate({"agent": {"refresh_index": False}})


@pytest.fixture
def ctx(ws, config) -> ToolContext:
    """A tool context that allows every edit and command (permissions tested on their own)."""
    return ToolContext(ws, config, PermissionPolicy(PermissionsConfig(mode="allow")))


@pytest.fixture
def tools(ctx):
    return build_tools(ctx)


@pytest.fixture
def make_agent(ws, config):
    """make_agent(script, **create_agent kwargs) -> (agent, provider, recorder)."""

    def build(script, provider=None, permissions=None, **kwargs):
        provider = provider or ScriptedProvider(script)
        recorder = kwargs.pop("observer", None) or Recorder()
        permissions = permissions or PermissionPolicy(PermissionsConfig(mode="allow"))
        agent = create_agent(
            ws,
            kwargs.pop("config", config),
            provider,
            permissions=permissions,
            observer=recorder,
            **kwargs,
        )
        return agent, provider, recorder

    return build
