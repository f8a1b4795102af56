"""Output: text grouped by file, JSON, and SARIF 2.1.0 checked against the schema."""

from __future__ import annotations

import json
import os

import jsonschema
import pytest
from review_helpers import CAMEL_FUNCTION, append, cli_review, fake_aws_key, review, stage

from codemem import __version__
from codemem.review.diff import Target
from codemem.review.engine import ReviewResult
from codemem.review.findings import Finding
from codemem.review.output import render_text, sarif_log
from tests.helpers import FIXTURES

SCHEMA = json.loads((FIXTURES / "review" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))


@pytest.fixture
def changed(shop):
    append(shop, "shop/prices.py", CAMEL_FUNCTION + "\nprint(1)\n")
    stage(
        shop,
        {"shop/settings.py": f'KEY = "{fake_aws_key()}"\n', "assets/big.bin": b"\0" * (600 * 1024)},
    )
    return shop


def test_text_is_grouped_by_file(changed):
    result = review(changed)
    ids = {(f.file, f.rule): f.id for f in result.findings}
    assert render_text(result, color=False) == "\n".join(
        [
            "assets/big.bin",
            "   -  warning  binary file of 600 KB (over review.max_binary_kb = 500) [binaries/large-file]",
            "      fix: keep large binaries out of git (Git LFS, a release asset or a download step) · "
            f"id {ids['assets/big.bin', 'binaries/large-file']}",
            "",
            "shop/prices.py",
            "  28  error    `applyDiscount` is camelCase; Python functions here are named in snake_case (almost all, ≥95%) "
            "[naming/python/function]",
            f"      fix: rename it to `apply_discount` · id {ids['shop/prices.py', 'naming/python/function']}",
            "  28  warning  no test mentions the new public function `applyDiscount`; this project tests its Python code "
            "[tests/python]",
            f"      fix: add a test that calls `applyDiscount` · id {ids['shop/prices.py', 'tests/python']}",
            "  32  error    `print(`: the conventions say never (.codemem/blocks/conventions.md:23) [conventions/never-print]",
            f"      fix: log through `logging.getLogger(__name__)` · id {ids['shop/prices.py', 'conventions/never-print']}",
            "",
            "shop/settings.py",
            "   1  error    AWS access key ID (AKIA…, 20 characters) in the change [secrets/aws-access-key]",
            "      fix: remove it, rotate it if it was ever pushed, and read it from the environment · "
            f"id {ids['shop/settings.py', 'secrets/aws-access-key']}",
            "",
            "5 findings (3 errors, 2 warnings) in 3 of 3 files reviewed.",
        ]
    )


def test_json_for_scripts(changed):
    result = cli_review(changed, "--staged", "--format", "json", "--fail-on", "error")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert list(data) == [
        "version",
        "target",
        "files",
        "fail_on",
        "failed",
        "counts",
        "suppressed",
        "findings",
        "model",
        "warnings",
    ]
    assert data["target"] == {"kind": "staged", "range": None, "paths": []}
    assert (data["failed"], data["counts"], data["model"]) == (
        True,
        {"error": 3, "warning": 2, "info": 0},
        None,
    )
    first = data["findings"][0]
    assert list(first) == [
        "id",
        "file",
        "line",
        "severity",
        "rule",
        "message",
        "suggestion",
        "confidence",
        "source",
    ]
    assert (first["file"], first["line"], first["rule"], first["source"]) == (
        "assets/big.bin",
        None,
        "binaries/large-file",
        "static",
    )


