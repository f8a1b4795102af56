"""`codemem ask` and `codemem run` through the real CLI, with scripted models."""

from __future__ import annotations

import json

import pytest
import yaml
from agent_helpers import block_value, recall_rows
from click.testing import CliRunner

from codemem.agent.providers.scripted import ScriptedProvider
from codemem.cli import cli
from codemem.cli.agent import CONFIGURE_HELP
from codemem.errors import Terminated
from tests.helpers import git

CART = "shop/cart.py"
OLD = "    def total(self) -> float:"
NEW = "    def total(self) -> float:  # euros"


@pytest.fixture(autouse=True)
def no_index_refresh(monkeypatch):
    monkeypatch.setenv("CODEMEM_AGENT__REFRESH_INDEX", "false")


@pytest.fixture
def script(tmp_path):
    """script([...items]) -> a model string playing that YAML script."""
    counter = iter(range(100))

    def write(items) -> str:
        path = tmp_path / f"script{next(counter)}.yml"
        path.write_text(yaml.safe_dump(items, sort_keys=False))
        return f"scripted/{path}"

    return write


def invoke(ws, *args, input=None):
    return CliRunner().invoke(cli, ["--repo", str(ws.root), *args], input=input)


def events(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines()]


EDIT_SCRIPT = [
    {
        "tool_calls": [
            {"name": "read_file", "arguments": {"path": CART, "start_line": 25, "end_line": 25}}
        ]
    },
    {
        "tool_calls": [
            {"name": "edit_file", "arguments": {"path": CART, "old_string": OLD, "new_string": NEW}}
        ]
    },
    {
        "tool_calls": [
            {
                "name": "memory_append",
                "arguments": {"label": "project", "content": "Prices are euros."},
            }
        ]
    },
    "Commented `shop/cart.py:25`.",
]


# -- ask ----------------------------------------------------------------------------------


def test_ask_without_a_model_shows_retrieval(ws):
    result = invoke(ws, "ask", "where is the cart total computed")
    assert result.exit_code == 0, result.output
    assert result.stderr == f"codemem: no model configured\n{CONFIGURE_HELP}\n"
    lines = result.stdout.splitlines()
    assert lines[:3] == ["", "What retrieval found:", "  shop/cart.py:6  class Cart"]


def test_ask_without_a_model_json(ws):
    result = invoke(ws, "ask", "where is the cart total computed", "--json")
    data = json.loads(result.stdout)
    assert (data["answer"], data["error"]) == (None, "no model configured")
    assert "shop/cart.py" in data["files"]
    assert data["notes"] == []
    # a script reads the fields --json's help names whether or not a model answered
    assert (data["citations"], data["session"], data["usage"]) == ([], None, None)


def test_ask_with_a_missing_key_explains_and_retrieves(ws):
    result = invoke(ws, "ask", "cart total", "--model", "anthropic/claude-sonnet-4-6")
    assert result.exit_code == 0
    # one line with the fix: the list of ways to configure a model is for one not configured
    assert result.stderr == (
        "codemem: ANTHROPIC_API_KEY is not set: export it, or choose another model with --model\n"
    )
    assert result.stdout.splitlines()[:2] == ["", "What retrieval found:"]


@pytest.mark.parametrize("stream", ["true", "false"])
def test_an_answer_reaches_the_terminal_without_its_control_codes(ws, script, stream, monkeypatch):
    # A repository can steer the model into writing the clipboard (OSC 52) or erasing lines.
    monkeypatch.setenv("CODEMEM_AGENT__STREAM", stream)
    answer = "Done.\x1b]52;c;Y3VybCBldmlsIHwgc2g=\x07\n\tsee\x1b[2K\r\x1b[1Ashop/cart.py:25\n"
    result = invoke(ws, "ask", "where is the total?", "--model", script([answer]))
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "Done.\\x1b]52;c;Y3VybCBldmlsIHwgc2g=\\x07\n\tsee" in result.stdout
    data = json.loads(invoke(ws, "ask", "where?", "--json", "--model", script([answer])).stdout)
    assert data["answer"] == answer  # what a script reads stays exact


