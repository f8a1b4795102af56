"""Which files the index sees, and how each one's content is identified.

Tracked files come from `git ls-files -s` (their blob ids are free), untracked files that
git does not ignore from `git ls-files --others --exclude-standard`; only files that differ
from git's index are hashed, with git's own blob hash, so ids agree across both.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from codemem.infra import run_git

# Path segments that mark third-party code copied into a repository.
VENDOR_DIRS = frozenset(
    {
        "vendor",
        "third_party",
        "third-party",
        "thirdparty",
        "node_modules",
        "bower_components",
        "site-packages",
        ".yarn",
        "Pods",
        "Carthage",
        "_vendor",
    }
)
GENERATED_NAMES = re.compile(
    r"(\.min\.(js|css|mjs)$|\.map$|_pb2(_grpc)?\.pyi?$|\.pb\.(go|cc|h)$|\.pb\.gw\.go$"
    r"|_generated\.|\.generated\.|\.g\.(dart|cs)$|\.designer\.cs$"
    r"|^(package-lock\.json|yarn\.lock|pnpm-lock\.yaml|Cargo\.lock|poetry\.lock|Pipfile\.lock"
    r"|go\.sum|composer\.lock|Gemfile\.lock|uv\.lock|bun\.lockb)$)"
)
SECRET_NAMES = re.compile(
    r"(^\.env(\..*)?$|^\.envrc$|\.(pem|key|p12|pfx|jks|keystore|ppk|asc|gpg)$"
    r"|^id_(rsa|dsa|ecdsa|ed25519)(\.pub)?$|^\.(netrc|pypirc|npmrc|git-credentials|htpasswd)$"
    # `credentials` and `credentials.json` hold keys; `credentials.go` is source about them.
    r"|^credentials(\.(json|ya?ml|toml|ini|cfg|conf|env|txt|xml|csv))?$|^secrets?\.(ya?ml|json|toml|env|ini)$"
    r"|^service[-_]account.*\.json$|\.tfvars$|\.tfstate$)",
    re.IGNORECASE,
)
GENERATED_MARKERS = re.compile(
    # Only inside a comment near the top: code that merely quotes a marker is not generated.
    rb"^[ \t]*(?:#|//|/\*+|\*|--|;|<!--|%)[^\n]*?"
    rb"(@generated|Code generated .* DO NOT EDIT|DO NOT EDIT[.!]? *(THIS FILE)?|"
    rb"auto-?generated (file|code|by)|This file was automatically generated|"
    rb"amalgamation of|merged from multiple (headers|files)|"
    rb"(do not|don'?t) edit (it|this file) directly|Generated: \d{4}-\d\d-\d\d)",
    re.IGNORECASE | re.MULTILINE,
)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A file the repository offers for indexing."""

    path: str  # repository-relative, "/" separators
    content_id: str | None  # git blob id when git already knows the content
    tracked: bool


def git_blob_id(data: bytes) -> str:
    """The id git gives this content (`git hash-object`)."""
    digest = hashlib.sha1(b"blob %d\0" % len(data))
    digest.update(data)
    return digest.hexdigest()


