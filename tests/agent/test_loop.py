"""The loop with a scripted model: steps, tool results and errors, limits, Ctrl-C, recall."""

from __future__ import annotations

import itertools

import pytest
from agent_helpers import Recorder, recall_rows

from codemem.agent.loop import Interrupted, Limits, LimitsExceeded
from codemem.agent.messages import Message, Response, ToolCall, Usage
from codemem.agent.providers import ProviderFailure, ScriptedProvider, tool_call, tool_call_response
from codemem.agent.providers.models import ModelInfo
from codemem.agent.transcript import load_conversation
from codemem.errors import Terminated
from codemem.memory import Recall


def test_run_until_the_model_answers_without_tools(make_agent):
    agent, provider, recorder = make_agent(
        [
            tool_call_response(
                tool_call("read_file", id="c1", path="shop/cart.py", start_line=25, end_line=25)
            ),
            "The total is at `shop/cart.py:25`.",
        ]
    )
    answer = agent.run("Where is the total computed?")
    assert answer == "The total is at `shop/cart.py:25`."
    assert agent.steps == 2
    second = provider.calls[1].messages
    assert [(m.role, m.content) for m in second] == [
        ("user", "Where is the total computed?"),
        ("assistant", ""),
        ("tool", "shop/cart.py (lines 25-25 of 34)\n  25\t    def total(self) -> float:"),
    ]
    assert second[2].tool_call_id == "c1" and not second[2].is_error
    assert recorder.events == [
        ("message", ""),
        ("call", "read_file"),
        ("result", ("read_file", False)),
        ("message", "The total is at `shop/cart.py:25`."),
    ]
    assert [spec.name for spec in provider.calls[0].tools] == agent.tools.names


def test_tool_errors_go_back_to_the_model(make_agent):
    bad_json = ToolCall("c2", "read_file", {}, "{nope", "arguments are not valid JSON (x)")
    agent, provider, recorder = make_agent(
        [
            tool_call_response(tool_call("no_such_tool", id="c1"), bad_json),
            tool_call_response(tool_call("read_file", id="c3", path="../etc/passwd")),
            "I could not read it.",
        ]
    )
    assert agent.run("read something") == "I could not read it."
    results = [m for m in agent.messages if m.role == "tool"]
    assert [(m.tool_call_id, m.is_error) for m in results] == [
        ("c1", True),
        ("c2", True),
        ("c3", True),
    ]
    assert results[0].content.startswith("unknown tool 'no_such_tool': the tools are search_code, ")
    assert (
        results[1].content
        == "read_file: arguments are not valid JSON (x); send the arguments as a JSON object"
    )
    assert "is outside the repository" in results[2].content


def looping(n: int = 100):
    return [tool_call_response(tool_call("list_files", glob="*.md")) for _ in range(n)]


def test_step_limit(make_agent, ws):
    agent, provider, _ = make_agent(looping(), limits=Limits(max_steps=3))
    with pytest.raises(LimitsExceeded) as exc:
        agent.run("loop forever")
    assert str(exc.value) == (
        "step limit reached (3 model calls) before a final answer: raise it with --max-steps or "
        "agent.max_steps"
    )
    assert len(provider.calls) == 3
    rows = recall_rows(ws, agent.transcript.session_id)
    assert [role for role, _ in rows] == ["user"] + ["assistant", "tool"] * 3


def test_cost_limit(make_agent):
    priced = ModelInfo("priced", 200_000, 8_192, input_price=1000.0, output_price=1000.0)
    script = [
        Response(r.message, "tool_use", Usage(input_tokens=10, output_tokens=0))
        for r in looping(10)
    ]
    agent, provider, _ = make_agent(
        None,
        provider=ScriptedProvider(script, info=priced),
        limits=Limits(max_steps=None, max_cost=0.025),
    )
    with pytest.raises(LimitsExceeded) as exc:
        agent.run("spend")
    assert str(exc.value) == "cost limit reached ($0.0300 of $0.03): raise agent.max_cost"
    assert len(provider.calls) == 3


def test_time_limit(make_agent, monkeypatch):
    ticks = itertools.count(0, 7.0)
    monkeypatch.setattr("codemem.agent.loop.time.monotonic", lambda: next(ticks))
    agent, provider, _ = make_agent(looping(), limits=Limits(max_steps=None, max_seconds=20))
    with pytest.raises(LimitsExceeded) as exc:
        agent.run("slow")
    assert str(exc.value) == "time limit reached (21s of 20s): raise agent.max_seconds"
    assert len(provider.calls) == 2


