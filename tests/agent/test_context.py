"""Context assembly and compaction: parts, pressure note, eviction boundaries, the summary."""

from __future__ import annotations

import pytest
from agent_helpers import Model, is_summary_call, recall_rows

from codemem.agent.compaction import eviction_boundary, groups
from codemem.agent.context import Conversation
from codemem.agent.messages import Message, ToolCall
from codemem.agent.prompts import RESUMED_NOTE
from codemem.agent.providers import ContextOverflow, ProviderFailure, tool_call, tool_call_response
from codemem.agent.providers.models import ModelInfo
from codemem.agent.transcript import load_conversation
from codemem.memory import Recall

SMALL = ModelInfo("small", context_window=11_000, max_output=1_000)  # 10,000 usable tokens


def user(text="u"):
    return Message.user(text)


def calls(*ids):
    return Message.assistant("", [ToolCall(i, "list_files", {}) for i in ids])


def result(call_id):
    return Message.tool_result(call_id, "r")


# -- assembly -----------------------------------------------------------------------------


def test_parts_in_order_most_stable_first(make_agent, ws):
    agent, provider, _ = make_agent(["hi"])
    agent.run("hello")
    system = provider.calls[0].system
    assert len(system) == 3  # no index yet: no repo map; no summary yet
    assert system[0].startswith(
        f"You are codemem, a coding agent working in the git repository `{ws.root.name}`."
    )
    assert (
        "`users/dev-example-com`: the preferences and working style of the person you are working with."
        in system[0]
    )
    assert system[1].startswith(
        "Core memory (always visible; edit with the memory_* tools):\n<memory_blocks>\n"
    )
    assert '<block label="project" chars="0 / 8,000">' in system[1]
    assert system[2] == (
        "<memory_stats>\nArchival memory: 0 notes (archival_search).\n"
        "Recall memory: 0 messages in 0 earlier conversations (conversation_search).\n</memory_stats>"
    )


def test_core_memory_past_its_budget_is_left_out_and_named(make_agent, ws):
    # 20,000 blocks went whole into every request (5 MB): the blocks part is now bounded by
    # agent.memory_chars, keeps project, conventions and the user's own block, and names the
    # blocks it leaves out, which the agent can still edit and read.
    from codemem.memory import MemoryStore

    store = MemoryStore(ws)
    store.append("project", "A shop.")
    for number in range(600):
        store.create(f"pkg-{number:03d}", "A package.", f"Package {number}: " + "x" * 200)
    store.append(store.user_label, "Prefers small commits.")
    agent, provider, _ = make_agent(["hi"])
    agent.run("hello")
    part = provider.calls[0].system[1]
    assert len(part) < 64_000 + 2_000  # the blocks within the budget, the note past it
    assert agent.context.memory_chars == 64_000  # the default, under half this model's window
    assert "A shop." in part and "Prefers small commits." in part
    assert '<block label="conventions"' in part and '<block label="pkg-000"' in part
    shown = part.count('<block label="pkg-')
    assert 100 < shown < 300
    assert f'<blocks_left_out count="{600 - shown}">' in part
    assert f"pkg-{shown:03d}, pkg-{shown + 1:03d}" in part and "more." in part
    assert "read_file .codemem/blocks/<label>.md" in part
    assert {"project", "pkg-000"} <= set(agent.context.ctx.store.shown)
    assert "pkg-599" not in agent.context.ctx.store.shown  # only what the model was shown


def test_read_only_prompt(make_agent):
    agent, provider, _ = make_agent(["hi"], read_only=True)
    agent.run("hello")
    system = provider.calls[0].system[0]
    assert "4. This session is read-only: you can search and read" in system
    assert "archival_insert" not in system


def test_repo_map_part_when_indexed(make_agent, ws, config):
    from codemem.code import CodeIndex

    CodeIndex(ws, config).refresh()
    agent, provider, _ = make_agent(["hi"])
    agent.run("hello")
    part = provider.calls[0].system[3]
    assert part.startswith('<repo_map tokens="1024">\nThe most important files and definitions')
    assert "shop/cart.py:\n" in part and part.endswith("</repo_map>")


