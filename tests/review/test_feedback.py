"""Dismissals: recorded in the repository, never reported again, and rules that lose confidence."""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone

from review_helpers import CAMEL_FUNCTION, append, brief, cli_review, review, stage, write

from codemem.conventions import dismissal_entries
from codemem.review.feedback import (
    Dismissal,
    Reason,
    apply_feedback,
    confidence_from,
    dismiss,
    load_dismissals,
    rule_confidence,
)
from codemem.review.findings import Finding
from codemem.workspace import Workspace
from tests.helpers import git

NOW = datetime(2025, 3, 10, 12, 0, 0, tzinfo=timezone.utc)


def camel(repo, name: str) -> None:
    append(repo, "shop/prices.py", CAMEL_FUNCTION.replace("applyDiscount", name))
    append(repo, "tests/test_cart.py", f"\n# {name}\n")


def test_a_dismissed_finding_is_not_reported_again_even_when_lines_move(shop):
    camel(shop, "applyDiscount")
    stage(shop)
    [finding] = review(shop).findings
    item, count = dismiss(
        Workspace(shop), finding.id[:8], "mirrors the JavaScript API", by="alice", now=NOW
    )
    assert (item, count) == (
        Dismissal(
            finding.id,
            "naming/python/function",
            "shop/prices.py",
            "mirrors the JavaScript API",
            "alice",
            "2025-03-10T12:00:00Z",
        ),
        1,
    )
    saved = json.loads((shop / ".codemem/review/dismissed" / f"{finding.id}.json").read_text())
    assert saved == {
        "id": finding.id,
        "rule": "naming/python/function",
        "file": "shop/prices.py",
        "reason": "mirrors the JavaScript API",
        "by": "alice",
        "at": "2025-03-10T12:00:00Z",
    }
    text = (shop / "shop/prices.py").read_text()
    stage(shop, {"shop/prices.py": '"""Moved down."""\n\n' + text})
    result = review(shop)
    assert (result.findings, result.suppressed) == ([], 1)


def test_rules_dismissed_again_and_again_lose_severity_then_disappear(shop):
    names = [f"applyDiscount{n}" for n in range(7)]
    for name in names:
        camel(shop, name)
    stage(shop)
    ws = Workspace(shop)
    findings = review(shop).findings
    assert [f.severity for f in findings] == ["error"] * 7
    for f in findings[:3]:
        dismiss(ws, f.id, by="bob", now=NOW)
    assert rule_confidence(ws) == {"naming/python/function": 0.5}
    result = review(shop)
    assert [(f.severity, round(f.confidence, 3)) for f in result.findings] == [
        ("warning", round(0.95 / 2, 3))
    ] * 4  # the band of 34 of 35, halved
    assert result.suppressed == 3
    for f in findings[3:6]:
        dismiss(ws, f.id, by="bob", now=NOW)
    assert rule_confidence(ws, dismiss_after=3) == {"naming/python/function": 0.25}
    result = review(shop)
    assert (result.findings, result.suppressed) == (
        [],
        7,
    )  # 0.97 × 0.25 is under review.min_confidence


def test_apply_feedback_and_confidence():
    finding = Finding("tests/python", "warning", "a.py", 3, "m", line_text="def f():")
    other = Finding(
        "naming/python/function", "error", "a.py", 9, "m", confidence=0.9, line_text="def g():"
    )
    dismissals = [Dismissal("x" * 12, "naming/python/function", "b.py", "", "a", "t")] * 2
    assert confidence_from(dismissals, 2) == {"naming/python/function": 0.5}
    # two teammates who dismissed one finding are two dismissals of its rule (one file)
    both = Dismissal("y" * 12, "tests/python", "c.py", "", "a", "t", also=(Reason("", "b", "u"),))
    assert confidence_from([both], 2) == {"tests/python": 0.5}
    kept, dropped = apply_feedback(
        [finding, other], dismissals, dismiss_after=2, min_confidence=0.3
    )
    assert dropped == 0
    assert kept == [finding, other.with_changes(severity="warning", confidence=0.45)]
    gone = [Dismissal(finding.id, "tests/python", "a.py", "", "a", "t")]
    assert apply_feedback([finding, other], gone, 3, 0.3) == ([other], 1)