def test_ctrl_c_during_tools_answers_every_call(make_agent, ws, monkeypatch):
    agent, provider, _ = make_agent(
        [
            tool_call_response(tool_call("list_files", id="c1"), tool_call("list_files", id="c2")),
            "after the interruption",
        ]
    )
    real = agent.tools.execute
    calls = []

    def execute(call):
        calls.append(call.id)
        if call.id == "c2":
            raise KeyboardInterrupt
        return real(call)

    monkeypatch.setattr(agent.tools, "execute", execute)
    with pytest.raises(Interrupted) as exc:
        agent.run("list")
    assert str(exc.value) == "interrupted: the step was stopped; the conversation is saved"
    assert exc.value.exit_code == 130
    results = [(m.tool_call_id, m.is_error, m.content) for m in agent.messages if m.role == "tool"]
    assert results[1] == ("c2", True, "interrupted by the user before this tool call finished")
    assert [role for role, _ in recall_rows(ws, agent.transcript.session_id)] == [
        "user",
        "assistant",
        "tool",
        "tool",
    ]
    # The conversation goes on from a valid state.
    assert agent.run("go on") == "after the interruption"
    assert [m.role for m in provider.calls[-1].messages] == [
        "user",
        "assistant",
        "tool",
        "tool",
        "user",
    ]


def test_ctrl_c_during_the_model_call(make_agent):
    def interrupt(parts, messages, tools):
        raise KeyboardInterrupt

    agent, _, _ = make_agent([interrupt])
    with pytest.raises(Interrupted):
        agent.run("hello")
    assert [m.role for m in agent.messages] == ["user"]


def test_transcript_is_saved_after_every_step(make_agent, ws):
    agent, _, _ = make_agent(
        [
            tool_call_response(tool_call("list_files", id="c1", glob="*.md")),
            ProviderFailure("scripted: the server went away"),
        ]
    )
    with pytest.raises(ProviderFailure):
        agent.run("list the docs")
    rows = recall_rows(ws, agent.transcript.session_id)
    assert [role for role, _ in rows] == ["user", "assistant", "tool"]
    assert rows[2][1].splitlines()[0] == ".codemem/blocks/conventions.md"


@pytest.mark.parametrize("signum", ["SIGINT", "SIGTERM"])
def test_a_signal_just_after_a_message_is_saved_saves_it_once(make_agent, ws, monkeypatch, signum):
    # The signal lands as the row's commit returns, before the writer counts it: the
    # step's clean-up saves what is not counted yet, which must not be that row again.
    import signal

    from codemem.cli.agent import terminated_unwinds

    agent, _, _ = make_agent([tool_call_response(tool_call("list_files", id="c1"), text="Look.")])
    recall = agent.transcript.recall
    insert = recall.add_message
    rows = itertools.count(1)

    def insert_then_signal(*args, **kwargs):
        written = insert(*args, **kwargs)
        if next(rows) == 2:  # the model's turn, saved before its tools run
            signal.raise_signal(getattr(signal, signum))
        return written

    monkeypatch.setattr(recall, "add_message", insert_then_signal)
    with terminated_unwinds(), pytest.raises((Interrupted, Terminated)):
        agent.run("list")
    assert recall_rows(ws, agent.transcript.session_id) == [
        ("user", "list"),
        ("assistant", "Look."),
        ("tool", "interrupted by the user before this tool call finished"),
    ]


def test_resume_a_session(make_agent, ws):
    agent, _, _ = make_agent(
        [tool_call_response(tool_call("list_files", id="c1", glob="*.md")), "first answer"]
    )
    agent.run("first question")
    session = agent.transcript.session_id
    resumed, provider, _ = make_agent(["second answer"], resume=session[:15])
    assert resumed.transcript.session_id == session
    assert resumed.run("second question") == "second answer"
    assert [(m.role, m.content) for m in provider.calls[0].messages][-2:] == [
        ("assistant", "first answer"),
        ("user", "second question"),
    ]
    assert provider.calls[0].messages[1].tool_calls[0].id == "c1"
    assert [role for role, _ in recall_rows(ws, session)] == [
        "user",
        "assistant",
        "tool",
        "assistant",
        "user",
        "assistant",
    ]