def test_stats_count_notes_and_earlier_sessions(make_agent, ws):
    first, _, _ = make_agent(["one"])
    first.run("first")
    agent, provider, _ = make_agent(
        [tool_call_response(tool_call("archival_insert", content="Payments use cents.")), "saved"]
    )
    agent.run("second")
    assert "Archival memory: 0 notes" in provider.calls[0].system[2]
    assert "Archival memory: 1 notes" in provider.calls[1].system[2]
    assert "Recall memory: 2 messages in 1 earlier conversations" in provider.calls[1].system[2]


def test_first_message_must_be_a_user_turn(make_agent):
    agent, _, _ = make_agent([])
    agent.context.conversation = Conversation([calls("a"), result("a")])
    assert [m.content for m in agent.context.build().messages][:1] == [RESUMED_NOTE]


# -- boundaries ---------------------------------------------------------------------------


def test_groups_keep_calls_with_their_results():
    history = [
        user(),
        calls("a", "b"),
        result("a"),
        result("b"),
        Message.assistant("x"),
        user(),
        calls("c"),
        result("c"),
    ]
    assert groups(history, 0, pinned=5) == [(0, 1), (1, 4), (4, 5), (6, 8)]
    one = lambda m: 1  # noqa: E731
    assert eviction_boundary(history, 0, 1, one) == 1
    assert eviction_boundary(history, 0, 2, one) == 4  # never 2 or 3: inside a call group
    assert eviction_boundary(history, 0, 100, one) == 5  # the latest group always stays
    assert eviction_boundary(history, 0, 0, one, force=True) == 5
    assert eviction_boundary(history, 5, 100, one) == 5  # only one group left: nothing to do


def test_the_latest_request_stays_when_everything_around_it_goes():
    history = [
        user("the task"),
        calls("a"),
        result("a"),
        calls("b"),
        result("b"),
        calls("c"),
        result("c"),
    ]
    conversation = Conversation(history, evicted=eviction_boundary(history, 0, 100, lambda m: 1))
    assert conversation.evicted == 5
    assert [m.content for m in conversation.visible()] == ["the task", "", "r"]
    assert conversation.visible()[1].tool_calls[0].id == "c"


# -- compaction in the loop ---------------------------------------------------------------


@pytest.fixture
def big_file(ws):
    (ws.root / "big.txt").write_text(
        "".join(f"{n:04} {'x' * 60}\n" for n in range(55))
    )  # ~3,600 chars


def reads(n):
    return [
        tool_call_response(tool_call("read_file", id=f"r{i}", path="big.txt")) for i in range(n)
    ]


def test_compaction_pressure_note_and_summary(make_agent, ws, big_file):
    model = Model([*reads(8), "done"], summaries=["- read big.txt several times"])
    agent, provider, recorder = make_agent(None, provider=model.provider(SMALL))
    blocks_before = agent.context.blocks_part()
    assert agent.run("Read big.txt again and again.") == "done"

    window = agent.context.window
    assert window == 10_000
    estimate = provider.estimator.estimate
    steps = [c for c in provider.calls if not is_summary_call(c)]
    summary_at = next(i for i, c in enumerate(provider.calls) if is_summary_call(c))
    for call in steps:
        ratio = estimate(call.system, call.messages, call.tools) / window
        has_note = (
            "Memory pressure: the conversation fills more than 75% of your context"
            in call.system[2]
        )
        assert has_note == (ratio >= 0.75), ratio
        assert ratio <= 0.9 + 0.05  # never sent far over the threshold
    assert any("Memory pressure" in c.system[2] for c in steps)

    # Compaction happened once, just before the request that would have gone over 0.9.
    assert [e for e in recorder.events if e[0] == "compaction"] == [("compaction", 8)]
    before = provider.calls[summary_at - 1]
    assert estimate(before.system, before.messages, before.tools) / window <= 0.9
    after = provider.calls[summary_at + 1]
    assert (
        after.system[-1]
        == "<conversation_summary>\n- read big.txt several times\n</conversation_summary>"
    )
    assert "This conversation: 8 earlier messages were summarized away" in after.system[2]
    assert after.system[1] == blocks_before  # memory blocks intact
    assert [m.role for m in after.messages[:3]] == ["user", "assistant", "tool"]
    assert after.messages[0].content == "Read big.txt again and again."
    assert after.messages[1].tool_calls[0].id == after.messages[2].tool_call_id
    assert estimate(after.system, after.messages, after.tools) / window <= 0.7

    # The summarizer saw the evicted messages, and recall keeps them plus the summary.
    assert model.summary_requests[0].startswith("<previous_summary>\n(none)\n</previous_summary>")
    assert '[assistant calls read_file] {"path": "big.txt"}' in model.summary_requests[0]
    rows = recall_rows(ws, agent.transcript.session_id)
    assert ("summary", "- read big.txt several times") in rows
    assert sum(1 for role, _ in rows if role == "tool") == 8