@lru_cache(maxsize=256)
def _glob_regex(pattern: str) -> re.Pattern[str]:
    """Compile a gitignore-style glob: `**/` spans directories, `*` stays in one."""
    if "/" not in pattern:
        pattern = "**/" + pattern  # a bare name matches anywhere, as in .gitignore
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and "]" in pattern[i + 1 :]:
            end = pattern.index("]", i + 1)
            body = pattern[i + 1 : end].replace("\\", "\\\\")
            out.append("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
            i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


def matches_any(path: str, patterns: list[str]) -> bool:
    """Whether a repository path matches one of the glob patterns."""
    return any(
        _glob_regex(p.rstrip("/") + ("/**" if p.endswith("/") else "")).match(path)
        for p in patterns
    )


def list_candidates(
    root: Path, include: Sequence[str] = (), exclude: Sequence[str] = ()
) -> list[Candidate]:
    """Tracked and untracked-not-ignored files (plus ignored ones matching `include`).

    Content ids are filled in for tracked files that are unchanged in the work tree; the
    others (modified, untracked) get None and are hashed by `content_id_of` when read.
    """
    staged = run_git(root, "ls-files", "-s", "-z").split(b"\0")
    modified = set(run_git(root, "ls-files", "-m", "-z").split(b"\0"))
    others = run_git(root, "ls-files", "-o", "--exclude-standard", "-z").split(b"\0")
    out: dict[str, Candidate] = {}
    for entry in staged:
        if not entry:
            continue
        meta, _, raw_path = entry.partition(b"\t")
        mode, blob, stage = meta.split(b" ")
        if mode in (b"120000", b"160000"):  # symlinks and submodules are never followed
            continue
        path = raw_path.decode("utf-8", "surrogateescape")
        if stage != b"0":  # unmerged: hash the work tree version
            out[path] = Candidate(path, None, True)
            continue
        blob_id = None if raw_path in modified else blob.decode()
        out[path] = Candidate(path, blob_id, True)
    extra = [o for o in others if o]
    if include:
        ignored = run_git(root, "ls-files", "-o", "-i", "--exclude-standard", "-z").split(b"\0")
        extra += [
            p
            for p in ignored
            if p and matches_any(p.decode("utf-8", "surrogateescape"), list(include))
        ]
    for raw_path in extra:
        path = raw_path.decode("utf-8", "surrogateescape")
        out.setdefault(path, Candidate(path, None, False))
    # codemem's own folder is memory, not code: its index would otherwise index itself.
    paths = sorted(p for p in out if not p.startswith(".codemem/"))
    if exclude:
        paths = [p for p in paths if not matches_any(p, list(exclude))]
    return [out[p] for p in paths]


def path_skip_reason(path: str) -> str | None:
    """Why a path is never indexed, judged from its name alone (None: look inside)."""
    parts = path.split("/")
    name = parts[-1]
    if SECRET_NAMES.search(name):
        return "secret"
    if any(part in VENDOR_DIRS for part in parts[:-1]):
        return "vendored"
    if GENERATED_NAMES.search(name):
        return "generated"
    return None


def read_repo_file(root: Path, path: str, max_bytes: int) -> tuple[bytes | None, str | None]:
    """The bytes of a repository file, or None and the reason it is skipped.

    Never follows a symlink and never reads outside the repository.
    """
    full = root / path
    try:
        st = os.lstat(full)
    except FileNotFoundError:
        return None, "missing"
    except OSError:
        return None, "unreadable"
    if not os.path.isfile(full) or os.path.islink(full):
        return None, "symlink" if os.path.islink(full) else "not_a_file"
    real = os.path.realpath(full)
    if not real.startswith(str(root.resolve()) + os.sep):
        return None, "outside_repo"
    if st.st_size > max_bytes:
        return None, "too_large"
    try:
        with open(full, "rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError:
        return None, "unreadable"
    if len(data) > max_bytes:
        return None, "too_large"
    return data, None


def content_skip_reason(data: bytes) -> str | None:
    """Why file content is not indexed: binary, generated or minified (None: index it)."""
    head = data[:8192]
    if b"\0" in head:
        return "binary"
    if GENERATED_MARKERS.search(data[:2048]):
        return "generated"
    if len(data) > 20_000:
        newlines = data.count(b"\n")
        if len(data) / (newlines + 1) > 1_000:
            return "minified"
    return None


_TEST_DIRS = frozenset(
    {"test", "tests", "testing", "spec", "specs", "__tests__", "testdata", "test_data"}
)
# A file is a test by its name alone only where the name follows its language's test
# convention: `test_x.py` is a pytest module, but bats-core's `test_functions.bash` is library
# code. Each rule matches the name without its last extension; other languages keep only
# the `_test`/`_tests` suffix that most of them share.
_PYTHON_TESTS = r"test_.*|.*_tests?|conftest"
_JS_TESTS = r".*[._-](test|spec)s?"  # foo.test.ts, foo.spec.js, foo_test.js
_JVM_TESTS = r"Test[A-Z].*|.*Tests?|.*TestCase"  # FooTest.java, FooTests.cs, TestFoo.php
_C_TESTS = r"test_.*|.*_(unit)?tests?|Test[A-Z].*"
_TEST_NAME_RULES: dict[str, str] = {
    "py": _PYTHON_TESTS,
    "pyi": _PYTHON_TESTS,
    "go": r".*_test",
    "rb": r".*_(spec|test)|test_.*",
    "ex": r".*_test",
    "exs": r".*_test",
    "lua": r".*_(spec|test)",
    "swift": r".*Tests?",
    "dart": r".*_test",
    "bats": r".*",  # every bats file is a test
    **{ext: _JS_TESTS for ext in ("js", "jsx", "mjs", "cjs", "ts", "tsx", "mts", "cts")},
    **{ext: _JVM_TESTS for ext in ("java", "kt", "kts", "scala", "groovy", "cs", "php")},
    **{ext: _C_TESTS for ext in ("c", "h", "cc", "cpp", "cxx", "hpp", "hh", "hxx")},
}
_TEST_NAME = {ext: re.compile(rule) for ext, rule in _TEST_NAME_RULES.items()}
_ANY_TEST_NAME = re.compile(r".*_tests?")


_EXAMPLE_DIRS = frozenset(
    {"example", "examples", "_examples", "sample", "samples", "demo", "demos", "docs_src"}
)


def is_example_path(path: str) -> bool:
    """Whether a path is example or demo code: it shows the library in use, it is not it."""
    return any(p.lower() in _EXAMPLE_DIRS for p in path.split("/")[:-1])


def is_test_path(path: str) -> bool:
    """Whether a path looks like test code: in a test directory, or named as its language
    names tests."""
    parts = path.split("/")
    if any(p.lower() in _TEST_DIRS for p in parts[:-1]):
        return True
    stem, dot, ext = parts[-1].rpartition(".")
    if not dot or not stem:
        return False
    return bool(_TEST_NAME.get(ext.lower(), _ANY_TEST_NAME).fullmatch(stem))
