"""Secrets in ordinary files never reach the index, search results or the repo map.

Every secret here is assembled at run time, so this file holds none of them.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from codemem.cli import cli
from codemem.code.extract import ExtractSettings, extract_file
from codemem.infra import redact_line, redact_text
from tests.helpers import git

AWS_KEY = "AKIA" + "Q7XZ2KJH4MPL9WRT"
PASSWORD = "Pr0d-DB-" + "pa55w0rd-2024"
TOKEN = "gh" + "p_" + "q7Xz2KjH4mPl9WrTa8VbN3cD5eF6gH1iJ0kL"  # codemem: ignore[secrets]
SECRETS = (AWS_KEY, PASSWORD, TOKEN)

FILES = {
    "settings.py": (
        '"""Settings of the invoicing service."""\n'
        f'AWS_ACCESS_KEY_ID = "{AWS_KEY}"\n'
        'INVOICE_REGION = "eu-west-1"\n'
        "\n\n"
        "def invoice_bucket():\n"
        '    """Where invoices are archived."""\n'
        '    return "invoices-archive"\n'
    ),
    "config.yaml": (
        f'database:\n  host: ledger.internal\n  user: ledger\n  password: "{PASSWORD}"\n'
    ),
    "deploy.sh": (
        f"#!/bin/sh\nexport GITHUB_TOKEN={TOKEN}\ncanary_rollout() {{\n  echo rolling out\n}}\n"
    ),
}


def run(repo, *args):
    return CliRunner().invoke(cli, ["--repo", str(repo), *args], catch_exceptions=False)


@pytest.fixture
def leaky(repo_factory):
    repo = repo_factory("shop")
    for name, text in FILES.items():
        (repo / name).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "settings")
    assert run(repo, "index").exit_code == 0
    return repo


def test_redact_line_replaces_only_the_secret():
    assert (
        redact_line(f'AWS_ACCESS_KEY_ID = "{AWS_KEY}"')
        == 'AWS_ACCESS_KEY_ID = "«redacted:aws-access-key»"'
    )
    assert redact_line(f'  password: "{PASSWORD}"') == '  password: "«redacted:assigned-secret»"'
    assert (
        redact_line("  password: hunter2x  # prod")
        == "  password: «redacted:assigned-secret»  # prod"
    )
    assert (
        redact_line(f"export GITHUB_TOKEN={TOKEN}") == "export GITHUB_TOKEN=«redacted:github-token»"
    )
    for line in [
        "token = self.get_token()",
        'password = os.environ["X"]',
        "api_key: ${API_KEY}",
        "timeout: 3600",
    ]:
        assert redact_line(line) == line


def test_a_private_key_block_is_redacted_line_for_line():
    begin, end = "-----BEGIN " + "RSA PRIVATE KEY-----", "-----END " + "RSA PRIVATE KEY-----"
    text = f"key = '''\n{begin}\nMIIEpAIBAAKCAQEA\n{end}\n'''"
    assert redact_text(text) == "key = '''\n" + "«redacted:private-key»\n" * 3 + "'''"


def test_no_row_or_tag_of_an_extracted_file_holds_a_secret(tmp_path):
    for name, text in FILES.items():
        (tmp_path / name).write_text(text)
    settings = ExtractSettings(max_file_bytes=100_000, chunk_lines=80, max_line_chars=2000)
    for name in FILES:
        result = extract_file(tmp_path, name, None, settings)
        assert result.status == "indexed"
        rows = json.dumps(
            [result.batch.rows(name) for name in ("files", "chunks", "symbols")], ensure_ascii=False
        )
        tags = repr(result.tags)
        assert "«redacted:" in rows
        assert not any(secret in rows or secret in tags for secret in SECRETS)
    symbols = extract_file(tmp_path, "settings.py", None, settings).batch.rows("symbols")
    assert [s["signature"] for s in symbols if s["name"] == "AWS_ACCESS_KEY_ID"] == [
        'AWS_ACCESS_KEY_ID = "«redacted:aws-access-key»"'
    ]


@pytest.mark.parametrize(
    "query",
    [
        "AWS_ACCESS_KEY_ID invoice region",
        AWS_KEY,
        "ledger password",
        PASSWORD,
        "GITHUB_TOKEN canary_rollout",
        TOKEN,
    ],
)
def test_search_never_shows_a_secret_but_finds_the_file(leaky, query):
    result = run(leaky, "search", query, "-k", "20")
    assert result.exit_code == (1 if query in SECRETS and "No results." in result.output else 0), (
        result.output
    )
    assert not any(secret in result.output for secret in SECRETS)
    if query not in SECRETS:
        assert any(name in result.output for name in FILES)
        assert "«redacted:" in result.output


def test_search_json_finds_each_file_by_its_other_words(leaky):
    for query, path in [
        ("invoice_bucket", "settings.py"),
        ("ledger.internal", "config.yaml"),
        ("canary_rollout", "deploy.sh"),
    ]:
        hits = json.loads(run(leaky, "search", "--json", query, "-k", "3").stdout)
        assert hits[0]["path"] == path


def test_the_repo_map_never_shows_a_secret(leaky):
    result = run(leaky, "map", "--tokens", "8192")
    assert result.exit_code == 0, result.output
    assert not any(secret in result.output for secret in SECRETS)
    assert 'AWS_ACCESS_KEY_ID = "«redacted:aws-access-key»"' in result.output
