"""`codemem mcp` driven by the MCP SDK's own stdio client, as Claude Code or Cursor would."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from mcp import types
from mcp.shared.exceptions import MCPError
from mcp_helpers import run_session, text

from codemem.agent.tools import ToolContext, build_tools, function_schema
from codemem.cli import cli
from codemem.config import Config, load_config
from codemem.mcp.tools import HOST_DESCRIPTIONS, memory_read, remember
from codemem.memory import Archive, MemoryStore, Recall
from codemem.workspace import Workspace
from tests.helpers import git

TOOLS = [
    "search_code",
    "repo_map",
    "memory_read",
    "archival_search",
    "conversation_search",
    "memory_append",
    "memory_replace",
    "memory_rethink",
    "archival_insert",
    "remember",
]
READ_TOOLS = ["search_code", "repo_map", "memory_read", "archival_search", "conversation_search"]
PROJECT_HEADER = (
    "---\n"
    "description: What this project is, its architecture, and how to build, test and run it.\n"
    "limit: 8000\n"
    "read_only: false\n"
    "---\n"
)


def cli_error(repo, *args: str) -> str:
    """The message `codemem ARGS` prints for a refused command (without `codemem: error: `)."""
    result = CliRunner().invoke(cli, ["--repo", str(repo), *args])
    assert result.exit_code != 0
    assert result.stderr.startswith("codemem: error: ")
    return result.stderr[len("codemem: error: ") :].rstrip("\n")


def test_lists_the_agents_tools_with_their_schemas_resources_and_the_prompt(repo):
    async def script(session):
        return (
            await session.list_tools(),
            await session.list_resources(),
            await session.list_resource_templates(),
            await session.list_prompts(),
        )

    tools, resources, templates, prompts = run_session(repo, script)
    assert [tool.name for tool in tools.tools] == TOOLS
    # The same names and JSON schemas as the built-in agent's tools; the same descriptions
    # but where the built-in agent's would be untrue in another host.
    agent = {
        spec.name: spec for spec in build_tools(ToolContext(Workspace(repo), Config())).specs()
    }
    agent["memory_read"] = function_schema(memory_read).spec()
    agent["remember"] = function_schema(remember).spec()
    for tool in tools.tools:
        description = HOST_DESCRIPTIONS.get(tool.name, agent[tool.name].description)
        assert (tool.description, tool.input_schema) == (
            description,
            agent[tool.name].parameters,
        )
        assert "always in your context" not in tool.description
        assert tool.annotations.read_only_hint is (tool.name in READ_TOOLS)
    assert [(r.uri, r.name, r.mime_type) for r in resources.resources] == [
        ("codemem://blocks/conventions", "block conventions", "text/markdown"),
        ("codemem://blocks/project", "block project", "text/markdown"),
        ("codemem://blocks/users/dev-example-com", "block users/dev-example-com", "text/markdown"),
        ("codemem://repo-map", "repo map", "text/plain"),
    ]
    assert resources.resources[1].description == (
        "What this project is, its architecture, and how to build, test and run it. "
        "(0 / 8,000 characters)"
    )
    assert [t.uri_template for t in templates.resource_templates] == ["codemem://blocks/{label}"]
    assert [(p.name, p.arguments) for p in prompts.prompts] == [("load_memory", [])]


def test_search_finds_the_fixture_and_sees_a_file_saved_since(repo):
    ws = Workspace(repo)
    agent = build_tools(ToolContext(ws, load_config(ws.config_file)))
    query = {"query": "Inventory.reserve", "k": 2, "level": "symbol"}
    in_chat = agent.call("search_code", query)  # builds the index the server then shares

    async def script(session):
        first = await session.call_tool("search_code", query)
        (repo / "shop" / "coupons.py").write_text(
            "def apply_coupon_code(total: float, code: str) -> float:\n"
            '    """Take 10% off for the code SAVE10."""\n'
            '    return total * 0.9 if code == "SAVE10" else total\n',
            encoding="utf-8",
        )
        second = await session.call_tool(
            "search_code", {"query": "apply_coupon_code", "k": 1, "level": "file"}
        )
        (repo / "shop" / "coupons.py").write_text(
            "def redeem_gift_card(total: float) -> float:\n    return 0.0\n", encoding="utf-8"
        )
        third = await session.call_tool(
            "search_code",
            {"query": "redeem_gift_card", "k": 1, "level": "symbol", "detail": True},
        )
        return first, second, third

    first, second, third = run_session(repo, script)
    assert (text(first), first.is_error) == (in_chat.content, False)
    assert text(first).startswith("1. shop/inventory.py:")
    assert text(second).startswith("1. shop/coupons.py:1-3 file (score ")
    assert text(third).startswith("1. shop/coupons.py:1-2 function redeem_gift_card (score ")
    assert text(third).endswith(
        "\n   1\tdef redeem_gift_card(total: float) -> float:\n   2\t    return 0.0"
    )


def test_block_edits_write_the_same_files_as_the_cli(repo):
    path = repo / ".codemem" / "blocks" / "project.md"

    async def script(session):
        files = []
        for name, arguments in [
            ("memory_append", {"label": "project", "content": "Build: make."}),
            ("memory_append", {"label": "project", "content": "Test: pytest -q."}),
            (
                "memory_replace",
                {"label": "project", "old_string": "make", "new_string": "uv build"},
            ),
            ("remember", {"text": "Docs: docs/payments.md.", "block": "project"}),
            ("memory_rethink", {"label": "project", "new_value": "# Shop\n\nA cart and payments."}),
        ]:
            result = await session.call_tool(name, arguments)
            files.append((text(result), result.is_error, path.read_text(encoding="utf-8")))
        read = await session.call_tool("memory_read", {"label": "project"})
        resource = await session.read_resource("codemem://blocks/project")
        everything = await session.call_tool("memory_read", {})
        prompt = await session.get_prompt("load_memory")
        return files, text(read), resource, text(everything), prompt

    files, read, resource, everything, prompt = run_session(repo, script)
    assert files == [
        (
            "Appended to project: now 12 / 8,000 characters.",
            False,
            PROJECT_HEADER + "Build: make.\n",
        ),
        (
            "Appended to project: now 29 / 8,000 characters.",
            False,
            PROJECT_HEADER + "Build: make.\nTest: pytest -q.\n",
        ),
        (
            "Updated project: now 33 / 8,000 characters.",
            False,
            PROJECT_HEADER + "Build: uv build.\nTest: pytest -q.\n",
        ),
        (
            "Added to project: 57 / 8,000 characters.",
            False,
            PROJECT_HEADER + "Build: uv build.\nTest: pytest -q.\nDocs: docs/payments.md.\n",
        ),
        (
            "Rewrote project: now 28 / 8,000 characters.",
            False,
            PROJECT_HEADER + "# Shop\n\nA cart and payments.\n",
        ),
    ]
    assert read == (
        '<memory_blocks>\n<block label="project" chars="28 / 8,000">\n'
        "<description>What this project is, its architecture, and how to build, test and run "
        "it.</description>\n<value>\n# Shop\n\nA cart and payments.\n</value>\n</block>\n"
        "</memory_blocks>"
    )
    assert [(c.uri, c.mime_type, c.text) for c in resource.contents] == [
        ("codemem://blocks/project", "text/markdown", "# Shop\n\nA cart and payments.")
    ]
    rendered = MemoryStore(Workspace(repo)).render_blocks()
    assert everything == rendered
    [message] = prompt.messages
    assert message.role == "user"
    assert message.content.text.startswith(
        "Here is codemem's memory of the repository `repo0`: the core memory blocks, kept in "
        ".codemem/blocks/ and shared with the team through git."
    )
    assert message.content.text.endswith("\n\n" + rendered)


def test_notes_and_conversations(repo):
    ws = Workspace(repo)
    with Recall(ws) as recall:
        session_id = recall.start_session("openai/gpt-5", "Refunds")
        recall.add_message(session_id, "user", "Why do refunds fail for gift cards?")

    async def script(session):
        calls = [
            (
                "archival_insert",
                {"content": "Refunds go through shop/payments.py.", "tags": ["Payments"]},
            ),
            ("remember", {"text": "Prices are in cents in web/static/format.js.", "tags": ["web"]}),
            ("archival_search", {"query": "refunds payments"}),
            ("conversation_search", {"query": "gift cards"}),
        ]
        return [await session.call_tool(name, arguments) for name, arguments in calls]

    inserted, remembered, found, talk = run_session(repo, script)
    notes = {note.content: note for note in Archive(ws).notes()}
    refunds = notes["Refunds go through shop/payments.py."]
    prices = notes["Prices are in cents in web/static/format.js."]
    assert (refunds.tags, prices.tags) == (["payments"], ["web"])
    assert (text(inserted), inserted.is_error) == (f"Saved archival note {refunds.id}.", False)
    assert (text(remembered), remembered.is_error) == (f"Saved note {prices.id}.", False)
    assert text(found) == (
        f"## note {refunds.id} ({refunds.created.date().isoformat()}) [payments]\n"
        "Refunds go through shop/payments.py."
    )
    assert text(talk).startswith(f"- session {session_id} (Refunds) #1 user, ")
    assert text(talk).endswith(": Why do refunds fail for gift cards?")


def test_bad_calls_are_tool_errors_with_the_cli_messages(repo):
    unknown = cli_error(repo, "remember", "--block", "nope", "x")
    over = cli_error(repo, "memory", "set", "project", "--value", "x" * 8001)
    assert unknown == (
        "unknown block 'nope': the blocks are conventions, project, users/dev-example-com; create it first "
        "to use a new label"
    )
    calls = [
        ("memory_append", {"label": "nope", "content": "x"}, f"memory_append: {unknown}"),
        ("remember", {"text": "x", "block": "nope"}, f"remember: {unknown}"),
        (
            "memory_rethink",
            {"label": "project", "new_value": "x" * 8001},
            f"memory_rethink: {over}",
        ),
        (
            "memory_replace",
            {"label": "project", "old_string": "absent", "new_string": "y"},
            "memory_replace: old text occurs 0 times in project; it must occur exactly once: copy it "
            "exactly from the block, including spaces and line breaks",
        ),
        (
            "memory_read",
            {"label": "Bad Label"},
            "memory_read: invalid label 'Bad Label': use lower-case words, digits, '-', '_' and '/', "
            "like 'project' or 'users/alice'",
        ),
        (
            "memory_append",
            {"label": "project"},
            "invalid arguments for memory_append: missing required argument 'content'; the signature "
            "is memory_append(label, content)",
        ),
        (
            "search_code",
            {"query": "cart", "k": "many"},
            "invalid arguments for search_code: k: Input should be a valid integer, unable to parse "
            "string as an integer; the signature is search_code(query, k=10, level='chunk', detail=False)",
        ),
        (
            "search_code",
            {"query": "cart", "level": "line"},
            "invalid arguments for search_code: level: Input should be 'chunk', 'symbol' or 'file'; "
            "the signature is search_code(query, k=10, level='chunk', detail=False)",
        ),
        (
            "memory_read",
            {"labels": "project"},
            "invalid arguments for memory_read: unknown argument 'labels'; the signature is "
            "memory_read(label=None)",
        ),
        ("search_code", {"query": "  "}, "search_code: the query is empty: say what to look for"),
        ("repo_map", {"tokens": 10}, "repo_map: tokens must be between 64 and 8192, not 10"),
        ("archival_search", {"query": "x", "k": 0}, "archival_search: k must be at least 1, not 0"),
        (
            "remember",
            {"text": "x", "block": "project", "tags": ["a"]},
            "remember: tags apply to archival notes, not to blocks: leave them out",
        ),
        (
            "read_file",
            {"path": "shop/cart.py"},
            "unknown tool 'read_file': the tools are " + ", ".join(TOOLS),
        ),
    ]

    async def script(session):
        results = [await session.call_tool(name, arguments) for name, arguments, _ in calls]
        alive = await session.call_tool("memory_read", {"label": "users/dev-example-com"})
        return results, alive

    results, alive = run_session(repo, script)
    assert [(text(r), r.is_error) for r in results] == [(message, True) for _, _, message in calls]
    assert not alive.is_error  # the server is still serving
    assert MemoryStore(Workspace(repo)).get("project").value == ""


def test_resource_and_prompt_errors_are_invalid_params(repo):
    async def script(session):
        errors = []
        for read in (
            lambda: session.read_resource("codemem://blocks/nope"),
            lambda: session.read_resource("codemem://digests/latest"),
            lambda: session.read_resource("codemem://nothing"),
            lambda: session.get_prompt("nope"),
        ):
            with pytest.raises(MCPError) as caught:
                await read()
            errors.append((caught.value.code, caught.value.message))
        return errors

    assert run_session(repo, script) == [
        (
            types.INVALID_PARAMS,
            "unknown block 'nope': the blocks are conventions, project, users/dev-example-com; "
            "create it first to use a new label",
        ),
        (types.INVALID_PARAMS, "no digest yet: `codemem digest` (or `codemem watch`) writes one"),
        (
            types.INVALID_PARAMS,
            "unknown resource 'codemem://nothing': the resources are "
            "codemem://blocks/{label}, codemem://repo-map and codemem://digests/latest",
        ),
        (types.INVALID_PARAMS, "unknown prompt 'nope': the prompts are load_memory"),
    ]


def test_repo_map_and_latest_digest_resources(repo):
    (repo / "shop" / "coupons.py").write_text("def apply_coupon_code(total):\n    return total\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "Add coupons")
    result = CliRunner().invoke(cli, ["--repo", str(repo), "digest"])
    assert result.exit_code == 0, result.output
    [digest] = sorted((repo / ".codemem" / "digests").glob("*.md"))

    async def script(session):
        listed = await session.list_resources()
        return (
            [r.uri for r in listed.resources],
            await session.read_resource("codemem://repo-map"),
            await session.read_resource("codemem://digests/latest"),
            await session.call_tool("repo_map", {}),
        )

    uris, repo_map, latest, tool_map = run_session(repo, script)
    assert uris[-2:] == ["codemem://repo-map", "codemem://digests/latest"]
    assert [(c.mime_type, c.text) for c in latest.contents] == [
        ("text/markdown", digest.read_text(encoding="utf-8"))
    ]
    assert repo_map.contents[0].text == text(tool_map)
    assert "shop/inventory.py:\n" in text(tool_map)


def test_read_only_offers_no_writing_tool(repo):
    before = (repo / ".codemem" / "blocks" / "project.md").read_text(encoding="utf-8")

    async def script(session):
        return (
            await session.list_tools(),
            await session.call_tool("memory_append", {"label": "project", "content": "x"}),
            await session.call_tool("remember", {"text": "x"}),
            await session.get_prompt("load_memory"),
        )

    # `--repo` and `--read-only` after the subcommand, started outside the repository.
    tools, append, note, prompt = run_session(
        repo, script, args=["mcp", "--repo", str(repo), "--read-only"]
    )
    assert [tool.name for tool in tools.tools] == READ_TOOLS
    reason = "the codemem MCP server was started with --read-only, so it does not change memory"
    assert (text(append), append.is_error) == (
        f"memory_append is not available here: {reason}",
        True,
    )
    assert (text(note), note.is_error) == (f"remember is not available here: {reason}", True)
    assert "This connection is read-only" in prompt.messages[0].content.text
    assert (repo / ".codemem" / "blocks" / "project.md").read_text(encoding="utf-8") == before
    assert not (repo / ".codemem" / "archive").exists() or not any(
        (repo / ".codemem" / "archive").iterdir()
    )


def test_links_out_of_the_repository_are_never_served(repo, tmp_path):
    secret = tmp_path / "passwd"
    secret.write_text("root:x:0:0:SECRET refunds\n", encoding="utf-8")
    (repo / ".codemem" / "blocks" / "x.md").symlink_to(secret)
    (repo / ".codemem" / "archive").mkdir(exist_ok=True)
    (repo / ".codemem" / "archive" / "evil.md").symlink_to(secret)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "a hostile link")
    unknown = (
        "unknown block 'x': the blocks are conventions, project, users/dev-example-com; create it first to "
        "use a new label"
    )

    async def script(session):
        read = await session.call_tool("memory_read", {"label": "x"})
        with pytest.raises(MCPError) as caught:
            await session.read_resource("codemem://blocks/x")
        listed = await session.list_resources()
        prompt = await session.get_prompt("load_memory")
        found = await session.call_tool("archival_search", {"query": "refunds"})
        return read, caught.value.message, [r.uri for r in listed.resources], prompt, found

    read, resource_error, uris, prompt, found = run_session(repo, script)
    assert (text(read), read.is_error) == (f"memory_read: {unknown}", True)
    assert resource_error == unknown
    assert "codemem://blocks/x" not in uris
    assert "SECRET" not in prompt.messages[0].content.text
    assert "SECRET" not in text(found)
    stderr = (repo.parent / "server-stderr.txt").read_text(encoding="utf-8")
    assert stderr.count("skipped .codemem/blocks/x.md: it leads outside the repository") == 1
    assert stderr.count("skipped .codemem/archive/evil.md: it leads outside the repository") == 1
