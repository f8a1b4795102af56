"""Commit summaries by a (scripted) model in the digest pass, and their fallbacks."""

from __future__ import annotations

import pytest
from model_helpers import model_digest
from sleep_helpers import commit, config, init, scripted_history

from codemem.agent.providers import (
    AuthenticationFailed,
    RateLimited,
    ScriptedProvider,
)
from codemem.agent.providers.models import ModelInfo
from codemem.sleep.llm import SUMMARY_SYSTEM, clean_summary, commit_summarizer
from codemem.sleep.state import read_state
from tests.helpers import make_repo

SUMMARIES = [
    "Adds the `shop` package: carts, prices, receipts and a CLI, with tests.",
    "Cart totals now include 20% VAT through the new `with_vat`.",
    "Removes `legacy_discount` and renames `shop/receipts.py` to `shop/receipt.py`.",
    "Documents how to run the CLI in `docs/usage.md`.",
]


@pytest.fixture
def shop(tmp_path):
    repo = make_repo(tmp_path / "shop", "sleep/pyshop", commit=False)
    return init(repo), scripted_history(repo)


def sections(text: str) -> list[str]:
    """The digest's per-commit sections."""
    return text.split("\n## ")[1:]


def test_the_digest_carries_the_model_summaries(shop):
    ws, shas = shop
    a, b, c, d = (sha[:7] for sha in shas)
    provider = ScriptedProvider(SUMMARIES)
    result = model_digest(ws, provider, config(min_samples=3))

    text = (ws.root / result.digest_path).read_text()
    assert "\nsummaries: model\nchecksum: " in text.split("\n---\n")[0]
    assert sections(text)[1:] == [
        f"""2025-03-02 `{b}` `Add VAT to cart totals`
Author: Bob Builder

> Prices shown to customers include 20% VAT.

Summary: Cart totals now include 20% VAT through the new `with_vat`.

Files: `shop/cart.py` (M, +2 −2), `shop/prices.py` (M, +5 −0)
Skipped: `poetry.lock` (generated)
Added: `shop/prices.py`: function `with_vat`
Changed: `shop/cart.py`: method `Cart.total`
""",
        f"""2025-03-03 `{c}` `Remove the legacy discount`
Author: Alice Liddell

Summary: Removes `legacy_discount` and renames `shop/receipts.py` to `shop/receipt.py`.

Files: `shop/prices.py` (M, +0 −3), `shop/receipt.py` (R, +0 −0) from `shop/receipts.py`
Removed: `shop/prices.py`: function `legacy_discount`
""",
        f"""2025-03-04 `{d}` `Document the CLI`
Author: Bob Builder

Summary: Documents how to run the CLI in `docs/usage.md`.

Files: `docs/usage.md` (A, +3 −0)
""",
    ]
    assert sections(text)[0].split("\n\n")[1] == f"Summary: {SUMMARIES[0]}"
    assert [item.summary for item in result.commits] == SUMMARIES
    assert result.warnings == []
    assert result.model.to_json() == {
        "model": "scripted/demo",
        "summaries": 4,
        "fallbacks": 0,
        "project_summary": None,
        "sessions_learned": 0,
        "agent": None,
        "calls": 4,
        "cost": 0.0,
    }
    assert read_state(ws).last_commit == shas[3]


def test_the_prompt_has_subject_files_symbols_and_the_bounded_diff(shop):
    ws, shas = shop
    provider = ScriptedProvider(SUMMARIES)
    model_digest(ws, provider, config(min_samples=3))

    last = provider.calls[3]
    assert last.system == [SUMMARY_SYSTEM.format(max_chars=600)]
    assert last.max_tokens == 300
    blob = last.messages[0].content.split("index 0000000..")[1][:7]
    assert (
        last.messages[0].content
        == f"""\
Commit {shas[3][:7]} by Bob Builder, 2025-03-04
Subject: Document the CLI
Files:
- A docs/usage.md +3 -0
Diff:
diff --git a/docs/usage.md b/docs/usage.md
new file mode 100644
index 0000000..{blob}
--- /dev/null
+++ b/docs/usage.md
@@ -0,0 +1,3 @@
+# Usage
+
+Run `pyshop receipt cart.json`.
[no diff left out]""".replace("\n[no diff left out]", "")
    )
    second = provider.calls[1].messages[0].content
    assert (
        second.split("Diff:")[0]
        == f"""\
Commit {shas[1][:7]} by Bob Builder, 2025-03-02
Subject: Add VAT to cart totals
Message:
Prices shown to customers include 20% VAT.
Files:
- A poetry.lock +1 -0 [not shown: generated]
- M shop/cart.py +2 -2
- M shop/prices.py +5 -0
Added definitions: function with_vat (shop/prices.py)
Changed definitions: method Cart.total (shop/cart.py)
"""
    )
    assert "poetry.lock" not in second.split("Diff:")[1]


def test_the_diff_in_the_prompt_is_cut_at_max_diff_bytes(shop):
    ws, _ = shop
    provider = ScriptedProvider(SUMMARIES)
    model_digest(ws, provider, config(min_samples=3, max_diff_bytes=1000))

    first = provider.calls[0].messages[0].content
    diff, tail = first.split("Diff:\n")[1].rsplit("\n", 1)
    assert len(diff.encode()) + 1 <= 1000
    assert tail.startswith("[... ") and tail.endswith(" more bytes of the diff left out]")