def test_sarif_is_valid_sarif_2_1_0(changed):
    result = review(changed)
    log = sarif_log(result, changed)
    jsonschema.Draft7Validator(SCHEMA).validate(log)
    run = log["runs"][0]
    assert run["tool"]["driver"]["name"] == "codemem"
    assert run["tool"]["driver"]["version"] == __version__
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == [
        "binaries/large-file",
        "conventions/never-print",
        "naming/python/function",
        "secrets/aws-access-key",
        "tests/python",
    ]
    by_rule = {r["ruleId"]: r for r in run["results"]}
    naming = by_rule["naming/python/function"]
    assert naming["level"] == "error"
    assert naming["ruleIndex"] == 2
    assert naming["locations"] == [
        {
            "physicalLocation": {
                "artifactLocation": {"uri": "shop/prices.py", "uriBaseId": "%SRCROOT%"},
                "region": {"startLine": 28},
            }
        }
    ]
    assert naming["partialFingerprints"] == {"codemem/findingId/v1": result.findings[1].id}
    assert "region" not in by_rule["binaries/large-file"]["locations"][0]["physicalLocation"]
    assert by_rule["tests/python"]["level"] == "warning"
    assert fake_aws_key() not in json.dumps(log)


def test_sarif_from_the_command_line_with_notes_and_warnings(shop, tmp_path):
    stage(shop, {"docs/a b.md": "ok\n"})
    (shop / ".codemem/blocks/conventions.md").write_text(
        (shop / ".codemem/blocks/conventions.md").read_text() + "- never: /(/\n"
    )
    out = tmp_path / "review.sarif"
    result = cli_review(shop, "--format", "sarif", "--output", str(out), str(shop / "docs"))
    assert result.exit_code == 0
    assert result.stdout == ""
    assert result.stderr == "1 finding (1 info) in 1 of 1 file reviewed.\n"
    log = json.loads(out.read_text())
    jsonschema.Draft7Validator(SCHEMA).validate(log)
    [note] = log["runs"][0]["results"]
    assert (note["ruleId"], note["level"]) == ("conventions/syntax", "note")
    assert (
        note["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        == ".codemem/blocks/conventions.md"
    )


@pytest.mark.parametrize("fmt", ["json", "sarif"])
def test_a_file_whose_name_is_not_utf8_in_a_report_written_for_ci(shop, tmp_path, fmt):
    # git gives the name as bytes, kept as lone surrogates: the report once failed (exit 3).
    name = os.fsdecode(b"shop/caf\xe9.py")
    stage(shop, {name: f'KEY = "{fake_aws_key()}"\n'})
    out = tmp_path / f"review.{fmt}"
    result = cli_review(shop, "--staged", "--format", fmt, "--output", str(out))
    assert (result.exit_code, result.stderr) == (
        1,
        "1 finding (1 error) in 1 of 1 file reviewed.\n",
    )
    log = json.loads(out.read_text(encoding="utf-8"))
    if fmt == "json":
        assert [f["file"] for f in log["findings"]] == [name]
        return
    jsonschema.Draft7Validator(SCHEMA).validate(log)
    [found] = log["runs"][0]["results"]
    assert found["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "shop/caf%E9.py"


def test_the_schema_is_strict():
    log = {
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": {"name": "x"}},
                "results": [{"message": {"text": "m"}, "level": "fatal"}],
            }
        ],
    }
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft7Validator(SCHEMA).validate(log)
    log["runs"][0]["results"][0]["level"] = "note"
    jsonschema.Draft7Validator(SCHEMA).validate(log)
    log["runs"][0]["results"][0]["region"] = {}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft7Validator(SCHEMA).validate(log)


def test_names_and_texts_from_the_repository_never_reach_the_terminal_as_codes():
    # A file named `e3<ESC>[2J.py` cleared the screen of whoever's commit the hook reviewed
    # (with colour on, as on a terminal), and a model's message could do the same.
    finding = Finding(
        "secrets/aws-access-key",
        "error",
        "src/e3\x1b[2J.py",
        1,
        "AWS access key ID\x1b]0;title\x07 in the change",
        "remove it\x1b[1A\x1b[2K",
    )
    result = ReviewResult(Target("staged"), files=[finding.file], findings=[finding])
    text = render_text(result, color=True)
    assert "\x1b[2J" not in text and "\x07" not in text and "\x1b[1A" not in text
    assert "src/e3\\x1b[2J.py" in text
    assert "AWS access key ID\\x1b]0;title\\x07 in the change" in text
