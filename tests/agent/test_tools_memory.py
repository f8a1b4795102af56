"""Memory tools: block edits and their refusals, archival notes, conversation search."""

from __future__ import annotations

import pytest
from agent_helpers import block_value

from codemem.mcp.tools import build_mcp_tools
from codemem.memory import Recall
from tests.helpers import AWS_KEY, SECRET_REFUSAL


def call(tools, name, **arguments):
    result = tools.call(name, arguments)
    return result.content, result.is_error


def test_block_edits(ws, tools):
    assert call(tools, "memory_append", label="project", content="Build: make.") == (
        "Appended to project: now 12 / 8,000 characters.",
        False,
    )
    assert call(tools, "memory_append", label="project", content="Test: pytest -q.") == (
        "Appended to project: now 29 / 8,000 characters.",
        False,
    )
    assert call(
        tools, "memory_replace", label="project", old_string="make", new_string="uv build"
    ) == ("Updated project: now 33 / 8,000 characters.", False)
    assert call(tools, "memory_insert", label="project", text="# Shop", line=0) == (
        "Inserted into project: now 40 / 8,000 characters.",
        False,
    )
    assert block_value(ws, "project") == "# Shop\nBuild: uv build.\nTest: pytest -q."
    assert call(tools, "memory_rethink", label="project", new_value="Shop: a cart.") == (
        "Rewrote project: now 13 / 8,000 characters.",
        False,
    )
    assert call(
        tools, "memory_create", label="api", description="HTTP API notes.", value="GET /health"
    ) == ("Created api: now 11 / 4,000 characters.", False)
    assert block_value(ws, "api") == "GET /health"


def test_block_edit_refusals_go_back_to_the_model(ws, tools):
    assert call(tools, "memory_replace", label="project", old_string="absent", new_string="x") == (
        "memory_replace: old text occurs 0 times in project; it must occur exactly once: copy it "
        "exactly from the block, including spaces and line breaks",
        True,
    )
    assert call(tools, "memory_rethink", label="project", new_value="x" * 8001) == (
        "memory_rethink: project would be 8,001 / 8,000 characters: shorten it or move detail to "
        "archival memory",
        True,
    )
    assert call(tools, "memory_insert", label="project", text="x", line=5) == (
        "memory_insert: line 5 is out of range: project has 0 lines; use 0 (the start) to 0, or -1 "
        "for the end",
        True,
    )
    assert call(tools, "memory_create", label="project", description="d", value="") == (
        "memory_create: a block labelled 'project' already exists: edit it, or choose another label",
        True,
    )
    assert call(tools, "memory_create", label="Bad Label", description="d", value="")[1] is True


def test_adding_text_already_in_a_block_is_refused(ws, tools):
    refused = (
        "memory_append: project already contains this text, so nothing was added; use "
        "memory_replace to change what is there"
    )
    assert call(tools, "memory_append", label="project", content="Build: make.")[1] is False
    assert call(tools, "memory_append", label="project", content="Build: make.") == (refused, True)
    assert call(tools, "memory_append", label="project", content="  Build: make.\n") == (
        refused,
        True,
    )
    assert call(tools, "memory_insert", label="project", text="Build: make.", line=0) == (
        refused.replace("memory_append", "memory_insert"),
        True,
    )
    assert call(tools, "memory_append", label="project", content="Build")[1] is False  # a new line
    assert block_value(ws, "project") == "Build: make.\nBuild"


def test_unknown_label_message(tools):
    text, error = call(tools, "memory_append", label="nope", content="x")
    assert error
    assert text == (
        "memory_append: unknown block 'nope': the blocks are conventions, project, users/dev-example-com; "
        "create it first to use a new label"
    )


def test_archival_insert_and_search(ws, tools, ctx):
    ctx.session_id = "20250301-120000-abcd"
    text, error = call(
        tools,
        "archival_insert",
        content="Refunds go through shop/payments.py:22.",
        tags=["Payments"],
    )
    assert not error and text.startswith("Saved archival note ")
    note_id = text.removeprefix("Saved archival note ").rstrip(".")
    note = (ws.archive_dir / f"{note_id}.md").read_text()
    assert "tags: [payments]\n" in note and "source: session 20250301-120000-abcd" in note
    assert ctx.memory_version == 1
    text, _ = call(tools, "archival_search", query="refunds")
    assert text.splitlines()[0].startswith(f"## note {note_id} (")
    assert text.splitlines()[0].endswith(") [payments]")
    assert text.splitlines()[1] == "Refunds go through shop/payments.py:22."
    assert call(tools, "archival_search", query="refunds", tags=["auth"]) == (
        "No archival notes match.",
        False,
    )
    assert call(tools, "archival_insert", content="Refunds go through  shop/payments.py:22.")[
        0
    ].startswith("archival_insert: an identical note already exists: ")
    text, _ = call(tools, "archival_insert", content="Refunds go through shop/payments.py:22 too.")
    assert f"similar to {note_id}" in text


