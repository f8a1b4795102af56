"""Secrets in the change: known key formats, high-entropy values, files that hold credentials.

Every added byte is scanned. Text the diff shows is scanned line by line; what it does not
(binary files, a NUL byte, files git marks `-diff`, files over `index.max_file_bytes`) is
read as bytes from git (or the disk), a chunk at a time, and its runs of printable ASCII
(also UTF-16's) are searched for known key formats and secret-like assignments; of a changed file, only keys its
old version did not hold are reported. Past `MAX_SCAN_BYTES` in one review a file is not
read but reported as `secrets/not-scanned`, an error like a secret: the scan never lets a
file through unseen.

Messages never repeat a secret: they name its kind and show at most its first four
characters. Obvious placeholders (`EXAMPLE`, `xxxx`, `${VAR}`, `<token>`, `changeme`...) are
not reported, nor are values with template braces (`{name}`, `${VAR}`) or URLs, which
the URL check covers.
"""

from __future__ import annotations

import math
import os
import re
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Iterator

from codemem.code import GENERATED_NAMES, SECRET_NAMES
from codemem.errors import GitError
from codemem.infra import BlobReader
from codemem.review.blobs import disk_chunks
from codemem.review.context import ReviewContext
from codemem.review.diff import ChangedFile
from codemem.review.errors import ReviewError
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
MAX_SCAN_BYTES = 256 * 1024 * 1024  # read as bytes in one review at most (past it: secrets/not-scanned)
# Printable ASCII and tab are text; in text every other byte becomes a line break (no pattern
# crosses one); in binary content, runs of ten printable bytes ("p" in the mask) are looked at.
_TEXT_BYTES = bytes(b for b in range(256) if b == 9 or 32 <= b <= 126)
_AS_TEXT = bytes(b if b in _TEXT_BYTES else 10 for b in range(256))
_RUNS = bytes(ord("p") if b in _TEXT_BYTES else 0 for b in range(256))
_MIN_RUN = b"p" * 10  # no key is shorter
OVERLAP = 4096  # bytes of one chunk searched again with the next, so no key is cut in two
FIX = "remove it, rotate it if it was ever pushed, and read it from the environment"


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


# Texts every match of a rule holds (lower case: searched in the lowered text), so the scan of
# bytes runs each pattern only around them instead of over megabytes.
ANCHORS: dict[str, tuple[str, ...]] = {
    "secrets/private-key": ("private key",),
    "secrets/aws-access-key": ("akia", "asia", "abia", "acca"),
    "secrets/aws-secret-key": ("aws",),
    "secrets/github-token": ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
    "secrets/gitlab-token": ("glpat-",),
    "secrets/slack-token": ("xox",),
    "secrets/slack-webhook": ("hooks.slack.com",),
    "secrets/stripe-key": ("k_live_",),
    "secrets/google-api-key": ("aiza",),
    "secrets/anthropic-key": ("sk-ant-",),
    "secrets/openai-key": ("sk-",),
    "secrets/npm-token": ("npm_",),
    "secrets/pypi-token": ("pypi-",),
    "secrets/sendgrid-key": ("sg.",),
    "secrets/jwt": ("eyj",),
    "secrets/url-password": ("://",),
    "secrets/assigned-secret": ("secret", "token", "passw", "pwd", "api", "access", "private", "auth", "credential"),
}
_BEFORE, _AFTER = 256, 1024  # characters around an anchor where its pattern is run


def _spans(lowered: str, anchors: tuple[str, ...]) -> list[tuple[int, int]]:
    """Merged windows around every occurrence of the anchors."""
    starts = []
    for anchor in anchors:
        at = lowered.find(anchor)
        while at >= 0:
            starts.append(at)
            at = lowered.find(anchor, at + 1)
    spans: list[tuple[int, int]] = []
    for at in sorted(starts):
        start, end = max(0, at - _BEFORE), at + _AFTER
        if spans and start <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(spans[-1][1], end))
        else:
            spans.append((start, end))
    return spans


