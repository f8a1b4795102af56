"""End to end: `codemem run` as a subprocess, through the real OpenAI SDK, against a local
server speaking the Chat Completions wire format, on a copy of the shop fixture.

The scripted model searches, reads a file, edits it and saves a memory; the edited file and
the memory block are asserted exactly, and so is what the model was sent back.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from agent_helpers import recall_rows
from fakeserver import Call, Turn

from tests.helpers import run_codemem as run_codemem_in

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
CART_BEFORE = '    def total(self) -> float:\n        """The price of everything in the cart."""\n'
CART_AFTER = (
    '    def total(self) -> float:\n        """The price of everything in the cart, in euros."""\n'
)


def run_codemem(ws, server, *args: str) -> subprocess.CompletedProcess:
    env = {
        "OPENAI_BASE_URL": server.openai_url,
        "OPENAI_API_KEY": "sk-test",
        "CODEMEM_MODEL": "openai/gpt-4.1",
    }
    return run_codemem_in(ws.root, *args, timeout=120, env=env)


def test_run_searches_reads_edits_and_remembers(ws, server):
    server.push(
        Turn(
            tool_calls=[
                Call("search_code", {"query": "cart total price", "k": 3}, id="call_search")
            ]
        ),
        Turn(
            tool_calls=[
                Call(
                    "read_file",
                    {"path": "shop/cart.py", "start_line": 25, "end_line": 27},
                    id="call_read",
                )
            ]
        ),
        Turn(
            text="I will say the currency.",
            tool_calls=[
                Call(
                    "edit_file",
                    {
                        "path": "shop/cart.py",
                        "old_string": '"""The price of everything in the cart."""',
                        "new_string": '"""The price of everything in the cart, in euros."""',
                    },
                    id="call_edit",
                )
            ],
        ),
        Turn(
            tool_calls=[
                Call(
                    "memory_append",
                    {
                        "label": "conventions",
                        "content": "Prices are euros; say so in docstrings.",
                    },
                    id="call_memory",
                )
            ]
        ),
        Turn(
            text="Documented the currency at `shop/cart.py:26`.",
            input_tokens=1200,
            output_tokens=40,
        ),
    )
    result = run_codemem(
        ws, server, "run", "Document the currency of Cart.total", "--yes", "--json"
    )
    assert result.returncode == 0, result.stderr

    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(e["type"], e.get("name")) for e in events] == [
        ("session", None),
        ("tool_call", "search_code"),
        ("tool_result", "search_code"),
        ("tool_call", "read_file"),
        ("tool_result", "read_file"),
        ("message", None),
        ("tool_call", "edit_file"),
        ("tool_result", "edit_file"),
        ("tool_call", "memory_append"),
        ("tool_result", "memory_append"),
        ("final", None),
        ("usage", None),
        ("end", None),
    ]
    assert events[0]["model"] == "openai/gpt-4.1"
    assert events[5] == {
        "type": "message",
        "role": "assistant",
        "content": "I will say the currency.",
    }
    assert events[10] == {
        "type": "final",
        "content": "Documented the currency at `shop/cart.py:26`.",
    }
    assert events[11]["steps"] == 5
    assert events[11]["input_tokens"] == 4 * 10 + 1200 and events[11]["output_tokens"] == 4 * 5 + 40
    assert not any(e.get("is_error") for e in events)

    # The file and the memory block, exactly.
    original = (FIXTURES / "shop" / "shop" / "cart.py").read_text()
    assert CART_BEFORE in original
    assert (ws.root / "shop/cart.py").read_text() == original.replace(CART_BEFORE, CART_AFTER)
    block = (ws.blocks_dir / "conventions.md").read_text()
    assert block.endswith("---\nPrices are euros; say so in docstrings.\n")

    # What went over the wire: tools offered, results returned to the model in order.
    requests = server.requests_to("/chat/completions")
    assert len(requests) == 5
    assert [t["function"]["name"] for t in requests[0].body["tools"]][:3] == [
        "search_code",
        "repo_map",
        "read_file",
    ]
    system = requests[0].body["messages"][0]
    assert system["role"] == "system" and "<memory_blocks>" in system["content"]
    assert "<repo_map" in system["content"]  # the index was built when the session started
    sent = requests[4].body["messages"]
    tool_messages = [m for m in sent if m["role"] == "tool"]
    assert [m["tool_call_id"] for m in tool_messages] == [
        "call_search",
        "call_read",
        "call_edit",
        "call_memory",
    ]
    assert tool_messages[0]["content"].startswith("1. shop/cart.py:")
    assert tool_messages[1]["content"] == (
        "shop/cart.py (lines 25-27 of 34)\n"
        "  25\t    def total(self) -> float:\n"
        '  26\t        """The price of everything in the cart."""\n'
        "  27\t        return sum(self.inventory.price(sku) * qty for sku, qty in self.items.items())"
    )
    assert tool_messages[2]["content"].startswith(
        "Edited shop/cart.py (lines 26-26 now).\n--- a/shop/cart.py\n"
    )
    assert tool_messages[3]["content"] == "Appended to conventions: now 39 / 6,000 characters."
    # The block was re-read before the last step.
    assert "Prices are euros; say so in docstrings." in sent[0]["content"]

    # Recall memory has the whole conversation.
    rows = recall_rows(ws, events[0]["id"])
    assert [role for role, _ in rows] == ["user"] + ["assistant", "tool"] * 4 + ["assistant"]
    assert rows[0] == ("user", "Document the currency of Cart.total")


def test_run_reports_a_provider_failure_in_one_line(ws, server):
    from fakeserver import Error

    server.push(Error(401, "Incorrect API key provided"))
    result = run_codemem(ws, server, "run", "anything")
    assert result.returncode == 3
    assert result.stderr.splitlines()[-1] == (
        "codemem: error: openai/gpt-4.1: authentication failed (401): Incorrect API key provided; "
        "check OPENAI_API_KEY"
    )


def test_run_streams_through_a_named_openai_compatible_provider(ws, server):
    ws.config_file.write_text(
        "providers:\n"
        f"  local:\n    type: openai-compatible\n    base_url: {server.openai_url}\n"
        "    api_key_env: OPENAI_API_KEY\n"
        "agent:\n  models:\n    local/qwen-coder:\n      context_window: 65536\n"
    )
    # Until trusted, the committed endpoint gets nothing: not a request, not the key.
    refused = run_codemem(ws, server, "run", "What is this?", "--model", "local/qwen-coder")
    assert refused.returncode == 2
    assert "sets providers.local: ignored until you trust them" in refused.stderr
    assert "unknown provider 'local'" in refused.stderr
    assert server.requests_to("/chat/completions") == []
    assert run_codemem(ws, server, "config", "trust").returncode == 0
    server.push(
        Turn(tool_calls=[Call("read_file", {"path": "README.md"}, id="call_1")]),
        Turn(text="The shop is a **demo** store; see `README.md:1`."),
    )
    result = run_codemem(
        ws, server, "run", "What is this repository?", "--model", "local/qwen-coder"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "The shop is a **demo** store; see `README.md:1`.\n"
    assert result.stderr.splitlines()[-1] == '-> read_file {"path": "README.md"}'
    requests = server.requests_to("/chat/completions")
    assert [r.body["stream"] for r in requests] == [True, True]
    assert [r.body["model"] for r in requests] == ["qwen-coder", "qwen-coder"]


def test_agent_over_the_anthropic_wire_format(ws, server, monkeypatch, make_agent):
    from codemem.agent.providers import resolve_provider
    from codemem.config import Config

    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    config = Config.model_validate(
        {
            "providers": {"anthropic": {"base_url": server.anthropic_url}},
            "agent": {"refresh_index": False},
        }
    )
    provider = resolve_provider("anthropic/claude-sonnet-4-6", config)
    server.push(
        Turn(
            tool_calls=[
                Call("memory_append", {"label": "project", "content": "A demo shop."}, id="toolu_1")
            ]
        ),
        Turn(text="Saved."),
    )
    agent, _, _ = make_agent(None, provider=provider, config=config)
    assert agent.run("Remember what this is.") == "Saved."
    first, second = server.requests_to("/v1/messages")
    system = first.body["system"]
    assert [block["text"].split("\n", 1)[0] for block in system] == [
        f"You are codemem, a coding agent working in the git repository `{ws.root.name}`. Unlike other agents",
        "Core memory (always visible; edit with the memory_* tools):",
        "<memory_stats>",
    ]
    assert [("cache_control" in block) for block in system] == [False, False, True]
    assert second.body["messages"][-1]["content"][0] == {
        "type": "tool_result",
        "tool_use_id": "toolu_1",
        "content": "Appended to project: now 12 / 8,000 characters.",
        "cache_control": {"type": "ephemeral"},
    }
    assert "A demo shop." in second.body["system"][1]["text"]


def test_an_answer_cut_off_by_a_broken_stream_is_kept_and_the_chat_resumes_after_it(ws, server):
    # The connection drops after three words were shown: recall keeps them, marked as cut off
    # (as a Ctrl-C's would be), and the resumed chat's model sees what the user saw.
    server.push(Turn(text="The cart total ignores discounts entirely.", drop_after=4))
    result = run_codemem(ws, server, "run", "--json", "Why is the total wrong?")
    assert result.returncode == 3, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    cut = "The cart total\n\n[interrupted: the answer was cut off here]"
    assert [e["type"] for e in events] == ["session", "message", "error", "usage", "end"]
    assert events[1] == {
        "type": "message",
        "role": "assistant",
        "content": cut,
        "interrupted": True,
    }
    assert events[2]["message"].startswith("openai/gpt-4.1: stream dropped: ")
    assert recall_rows(ws, events[0]["id"]) == [
        ("user", "Why is the total wrong?"),
        ("assistant", cut),
    ]

    server.push(Turn(text="Discounts are applied after the total."))
    env = {
        "OPENAI_BASE_URL": server.openai_url,
        "OPENAI_API_KEY": "sk-test",
        "CODEMEM_MODEL": "openai/gpt-4.1",
    }
    chat = subprocess.run(
        [sys.executable, "-m", "codemem", "--repo", str(ws.root), "chat", "--continue"],
        input="go on\n",
        capture_output=True,
        text=True,
        env={**os.environ, **env, "PYTHONPATH": str(FIXTURES.parent)},
        timeout=120,
        check=False,
    )
    assert chat.returncode == 0, chat.stderr
    assert chat.stdout.startswith(f"Resumed session {events[0]['id']} (2 messages).\n")
    sent = server.requests_to("/chat/completions")[-1].body["messages"][1:]
    assert sent == [
        {"role": "user", "content": "Why is the total wrong?"},
        {"role": "assistant", "content": cut},
        {"role": "user", "content": "go on"},
    ]
    assert [role for role, _ in recall_rows(ws, events[0]["id"])] == [
        "user",
        "assistant",
        "user",
        "assistant",
    ]
