"""The model review with the scripted provider: prompt, strict validation, failures, budget."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from review_helpers import append, brief, cli_review, review, stage

from codemem.agent.providers import ProviderFailure, ScriptedProvider
from codemem.cli import cli
from codemem.config import load_config
from codemem.review.diff import Target
from codemem.review.llm import InvalidReply, parse_reply
from tests.helpers import git

RANGE = Target("range", rev_range="HEAD~1..HEAD")


def reply(*findings: dict) -> str:
    return json.dumps({"findings": list(findings)})


def item(**changes) -> dict:
    base = {
        "file": "shop/prices.py",
        "line": 19,
        "severity": "warning",
        "rule": "rounding",
        "message": "Integer division drops fractions of a cent.",
        "suggestion": "Round half up.",
    }
    return base | changes


@pytest.fixture
def committed(shop):
    """A commit that changes `format_price` (called from shop/receipt.py and the tests)."""
    stage(
        shop,
        {
            "shop/receipt.py": '"""Receipts."""\n\nfrom shop.prices import format_price\n\n\n'
            'def receipt_line(name, price):\n    """One line of a receipt."""\n'
            '    return f"{name}: {format_price(price)}"\n'
        },
    )
    git(shop, "commit", "-q", "-m", "receipts")
    text = (shop / "shop/prices.py").read_text()
    stage(
        shop,
        {
            "shop/prices.py": text.replace(
                'return f"{price.cents / 100:.2f} {CURRENCY}"',
                'return f"{price.cents // 100}.{price.cents % 100:02d} {CURRENCY}"',
            )
        },
    )
    git(shop, "commit", "-q", "-m", "format without floats")
    return shop


def test_a_valid_reply_becomes_findings_and_the_prompt_holds_memory_change_and_related_code(
    committed,
):
    provider = ScriptedProvider([reply(item())])
    result = review(committed, RANGE, provider=provider)
    [finding] = result.findings
    assert (
        finding.file,
        finding.line,
        finding.severity,
        finding.rule,
        finding.message,
        finding.suggestion,
        finding.confidence,
        finding.source,
    ) == (
        "shop/prices.py",
        19,
        "warning",
        "llm/rounding",
        "Integer division drops fractions of a cent.",
        "Round half up.",
        0.7,
        "model",
    )
    assert result.model.to_json() | {"input_tokens": 0, "output_tokens": 0} == {
        "model": "scripted/demo",
        "status": "ok",
        "findings": 1,
        "dropped": [],
        "input_tokens": 0,
        "output_tokens": 0,
        "error": "",
    }
    [call] = provider.calls
    assert call.max_tokens == 2_000
    assert "Reply with one JSON object and nothing else" in call.system[0]
    user = call.messages[0].content
    assert "## Memory" in user and "- never: `print(` in `shop/**`" in user
    assert "## Change (changes in HEAD~1..HEAD)\n" in user
    assert (
        "### shop/prices.py (modified)\n"
        "   16\n"
        "   17   def format_price(price: Price) -> str:\n"
        '   18       """Render a price like `12.50 EUR`."""\n'
        '      -     return f"{price.cents / 100:.2f} {CURRENCY}"\n'
        '   19 +     return f"{price.cents // 100}.{price.cents % 100:02d} {CURRENCY}"\n'
    ) in user
    related = user.split("## Related code (callers and tests of the changed functions)\n", 1)[1]
    assert related.splitlines()[0] == "### shop/receipt.py (caller of `format_price`)"
    assert "### tests/test_cart.py (test of `format_price`)" in related
    assert '    8      return f"{name}: {format_price(price)}"' in related


def test_related_code_comes_from_the_index_when_there_is_one(committed):
    from codemem.code import CodeIndex
    from codemem.workspace import Workspace

    CodeIndex(Workspace(committed), load_config(None)).refresh()
    provider = ScriptedProvider([reply()])
    review(committed, RANGE, provider=provider)
    user = provider.calls[0].messages[0].content
    related = user.split("## Related code (callers and tests of the changed functions)\n", 1)[1]
    assert [line for line in related.splitlines() if line.startswith("### ")] == [
        "### shop/receipt.py (caller of `format_price`)",
        "### tests/test_cart.py (test of `format_price`)",
    ]


@pytest.mark.parametrize(
    "text,error",
    [
        ("Looks good to me!", "the reply is not JSON (Expecting value at line 1 column 1)"),
        ("", "the reply is empty"),
        (
            "[]",
            "the reply: Input should be a valid dictionary or instance of ModelReply (1 problem(s))",
        ),
        (
            json.dumps({"findings": [item(severity="critical")]}),
            "findings.0.severity: Input should be 'info', 'warning' or 'error' (1 problem(s))",
        ),
        (
            json.dumps({"findings": [item(line="27")]}),
            "findings.0.line: Input should be a valid integer (1 problem(s))",
        ),
        (
            json.dumps({"findings": [item(extra=1)]}),
            "findings.0.extra: Extra inputs are not permitted (1 problem(s))",
        ),
        (
            json.dumps({"findings": [{"file": "a.py", "line": 1}]}),
            "findings.0.severity: Field required (4 problem(s))",
        ),
        (
            json.dumps({"findings": [item(rule="Not A Slug")]}),
            "findings.0.rule: String should match pattern '^[a-z0-9][a-z0-9-]{0,47}$' (1 problem(s))",
        ),
        (
            json.dumps({"findings": []}) + " trailing",
            "the reply is not JSON (Extra data at line 1 column 18)",
        ),
    ],
)
def test_malformed_replies_are_rejected(text, error):
    with pytest.raises(InvalidReply) as caught:
        parse_reply(text)
    assert str(caught.value) == error


def test_a_fenced_reply_is_accepted():
    assert (
        parse_reply("Here you go:\n```json\n" + reply(item()) + "\n```\n").findings[0].rule
        == "rounding"
    )


def test_a_malformed_reply_never_crashes_the_review(committed):
    append(committed, "shop/prices.py", "\nprint(1)\n")
    git(committed, "commit", "-q", "-am", "debug print")
    provider = ScriptedProvider(["I think it's fine, no JSON needed."])
    result = review(committed, RANGE, provider=provider)
    assert brief(result) == [("shop/prices.py", 27, "error", "conventions/never-print")]
    assert result.model.status == "invalid"
    assert result.warnings == [
        "model review invalid: reply rejected: the reply is not JSON "
        "(Expecting value at line 1 column 1)"
    ]


def test_findings_outside_the_change_are_dropped(committed):
    provider = ScriptedProvider(
        [reply(item(file="shop/cart.py"), item(line=999), item(), item(line=3))]
    )
    config = load_config(None, flags={"review": {"llm_max_findings": 1}})
    result = review(committed, RANGE, config=config, provider=provider)
    assert brief(result) == [("shop/prices.py", 19, "warning", "llm/rounding")]
    assert result.model.dropped == [
        "shop/cart.py:19: not a file of this change",
        "shop/prices.py:999: the file has 25 lines",
        "shop/prices.py:3: over review.llm_max_findings (1)",
    ]


def test_a_provider_failure_leaves_the_static_review(committed):
    provider = ScriptedProvider([ProviderFailure("scripted: rate limited")])
    result = review(committed, RANGE, provider=provider)
    assert (result.findings, result.model.status) == ([], "failed")
    assert result.warnings == ["model review failed: ProviderFailure: scripted: rate limited"]


def test_the_token_budget_bounds_the_prompt(committed):
    body = "".join(
        f'\n\ndef helper_{i}(x: int) -> int:\n    """Helper {i}."""\n    return x + {i}\n'
        for i in range(300)
    )
    append(committed, "shop/prices.py", body)
    git(committed, "commit", "-q", "-am", "many helpers")
    provider = ScriptedProvider([reply()])
    config = load_config(
        None, flags={"review": {"llm_tokens": 2_000, "severity": {"tests": "off"}}}
    )
    review(committed, RANGE, config=config, provider=provider)
    [call] = provider.calls
    assert provider.count_tokens(call.system, call.messages) <= 2_000
    assert "[... shop/prices.py cut here to fit the review budget]" in call.messages[0].content


def test_when_the_model_runs(committed, tmp_path):
    script = tmp_path / "script.yml"
    script.write_text(f"- '{reply(item(line=19))}'\n")
    (committed / ".codemem/config.yml").write_text(f"model: scripted/{script}\n")
    staged = cli_review(committed, "--staged")  # the hook's target: no model unless review.hook_llm
    assert (staged.exit_code, staged.stdout) == (0, "No findings in 0 files reviewed.\n")
    ranged = cli_review(committed, "--range", "HEAD~1..HEAD", "--format", "json")
    data = json.loads(ranged.stdout)
    assert [(f["rule"], f["line"]) for f in data["findings"]] == [("llm/rounding", 19)]
    assert data["model"]["status"] == "ok"
    skipped = cli_review(committed, "--range", "HEAD~1..HEAD", "--no-llm", "--format", "json")
    assert json.loads(skipped.stdout)["model"] is None
    append(committed, "shop/prices.py", "\n# touched\n")
    git(committed, "add", "-A")
    (committed / ".codemem/config.yml").write_text(
        f"model: scripted/{script}\nreview:\n  hook_llm: true\n"
    )
    # A committed config may not turn the model on in the hook until it is trusted.
    hooked = cli_review(committed, "--staged", "--format", "json")
    assert json.loads(hooked.stdout)["model"] is None
    assert CliRunner().invoke(cli, ["--repo", str(committed), "config", "trust"]).exit_code == 0
    hooked = cli_review(committed, "--staged", "--format", "json")
    assert json.loads(hooked.stdout)["model"]["status"] == "ok"


def test_asking_for_a_model_when_none_is_configured(committed):
    result = cli_review(committed, "--range", "HEAD~1..HEAD", "--llm")
    assert result.exit_code == 0
    assert (
        result.stderr
        == "codemem: warning: no model is configured (set `model:` or `review.model:`); static checks only\n"
    )


def with_model(repo, monkeypatch, url: str, review_settings: str = "") -> None:
    """A staged change, and a model at `url` (the user's config)."""
    import os

    import anthropic  # noqa: F401  (loaded before the clock starts: the wait is the server's)

    append(repo, "shop/prices.py", "\n# touched\n")
    git(repo, "add", "-A")
    home = os.environ["CODEMEM_HOME"]
    os.makedirs(home, exist_ok=True)
    with open(os.path.join(home, "config.yml"), "w") as handle:
        handle.write(
            "model: anthropic/claude-sonnet-4-6\nreview:\n  hook_llm: true\n"
            f"  hook_timeout: 3\n{review_settings}providers:\n  anthropic:\n    base_url: {url}\n"
        )
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")


def hook_with_model(repo, monkeypatch, url: str):
    """The hook's review of a staged change, with a model at `url` (the user's config)."""
    with_model(repo, monkeypatch, url)
    return cli_review(repo, "--staged", "--hook")


@pytest.mark.parametrize(
    ("settings", "flags", "limit"),
    [
        ("  timeout: 2\n", (), "2 s (review.timeout)"),
        ("", ("--timeout", "1.5"), "1.5 s (--timeout)"),
    ],
    ids=["setting", "flag"],
)
def test_a_review_by_hand_gives_a_silent_model_its_time_limit_and_goes_on(
    committed, monkeypatch, caplog, settings, flags, limit
):
    """As in the hook: the static review stands, one line says the model was cut short, and
    the exit code is the findings' (a model that fails never fails the review either)."""
    import socket
    import time

    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        with_model(committed, monkeypatch, f"http://127.0.0.1:{silent.getsockname()[1]}", settings)
        started = time.monotonic()
        result = cli_review(committed, "--staged", *flags)
        took = time.monotonic() - started

    assert result.exit_code == 0
    assert result.stderr == (
        f"codemem: warning: the model review was cut short by the review's time limit of {limit}\n"
    )
    assert result.stdout.endswith("in 1 file reviewed.\n")
    assert took < 10
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == []


def test_a_model_that_never_answers_is_cut_short_by_the_hooks_time_limit(
    committed, monkeypatch, caplog
):
    """The commit goes on with the static review, and the hook says why in one line."""
    import socket

    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        result = hook_with_model(
            committed, monkeypatch, f"http://127.0.0.1:{silent.getsockname()[1]}"
        )
    # One line says what happened; nothing calls the time limit an unreachable server, nor
    # retries the request past it.
    assert result.exit_code == 0
    assert re.fullmatch(
        r"codemem: warning: the model review was cut short by the review's time limit of 3 s "
        r"\(review.hook_timeout\)\n",
        result.stderr,
    )
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == []


def test_an_overloaded_model_is_named_in_the_hooks_one_line(committed, monkeypatch, caplog):
    # Retried until the time limit: each retry was a warning line of its own at the commit,
    # and the last one said only that time ran out.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "agent"))
    from fakeserver import Error, FakeServer

    with FakeServer() as server:
        server.push(*[Error(529, "Overloaded")] * 10)
        result = hook_with_model(committed, monkeypatch, server.anthropic_url)
    assert result.exit_code == 0
    assert re.fullmatch(
        r"codemem: warning: the model review was cut short by the review's time limit of 3 s "
        r"\(review.hook_timeout\), "
        r"retrying after: anthropic/claude-sonnet-4-6: overloaded \(529\): Overloaded\n",
        result.stderr,
    )
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == []


def test_running_out_of_time_while_the_model_loads_is_said_as_such(committed, monkeypatch):
    import time

    import codemem.agent.providers as providers

    def slow_to_load(model, config, **options):  # a cold SDK import on a busy machine
        time.sleep(30)

    monkeypatch.setattr(providers, "resolve_provider", slow_to_load)
    append(committed, "shop/prices.py", "\n# touched\n")
    git(committed, "add", "-A")
    config = load_config(
        None, flags={"model": "anthropic/claude-sonnet-4-6", "review": {"hook_llm": True}}
    )
    result = review(committed, config=config, time_limit=0.5)
    assert result.model is None
    assert result.out_of_time == ["model review"]
    assert result.warnings == ["the model review was cut short by the review's time limit of 0.5 s"]