def test_a_provider_error_mid_pass_keeps_the_extractive_summary_for_that_commit(shop):
    ws, shas = shop
    b = shas[1][:7]
    provider = ScriptedProvider(
        [
            SUMMARIES[0],
            RateLimited("scripted: rate limited (429)", retryable=False),
            SUMMARIES[2],
            SUMMARIES[3],
        ]
    )
    result = model_digest(ws, provider, config(min_samples=3))

    assert [item.summary for item in result.commits] == [
        SUMMARIES[0],
        None,
        SUMMARIES[2],
        SUMMARIES[3],
    ]
    text = (ws.root / result.digest_path).read_text()
    assert (
        sections(text)[1]
        == f"""2025-03-02 `{b}` `Add VAT to cart totals`
Author: Bob Builder

> Prices shown to customers include 20% VAT.

Files: `shop/cart.py` (M, +2 −2), `shop/prices.py` (M, +5 −0)
Skipped: `poetry.lock` (generated)
Added: `shop/prices.py`: function `with_vat`
Changed: `shop/cart.py`: method `Cart.total`
"""
    )
    assert result.warnings == [
        f"{b}: kept the extractive summary: the model failed (scripted: rate limited (429))"
    ]
    assert (result.model.summaries, result.model.fallbacks) == (3, 1)
    assert read_state(ws).last_commit == shas[3]


def test_an_authentication_failure_stops_calling_the_model_for_the_pass(shop):
    ws, shas = shop
    provider = ScriptedProvider(
        [AuthenticationFailed("scripted: authentication failed (401)"), *SUMMARIES]
    )
    result = model_digest(ws, provider, config(min_samples=3))

    assert len(provider.calls) == 1
    assert [item.summary for item in result.commits] == [None] * 4
    assert result.warnings == [
        f"{shas[0][:7]}: kept the extractive summary: the model failed (scripted: authentication failed (401))",
        "no more model calls in this pass after that error",
    ]
    text = (ws.root / result.digest_path).read_text()
    assert "summaries: extractive" in text and "Summary:" not in text


def test_the_cost_limit_ends_the_model_path_for_the_rest_of_the_pass(shop):
    ws, _ = shop
    priced = ModelInfo("scripted", 200_000, 8_192, input_price=1000.0, output_price=1000.0)
    provider = ScriptedProvider(SUMMARIES, info=priced)
    result = model_digest(ws, provider, config(min_samples=3, max_cost=0.01))

    assert len(provider.calls) == 1
    assert [item.summary is not None for item in result.commits] == [True, False, False, False]
    assert result.warnings == [
        "the cost limit sleep.max_cost ($0.01) was reached; the rest of this pass is extractive"
    ]


def test_a_second_pass_with_nothing_new_makes_no_model_call(shop):
    ws, _ = shop
    model_digest(ws, ScriptedProvider(SUMMARIES), config(min_samples=3))
    provider = ScriptedProvider([])
    result = model_digest(ws, provider, config(min_samples=3))

    assert provider.calls == []
    assert result.changes == [] and result.warnings == []


@pytest.mark.parametrize(
    ("sleep", "options"),
    [
        ({}, {"llm": False}),
        ({"llm": False}, {}),
        ({}, {"dry_run": True}),
    ],
)
def test_no_llm_and_sleep_llm_false_and_dry_run_make_no_model_call(shop, sleep, options):
    ws, _ = shop
    provider = ScriptedProvider(SUMMARIES)
    result = model_digest(ws, provider, config(min_samples=3, **sleep), **options)

    assert provider.calls == []
    assert result.model is None
    assert "summaries: extractive" in result.digest_text


def test_merges_and_empty_commits_are_not_sent_to_the_model(tmp_path):
    repo = make_repo(tmp_path / "r", "sleep/pyshop", commit=False)
    commit(repo, "Start", "2025-03-01T10:00:00+00:00")
    commit(repo, "An empty commit", "2025-03-02T10:00:00+00:00")
    ws = init(repo)
    provider = ScriptedProvider(["Adds the shop."])
    result = model_digest(ws, provider, config(min_samples=3), reindex=False)

    assert len(provider.calls) == 1
    assert [item.summary for item in result.commits] == ["Adds the shop.", None]


def test_summaries_are_one_paragraph_within_bounds():
    assert clean_summary("Summary: Adds  the\ncart.\n") == "Adds the cart."
    assert clean_summary("**Summary:** Adds it.") == "Adds it."
    long = "One sentence here. " * 50
    assert clean_summary(long, 60) == "One sentence here. One sentence here. One sentence here."


def test_commit_summarizer_is_a_summarizer_with_its_own_warnings(shop):
    ws, _ = shop
    from codemem.config import SleepConfig
    from codemem.sleep.commit_files import load_diff, load_files
    from codemem.sleep.commits import commits_since

    summarize = commit_summarizer(
        ScriptedProvider([RateLimited("scripted: 429", retryable=False)]), SleepConfig()
    )
    first = commits_since(ws.root, None, first_run_limit=1, max_commits=1).commits[0]
    load_files(ws.root, first)
    load_diff(ws.root, first, 20_000)
    from codemem.sleep.changes import SymbolChanges

    assert summarize(first, SymbolChanges()) is None
    assert summarize.model.warnings == [
        f"{first.short}: kept the extractive summary: the model failed (scripted: 429)"
    ]
