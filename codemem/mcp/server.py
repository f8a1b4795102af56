"""`codemem mcp`: codemem's memory and code index over the Model Context Protocol (stdio).

    session = McpSession(ws, config, read_only=False)
    anyio.run(serve_stdio, session)

`McpSession` is the whole behaviour, with no SDK in it: the tool registry (`build_mcp_tools`,
i.e. the agent's own tools), resources, the memory prompt and index freshness. `build_server`
wires it into the SDK's low-level `Server`, which takes the tools' JSON schemas as they are, so
names, parameters and validation are those of `codemem chat`. Calls run in worker threads, one
code call and one memory call at a time, so the event loop keeps answering and memory stays
usable while a first search indexes a large repository.

A tool that fails returns `isError` with the registry's message; a resource or prompt that
cannot be read is a JSON-RPC error (invalid params) with the CLI's message. Nothing but the
protocol is written to stdout: the SDK points fd 1 at stderr while it serves. The client's
frames are read by `frames.py`, which refuses one over `MAX_FRAME_BYTES` without holding it;
`serve_stdio` answers it with JSON-RPC's Invalid Request error, and a frame that is not JSON
(Parse error) or not JSON-RPC (Invalid Request), which the SDK drops unanswered, likewise.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar, cast

from codemem import __version__
from codemem.agent.tools import ToolContext, ToolResult
from codemem.errors import CodememError
from codemem.mcp.frames import (
    Refused,
    claimed_stdin,
    log_refused,
    malformed,
    read_frame,
    refusal,
)
from codemem.mcp.freshness import INDEX_TOOLS, IndexFreshness
from codemem.mcp.resources import (
    BLOCK_TEMPLATE,
    MEMORY_PROMPT,
    REPO_MAP_URI,
    ResourceInfo,
    ResourceText,
    list_resources,
    memory_prompt,
    read_resource,
)
from codemem.mcp.tools import WRITE_TOOLS, build_mcp_tools

if TYPE_CHECKING:  # the MCP SDK is imported when the server starts
    import anyio
    from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
    from mcp.server.context import ServerRequestContext
    from mcp.server.lowlevel import Server
    from mcp.shared.message import SessionMessage
    from mcp.types import PaginatedRequestParams, ToolAnnotations

    RequestContext = ServerRequestContext[Any]
    Paging = PaginatedRequestParams | None

    from codemem.agent.messages import ToolSpec
    from codemem.config import Config
    from codemem.workspace import Workspace

log = logging.getLogger("codemem")

T = TypeVar("T")

INSTRUCTIONS = """\
codemem keeps this repository's memory in its .codemem/ folder, shared with the team through \
git: core memory blocks (project, conventions, the developer's preferences), archival notes, \
past conversations and a code index. Read the blocks first (memory_read, or the load_memory \
prompt); find code with search_code and repo_map; look up notes with archival_search."""

PROMPT_DESCRIPTION = "Load codemem's core memory blocks as context for this conversation."
DESTRUCTIVE = frozenset({"memory_replace", "memory_rethink"})


class McpSession:
    """What one MCP connection can do in one repository, as plain synchronous calls."""

    def __init__(self, ws: Workspace, config: Config, read_only: bool = False) -> None:
        self.read_only = read_only
        self.ctx = ToolContext(ws, config)
        self.tools = build_mcp_tools(self.ctx, read_only)
        self.freshness = IndexFreshness(self.ctx)
        # One code call and one memory call at a time (the context's caches are not shared
        # between threads); memory stays usable while a first search builds the index.
        self._code_lock = threading.Lock()
        self._memory_lock = threading.Lock()
        self._running = 0  # calls in worker threads (`run`), guarded by `_counting`
        self._counting = threading.Lock()

    def run(self, fn: Callable[..., T], *args: object) -> T:
        """`fn(*args)`, counted in `busy` while it runs (the server's worker threads call it)."""
        with self._counting:
            self._running += 1
        try:
            return fn(*args)
        finally:
            with self._counting:
                self._running -= 1

    @property
    def busy(self) -> bool:
        """Whether a call is still running (in a thread the server no longer waits for)."""
        with self._counting:
            return self._running > 0

    def specs(self) -> list[ToolSpec]:
        return self.tools.specs()

    def call_tool(self, name: str, arguments: dict[str, Any] | None) -> ToolResult:
        """Run one tool call; never raises (every failure is an error result)."""
        with self._code_lock if name in INDEX_TOOLS else self._memory_lock:
            try:
                if name in INDEX_TOOLS and name in self.tools:
                    with self.freshness.refreshing():
                        return self.tools.call(name, arguments)
                return self.tools.call(name, arguments)
            except Exception as exc:  # the registry catches tool errors; this is a last resort
                log.debug("tool %s failed", name, exc_info=True)
                return ToolResult(f"{name} failed: {type(exc).__name__}: {exc}", True)

    def warm_up(self) -> None:
        """Load what the first code call needs (LanceDB, the parsers, the open index) and
        bring an existing index up to date, so the host's first search is as fast as later
        ones. `serve_stdio` runs it in a thread while the host initialises; it holds the code
        lock, so a search that arrives meanwhile waits instead of doing the same work."""
        with self._code_lock:
            started = time.perf_counter()
            try:
                self.ctx.code.warm_up()
                if not self.ctx.code.exists():
                    return  # the first search builds it: not without being asked
                with self.freshness.refreshing():
                    self.ctx.ensure_index()
                self.ctx.code.search("warm up", k=1)
            except Exception:  # a warm-up is an optimisation: the search reports real errors
                log.debug("warming up the code index failed", exc_info=True)
                return
            log.debug("warmed up the code index in %.2fs", time.perf_counter() - started)

    def list_resources(self) -> list[ResourceInfo]:
        with self._memory_lock:
            return list_resources(self.ctx)

    def read_resource(self, uri: str) -> ResourceText:
        """The resource's text; a `CodememError` when it cannot be read."""
        if uri == REPO_MAP_URI:
            with self._code_lock, self.freshness.refreshing():
                return read_resource(self.ctx, uri)
        with self._memory_lock:
            return read_resource(self.ctx, uri)

    def prompt(self, name: str) -> str:
        """The text of a prompt; `CodememError` for an unknown name."""
        if name != MEMORY_PROMPT:
            raise CodememError(f"unknown prompt '{name}': the prompts are {MEMORY_PROMPT}")
        with self._memory_lock:
            return memory_prompt(self.ctx, self.read_only)


def _annotations(name: str) -> ToolAnnotations:
    from mcp import types

    if name not in WRITE_TOOLS:
        return types.ToolAnnotations(read_only_hint=True, open_world_hint=False)
    return types.ToolAnnotations(
        read_only_hint=False, destructive_hint=name in DESTRUCTIVE, open_world_hint=False
    )


def build_server(session: McpSession) -> Server:
    """The SDK server whose handlers call `session` in a worker thread."""
    import anyio
    from mcp import types
    from mcp.server.lowlevel import Server
    from mcp.shared.exceptions import MCPError

    async def in_thread(fn: Callable[..., T], *args: object) -> T:
        # Abandoned, not awaited, when the client leaves: a search building the index of a
        # large repository would keep the server for minutes (`serve_stdio` then exits).
        call = functools.partial(session.run, fn, *args)
        return await anyio.to_thread.run_sync(call, abandon_on_cancel=True)

    def invalid(exc: CodememError, **data: Any) -> MCPError:
        return MCPError(code=types.INVALID_PARAMS, message=str(exc), data=data or None)

    async def list_tools(ctx: RequestContext, params: Paging) -> types.ListToolsResult:
        return types.ListToolsResult(
            tools=[
                types.Tool(
                    name=spec.name,
                    description=spec.description,
                    input_schema=spec.parameters,
                    annotations=_annotations(spec.name),
                )
                for spec in session.specs()
            ]
        )

    async def call_tool(
        ctx: RequestContext, params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        result = await in_thread(session.call_tool, params.name, params.arguments)
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=result.content)], is_error=result.is_error
        )

    async def list_resources_(ctx: RequestContext, params: Paging) -> types.ListResourcesResult:
        found = await in_thread(session.list_resources)
        return types.ListResourcesResult(
            resources=[
                types.Resource(
                    uri=r.uri, name=r.name, description=r.description, mime_type=r.mime_type
                )
                for r in found
            ]
        )

    async def list_templates(
        ctx: RequestContext, params: Paging
    ) -> types.ListResourceTemplatesResult:
        template = types.ResourceTemplate(
            uri_template=BLOCK_TEMPLATE,
            name="memory block",
            description="A core memory block by its label, e.g. project or users/alice.",
            mime_type="text/markdown",
        )
        return types.ListResourceTemplatesResult(resource_templates=[template])

    async def read_resource_(
        ctx: RequestContext, params: types.ReadResourceRequestParams
    ) -> types.ReadResourceResult:
        try:
            found = await in_thread(session.read_resource, params.uri)
        except CodememError as exc:
            raise invalid(exc, uri=params.uri) from None
        return types.ReadResourceResult(
            contents=[
                types.TextResourceContents(
                    uri=found.uri, text=found.text, mime_type=found.mime_type
                )
            ]
        )

    async def list_prompts(ctx: RequestContext, params: Paging) -> types.ListPromptsResult:
        return types.ListPromptsResult(
            prompts=[types.Prompt(name=MEMORY_PROMPT, description=PROMPT_DESCRIPTION, arguments=[])]
        )

    async def get_prompt(
        ctx: RequestContext, params: types.GetPromptRequestParams
    ) -> types.GetPromptResult:
        try:
            text = await in_thread(session.prompt, params.name)
        except CodememError as exc:
            raise invalid(exc, name=params.name) from None
        message = types.PromptMessage(
            role="user", content=types.TextContent(type="text", text=text)
        )
        return types.GetPromptResult(description=PROMPT_DESCRIPTION, messages=[message])

    return Server(
        "codemem",
        version=__version__,
        instructions=INSTRUCTIONS,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_list_resources=list_resources_,
        on_list_resource_templates=list_templates,
        on_read_resource=read_resource_,
        on_list_prompts=list_prompts,
        on_get_prompt=get_prompt,
    )