def test_summary_falls_back_to_extractive(make_agent, big_file):
    model = Model([*reads(8), "done"], summaries=[ProviderFailure("scripted: summarizer down")])
    agent, _, _ = make_agent(None, provider=model.provider(SMALL))
    agent.run("Read big.txt again and again.")
    # The request itself stays in context, so only the agent's steps are summarized.
    assert agent.conversation.summary.splitlines() == ["- assistant used: read_file"] * 4


def test_overflow_compacts_and_retries(make_agent, big_file):
    overflow = ContextOverflow("scripted: the prompt does not fit the context window")
    model = Model([*reads(2), overflow, "fits now"], summaries=["- two reads"])
    agent, provider, recorder = make_agent(None, provider=model.provider())
    assert agent.run("read twice") == "fits now"
    assert ("compaction", 2) in recorder.events
    assert [m.role for m in provider.calls[-1].messages] == ["user", "assistant", "tool"]
    assert provider.calls[-1].messages[1].tool_calls[0].id == "r1"


def test_overflow_with_nothing_to_evict_is_raised(make_agent):
    model = Model([ContextOverflow("scripted: too long")])
    agent, _, _ = make_agent(None, provider=model.provider())
    with pytest.raises(ContextOverflow):
        agent.run("a huge first message")


def test_compact_on_demand_and_resume(make_agent, ws, big_file):
    model = Model([*reads(3), "answer"], summaries=["- read it three times"])
    agent, _, _ = make_agent(None, provider=model.provider())
    agent.run("read thrice")
    compaction = agent.compact()
    assert (compaction.evicted, compaction.summary) == (6, "- read it three times")
    assert [m.content for m in agent.context.build().messages] == ["read thrice", "answer"]

    with Recall(ws) as recall:
        session, conversation, saved = load_conversation(recall, agent.transcript.session_id)
    assert (conversation.evicted, conversation.summary, saved) == (7, "- read it three times", 8)
    resumed, provider, _ = make_agent(["hello again"], resume=session)
    resumed.run("and now?")
    call = provider.calls[0]
    assert (
        call.system[-1] == "<conversation_summary>\n- read it three times\n</conversation_summary>"
    )
    # "read thrice" is no longer the latest request, so it stays summarized away.
    assert [m.content for m in call.messages] == [RESUMED_NOTE, "answer", "and now?"]


def test_compact_on_demand_goes_on_when_recall_cannot_save_the_summary(
    make_agent, big_file, monkeypatch, caplog
):
    model = Model([*reads(3), "answer"], summaries=["- read it three times"])
    agent, _, _ = make_agent(None, provider=model.provider())
    agent.run("read thrice")

    def full(conversation):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(agent.transcript, "save_summary", full)
    compaction = agent.compact()  # `/compact`: a warning, as the automatic compaction gives
    assert (compaction.evicted, compaction.summary) == (6, "- read it three times")
    assert "could not save the summary to recall memory" in caplog.text
    assert [m.content for m in agent.context.build().messages] == ["read thrice", "answer"]


def test_nothing_to_compact(make_agent):
    agent, _, _ = make_agent(["hi"])
    agent.run("hello")
    assert agent.compact() is None


def test_compaction_never_grows_the_context(make_agent, ws):
    long_summary = "- " + "the user said hello and the agent answered " * 60
    model = Model(["hi", "ok"], summaries=[long_summary])
    agent, _, recorder = make_agent(None, provider=model.provider())
    agent.run("hello")
    agent.run("again")
    before = agent.context.build().tokens
    compaction = agent.compact()
    assert (compaction.evicted, compaction.tokens_before, compaction.tokens_after) == (
        0,
        before,
        before,
    )
    assert (agent.conversation.evicted, agent.conversation.summary) == (0, "")
    assert agent.context.build().tokens == before
    assert [e for e in recorder.events if e[0] == "compaction"] == []
    assert ("summary", long_summary) not in recall_rows(ws, agent.transcript.session_id)
