"""Opt-in: a real MCP host (Claude Code) runs headless against `codemem mcp`.

The host's model is the local fake server (`tests/agent/fakeserver.py`) speaking the
Anthropic wire format: it answers the host's first request with a `search_code` call and,
once the result comes back, with a line quoting it. Skipped unless `claude` is on PATH and
CODEMEM_TEST_HOSTS=1 (it starts a whole agent host and its Node runtime).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from mcp_helpers import child_env

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "agent"))  # the fake model server
from fakeserver import Call, FakeServer, Turn  # noqa: E402

CLAUDE = shutil.which("claude")
pytestmark = pytest.mark.skipif(
    CLAUDE is None or os.environ.get("CODEMEM_TEST_HOSTS") != "1",
    reason="needs an MCP host (claude on PATH) and CODEMEM_TEST_HOSTS=1",
)
SEARCH = "mcp__codemem__search_code"


def _tool_results(body: dict) -> list[str]:
    texts = []
    for message in body.get("messages") or []:
        content = message.get("content")
        for block in content if isinstance(content, list) else []:
            if block.get("type") != "tool_result":
                continue
            inner = block.get("content")
            if isinstance(inner, list):
                inner = "".join(part.get("text", "") for part in inner)
            texts.append(inner or "")
    return texts


def scripted_model(request):
    """Search once, then quote the result's first line; side requests get a plain answer."""
    body = request.body
    if not request.path.endswith("/v1/messages") or not isinstance(body, dict):
        return None
    if SEARCH not in {tool.get("name") for tool in body.get("tools") or []}:
        return Turn(text="ok")  # the host's own side requests (titles, checks)
    results = _tool_results(body)
    if not results:
        return Turn(tool_calls=[Call(SEARCH, {"query": "cart total", "k": 3})])
    return Turn(text="FOUND " + results[-1].splitlines()[0])


def test_claude_code_searches_the_code_through_codemem(repo, tmp_path):
    config = tmp_path / "mcp.json"
    server_env = child_env()
    config.write_text(
        json.dumps(
            {
                "mcpServers": {
                    "codemem": {
                        "command": sys.executable,
                        "args": ["-m", "codemem", "--repo", str(repo), "mcp"],
                        "env": server_env,
                    }
                }
            }
        )
    )
    with FakeServer() as model:
        model.responder = scripted_model
        env = dict(
            os.environ,
            ANTHROPIC_BASE_URL=model.anthropic_url,
            ANTHROPIC_API_KEY="test-key",
            CLAUDE_CONFIG_DIR=str(tmp_path / "claude"),
            CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
            DISABLE_TELEMETRY="1",
            DISABLE_AUTOUPDATER="1",
        )
        done = subprocess.run(
            [
                CLAUDE,
                "-p",
                "Where is the cart total computed? Use search_code.",
                "--output-format",
                "json",
                "--mcp-config",
                str(config),
                "--strict-mcp-config",
                "--allowedTools",
                SEARCH,
            ],
            cwd=repo,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        searched = [r for r in model.requests if isinstance(r.body, dict) and _tool_results(r.body)]
    assert done.returncode == 0, done.stderr
    assert searched, "the host never sent the search result back to the model"
    result = _tool_results(searched[-1].body)[-1]
    assert result.startswith("1. shop/cart.py:"), result
    assert json.loads(done.stdout)["result"] == "FOUND " + result.splitlines()[0]