# How long a server whose client has left waits for its warm-up thread. A process that ends
# while that thread is inside native code (LanceDB loading) can crash as Python finalises.
WARM_UP_GRACE_SECONDS = 10.0


async def serve_stdio(session: McpSession) -> bool:
    """Serve `session` on stdin/stdout until the client closes the connection.

    Returns False if a call the client left behind is still running, or the warm-up after
    `WARM_UP_GRACE_SECONDS`: the caller should then leave without finalising the interpreter
    (an index build stops as a killed one does: what it committed stays, the rest is redone).
    """
    import anyio
    from mcp.server.stdio import stdio_server

    server = build_server(session)
    warm_up = threading.Thread(target=session.warm_up, name="codemem-warm-up", daemon=True)
    warm_up.start()
    answers_in, answers_out = anyio.create_memory_object_stream[dict[str, object]](16)
    sent = anyio.Event()
    with claimed_stdin() as source:
        frames = cast("anyio.AsyncFile[str]", ClientFrames(source, answers_in, sent))
        async with (
            stdio_server(stdin=frames) as (read_stream, write_stream),
            anyio.create_task_group() as answering,
        ):
            answering.start_soon(_send_answers, answers_out, write_stream.send, sent)
            await server.run(read_stream, write_stream, server.create_initialization_options())
            answering.cancel_scope.cancel()
    if session.busy:  # a call the client left behind: nobody waits for its answer
        return False
    warm_up.join(WARM_UP_GRACE_SECONDS)
    return not warm_up.is_alive()


