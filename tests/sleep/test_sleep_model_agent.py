"""The sleep-time agent (scripted): sessions into memory, only memory tools, regions kept."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from model_helpers import add_session, block_file, model_digest, note_ids, notes, tool_results
from sleep_helpers import commit, config, digest, init

from codemem.agent.providers import (
    ProviderUnavailable,
    ScriptedProvider,
    tool_call,
    tool_call_response,
)
from codemem.memory import MemoryStore
from codemem.sleep.sleep_agent import SLEEP_TOOLS, sleep_prompt
from codemem.sleep.state import read_local_state
from tests.helpers import make_repo

MARCH_9 = datetime(2025, 3, 9, 15, 30, tzinfo=timezone.utc)
USER_HEADER = (
    "---\ndescription: Preferences and working style of tester; shown only when they are the "
    "active user.\nlimit: 4000\nread_only: false\nowner: tester\n---\n"
)
RECEIPTS = [
    (
        "user",
        "Please always use pytest fixtures, not setUp. Yesterday we decided receipts stay plain text.",
    ),
    ("assistant", "Noted: fixtures from now on."),
    ("tool", "def render_receipt(cart): ..."),  # tool results are not shown to the agent
]


@pytest.fixture
def ws(tmp_path, monkeypatch):
    """An initialized shop whose commits are already digested (without a model)."""
    monkeypatch.setenv("CODEMEM_USER", "tester")
    ws = init(make_repo(tmp_path / "shop", "sleep/pyshop"))
    digest(ws, llm=False, reindex=False)
    return ws


def test_sessions_go_to_the_user_block_and_archival_notes(ws):
    session = add_session(ws, "Receipts", RECEIPTS, MARCH_9)
    provider = ScriptedProvider(
        [
            tool_call_response(tool_call("archival_search", query="receipts plain text")),
            tool_call_response(
                tool_call(
                    "memory_append",
                    label="users/tester",
                    content="- Prefers pytest fixtures to setUp methods.",
                ),
                tool_call(
                    "archival_insert",
                    content="Receipts stay plain text (decided 2025-03-08).",
                    tags=["receipts", "decision"],
                ),
            ),
            "Saved one preference and one decision.",
        ]
    )
    result = model_digest(ws, provider, reindex=False)

    assert (
        block_file(ws, "users/tester")
        == USER_HEADER + "- Prefers pytest fixtures to setUp methods.\n"
    )
    assert notes(ws) == [
        ("Receipts stay plain text (decided 2025-03-08).", ["receipts", "decision"], None)
    ]
    assert read_local_state(ws).sessions_until == "2025-03-09T15:30:00+00:00"
    assert result.sessions_pending == 0
    first = provider.calls[0]
    assert first.system[0] == sleep_prompt("shop", "users/tester", "2025-03-10")
    assert (
        first.messages[0].content
        == f"""\
Sleep-time pass of 2025-03-10.

New conversations since the last pass (oldest first):