def secrets_in_text(text: str, min_entropy: float) -> Iterator[tuple[int, str, str, str, str]]:
    """(position, rule, severity, what, secret) of every known key and secret-like assignment.

    Patterns run only near their anchors (`ANCHORS`), so a long text costs a few `find`s.
    """
    lowered = text.lower()
    known: set[str] = set()  # a key of a known format is not reported again as an assignment
    for rule, severity, pattern, what in KNOWN:
        for start, end in _spans(lowered, ANCHORS[rule]):
            for match in pattern.finditer(text, start, end):
                secret = match.group(1) if pattern.groups else match.group(0)
                if not placeholder(secret):
                    known.add(secret)
                    yield match.start(), rule, severity, what, secret
    for start, end in _spans(lowered, ANCHORS["secrets/assigned-secret"]):
        for match in _ASSIGNED.finditer(text, start, end):
            value = match.group(1)
            if any(key in value for key in known):
                continue
            if not placeholder(value) and not _URL.search(value) and entropy(value) >= min_entropy:
                yield (match.start(), "secrets/assigned-secret", "error",
                       "a secret-looking value assigned to a secret-like name", value)


def _in_runs(buf: bytes, min_entropy: float) -> Iterator[tuple[int, str, str, str, str]]:
    """`secrets_in_text` over the runs of ten or more printable bytes of `buf`, joined."""
    starts: list[int] = []  # where each run is in the joined text
    offsets: list[int] = []  # and in `buf`
    pieces: list[str] = []
    at, mask = 0, buf.translate(_RUNS)
    start = mask.find(_MIN_RUN)
    while start >= 0:
        end = mask.find(b"\0", start)
        end = len(buf) if end < 0 else end
        starts.append(at)
        offsets.append(start)
        pieces.append(buf[start:end].decode("ascii"))
        at += end - start + 1
        start = mask.find(_MIN_RUN, end)
    for position, rule, severity, what, secret in secrets_in_text("\n".join(pieces), min_entropy):
        run = bisect_right(starts, position) - 1
        yield offsets[run] + position - starts[run], rule, severity, what, secret


def _in_buffer(buf: bytes, min_entropy: float) -> Iterator[tuple[int, str, str, str, str]]:
    """`secrets_in_text` over the printable ASCII of `buf` (every other byte ends a line).

    Mostly text: the whole buffer is one text. Mostly binary: its printable runs (a small
    fraction of it), and those of its even and of its odd bytes, where UTF-16 text keeps
    its ASCII.
    """
    if len(buf.translate(None, _TEXT_BYTES)) * 4 < len(buf):
        yield from secrets_in_text(buf.translate(_AS_TEXT).decode("ascii"), min_entropy)
        return
    yield from _in_runs(buf, min_entropy)
    for parity in (0, 1):
        for offset, rule, severity, what, secret in _in_runs(buf[parity::2], min_entropy):
            yield 2 * offset + parity, rule, severity, what, secret


def secrets_in_bytes(chunks: Iterable[bytes], min_entropy: float) -> dict[tuple[str, str], tuple[int, str, str]]:
    """(rule, secret) -> (byte offset, severity, what) of the keys in a stream of bytes."""
    found: dict[tuple[str, str], tuple[int, str, str]] = {}
    tail, base = b"", 0  # `base`: the offset of the buffer's first byte
    for chunk in chunks:
        buf = tail + chunk
        for offset, rule, severity, what, secret in _in_buffer(buf, min_entropy):
            found.setdefault((rule, secret), (base + offset, severity, what))
        keep = min(OVERLAP, len(buf))
        tail, base = buf[len(buf) - keep:], base + len(buf) - keep
    return found


def _size_text(size: int) -> str:
    return f"{size / 1_048_576:,.1f} MB" if size >= 1_048_576 else f"{size:,} bytes"


def not_scanned(f: ChangedFile, why: str) -> Finding:
    """A file the secret scan could not read: an error, as a secret would be."""
    return Finding("secrets/not-scanned", "error", f.path, None, f"not scanned for secrets: {why}",
                   "check it for keys yourself, then commit with SKIP=codemem (or dismiss this finding)",
                   line_text=f.new_blob or f.path)