def test_dismissed_fixture_keys_never_quiet_the_next_secret(shop):
    # Six fake keys of a test fixture dismissed one by one (two halvings of any other rule):
    # a real key committed next is still an error that blocks the hook.
    fakes = {f"tests/fixtures/key{n}.py": f'KEY = "AKIA{n}BCDEFGHIJKLMNOP"\n' for n in range(6)}
    stage(shop, fakes)
    ws = Workspace(shop)
    findings = review(shop).findings
    assert [f.rule for f in findings] == ["secrets/aws-access-key"] * 6
    for f in findings:
        dismiss(ws, f.id, "fixture", by="bob", now=NOW)
    git(shop, "commit", "-qm", "fixtures")
    stage(shop, {"shop/settings.py": 'AWS_KEY = "AKIAZXCVBNMLKJHGFDSA"\n'})
    result = review(shop)
    assert [(f.rule, f.severity, f.file) for f in result.findings] == [
        ("secrets/aws-access-key", "error", "shop/settings.py")
    ]
    # Each fake stays dismissed by its own id.
    stage(shop, {"tests/fixtures/key0.py": fakes["tests/fixtures/key0.py"] + "# touched\n"})
    assert [f.file for f in review(shop).findings] == ["shop/settings.py"]


def test_dismiss_from_the_command_line(shop):
    camel(shop, "applyDiscount")
    stage(shop)
    first = cli_review(shop, "--staged", "--format", "json")
    finding_id = json.loads(first.stdout)["findings"][0]["id"]
    result = cli_review(shop, "--dismiss", finding_id[:6], "--reason", "API name")
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        f"Dismissed {finding_id} (naming/python/function in shop/prices.py); it will not be reported again.",
        "naming/python/function has been dismissed 1 time; its confidence is 100%.",
        f"Recorded in .codemem/review/dismissed/{finding_id}.json (commit it to share it).",
    ]
    again = cli_review(shop, "--staged")
    assert again.exit_code == 0
    assert (
        again.stdout
        == "No findings in 2 files reviewed. 1 dismissed or low-confidence not shown.\n"
    )


def test_dismissing_an_unknown_or_ambiguous_id(shop):
    assert cli_review(shop, "--dismiss", "abc").exit_code == 2
    unknown = cli_review(shop, "--dismiss", "abcdef123456")
    assert unknown.exit_code == 2
    assert unknown.stderr == (
        "codemem: error: --dismiss abcdef123456: no finding with that id in the recent reviews; run "
        "`codemem review` (or commit again) and copy the id it prints\n"
    )


def test_the_dismissals_are_committed_files(shop):
    camel(shop, "applyDiscount")
    stage(shop)
    [finding] = review(shop).findings
    dismiss(Workspace(shop), finding.id, by="alice", now=NOW)
    status = git(shop, "status", "--porcelain", "--untracked-files=all").stdout
    assert f"?? .codemem/review/dismissed/{finding.id}.json" in status.splitlines()
    assert ".codemem/local" not in status
    write(shop, {".codemem/review/dismissed/broken.json": "{not json"})
    assert brief(review(shop)) == []


def test_a_finding_in_a_file_whose_name_is_not_utf8_is_remembered_and_dismissed(shop):
    # git gives such a name as bytes, kept as lone surrogates, which UTF-8 cannot encode:
    # the review's cache of findings and the dismissal once failed to be written (exit 3).
    name = os.fsdecode(b"shop/caf\xe9.py")
    stage(shop, {name: 'AWS_KEY = "AKIAZXCVBNMLKJHGFDSA"\n'})
    first = cli_review(shop, "--staged", "--format", "json")
    assert first.exit_code == 1
    [finding] = json.loads(first.stdout)["findings"]
    assert finding["file"] == name
    result = cli_review(shop, "--dismiss", finding["id"], "--reason", "fixture")
    assert result.exit_code == 0
    saved = shop / ".codemem/review/dismissed" / f"{finding['id']}.json"
    assert json.loads(saved.read_text(encoding="ascii"))["file"] == name
    assert cli_review(shop, "--staged").stdout == (
        "No findings in 1 file reviewed. 1 dismissed or low-confidence not shown.\n"
    )


def test_dismissing_again_replaces_ones_own_reason_and_keeps_a_teammates(shop):
    camel(shop, "applyDiscount")
    stage(shop)
    [finding] = review(shop).findings
    saved = shop / ".codemem/review/dismissed" / f"{finding.id}.json"
    merged = {  # as the merge driver leaves two teammates' dismissals of one finding
        "id": finding.id,
        "rule": "naming/python/function",
        "file": "shop/prices.py",
        "reason": "generated",
        "by": "bob",
        "at": "2025-03-01T09:00:00Z",
        "also": [{"reason": "first try", "by": "alice", "at": "2025-03-02T09:00:00Z"}],
    }
    saved.parent.mkdir(parents=True)
    saved.write_text(json.dumps(merged))
    dismiss(Workspace(shop), finding.id, "mirrors the JavaScript API", by="alice", now=NOW)
    assert json.loads(saved.read_text()) == {
        **merged,
        "also": [
            {"reason": "mirrors the JavaScript API", "by": "alice", "at": "2025-03-10T12:00:00Z"}
        ],
    }  # before: alice's dismissal alone, bob's reason gone