ANSWERS_GRACE_SECONDS = 5.0  # at the end of input, for the answers to bad frames to be sent


class ClientFrames:
    """The client's frames as the SDK's stdio transport reads lines (`async for line in
    stdin`), each at most `MAX_FRAME_BYTES` and each one the SDK can take: the answer to one
    it would drop unanswered (over the limit, not JSON, not JSON-RPC) is handed to `answers`
    (`frames.refusal`, `frames.malformed`), and the next frame read. The end of input is
    told only once every such answer is `sent`: the server stops at it, and an answer still
    waiting to be sent was lost (a client that closes once its last request is answered
    never got the answers to the bad frames before it)."""

    def __init__(
        self,
        source: BinaryIO,
        answers: MemoryObjectSendStream[dict[str, object]],
        sent: anyio.Event,
    ) -> None:
        self.source = source
        self.answers = answers
        self.sent = sent

    def __aiter__(self) -> ClientFrames:
        return self

    async def __anext__(self) -> str:
        import anyio

        while True:
            frame = await anyio.to_thread.run_sync(_next_frame, self.source, abandon_on_cancel=True)
            if frame is None:
                await self.answers.aclose()
                with anyio.move_on_after(ANSWERS_GRACE_SECONDS):  # a client that reads no more
                    await self.sent.wait()
                raise StopAsyncIteration
            if isinstance(frame, str):
                return frame
            await self.answers.send(frame)


def _next_frame(source: BinaryIO) -> str | dict[str, object] | None:
    """The next frame the SDK can take, as its reader decodes it; or the error answering one
    it cannot; None at the end of input. Blank lines are skipped."""
    from mcp_types import jsonrpc_message_adapter
    from pydantic import ValidationError

    while True:
        frame = read_frame(source)
        if frame is None:
            return None
        if isinstance(frame, Refused):
            log_refused(frame)
            return refusal(frame)
        if not frame.strip():
            continue
        text = frame.decode("utf-8", "replace")
        try:  # as the SDK's reader does; it drops a frame that fails, answering nothing
            jsonrpc_message_adapter.validate_json(text, by_name=False)
        except ValidationError as exc:
            unparsed = [e["msg"] for e in exc.errors() if e["type"] == "json_invalid"]
            log.warning("answered an MCP frame that is not %s", "JSON" if unparsed else "JSON-RPC")
            return malformed(text, parse_error=unparsed[0] if unparsed else None)
        return text


async def _send_answers(
    answers: MemoryObjectReceiveStream[dict[str, object]],
    send: Callable[[SessionMessage], Awaitable[None]],
    sent: anyio.Event,
) -> None:
    """Send each error the frames' reader made (`ClientFrames`); `sent` once the reader has
    closed `answers` at the end of input and each is sent."""
    from mcp.shared.message import SessionMessage
    from mcp_types import jsonrpc_message_adapter

    async for answer in answers:
        await send(SessionMessage(jsonrpc_message_adapter.validate_python(answer)))
    sent.set()
