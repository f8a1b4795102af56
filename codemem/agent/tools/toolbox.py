"""What the tools share (`ToolContext`) and the one place the tool set is put together.

    ctx = ToolContext(ws, config, permissions=PermissionPolicy(prompter=my_prompter))
    tools = build_tools(ctx, read_only=False)
    result = tools.call("read_file", {"path": "shop/cart.py"})

The agent loop, `codemem ask`/`run`/`chat` and the MCP server all call `build_tools`, so they
offer exactly the same functions, validation and messages.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from codemem.agent.tools.code_tools import CODE_READ_TOOLS
from codemem.agent.tools.file_tools import FILE_READ_TOOLS, FILE_WRITE_TOOLS
from codemem.agent.tools.memory_tools import MEMORY_READ_TOOLS, MEMORY_WRITE_TOOLS
from codemem.agent.tools.permissions import PermissionPolicy
from codemem.agent.tools.registry import Tool, ToolError, ToolFunction, ToolRegistry
from codemem.agent.tools.shell import run_command
from codemem.code import CodeIndex
from codemem.config import AgentConfig, Config
from codemem.errors import CodememError, LockTimeout
from codemem.workspace import Workspace

if TYPE_CHECKING:
    from codemem.code import IndexSummary
    from codemem.memory import Archive, MemoryStore, Recall

log = logging.getLogger("codemem")

# The order the model sees them in: find, read, remember, change.
# How long a code tool waits for another process writing an existing index (`codemem index
# --full`, a checkout's run of `codemem watch`) before answering from it as last committed.
INDEX_WAIT = 5.0

TOOL_ORDER = [
    "search_code",
    "repo_map",
    "read_file",
    "list_files",
    "grep",
    "git_diff",
    "git_log",
    "archival_search",
    "conversation_search",
    "memory_append",
    "memory_replace",
    "memory_insert",
    "memory_rethink",
    "memory_create",
    "archival_insert",
    "edit_file",
    "write_file",
    "run_command",
]


@dataclass(init=False)
class ToolContext:
    """The workspace, settings, stores and permission policy the tools run against.

    `settings` and `permissions` default to the ones `config` describes.
    """

    ws: Workspace
    config: Config
    permissions: PermissionPolicy
    settings: AgentConfig
    session_id: str | None
    recall_store: Recall | None  # the agent's own connection, if it has one
    index_stale: bool  # files changed since the index was last refreshed
    refreshed: IndexSummary | None  # what `ensure_index`'s latest refresh did
    changed_files: set[str]
    memory_version: int  # bumped when archival memory changes (the context re-counts)

    def __init__(
        self,
        ws: Workspace,
        config: Config | None = None,
        permissions: PermissionPolicy | None = None,
        settings: AgentConfig | None = None,
        *,
        session_id: str | None = None,
        recall_store: Recall | None = None,
    ) -> None:
        self.ws = ws
        self.config = Config() if config is None else config
        self.permissions = (
            PermissionPolicy(self.config.permissions) if permissions is None else permissions
        )
        self.settings = self.config.agent if settings is None else settings
        self.session_id = session_id
        self.recall_store = recall_store
        self.index_stale = False
        self.refreshed = None
        self.changed_files = set()
        self.memory_version = 0

    @property
    def max_chars(self) -> int:
        return self.settings.tool_output_chars

    @property
    def map_tokens(self) -> int:
        tokens = self.settings.map_tokens
        return self.config.map.tokens if tokens is None else tokens

    @cached_property
    def store(self) -> MemoryStore:
        """The memory blocks, with the active user's block created if it does not exist yet
        (the system prompt and the memory tools name it)."""
        from codemem.memory import MemoryStore

        store = MemoryStore(self.ws)
        store.ensure_user_block()
        return store

    @cached_property
    def archive(self) -> Archive:
        from codemem.memory import Archive

        return Archive(self.ws)

    @property
    def recall(self) -> Recall | None:
        """The recall database (None if nothing was ever recorded and no session is open)."""
        if self.recall_store is None and self.ws.recall_db.exists():
            from codemem.memory import Recall

            self.recall_store = Recall(self.ws)
        return self.recall_store

    @cached_property
    def code(self) -> CodeIndex:
        """The code index (its repo map stays loaded between calls)."""
        return CodeIndex(self.ws, self.config)

    def file_changed(self, rel: str | None) -> None:
        """Note that a file (None: possibly any file) changed, so the index is refreshed."""
        self.index_stale = True
        if rel:
            self.changed_files.add(rel)

    def memory_changed(self) -> None:
        self.memory_version += 1

    def ensure_index(self) -> str:
        """Build the index if there is none, and refresh it after files changed.

        Returns "" when the index is current, else a note for the tool's answer: another
        writer (`codemem index --full`, `codemem watch` after a checkout) held an existing
        index past `INDEX_WAIT`, so the answer comes from the index as that writer last
        committed it, and the next call tries again. With no index yet there is nothing to
        answer from: the build is waited for as `codemem index` waits."""
        if not self.index_stale and self.code.exists():
            return ""
        exists = self.code.exists()
        try:
            self.refreshed = self.code.refresh(lock_wait=INDEX_WAIT if exists else None)
        except LockTimeout as exc:
            if not exists:
                raise ToolError(f"the code index could not be updated: {exc}") from None
            self.index_stale = True
            return (
                f"[not refreshed: {exc}; these answers come from the index as last built, "
                "and may miss recent edits]"
            )
        except CodememError as exc:
            raise ToolError(f"the code index could not be updated: {exc}") from None
        self.index_stale = False
        return ""


def build_tools(
    ctx: ToolContext, read_only: bool = False, names: list[str] | None = None
) -> ToolRegistry:
    """The tools bound to `ctx`.

    `read_only` leaves out everything that changes files, memory or runs commands (`codemem
    ask`, review); `names` keeps only those tools (e.g. memory tools for the sleep-time agent).
    """
    entries: list[tuple[ToolFunction, str]] = [
        (fn, "read") for fn in CODE_READ_TOOLS + FILE_READ_TOOLS + MEMORY_READ_TOOLS
    ]
    entries += [(fn, "memory") for fn in MEMORY_WRITE_TOOLS]
    entries += [(fn, "write") for fn in [*FILE_WRITE_TOOLS, run_command]]
    order = {name: n for n, name in enumerate(TOOL_ORDER)}
    entries.sort(key=lambda entry: order.get(entry[0].__name__, len(order)))
    registry = ToolRegistry(context=ctx, max_chars=ctx.max_chars)
    for fn, access in entries:
        name = fn.__name__
        if names is not None and name not in names:
            registry.unavailable[name] = "it is not one of this agent's tools"
        elif read_only and access != "read":
            registry.unavailable[name] = (
                "this session is read-only (codemem ask); say what to change instead"
            )
        else:
            registry.add(Tool.from_function(fn, access))
    return registry
