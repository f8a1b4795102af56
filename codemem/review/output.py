"""Review output: text grouped by file for people, JSON for scripts, SARIF 2.1.0 for dashboards.

The JSON is `ReviewResult.to_json` (stable keys, `version: 1`). The SARIF log has one run
whose driver is codemem, one rule per rule id that has findings, and per result the rule,
level (`info` → `note`), message (with the suggestion), file and line, and the finding id as
a partial fingerprint, so code-scanning dashboards track a finding across line shifts.
"""

from __future__ import annotations

from itertools import groupby
from pathlib import Path
from urllib.parse import quote

import click

from codemem import __version__
from codemem.infra import json_text, printable
from codemem.review.engine import ReviewResult
from codemem.review.findings import SEVERITIES, Finding, count_by_severity, severity_rank

COLORS = {"error": "red", "warning": "yellow", "info": "cyan"}
SARIF_LEVEL = {"error": "error", "warning": "warning", "info": "note"}
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
FINGERPRINT = "codemem/findingId/v1"
FAMILY_HELP = {
    "conflicts": "Merge conflict markers left in the change.",
    "secrets": "Credentials or secret-looking values in the change.",
    "leftovers": "Debugging leftovers (breakpoints, debug prints).",
    "binaries": "Large binary files added to the repository.",
    "conventions": "A rule written in the project's conventions.md.",
    "naming": "A new name that breaks the naming convention learned from this codebase.",
    "docstrings": "A new public definition without the docstring this codebase usually has.",
    "tests": "A new public function that no test mentions, in a codebase that tests its code.",
    "llm": "Found by the memory-informed model review.",
}


def plural(n: int, word: str) -> str:
    """`1 file`, `2 files`."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def summary(result: ReviewResult) -> str:
    """One line: how many findings of which severity, in how many files."""
    reviewed = plural(len(result.files), "file")
    if not result.findings:
        line = f"No findings in {reviewed} reviewed."
    else:
        counts = count_by_severity(result.findings)
        parts = ", ".join(plural(n, s) for s, n in counts.items() if n)
        files = len({f.file for f in result.findings})
        line = f"{plural(len(result.findings), 'finding')} ({parts}) in {files} of {reviewed} reviewed."
    if result.suppressed:
        line += f" {result.suppressed} dismissed or low-confidence not shown."
    return line


def render_text(result: ReviewResult, color: bool = True) -> str:
    """Findings grouped by file, each with its line, severity, message, fix and id.

    With `color`, file names are bold and severities coloured (`click.echo` drops the styles
    when the output is not a terminal). Names and texts come from the repository (a file
    named with `ESC[2J`, a model's message), so their control characters are shown escaped,
    never sent to the terminal.
    """
    lines: list[str] = []
    width = max((len(str(f.line or "-")) for f in result.findings), default=1)
    for file, group in groupby(result.findings, key=lambda f: f.file):
        path = printable(file)
        lines.append(click.style(path, bold=True) if color else path)
        for f in group:
            where = str(f.line or "-").rjust(width)
            severity = (
                click.style(f.severity.ljust(7), fg=COLORS[f.severity])
                if color
                else f.severity.ljust(7)
            )
            lines.append(f"  {where}  {severity}  {printable(f.message)} [{printable(f.rule)}]")
            pad = " " * (width + 4)
            fix = f"fix: {printable(f.suggestion)} · " if f.suggestion else ""
            lines.append(f"{pad}{fix}id {f.id}")
        lines.append("")
    lines.append(summary(result))
    return "\n".join(lines)


def render_json(result: ReviewResult, fail_on: str) -> str:
    """The review as indented JSON (see `ReviewResult.to_json`)."""
    return json_text(result.to_json(fail_on), indent=2)


def _rule_entry(rule: str, findings: list[Finding]) -> dict:
    worst = max(findings, key=lambda f: severity_rank(f.severity)).severity
    family = rule.split("/", 1)[0]
    return {
        "id": rule,
        "shortDescription": {"text": FAMILY_HELP.get(family, "A codemem review finding.")},
        "defaultConfiguration": {"level": SARIF_LEVEL[worst]},
        "properties": {"tags": [family]},
    }


def _result_entry(f: Finding, index: int) -> dict:
    text = f.message + (f" Fix: {f.suggestion}" if f.suggestion else "")
    location: dict = {
        "artifactLocation": {
            "uri": quote(f.file.encode("utf-8", "surrogateescape")),
            "uriBaseId": "%SRCROOT%",
        }
    }
    if f.line is not None:
        location["region"] = {"startLine": f.line}
    return {
        "ruleId": f.rule,
        "ruleIndex": index,
        "level": SARIF_LEVEL[f.severity],
        "message": {"text": text},
        "locations": [{"physicalLocation": location}],
        "partialFingerprints": {FINGERPRINT: f.id},
        "properties": {
            "confidence": round(f.confidence, 3),
            "source": f.source,
            "suggestion": f.suggestion,
        },
    }


def sarif_log(result: ReviewResult, root: Path) -> dict:
    """The review as a SARIF 2.1.0 log (one run)."""
    rules = sorted({f.rule for f in result.findings})
    index = {rule: i for i, rule in enumerate(rules)}
    by_rule = {rule: [f for f in result.findings if f.rule == rule] for rule in rules}
    notifications = [{"level": "warning", "message": {"text": w}} for w in result.warnings]
    invocation: dict = {"executionSuccessful": True}
    if notifications:
        invocation["toolExecutionNotifications"] = notifications
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "codemem",
                        "version": __version__,
                        "rules": [_rule_entry(rule, by_rule[rule]) for rule in rules],
                    }
                },
                "originalUriBaseIds": {"%SRCROOT%": {"uri": root.resolve().as_uri() + "/"}},
                "invocations": [invocation],
                "results": [_result_entry(f, index[f.rule]) for f in result.findings],
                "properties": {"target": result.target.to_json(), "severities": list(SEVERITIES)},
            }
        ],
    }


def render_sarif(result: ReviewResult, root: Path) -> str:
    """The review as an indented SARIF 2.1.0 log."""
    return json_text(sarif_log(result, root), indent=2)