def test_a_tool_name_reaches_the_terminal_without_its_control_codes(ws, script):
    # The model names the tool: `-> name {args}` went to stderr as it came.
    call = {"name": "search_code\x1b[2J\x9b1A", "arguments": {"query": "total"}}
    result = invoke(ws, "ask", "where?", "--model", script([{"tool_calls": [call]}, "Done."]))
    assert result.exit_code == 0, result.output
    assert '-> search_code\\x1b[2J\\x9b1A {"query": "total"}\n' in result.stderr
    assert "\x1b" not in result.stderr and "\x9b" not in result.stderr


def test_ask_json_answer_and_citations(ws, script):
    model = script(
        [
            {"tool_calls": [{"name": "search_code", "arguments": {"query": "total"}}]},
            "The total is `Cart.total` at shop/cart.py:25-27, tested in tests/test_cart.py:10; "
            "see README.md. (nope.py:3 does not exist)",
        ]
    )
    result = invoke(ws, "ask", "where is the total?", "--json", "--model", model)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["answer"].startswith("The total is `Cart.total`")
    assert data["citations"] == [
        {"path": "shop/cart.py", "start_line": 25, "end_line": 27},
        {"path": "tests/test_cart.py", "start_line": 10, "end_line": 10},
        {"path": "README.md", "start_line": None, "end_line": None},
    ]
    assert data["files"] == ["README.md", "shop/cart.py", "tests/test_cart.py"]
    assert data["usage"]["steps"] == 2 and data["session"]


def test_ask_is_read_only(ws, script):
    model = script(EDIT_SCRIPT)
    before = (ws.root / CART).read_text()
    result = invoke(ws, "ask", "fix it", "--model", model)
    assert result.exit_code == 0, result.output
    assert result.stdout == "Commented `shop/cart.py:25`.\n"
    assert (ws.root / CART).read_text() == before
    assert block_value(ws, "project") == ""
    assert "   error: edit_file is not available here: this session is read-only" in result.stderr


# -- run ----------------------------------------------------------------------------------


def test_run_json_events_and_refused_edit(ws, script):
    result = invoke(ws, "run", "comment the total", "--json", "--model", script(EDIT_SCRIPT))
    assert result.exit_code == 1, result.output  # its one edit was refused: nothing done
    stream = events(result.stdout)
    assert [e["type"] for e in stream] == [
        "session",
        "tool_call",
        "tool_result",
        "tool_call",
        "tool_result",
        "tool_call",
        "tool_result",
        "final",
        "usage",
        "end",
    ]
    assert stream[3] == {
        "type": "tool_call",
        "id": stream[3]["id"],
        "name": "edit_file",
        "arguments": {"path": CART, "old_string": OLD, "new_string": NEW},
    }
    assert stream[4]["is_error"] is True
    assert stream[4]["content"] == (
        "edit_file: permission denied (edit shop/cart.py): it needs approval and no one can be "
        "asked here; the user can re-run with --yes or add 'edit_file:shop/cart.py' to permissions.allow"
    )
    assert stream[6]["content"] == "Appended to project: now 17 / 8,000 characters."
    assert stream[7] == {"type": "final", "content": "Commented `shop/cart.py:25`."}
    assert stream[8]["session"] == stream[0]["id"] and stream[8]["steps"] == 4
    refused = (
        "every edit and command was refused (1 of 1): re-run with --yes, or allow them under "
        "permissions.allow"
    )
    assert stream[9] == {"type": "end", "status": "refused", "exit_code": 1, "error": refused}
    assert result.stderr == f"codemem: {refused}\n"
    assert NEW not in (ws.root / CART).read_text()


def test_run_json_without_a_model_ends_with_an_end_event(ws):
    result = invoke(ws, "run", "do it", "--json")
    assert result.exit_code == 2
    end = events(result.stdout)
    assert len(end) == 1 and (end[0]["type"], end[0]["status"], end[0]["exit_code"]) == (
        "end",
        "failed",
        2,
    )
    assert end[0]["error"].startswith("no model configured: pass --model, set CODEMEM_MODEL")


def test_run_that_did_its_edit_ends_done(ws, script):
    result = invoke(
        ws, "run", "comment the total", "--json", "--yes", "--model", script(EDIT_SCRIPT)
    )
    assert result.exit_code == 0, result.output
    assert events(result.stdout)[-1] == {
        "type": "end",
        "status": "done",
        "exit_code": 0,
        "error": None,
    }


