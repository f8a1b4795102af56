"""Secrets: known formats, secret-like assignments, random strings, credential files; never echoed.

Every secret-shaped value here is assembled at run time, so this file holds none of them.
"""

from __future__ import annotations

import pytest
from review_helpers import brief, fake_aws_key, review, stage

from codemem.infra import entropy
from codemem.review.checks.secrets import scan_line, secret_file

RANDOM40 = (
    "q7Xz2KjH4mPl9WrTa8VbN3cD5eF6gH1iJ0kL2mN4"  # 40 mixed characters; codemem: ignore[secrets]
)
LONG = RANDOM40 * 3

SAMPLES = {
    "secrets/private-key": "-----BEGIN " + "RSA PRIVATE KEY-----",
    "secrets/aws-access-key": f'key = "{fake_aws_key()}"',
    "secrets/aws-secret-key": f'aws_secret_access_key = "{RANDOM40[:40]}"',
    "secrets/github-token": "token: " + "ghp_" + RANDOM40[:36],
    "secrets/gitlab-token": "glpat-" + RANDOM40[:20],
    "secrets/slack-token": "xoxb-" + "1234567890-" + RANDOM40[:12],
    "secrets/slack-webhook": "https://hooks.slack.com/services/"
    + "T0123ABCD/B0123ABCD/"
    + RANDOM40[:24],
    "secrets/stripe-key": "sk_" + "live_" + RANDOM40[:24],
    "secrets/google-api-key": "AIza" + RANDOM40[:35],
    "secrets/anthropic-key": "sk-ant-" + "api03-" + LONG[:90],
    "secrets/openai-key": "sk-proj-" + RANDOM40[:20] + "T3Blbk" + "FJ" + RANDOM40[:20],
    "secrets/npm-token": "npm_" + RANDOM40[:36],
    "secrets/pypi-token": "pypi-" + "AgEIcHlwaS5vcmc" + LONG[:60],
    "secrets/sendgrid-key": "SG." + RANDOM40[:22] + "." + LONG[:43],
    "secrets/jwt": "eyJ" + RANDOM40[:20] + ".eyJ" + RANDOM40[:20] + "." + RANDOM40[:20],
    "secrets/url-password": "DATABASE_URL=postgres://app:" + RANDOM40[:12] + "@db.internal/app",
    "secrets/assigned-secret": 'client_secret = "' + "9f8Ks!2mQp#4vL7x" + '"',
    "secrets/high-entropy": 'blob = "' + RANDOM40 + '"',
}


@pytest.mark.parametrize("rule", sorted(SAMPLES))
def test_each_kind_is_found_and_never_echoed(rule):
    line = SAMPLES[rule]
    found_rule, _severity, message = scan_line(line, 3.5)
    assert found_rule == rule
    secret_part = line.split("=", 1)[-1].split(":", 1)[-1].strip().strip('"')
    assert secret_part[4:12] not in message


@pytest.mark.parametrize(
    "line",
    [
        'aws_access_key_id = "AKIAIOSFODNN7EXAMPLE"',
        'password = "changeme-please-now"',
        'api_key = "${API_KEY_FROM_THE_ENVIRONMENT}"',
        'token = "<your token goes here>"',
        'secret = "xxxxxxxxxxxxxxxxxxxxxxxx"',
        'password = "aaaaaaaaaaaaaaaa"',
        "DATABASE_URL=postgres://user:password@localhost/db",
        'sha = "0123456789abcdef0123456789abcdef01234567"',
        'name = "abcdefghijklmnopqrstuvwxyzABCDEFGH"',
        "just prose about tokens and passwords",
    ],
)
def test_placeholders_and_ordinary_text_are_not_secrets(line):
    assert scan_line(line, 3.5) is None


def test_entropy():
    assert entropy("") == 0.0
    assert entropy("aaaa") == 0.0
    assert entropy("abcd") == 2.0


@pytest.mark.parametrize(
    "path,expected",
    [
        (".env", True),
        ("config/.env.production", True),
        ("deploy/id_rsa", True),
        ("certs/server.pem", True),
        (".env.example", False),
        ("deploy/id_rsa.pub", False),
        ("settings.py", False),
        ("credentials.json", True),
    ],
)
def test_credential_files(path, expected):
    assert secret_file(path) is expected


def test_in_a_staged_change(shop):
    stage(shop, {"shop/settings.py": f'AWS_KEY = "{fake_aws_key()}"\n', ".env": "TOKEN=1\n"})
    result = review(shop)
    assert brief(result) == [
        (".env", None, "error", "secrets/secret-file"),
        ("shop/settings.py", 1, "error", "secrets/aws-access-key"),
    ]
    assert result.findings[1].message == "AWS access key ID (AKIA…, 20 characters) in the change"
    assert all(fake_aws_key() not in repr(f.to_json()) for f in result.findings)