<conversations>
## Session {session}: Receipts
[2025-03-09 15:30 UTC] user: Please always use pytest fixtures, not setUp. Yesterday we decided receipts stay plain text.
[2025-03-09 15:30 UTC] assistant: Noted: fixtures from now on.
</conversations>"""
    )
    assert tool_results(provider.calls[2]) == [
        ("Appended to users/tester: now 43 / 4,000 characters.", False),
        (f"Saved archival note {note_ids(ws)[0]}.", False),
    ]
    assert [(c.kind, c.target, c.detail) for c in result.changes] == [
        ("block", "users/tester", "sleep-time agent"),
        ("note-added", note_ids(ws)[0], "receipts, decision"),
    ]
    assert result.model.to_json() == {
        "model": "scripted/demo",
        "summaries": 0,
        "fallbacks": 0,
        "project_summary": None,
        "sessions_learned": 1,
        "calls": 3,
        "cost": 0.0,
        "agent": {
            "steps": 3,
            "answer": "Saved one preference and one decision.",
            "stopped": None,
            "processed": True,
            "tool_calls": [
                {"name": "archival_search", "error": False},
                {"name": "memory_append", "error": False},
                {"name": "archival_insert", "error": False},
            ],
        },
    }


def test_the_agent_is_offered_only_the_memory_tools_and_others_are_refused(ws):
    add_session(ws, "Receipts", RECEIPTS, MARCH_9)
    provider = ScriptedProvider(
        [
            tool_call_response(
                tool_call("write_file", path="evil.py", content="print('hi')\n"),
                tool_call("run_command", command="rm -rf shop"),
                tool_call("read_file", path="shop/cart.py"),
                tool_call("no_such_tool"),
            ),
            "Nothing to change.",
        ]
    )
    model_digest(ws, provider, reindex=False)

    assert [tool.name for tool in provider.calls[0].tools] == [
        "archival_search",
        "conversation_search",
        "memory_append",
        "memory_replace",
        "memory_insert",
        "memory_rethink",
        "memory_create",
        "archival_insert",
    ]
    assert sorted(SLEEP_TOOLS) == sorted(tool.name for tool in provider.calls[0].tools)
    names = ", ".join(tool.name for tool in provider.calls[0].tools)
    assert tool_results(provider.calls[1]) == [
        ("write_file is not available here: it is not one of this agent's tools", True),
        ("run_command is not available here: it is not one of this agent's tools", True),
        ("read_file is not available here: it is not one of this agent's tools", True),
        (f"unknown tool 'no_such_tool': the tools are {names}", True),
    ]
    assert not (ws.root / "evil.py").exists()
    assert (ws.root / "shop" / "cart.py").exists()


def test_block_edits_are_exactly_as_scripted_and_regions_are_refused(ws):
    store = MemoryStore(ws)
    store.create(
        "decisions", "Decisions and why.", "Use Decimal for money.\nNo PDFs.\nKeep it small."
    )
    conventions = block_file(ws, "conventions")
    project = store.get("project").value
    add_session(
        ws, "Money", [("user", "We switched money to integer cents on 2025-03-09.")], MARCH_9
    )
    provider = ScriptedProvider(
        [
            tool_call_response(
                tool_call(
                    "memory_replace",
                    label="decisions",
                    old_string="Use Decimal for money.",
                    new_string="Money is integer cents (since 2025-03-09).",
                ),
                tool_call("memory_insert", label="decisions", text="# Decisions", line=0),
                tool_call("memory_rethink", label="conventions", new_value="All gone."),
                tool_call(
                    "memory_replace",
                    label="project",
                    old_string="## Project overview",
                    new_string="## Overview",
                ),
                tool_call(
                    "memory_append", label="project", content="Money is kept in integer cents."
                ),
                tool_call(
                    "memory_create",
                    label="money",
                    description="Money handling.",
                    value="<!-- codemem:money:start -->\nx\n<!-- codemem:money:end -->",
                ),
            ),
            "Recorded the switch to integer cents.",
        ]
    )
    result = model_digest(ws, provider, reindex=False)

    refused = (
        "{tool}: {label}: that edit changes a region codemem maintains (between <!-- codemem:NAME:start "
        "--> and <!-- codemem:NAME:end -->); keep the markers and the text between them exactly "
        "as they are and edit around them"
    )
    assert tool_results(provider.calls[1]) == [
        ("Updated decisions: now 66 / 4,000 characters.", False),
        ("Inserted into decisions: now 78 / 4,000 characters.", False),
        (refused.format(tool="memory_rethink", label="conventions"), True),
        (refused.format(tool="memory_replace", label="project"), True),
        (f"Appended to project: now {len(project) + 32:,} / 8,000 characters.", False),
        ("memory_create: money: a new block cannot contain codemem's region markers", True),
    ]
    assert block_file(ws, "decisions") == (
        "---\ndescription: Decisions and why.\nlimit: 4000\nread_only: false\n---\n"
        "# Decisions\nMoney is integer cents (since 2025-03-09).\nNo PDFs.\nKeep it small.\n"
    )
    assert block_file(ws, "conventions") == conventions
    assert MemoryStore(ws).get("project").value == project + "\nMoney is kept in integer cents."
    assert not (ws.blocks_dir / "money.md").exists()
    assert [(c.kind, c.target) for c in result.changes] == [
        ("block", "decisions"),
        ("block", "project"),
    ]


def test_a_second_pass_with_nothing_new_makes_no_model_call(ws):
    add_session(ws, "Receipts", RECEIPTS, MARCH_9)
    model_digest(ws, ScriptedProvider(["Nothing to change."]), reindex=False)
    before = {
        p: p.read_bytes() for p in ws.dir.rglob("*") if p.is_file() and "local" not in p.parts
    }

    provider = ScriptedProvider([])
    result = model_digest(ws, provider, reindex=False)

    assert provider.calls == []
    assert result.changes == [] and result.warnings == []
    assert {
        p: p.read_bytes() for p in ws.dir.rglob("*") if p.is_file() and "local" not in p.parts
    } == before


def test_only_new_messages_of_a_continued_session_are_shown(ws):
    session = add_session(ws, "Receipts", RECEIPTS, MARCH_9)
    model_digest(ws, ScriptedProvider(["Nothing to change."]), reindex=False)
    from codemem.memory import Recall

    later = datetime(2025, 3, 10, 9, 0, tzinfo=timezone.utc)
    with Recall(ws, clock=lambda: later) as recall:
        recall.add_message(session, "user", "Also: answers in British English, please.")
    provider = ScriptedProvider(["Nothing to change."])
    model_digest(ws, provider, reindex=False)

    assert provider.calls[0].messages[0].content.split("<conversations>\n")[1] == (
        f"## Session {session}: Receipts\n"
        "[2025-03-10 09:00 UTC] user: Also: answers in British English, please.\n</conversations>"
    )
    assert read_local_state(ws).sessions_until == "2025-03-10T09:00:00+00:00"


def test_a_provider_error_leaves_the_sessions_for_the_next_pass(ws):
    add_session(ws, "Receipts", RECEIPTS, MARCH_9)
    provider = ScriptedProvider([ProviderUnavailable("scripted: overloaded (529)")])
    result = model_digest(ws, provider, reindex=False)

    assert result.warnings == [
        "sleep-time agent (sessions left for the next pass): the model failed (scripted: overloaded (529))"
    ]
    assert read_local_state(ws).sessions_until is None
    assert result.sessions_pending == 1
    assert result.model.agent.processed is False

    again = ScriptedProvider(["Nothing to change."])
    model_digest(ws, again, reindex=False)
    assert len(again.calls) == 1
    assert read_local_state(ws).sessions_until == "2025-03-09T15:30:00+00:00"


def test_the_step_limit_stops_the_agent_with_a_warning(ws):
    add_session(ws, "Receipts", RECEIPTS, MARCH_9)
    search = tool_call_response(tool_call("archival_search", query="receipts"))
    provider = ScriptedProvider([search] * 5)
    result = model_digest(ws, provider, config(agent_max_steps=2), reindex=False)

    assert len(provider.calls) == 2
    assert result.warnings == [
        "the sleep-time agent stopped at a limit after 2 model calls (raise sleep.agent_max_steps, "
        "sleep.agent_max_seconds or sleep.max_cost); the sessions it was given count as learned from"
    ]
    assert read_local_state(ws).sessions_until == "2025-03-09T15:30:00+00:00"


def test_without_the_model_path_sessions_are_only_counted(ws):
    add_session(ws, "Receipts", RECEIPTS, MARCH_9)
    provider = ScriptedProvider(["never played"])
    result = model_digest(ws, provider, llm=False, reindex=False)

    assert provider.calls == []
    assert result.sessions_pending == 1 and result.model is None
    assert block_file(ws, "users/tester") == USER_HEADER


def test_a_nearly_full_block_is_consolidated_when_commits_arrive(ws):
    long_section = "## Payments\n" + "\n".join(f"- rule {n}: " + "x" * 60 for n in range(52))
    MemoryStore(ws).create("payments", "Payment rules.", long_section)
    commit(
        ws.root,
        "Touch the README",
        "2025-03-11T10:00:00+00:00",
        {"README.md": "# pyshop\n\nA shop.\n"},
    )
    provider = ScriptedProvider(["Puts a one-line README in place.", "Nothing to change."])
    result = model_digest(ws, provider, config(), reindex=False)

    assert result.model.summaries == 1 and result.model.agent.answer == "Nothing to change."
    task = provider.calls[-1].messages[0].content
    size = len(long_section)
    assert task == (
        "Sleep-time pass of 2025-03-10.\n\nNo new conversations since the last pass.\n\n"
        f"Nearly full blocks to consolidate: payments ({size:,} / 4,000 characters)"
    )


def test_the_json_report_of_a_pass(ws):
    add_session(ws, "Receipts", RECEIPTS, MARCH_9)
    result = model_digest(ws, ScriptedProvider(["Nothing to change."]), reindex=False)
    data = json.loads(json.dumps(result.to_json()))
    assert data["model"]["agent"]["answer"] == "Nothing to change."
    assert data["sessions_pending"] == 0


def test_a_checkout_during_the_agents_turn_writes_none_of_its_edits(ws):
    from codemem.errors import HeadMovedError
    from tests.helpers import git

    add_session(ws, "Receipts", RECEIPTS, MARCH_9)
    git(ws.root, "branch", "other")
    before = {
        p: p.read_bytes() for p in ws.dir.rglob("*") if p.is_file() and "local" not in p.parts
    }

    def checkout_then_edit(*_args):  # the person switches branches while the model thinks
        git(ws.root, "checkout", "-q", "other")
        return tool_call_response(
            tool_call("memory_append", label="project", content="Receipts stay plain text."),
            tool_call("archival_insert", content="Receipts stay plain text.", tags=["receipts"]),
        )

    provider = ScriptedProvider([checkout_then_edit, "Saved one decision."])
    with pytest.raises(HeadMovedError, match="HEAD moved from main at .* to other at "):
        model_digest(ws, provider, reindex=False)

    assert len(provider.calls) == 2  # the agent ran to its end; its edits were held
    assert {
        p: p.read_bytes() for p in ws.dir.rglob("*") if p.is_file() and "local" not in p.parts
    } == before
    assert read_local_state(ws).sessions_until is None  # learned from again, on `other`
    git(ws.root, "checkout", "-q", "main")
    again = ScriptedProvider(
        [
            tool_call_response(
                tool_call("memory_append", label="project", content="Receipts stay plain text.")
            ),
            "Saved one decision.",
        ]
    )
    result = model_digest(ws, again, reindex=False)
    assert [(c.kind, c.target, c.detail) for c in result.changes] == [
        ("block", "project", "sleep-time agent")
    ]
    assert block_file(ws, "project").endswith("\nReceipts stay plain text.\n")
    assert read_local_state(ws).sessions_until == "2025-03-09T15:30:00+00:00"