def test_run_with_yes_edits(ws, script):
    result = invoke(ws, "run", "comment the total", "--yes", "--model", script(EDIT_SCRIPT))
    assert result.exit_code == 0, result.output
    assert result.stdout == "Commented `shop/cart.py:25`.\n"
    assert NEW + "\n" in (ws.root / CART).read_text()
    assert block_value(ws, "project") == "Prices are euros."


def test_run_follows_allow_rules_in_config(ws, script):
    (ws.config_file).write_text("permissions:\n  allow: ['edit_file:shop/**']\n")
    assert invoke(ws, "config", "trust").exit_code == 0
    result = invoke(ws, "run", "comment the total", "--model", script(EDIT_SCRIPT))
    assert result.exit_code == 0, result.output
    assert NEW + "\n" in (ws.root / CART).read_text()


def test_run_ignores_allow_rules_of_an_untrusted_project_config(ws, script, caplog):
    # A clone's committed config may not let the agent act without asking (codemem.config.trust).
    (ws.config_file).write_text("permissions:\n  mode: allow\n  allow: ['edit_file:**']\n")
    before = (ws.root / CART).read_text()
    result = invoke(ws, "run", "comment the total", "--model", script(EDIT_SCRIPT))
    assert result.exit_code == 1, result.output
    assert (ws.root / CART).read_text() == before
    assert "sets permissions.allow, permissions.mode: ignored until you trust them" in caplog.text


def test_run_step_limit(ws, script):
    loop = [{"tool_calls": [{"name": "list_files", "arguments": {}}]}] * 5
    result = invoke(ws, "run", "loop", "--max-steps", "2", "--json", "--model", script(loop))
    assert result.exit_code == 4
    stream = events(result.stdout)
    assert stream[-1]["type"] == "end" and (stream[-1]["status"], stream[-1]["exit_code"]) == (
        "failed",
        4,
    )
    stream = stream[:-1]
    assert stream[-2] == {
        "type": "error",
        "message": (
            "step limit reached (2 model calls) before a final answer: raise it with --max-steps or agent.max_steps"
        ),
    }
    assert stream[-1]["type"] == "usage"
    assert result.stderr.endswith(
        "codemem: error: step limit reached (2 model calls) before a final "
        "answer: raise it with --max-steps or agent.max_steps\n"
    )


def test_run_needs_a_model(ws):
    result = invoke(ws, "run", "do it")
    assert result.exit_code == 2
    assert result.stderr.startswith(
        "codemem: error: no model configured: pass --model, set CODEMEM_MODEL"
    )


def test_bad_agent_config_is_one_line(ws, script):
    (ws.config_file).write_text("agent:\n  max_steps: -3\n")
    result = invoke(ws, "run", "x", "--model", script(["ok"]))
    assert result.exit_code == 2
    assert result.stderr == (
        f"codemem: error: {ws.config_file}: agent.max_steps: Input should be greater than or "
        "equal to 1\n"
    )


def test_memory_is_set_up_on_first_use(repo_factory, script):
    from codemem.workspace import Workspace

    ws = Workspace(repo_factory("shop"))
    model = script(
        [
            {
                "tool_calls": [
                    {
                        "name": "memory_append",
                        "arguments": {"label": "project", "content": "A shop."},
                    }
                ]
            },
            "ok",
        ]
    )
    result = invoke(ws, "run", "remember", "--model", model)
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith(
        "codemem: set up memory in .codemem/ (commit it to share it with your team)\n"
    )
    assert (ws.dir / ".gitignore").read_text() == "local/\n"
    assert block_value(ws, "project") == "A shop."


def test_ask_json_reports_a_failure_as_an_object(ws, script):
    result = invoke(
        ws, "ask", "anything", "--json", "--model", script([{"error": "scripted: model offline"}])
    )
    assert result.exit_code == 3
    data = json.loads(result.stdout)
    assert (data["answer"], data["error"], data["files"]) == (None, "scripted: model offline", [])
    assert result.stderr == "codemem: error: scripted: model offline\n"


# -- a teammate's first session -----------------------------------------------------------


def _teammate(ws, monkeypatch) -> None:
    """Someone else at the keyboard of a clone with .codemem/ committed, who never ran init."""
    git(ws.root, "config", "user.email", "carol.ng@example.com")
    monkeypatch.delenv("CODEMEM_USER", raising=False)
    assert not (ws.blocks_dir / "users/carol_ng-example-com.md").exists()


