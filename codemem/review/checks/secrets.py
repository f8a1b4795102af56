"""Secrets in the change: known key formats, high-entropy values, files that hold credentials.

Every added byte is scanned. Text the diff shows is scanned line by line; what it does not
(binary files, a NUL byte, files git marks `-diff`, files over `index.max_file_bytes`) is
read as bytes from git (or the disk), a chunk at a time, and its runs of printable ASCII
(also UTF-16's) are searched for known key formats and secret-like assignments; of a changed file, only keys its
old version did not hold are reported. Past `MAX_SCAN_BYTES` in one review a file is not
read but reported as `secrets/not-scanned`, an error like a secret: the scan never lets a
file through unseen.

Messages never repeat a secret: they name its kind and show at most its first four
characters. What counts as a secret (and which placeholders do not) is decided by the one
detector, `codemem.infra.secrets`; this check turns what it finds into findings.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from codemem.code import GENERATED_NAMES, SECRET_NAMES
from codemem.errors import GitError
from codemem.infra import BlobReader, entropy, first_secret, secret_hint, secrets_in_bytes
from codemem.review.blobs import disk_chunks
from codemem.review.context import ReviewContext
from codemem.review.diff import ChangedFile
from codemem.review.errors import ReviewError
from codemem.review.findings import Finding

TEMPLATE_SUFFIXES = (".example", ".sample", ".template", ".dist", ".tmpl", ".pub", ".in")
MAX_SCAN_BYTES = (
    256 * 1024 * 1024
)  # read as bytes in one review at most (past it: secrets/not-scanned)
FIX = "remove it, rotate it if it was ever pushed, and read it from the environment"


def scan_line(
    text: str, min_entropy: float, generated: bool = False
) -> tuple[str, str, str] | None:
    """(rule, severity, message) for the first secret in a line, or None."""
    found = first_secret(text, min_entropy, generated)
    if found is None:
        return None
    if found.rule == "secrets/private-key":
        return found.rule, found.severity, f"{found.what} in the change"
    if found.rule == "secrets/assigned-secret":
        return (
            found.rule,
            found.severity,
            f"a secret-looking value ({secret_hint(found.value)}) is assigned to a secret-like name",
        )
    if found.rule == "secrets/high-entropy":
        return (
            found.rule,
            found.severity,
            f"high-entropy string ({secret_hint(found.value)}, {entropy(found.value):.1f} bits per character)",
        )
    return found.rule, found.severity, f"{found.what} ({secret_hint(found.value)}) in the change"


def secret_file(path: str) -> bool:
    """Whether a file's name says it holds credentials (`.env`, `id_rsa`, `*.pem`...)."""
    name = path.rsplit("/", 1)[-1]
    return bool(SECRET_NAMES.search(name)) and not name.lower().endswith(TEMPLATE_SUFFIXES)


def _size_text(size: int) -> str:
    return f"{size / 1_048_576:,.1f} MB" if size >= 1_048_576 else f"{size:,} bytes"


def not_scanned(f: ChangedFile, why: str) -> Finding:
    """A file the secret scan could not read: an error, as a secret would be."""
    return Finding(
        "secrets/not-scanned",
        "error",
        f.path,
        None,
        f"not scanned for secrets: {why}",
        "check it for keys yourself, then commit with SKIP=codemem (or dismiss this finding)",
        line_text=f.new_blob or f.path,
    )


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
            return (
                f"{_size_text(size)} is more than the {_size_text(MAX_SCAN_BYTES)} "
                "it reads in one review"
            )
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
            for (rule, secret), (offset, severity, what) in sorted(
                found.items(), key=lambda item: item[1][0]
            ):
                if (rule, secret) not in old:
                    yield Finding(
                        rule,
                        severity,
                        f.path,
                        None,
                        f"{what} ({secret_hint(secret)}) in the change, at byte {offset:,} (read as bytes: "
                        "the diff does not show this file as text)",
                        FIX,
                        line_text=secret,
                    )


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
            yield Finding(
                "secrets/secret-file",
                "error",
                f.path,
                None,
                "this file's name says it holds credentials",
                "keep it out of git (add it to .gitignore) and commit a template instead",
                line_text=f.path,
            )
    for f in ctx.text_files():
        try:
            found = list(scan_lines(f, ctx.settings.secret_entropy))
        except Exception as exc:  # a bug must not let the file through unseen
            found = [not_scanned(f, f"the scan failed ({type(exc).__name__}: {exc})")]
        yield from found
    unread = [f for f in ctx.files if f.data is None]
    if unread:
        yield from scan_bytes(ctx, unread)