def test_a_note_holding_conflict_markers_is_flagged_to_the_model(ws, tools):
    ws.archive_dir.mkdir(exist_ok=True)
    (ws.archive_dir / "n1.md").write_text(
        "---\nid: n1\ncreated: 2026-01-01T00:00:00+00:00\ntags: []\n---\n"
        "<<<<<<< HEAD\nDeploys run on Tuesdays.\n=======\nDeploys run on Mondays.\n>>>>>>> other\n"
    )
    text, error = call(tools, "archival_search", query="deploys")
    assert not error
    assert text.splitlines()[:3] == [
        "## note n1 (2026-01-01)",
        "[this note holds git conflict markers: two teammates wrote different text in one place "
        "and both sides are shown; ask the user which holds before relying on either]",
        "<<<<<<< HEAD",
    ]
    text, error = call(tools, "archival_insert", content=text)
    assert (text, error) == (
        "archival_insert: note not saved: the text holds git conflict markers (<<<<<<<, "
        "=======, >>>>>>>): write it without them",
        True,
    )


def test_conversation_search(ws, tools):
    assert call(tools, "conversation_search", query="cart") == (
        "No conversations have been recorded yet.",
        False,
    )
    with Recall(ws) as recall:
        session = recall.start_session("scripted/x", "cart questions")
        recall.add_message(session, "user", "Why is the cart total wrong?")
        recall.add_message(session, "assistant", "Prices are floats.")
    text, error = call(tools, "conversation_search", query="cart total", roles=["user"])
    assert not error
    assert text.startswith(f"- session {session} (cart questions) #1 user, ")
    assert text.endswith(": Why is the cart total wrong?")
    assert call(tools, "conversation_search", query="cart", since="2999-01-01") == (
        "No messages match.",
        False,
    )
    assert call(tools, "conversation_search", query="cart", k=0) == (
        "conversation_search: k must be at least 1, not 0",
        True,
    )


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        ("memory_append", {"label": "project", "content": f"Deploy key: {AWS_KEY}"}),
        ("memory_replace", {"label": "project", "old_string": "A shop.", "new_string": AWS_KEY}),
        ("memory_insert", {"label": "project", "text": f"key {AWS_KEY}"}),
        ("memory_rethink", {"label": "project", "new_value": f"A shop. {AWS_KEY}"}),
        ("memory_create", {"label": "keys", "description": "Keys.", "value": AWS_KEY}),
        ("archival_insert", {"content": f"The deploy key is {AWS_KEY}."}),
    ],
)
def test_memory_tools_refuse_a_secret(ws, tools, tool, arguments):
    # A repository's text may steer the model to copy a key from .env into shared memory.
    tools.call("memory_rethink", {"label": "project", "new_value": "A shop."})
    assert call(tools, tool, **arguments) == (f"{tool}: {SECRET_REFUSAL}", True)
    assert block_value(ws, "project") == "A shop."
    assert not (ws.root / ".codemem/blocks/keys.md").exists()
    assert not ws.archive_dir.exists() or list(ws.archive_dir.iterdir()) == []


def test_the_mcp_remember_tool_refuses_a_secret(ws, ctx):
    tools = build_mcp_tools(ctx)
    for arguments in ({"text": f"key {AWS_KEY}"}, {"text": f"key {AWS_KEY}", "block": "project"}):
        assert call(tools, "remember", **arguments) == (
            f"remember: {SECRET_REFUSAL}",
            True,
        )
    assert AWS_KEY not in block_value(ws, "project")


def test_a_rethink_never_overwrites_what_a_person_saved_since_the_agent_saw_the_block(
    ws, ctx, tools
):
    call(tools, "memory_append", label="project", content="Build: make.")
    ctx.store.render_blocks()  # the step's context: the model sees "Build: make."
    path = ws.blocks_dir / "project.md"
    path.write_text(path.read_text().replace("make.", "make. Deploy: Fridays (Dana)."))
    assert call(tools, "memory_rethink", label="project", new_value="Build: uv build.") == (
        "memory_rethink: project changed since you read it: read it again and redo the edit",
        True,
    )
    assert block_value(ws, "project") == "Build: make. Deploy: Fridays (Dana)."
    ctx.store.render_blocks()  # the next step shows the block as it is now
    assert call(tools, "memory_rethink", label="project", new_value="Build: uv build.")[1] is False
    assert block_value(ws, "project") == "Build: uv build."


def test_a_block_left_out_of_the_context_is_not_rewritten_whole(ws, ctx, tools):
    # past agent.memory_chars a block is named, not shown: a rewrite of its whole value would
    # drop the lines the model never saw, so only the edits that keep them are taken
    ctx.store.create("alpha", "A package.", "alpha keeps this line.")
    ctx.store.create("beta", "A package.", "beta keeps this line. " + "x" * 3000)
    text = ctx.store.render_blocks(max_chars=2000)
    assert '<block label="alpha"' in text and '<block label="beta"' not in text
    content, is_error = call(tools, "memory_rethink", label="beta", new_value="Short.")
    assert is_error and "beta was left out of your context" in content
    assert block_value(ws, "beta").startswith("beta keeps this line.")
    assert call(tools, "memory_append", label="beta", content="More.")[1] is False
    assert call(tools, "memory_rethink", label="alpha", new_value="Short.")[1] is False
    ctx.store.render_blocks(max_chars=100_000)  # shown whole at the next step: rewritable
    assert call(tools, "memory_rethink", label="beta", new_value="Short.")[1] is False
    assert block_value(ws, "beta") == "Short."