SAVE_PREFERENCE = [
    {
        "tool_calls": [
            {
                "name": "memory_append",
                "arguments": {
                    "label": "users/carol_ng-example-com",
                    "content": "Prefers short answers.",
                },
            }
        ]
    },
    "Noted.",
]


@pytest.mark.parametrize("command", ["ask", "run"])
def test_a_teammates_first_session_creates_their_block(ws, script, monkeypatch, command):
    _teammate(ws, monkeypatch)
    result = invoke(
        ws, command, "remember I like short answers", "--json", "--model", script(SAVE_PREFERENCE)
    )
    assert result.exit_code == 0, result.output
    if command == "ask":  # read-only: no memory edits, but the block the prompt names exists
        assert block_value(ws, "users/carol_ng-example-com") == ""
    else:
        assert events(result.stdout)[2]["is_error"] is False
        assert block_value(ws, "users/carol_ng-example-com") == "Prefers short answers."


def test_a_teammates_first_chat_creates_their_block(ws, script, monkeypatch):
    _teammate(ws, monkeypatch)
    result = invoke(ws, "chat", "--model", script(SAVE_PREFERENCE), input="remember this\n")
    assert result.exit_code == 0, result.output
    assert "unknown block" not in result.output
    assert block_value(ws, "users/carol_ng-example-com") == "Prefers short answers."


class CutOffProvider(ScriptedProvider):
    """Streams its answer, and a Ctrl-C (or a SIGTERM) lands while the third piece arrives."""

    def __init__(self, script, signal: BaseException) -> None:
        super().__init__(script)
        self.signal = signal

    def complete(self, system, messages, tools=(), *, max_tokens=None, on_text=None):
        pieces: list[str] = []

        def cut(delta: str) -> None:
            pieces.append(delta)
            assert on_text is not None
            on_text(delta)
            if len(pieces) == 3:
                raise self.signal

        return super().complete(
            system, messages, tools, max_tokens=max_tokens, on_text=cut if on_text else None
        )


@pytest.mark.parametrize(
    ("signal", "code", "error"),
    [
        (KeyboardInterrupt(), 130, "interrupted: the step was stopped; the conversation is saved"),
        (Terminated(15), 143, "terminated (SIGTERM)"),
    ],
    ids=["ctrl-c", "sigterm"],
)
def test_run_json_shows_an_answer_cut_off_mid_stream(ws, monkeypatch, signal, code, error):
    from codemem.agent import providers

    answer = "The checkout fails because the cart total ignores discounts."
    provider = CutOffProvider([answer], signal)
    monkeypatch.setattr(providers, "resolve_provider", lambda model, config: provider)
    result = invoke(ws, "run", "why does checkout fail?", "--json", "--model", "scripted/x")
    assert result.exit_code == code
    stream = events(result.stdout)
    assert [e["type"] for e in stream] == ["session", "message", "error", "usage", "end"]
    cut = "The checkout fails\n\n[interrupted: the answer was cut off here]"
    assert stream[1] == {
        "type": "message",
        "role": "assistant",
        "content": cut,
        "interrupted": True,
    }
    assert stream[2] == {"type": "error", "message": error}
    assert stream[-1]["status"] == "interrupted"
    assert recall_rows(ws, stream[0]["id"]) == [
        ("user", "why does checkout fail?"),
        ("assistant", cut),
    ]


def test_ask_json_keeps_an_answer_cut_off_mid_stream(ws, monkeypatch):
    from codemem.agent import providers

    answer = "The checkout fails because the cart total ignores discounts."
    provider = CutOffProvider([answer], Terminated(15))
    monkeypatch.setattr(providers, "resolve_provider", lambda model, config: provider)
    result = invoke(ws, "ask", "why does checkout fail?", "--json", "--model", "scripted/x")
    assert result.exit_code == 143
    data = json.loads(result.stdout)  # one object, nothing else on stdout
    cut = "The checkout fails\n\n[interrupted: the answer was cut off here]"
    assert (data["answer"], data["partial"], data["error"]) == (
        None,
        cut,
        "terminated (SIGTERM)",
    )
    assert recall_rows(ws, data["session"])[-1] == ("assistant", cut)