def test_resume_answers_calls_left_open_by_a_crash(make_agent, ws):
    from codemem.memory import Recall

    with Recall(ws) as recall:
        session = recall.start_session("scripted/demo", "crashed")
        recall.add_message(session, "user", "do it")
        recall.add_message(
            session, "assistant", "", [{"id": "c9", "name": "list_files", "arguments": {}}]
        )
    agent, provider, _ = make_agent(["ok"], resume=session)
    agent.run("again")
    sent = provider.calls[0].messages
    assert [(m.role, m.tool_call_id, m.content) for m in sent] == [
        ("user", None, "do it"),
        ("assistant", None, ""),
        (
            "tool",
            "c9",
            "no result: the session stopped while this tool call ran or before it started; "
            "check what it did before running it again",
        ),
        ("user", None, "again"),
    ]


def test_streaming_reaches_the_observer(make_agent):
    recorder = Recorder(stream=True)
    agent, provider, _ = make_agent(["Streaming works fine."], observer=recorder)
    agent.run("stream please")
    assert "".join(recorder.text) == "Streaming works fine."
    assert provider.calls[0].streamed


class CutOff(Recorder):
    """Streams, and a Ctrl-C (or a SIGTERM) lands while the third piece is shown."""

    def __init__(self, signal: BaseException) -> None:
        super().__init__(stream=True)
        self.signal = signal

    def on_text(self, delta: str) -> None:
        super().on_text(delta)
        if len(self.text) == 3:
            raise self.signal


@pytest.mark.parametrize(
    ("signal", "raised"),
    [(KeyboardInterrupt(), Interrupted), (Terminated(15), Terminated)],
    ids=["ctrl-c", "sigterm"],
)
def test_an_answer_cut_off_mid_stream_is_saved_marked(make_agent, ws, signal, raised):
    answer = "The checkout fails because the cart total ignores discounts."
    agent, provider, _ = make_agent([answer, "Carry on."], observer=CutOff(signal))
    with pytest.raises(raised):
        agent.run("why does checkout fail?")
    cut = "The checkout fails\n\n[interrupted: the answer was cut off here]"
    session = agent.transcript.session_id
    assert recall_rows(ws, session) == [("user", "why does checkout fail?"), ("assistant", cut)]
    with Recall(ws) as recall:
        hits = recall.search("checkout fails", roles=["assistant"])
        assert [(hit.message.content, hit.message.tool_results) for hit in hits] == [
            (cut, {"interrupted": True})
        ]
        _, conversation, saved = load_conversation(recall, session)
    assert saved == 2
    assert conversation.history[-1] == Message("assistant", cut, interrupted=True)
    # The next turn goes on after the cut-off answer.
    agent.observer = Recorder(stream=True)
    assert agent.run("go on") == "Carry on."
    assert [(m.role, m.content) for m in provider.calls[-1].messages] == [
        ("user", "why does checkout fail?"),
        ("assistant", cut),
        ("user", "go on"),
    ]


def test_an_interrupt_after_the_answer_streamed_keeps_it_once(make_agent, ws, monkeypatch):
    agent, _, _ = make_agent(
        [tool_call_response(tool_call("list_files", id="c1"), text="Listing.")],
        observer=Recorder(stream=True),
    )

    def execute(call):
        raise KeyboardInterrupt

    monkeypatch.setattr(agent.tools, "execute", execute)
    with pytest.raises(Interrupted):
        agent.run("list")
    assert [(m.role, m.content, m.interrupted) for m in agent.messages] == [
        ("user", "list", False),
        ("assistant", "Listing.", False),
        ("tool", "interrupted by the user before this tool call finished", False),
    ]


def test_blocks_are_reread_at_every_step(make_agent, ws):
    def edit_block_on_disk(parts, messages, tools):
        path = ws.blocks_dir / "project.md"
        path.write_text(
            path.read_text().replace("\n---\n", "\n---\nEdited by another process.\n", 1)
        )
        return tool_call_response(tool_call("list_files", glob="*.md"))

    agent, provider, _ = make_agent([edit_block_on_disk, "done"])
    agent.run("go")
    assert "Edited by another process." not in provider.calls[0].system[1]
    assert '<block label="project" chars="26 / 8,000">' in provider.calls[1].system[1]
    assert "Edited by another process." in provider.calls[1].system[1]


def test_empty_answer_ends_the_run(make_agent):
    agent, _, _ = make_agent([Message.assistant("")])
    assert agent.run("say nothing") == ""
