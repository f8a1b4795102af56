"""Helpers for the MCP tests: start `codemem mcp` with the SDK's own stdio client.

Imported by name (pytest puts this folder on sys.path).
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# The first request of a client speaking raw JSON-RPC to the server.
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "raw", "version": "0"},
    },
}


def child_env() -> dict[str, str]:
    """What the server process needs beyond the SDK's default environment (HOME, PATH...)."""
    env = {k: v for k, v in os.environ.items() if k.startswith(("CODEMEM_", "GIT_"))}
    env["PYTHONPATH"] = str(PROJECT_ROOT)
    return env


@asynccontextmanager
async def connect(args: list[str], cwd: Path, errlog: Path) -> AsyncIterator[ClientSession]:
    """An initialized client session with `python -m codemem ARGS` as the server."""
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "codemem", *args], env=child_env(), cwd=str(cwd)
    )
    with errlog.open("w", encoding="utf-8") as err:
        async with (
            stdio_client(params, errlog=err) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            yield session


def run_session(
    repo: Path, script: Callable[[ClientSession], Awaitable[Any]], args: list[str] | None = None
) -> Any:
    """Run `script(session)` against a server for `repo` (default: `codemem --repo REPO mcp`)."""

    async def main() -> Any:
        argv = args if args is not None else ["--repo", str(repo), "mcp"]
        async with connect(argv, repo.parent, repo.parent / "server-stderr.txt") as session:
            return await script(session)

    return anyio.run(main)


def text(result) -> str:
    """The text of a tool result (codemem always answers with one text item)."""
    assert len(result.content) == 1
    return result.content[0].text
