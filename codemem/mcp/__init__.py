"""codemem as an MCP server: other agents (Claude Code, Cursor, Codex, Zed) get its memory.

- `tools`: the agent's memory and code tools, plus `memory_read` and `remember`;
- `resources`: memory blocks, the repo map and the latest digest as resources; the prompt;
- `freshness`: every code query has its tool refresh the index first (incrementally), logged;
- `server`: `McpSession` (the behaviour) and the SDK wiring (`build_server`, `serve_stdio`).

Importing this package imports neither the MCP SDK nor LanceDB.
"""