class _Bytes:
    """The secret scan's reads of whole contents, within `MAX_SCAN_BYTES` for the review."""

    def __init__(self, ctx: ReviewContext, reader: BlobReader) -> None:
        self.root, self.reader, self.left = ctx.ws.root, reader, MAX_SCAN_BYTES
        self.min_entropy = ctx.settings.secret_entropy

    def new_side(self, f: ChangedFile) -> dict[tuple[str, str], tuple[int, str, str]] | str:
        """The keys in the file's new content, or why it could not be read."""
        if f.new_blob:
            size, chunks = self.reader.open(f.new_blob)
        else:
            path = self.root / f.path
            if os.path.islink(path) or not os.path.isfile(path):
                return {}
            size, chunks = os.path.getsize(path), disk_chunks(path)
        if size > self.left:
            if f.new_blob:
                self.reader.skip()
            return (f"{_size_text(size)} is more than the {_size_text(MAX_SCAN_BYTES)} "
                    "it reads in one review")
        self.left -= size
        return secrets_in_bytes(chunks, self.min_entropy)

    def old_side(self, f: ChangedFile) -> set[tuple[str, str]]:
        """The keys the file's old content already held (none when it cannot be read)."""
        if not f.old_blob or f.status == "added":
            return set()
        size, chunks = self.reader.open(f.old_blob)
        if size > self.left:
            self.reader.skip()
            return set()
        self.left -= size
        return set(secrets_in_bytes(chunks, self.min_entropy))


def scan_bytes(ctx: ReviewContext, files: list[ChangedFile]) -> Iterator[Finding]:
    """Keys in files the diff does not show as text, read whole as bytes (see the module docstring)."""
    with BlobReader(ctx.ws.root) as reader:
        contents = _Bytes(ctx, reader)
        for f in files:
            try:
                found = contents.new_side(f)
                if isinstance(found, str):
                    yield not_scanned(f, found)
                    continue
                old = contents.old_side(f) if found else set()
            except (ReviewError, GitError, OSError) as exc:
                yield not_scanned(f, str(exc))
                continue
            except Exception as exc:  # a bug must not let the file through unseen
                yield not_scanned(f, f"the scan failed ({type(exc).__name__}: {exc})")
                continue
            for (rule, secret), (offset, severity, what) in sorted(found.items(), key=lambda item: item[1][0]):
                if (rule, secret) not in old:
                    yield Finding(rule, severity, f.path, None,
                                  f"{what} ({redact(secret)}) in the change, at byte {offset:,} (read as bytes: "
                                  "the diff does not show this file as text)", FIX, line_text=secret)


def scan_lines(f: ChangedFile, min_entropy: float) -> Iterator[Finding]:
    """The first secret on each added line of a text file."""
    generated = bool(GENERATED_NAMES.search(f.path.rsplit("/", 1)[-1]))
    for n, text in f.added.items():
        hit = scan_line(text, min_entropy, generated)
        if hit:
            rule, severity, message = hit
            yield Finding(rule, severity, f.path, n, message, FIX, line_text=text)


def check(ctx: ReviewContext) -> Iterator[Finding]:
    """Known key formats, secret-like assignments and random strings in every added byte; credential files."""
    for f in ctx.files:
        if secret_file(f.path):
            yield Finding("secrets/secret-file", "error", f.path, None,
                          "this file's name says it holds credentials",
                          "keep it out of git (add it to .gitignore) and commit a template instead",
                          line_text=f.path)
    for f in ctx.text_files():
        try:
            found = list(scan_lines(f, ctx.settings.secret_entropy))
        except Exception as exc:  # a bug must not let the file through unseen
            found = [not_scanned(f, f"the scan failed ({type(exc).__name__}: {exc})")]
        yield from found
    unread = [f for f in ctx.files if f.data is None]
    if unread:
        yield from scan_bytes(ctx, unread)
