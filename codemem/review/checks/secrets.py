"""Secrets in the change: known key formats, high-entropy values, files that hold credentials.

Messages never repeat a secret: they name its kind and show at most its first four
characters. Obvious placeholders (`EXAMPLE`, `xxxx`, `${VAR}`, `<token>`, `changeme`...) are
not reported, nor are values with template braces (`{name}`, `${VAR}`) or URLs, which
the URL check covers.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterator

from codemem.code import GENERATED_NAMES, SECRET_NAMES
from codemem.review.context import ReviewContext
from codemem.review.findings import Finding

# (rule, severity, pattern, what it is); group 1, when present, is the secret itself.
KNOWN: list[tuple[str, str, re.Pattern[str], str]] = [
    ("secrets/private-key", "error", re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"), "private key"),
    ("secrets/aws-access-key", "error", re.compile(r"\b((?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16})\b"), "AWS access key ID"),
    ("secrets/aws-secret-key", "error",
     re.compile(r"(?i)aws.{0,20}?(?:secret|private).{0,20}?['\"]([A-Za-z0-9/+=]{40})['\"]"), "AWS secret access key"),
    ("secrets/github-token", "error", re.compile(r"\b(gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})\b"),
     "GitHub token"),
    ("secrets/gitlab-token", "error", re.compile(r"\b(glpat-[A-Za-z0-9_\-]{20,})"), "GitLab token"),
    ("secrets/slack-token", "error", re.compile(r"\b(xox[abposr]-[A-Za-z0-9-]{10,})"), "Slack token"),
    ("secrets/slack-webhook", "error",
     re.compile(r"(https://hooks\.slack\.com/services/T[A-Za-z0-9_]+/B[A-Za-z0-9_]+/[A-Za-z0-9_]+)"), "Slack webhook URL"),
    ("secrets/stripe-key", "error", re.compile(r"\b([sr]k_live_[0-9a-zA-Z]{20,})\b"), "Stripe live key"),
    ("secrets/google-api-key", "error", re.compile(r"\b(AIza[0-9A-Za-z_\-]{35})(?![0-9A-Za-z_\-])"), "Google API key"),
    ("secrets/anthropic-key", "error", re.compile(r"\b(sk-ant-[a-z]+\d{2}-[A-Za-z0-9_\-]{40,})"), "Anthropic API key"),
    ("secrets/openai-key", "error",
     re.compile(r"\b(sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{16,}T3BlbkFJ[A-Za-z0-9_\-]{16,}|sk-proj-[A-Za-z0-9_\-]{40,})"),
     "OpenAI API key"),
    ("secrets/npm-token", "error", re.compile(r"\b(npm_[A-Za-z0-9]{36})\b"), "npm token"),
    ("secrets/pypi-token", "error", re.compile(r"\b(pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_\-]{50,})"), "PyPI token"),
    ("secrets/sendgrid-key", "error", re.compile(r"\b(SG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43})"), "SendGrid API key"),
    ("secrets/jwt", "warning", re.compile(r"\b(eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,})"),
     "JSON Web Token"),
    ("secrets/url-password", "warning", re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@'\"]+:([^/\s:@'\"]{3,})@"),
     "password in a URL"),
]
_ASSIGNED = re.compile(
    r"(?i)(?:secret|token|passw(?:or)?d|passwd|pwd|api[_-]?key|apikey|access[_-]?key|private[_-]?key"
    r"|client[_-]?secret|auth[_-]?key|credentials?)[\w-]*['\"]?\s*(?::=|=>|[:=])\s*[rbf]?['\"]([^'\"\s]{12,})['\"]"
)
_QUOTED = re.compile(r"['\"]([A-Za-z0-9+/=_\-]{32,})['\"]")
_PLACEHOLDER = re.compile(
    r"(?i)example|sample|dummy|fake|test|changeme|change_me|placeholder|redacted|your|secret_here|"
    r"x{4,}|\*{3,}|\.{3}|<[^>]*>|\{[^}]*\}|%\(|\$[A-Z_]+|^(?:pass(?:word)?|user(?:name)?|secret|token)$"
)
_URL = re.compile(r"://")  # a URL assigned to a secret-like name is the URL check's business
TEMPLATE_SUFFIXES = (".example", ".sample", ".template", ".dist", ".tmpl", ".pub", ".in")
HIGH_ENTROPY = 4.3  # bits per character of a random-looking quoted string anywhere


def entropy(text: str) -> float:
    """Shannon entropy in bits per character."""
    if not text:
        return 0.0
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def redact(secret: str) -> str:
    """The first four characters and the length: enough to find it, not to use it."""
    return f"{secret[:4]}…, {len(secret)} characters"


def placeholder(value: str) -> bool:
    """Whether a value is obviously not a real secret (`EXAMPLE`, `xxxx`, `${VAR}`, one repeated character)."""
    return bool(_PLACEHOLDER.search(value)) or len(set(value)) <= 3


def _mixed(value: str) -> bool:
    return any(c.islower() for c in value) and any(c.isupper() for c in value) and any(c.isdigit() for c in value)


def scan_line(text: str, min_entropy: float, generated: bool = False) -> tuple[str, str, str] | None:
    """(rule, severity, message) for the first secret in a line, or None."""
    for rule, severity, pattern, what in KNOWN:
        match = pattern.search(text)
        if match:
            secret = match.group(1) if pattern.groups else match.group(0)
            if placeholder(secret):
                continue
            shown = f" ({redact(secret)})" if pattern.groups else ""
            return rule, severity, f"{what}{shown} in the change"
    match = _ASSIGNED.search(text)
    if match and not placeholder(match.group(1)) and not _URL.search(match.group(1)) and entropy(match.group(1)) >= min_entropy:
        return ("secrets/assigned-secret", "error",
                f"a secret-looking value ({redact(match.group(1))}) is assigned to a secret-like name")
    if generated:
        return None
    for match in _QUOTED.finditer(text):
        value = match.group(1)
        if _mixed(value) and not placeholder(value) and entropy(value) >= HIGH_ENTROPY:
            return ("secrets/high-entropy", "warning",
                    f"high-entropy string ({redact(value)}, {entropy(value):.1f} bits per character)")
    return None


def secret_file(path: str) -> bool:
    """Whether a file's name says it holds credentials (`.env`, `id_rsa`, `*.pem`...)."""
    name = path.rsplit("/", 1)[-1]
    return bool(SECRET_NAMES.search(name)) and not name.lower().endswith(TEMPLATE_SUFFIXES)


def check(ctx: ReviewContext) -> Iterator[Finding]:
    """Known key formats, secret-like assignments and random strings on added lines; credential files."""
    for f in ctx.files:
        if secret_file(f.path):
            yield Finding("secrets/secret-file", "error", f.path, None,
                          "this file's name says it holds credentials",
                          "keep it out of git (add it to .gitignore) and commit a template instead",
                          line_text=f.path)
    for f in ctx.text_files():
        generated = bool(GENERATED_NAMES.search(f.path.rsplit("/", 1)[-1]))
        for n, text in f.added.items():
            hit = scan_line(text, ctx.settings.secret_entropy, generated)
            if hit:
                rule, severity, message = hit
                yield Finding(rule, severity, f.path, n, message,
                              "remove it, rotate it if it was ever pushed, and read it from the environment",
                              line_text=text)