def test_dismissing_a_finding_a_teammate_dismissed_from_windows_keeps_the_crlf_line_ends(shop):
    camel(shop, "applyDiscount")
    stage(shop)
    [finding] = review(shop).findings
    ws = Workspace(shop)
    dismiss(ws, finding.id, "generated", by="bob", now=NOW)
    saved = shop / ".codemem/review/dismissed" / f"{finding.id}.json"
    saved.write_bytes(saved.read_bytes().replace(b"\n", b"\r\n"))  # checked out on Windows
    dismiss(ws, finding.id, "mirrors the JavaScript API", by="alice", now=NOW)
    data = saved.read_bytes()
    assert data.count(b"\n") == data.count(b"\r\n")  # before: every line turned to LF
    assert [entry[:2] for entry in dismissal_entries(data.decode())] == [
        ("mirrors the JavaScript API", "alice"),
        ("generated", "bob"),  # the teammate's reason kept too
    ]


def test_every_teammates_reason_is_loaded_and_shown_with_who_and_when(shop):
    # Two teammates' dismissals of one finding: the first at the top of its file, the other in
    # `also` (as the merge driver keeps them); the listing and the loader once showed the first.
    camel(shop, "applyDiscount")
    stage(shop)
    first = cli_review(shop, "--staged", "--format", "json")
    finding_id = json.loads(first.stdout)["findings"][0]["id"]
    ws = Workspace(shop)
    dismiss(ws, finding_id, "mirrors the JavaScript API", by="alice", now=NOW)
    later = datetime(2025, 3, 11, 9, 30, 0, tzinfo=timezone.utc)
    recorded, _ = dismiss(ws, finding_id, "generated code", by="bob", now=later)
    both = Dismissal(
        finding_id,
        "naming/python/function",
        "shop/prices.py",
        "mirrors the JavaScript API",
        "alice",
        "2025-03-10T12:00:00Z",
        also=(Reason("generated code", "bob", "2025-03-11T09:30:00Z"),),
    )
    assert recorded == both
    assert load_dismissals(ws) == [both]
    listed = cli_review(shop, "--dismissed")
    assert (listed.exit_code, listed.stdout) == (
        0,
        f"{finding_id} naming/python/function in shop/prices.py\n"
        "  dismissed by alice at 2025-03-10T12:00:00Z: mirrors the JavaScript API\n"
        "  dismissed by bob at 2025-03-11T09:30:00Z: generated code\n",
    )
    as_json = cli_review(shop, "--dismissed", "--format", "json")
    assert json.loads(as_json.stdout) == {
        "dismissals": [
            {
                "id": finding_id,
                "rule": "naming/python/function",
                "file": "shop/prices.py",
                "reasons": [
                    {
                        "reason": "mirrors the JavaScript API",
                        "by": "alice",
                        "at": "2025-03-10T12:00:00Z",
                    },
                    {"reason": "generated code", "by": "bob", "at": "2025-03-11T09:30:00Z"},
                ],
            }
        ]
    }
    # a third teammate's dismissal names the two before it
    again = cli_review(shop, "--dismiss", finding_id[:8])
    assert again.stdout.splitlines()[2:4] == [
        "Also dismissed by alice at 2025-03-10T12:00:00Z: mirrors the JavaScript API",
        "Also dismissed by bob at 2025-03-11T09:30:00Z: generated code",
    ]
    assert [len(d.reasons) for d in load_dismissals(ws)] == [3]


def test_no_dismissals_and_a_damaged_also_are_listed_plainly(shop):
    assert cli_review(shop, "--dismissed").stdout == "No dismissed findings.\n"
    assert json.loads(cli_review(shop, "--dismissed", "--format", "json").stdout) == {
        "dismissals": []
    }
    damaged = {"id": "a" * 12, "rule": "r", "file": "f.py", "reason": "ok", "by": "dana"}
    write(shop, {".codemem/review/dismissed/aaaaaaaaaaaa.json": json.dumps(damaged | {"also": 3})})
    assert load_dismissals(Workspace(shop)) == [Dismissal("a" * 12, "r", "f.py", "ok", "dana", "")]
    assert cli_review(shop, "--dismissed").stdout == (
        "aaaaaaaaaaaa r in f.py\n  dismissed by dana at (unknown): ok\n"
    )
