"""Which files the index sees, and how each one's content is identified.

One `git ls-files` per run lists the work tree (`read_listing`): tracked files with their
blob ids (free), the ones changed in the work tree, and untracked files git does not ignore.
Only files that differ from git's index are hashed, with git's own blob hash, so ids agree
across both.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from codemem.code.globs import matches_any
from codemem.infra import read_at_most, run_git

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
# Files that exist only while git runs a merge driver: its copies of each side
# (`.merge_file_XXXXXX`, at the top of the work tree) and the driver's result written through a
# temporary beside one (`..merge_file_XXXXXX.<8 characters>.tmp`, `codemem.infra.atomic_write`).
TRANSIENT_NAMES = re.compile(r"\.?\.merge_file_[A-Za-z0-9]{6}(\.[a-z0-9_]{8}\.tmp)?")
GENERATED_MARKERS = re.compile(
    # Only inside a comment near the top: code that merely quotes a marker is not generated.
    rb"^[ \t]*(?:#|//|/\*+|\*|--|;|<!--|%)[^\n]*?"
    rb"(@generated|Code generated .* DO NOT EDIT|DO NOT EDIT[.!]? *(THIS FILE)?|"
    rb"auto-?generated (file|code|by)|This file was automatically generated|"
    rb"amalgamation of|merged from multiple (headers|files)|"
    rb"(do not|don'?t) edit (it|this file) directly|Generated: \d{4}-\d\d-\d\d)",
    re.IGNORECASE | re.MULTILINE,
)
# Texts one of which (lower-cased) every match of GENERATED_MARKERS holds: a file's head without
# any is not searched with it (a pattern tried at every line start costs ~60 µs a file).
_GENERATED_WORDS = (b"generated", b"edit", b"amalgamation of", b"merged from multiple")


@dataclass(frozen=True, slots=True)
class Marks:
    """One file's git attributes (`codemem.code.attributes`): True marked, False un-marked
    (`-attr`, `attr=false`), None not said (the heuristics decide)."""

    generated: bool | None = None
    vendored: bool | None = None
    binary: bool = False  # `binary`, or `-text` with `-diff`


NO_MARKS = Marks()


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


# `-t` tags each entry: H tracked, S tracked but skipped by a sparse checkout, C changed in
# the work tree (listed after its H entry), M unmerged, ? untracked. `-s` gives the tracked
# entries' mode, blob id and stage; `-m` and `-o` add the changed and the untracked files.
LISTING_COMMAND = ("ls-files", "-t", "-s", "-m", "-o", "--exclude-standard", "-z")
MISSING = "missing"  # `read_repo_file`'s reason for a listed file gone from the work tree

# Tags that need no hashing: an H entry's blob id is the work tree's content, and an S file is
# not in the work tree (outside a sparse checkout), so not a candidate: once it is checked out
# it is listed as H, and indexed (recorded as missing, its unchanged id kept it unread).
_VOUCHED = (b"H", b"S")


def read_listing(root: Path, include: Sequence[str] = ()) -> list[bytes]:
    """The raw entries of the work tree's one `git ls-files` (plus, for `include`, ignored
    files matching it, as untracked entries), in git's path order."""
    entries = run_git(root, *LISTING_COMMAND).split(b"\0")
    if include:
        ignored = run_git(root, "ls-files", "-o", "-i", "--exclude-standard", "-z").split(b"\0")
        patterns = list(include)
        entries += [
            b"? " + p
            for p in ignored
            if p and matches_any(p.decode("utf-8", "surrogateescape"), patterns)
        ]
    return entries


def entry_path(entry: bytes) -> bytes:
    """The path of one of `read_listing`'s entries (`? path`, or `T mode blob stage\tpath`)."""
    return entry[2:] if entry[:1] == b"?" else entry.partition(b"\t")[2]


def unvouched(entries: list[bytes]) -> list[bytes]:
    """The entries whose content git cannot vouch for (changed, unmerged, untracked)."""
    return [e for e in entries if e and e[:1] not in _VOUCHED]


# A tracked entry git vouches for (in the work tree, not a symlink or submodule, not unmerged,
# not in codemem's own folder, which is memory, not code): blob and path.
_VOUCHED_ENTRY = re.compile(
    r"(?:^|\0)H (?!120000 |160000 )\d+ ([0-9a-f]+) 0\t(?!\.codemem/)([^\0]*)"
)


def parse_listing(
    entries: list[bytes], exclude: Sequence[str] = ()
) -> dict[str, tuple[str | None, bool]]:
    """path -> (blob id or None when it must be hashed, tracked) of the candidate files among
    `read_listing`'s entries, in path order."""
    # The many entries git vouches for in one pass over the text; the few others one by one.
    text = b"\0".join(entries).decode("utf-8", "surrogateescape")
    out: dict[str, tuple[str | None, bool]] = {
        path: (blob, True) for blob, path in _VOUCHED_ENTRY.findall(text)
    }
    for entry in unvouched(entries):
        tag, rest = entry[:1], entry[2:]
        if tag == b"?":
            path = rest.decode("utf-8", "surrogateescape")
            if not path.startswith(".codemem/"):
                out.setdefault(path, (None, False))
            continue
        if tag not in (b"C", b"M"):
            continue
        meta, _, raw_path = rest.partition(b"\t")
        path = raw_path.decode("utf-8", "surrogateescape")
        if meta.startswith((b"120000 ", b"160000 ")) or path.startswith(".codemem/"):
            continue  # symlinks and submodules are never followed
        # Unmerged, or changed in the work tree: hash the work tree version.
        out[path] = (None, True)
    paths = sorted(out)
    if exclude:
        patterns = list(exclude)
        paths = [p for p in paths if not matches_any(p, patterns)]
    if paths == list(out):  # git's order, nothing left out: as it is
        return out
    return {p: out[p] for p in paths}


def list_candidates(
    root: Path, include: Sequence[str] = (), exclude: Sequence[str] = ()
) -> list[Candidate]:
    """Tracked and untracked-not-ignored files (plus ignored ones matching `include`).

    Content ids are filled in for tracked files that are unchanged in the work tree; the
    others (modified, untracked) get None and are hashed when read.
    """
    parsed = parse_listing(read_listing(root, include), exclude)
    return [Candidate(path, cid, tracked) for path, (cid, tracked) in parsed.items()]


def path_skip_reason(path: str, marks: Marks = NO_MARKS) -> str | None:
    """Why a path is never indexed, judged from its name alone and the repository's git
    attributes for it, `marks` (None: look inside)."""
    if not is_utf8(path):
        return "name_not_utf8"  # no index table or search result can hold the name
    parts = path.split("/")
    name = parts[-1]
    if len(parts) == 1 and TRANSIENT_NAMES.fullmatch(name):
        return "transient"
    if SECRET_NAMES.search(name):
        return "secret"  # whatever the attributes say: a key is never indexed
    if marks is not NO_MARKS:
        if marks.vendored:
            return "vendored"
        if marks.generated:
            return "generated"
        if marks.binary:
            return "binary"
    if marks.vendored is None and any(part in VENDOR_DIRS for part in parts[:-1]):
        return "vendored"
    if marks.generated is None and GENERATED_NAMES.search(name):
        return "generated"
    return None


def is_utf8(path: str) -> bool:
    """Whether a path git listed is UTF-8 (undecodable bytes are kept as lone surrogates)."""
    if path.isascii():  # nearly every path: nothing to encode
        return True
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def read_repo_file(root: Path, path: str, max_bytes: int) -> tuple[bytes | None, str | None]:
    """The bytes of a repository file, or None and the reason it is skipped.

    Never follows a symlink, never reads outside the repository, and never waits on a FIFO
    or reads a device: a file swapped for one since it was listed (a pull, a checkout) is
    opened without following a final link and without blocking, and checked again once open.
    """
    full = os.path.join(root, path)  # a string: a `Path` costs more to make than the read
    try:
        st = os.lstat(full)
    except FileNotFoundError:
        return None, MISSING
    except OSError:
        return None, "unreadable"
    if stat.S_ISLNK(st.st_mode):  # `lstat` told: no more calls to ask again
        return None, "symlink"
    if not stat.S_ISREG(st.st_mode):
        return None, "not_a_file"
    if not _inside(root, path, full):
        return None, "outside_repo"
    if st.st_size > max_bytes:
        return None, "too_large"
    try:
        fd = os.open(full, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        return None, "symlink" if exc.errno == errno.ELOOP else "unreadable"
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None, "not_a_file"
        try:
            data = read_at_most(handle, max_bytes + 1, st.st_size)
        except OSError:
            return None, "unreadable"
    if len(data) > max_bytes:
        return None, "too_large"
    return data, None


def _inside(root: Path, path: str, full: str) -> bool:
    """Whether `full` (`root/path`, the file itself not a link) resolves inside the repository.

    Where no folder of `path` is a link, it does, as `path` names it: one `lstat` a folder
    below the root, instead of `realpath`'s one for every folder from `/` (a quarter of the
    work for a small file). Any link, or a name git would not list, is resolved.
    """
    parts = path.split("/")
    at = str(root)
    try:
        for part in parts[:-1]:
            if part in ("", ".", ".."):
                break
            at = f"{at}{os.sep}{part}"
            if stat.S_ISLNK(os.lstat(at).st_mode):
                break
        else:
            if parts[-1] not in ("", ".", ".."):
                return True
    except OSError:  # changed meanwhile: resolved as it is now
        pass
    return os.path.realpath(full).startswith(_resolved_root(root))


@lru_cache(maxsize=8)
def _resolved_root(root: Path) -> str:
    """The repository's real path and a separator: resolved once, not once per file read."""
    return str(root.resolve()) + os.sep


# The version of the skip rules (`path_skip_reason`, `content_skip_reason`): bump it when they
# come to skip files they indexed before, so that an index built under older rules drops them
# on its next run (`code/plan.py`'s `changes_since` judges every file again, once), not only
# when they change. 2: Git LFS pointers.
SKIP_RULES = 2


def content_skip_reason(data: bytes, generated: bool = True) -> str | None:
    """Why file content is not indexed: binary, a Git LFS pointer, generated or minified
    (None: index it); with `generated` False (`linguist-generated=false`), never generated
    or minified."""
    head = data[:8192]
    if b"\0" in head:
        return "binary"
    if is_lfs_pointer(data):
        return "lfs_pointer"
    if not generated:
        return None
    top = data[:2048]
    lowered = top.lower()
    if any(word in lowered for word in _GENERATED_WORDS) and GENERATED_MARKERS.search(top):
        return "generated"
    if len(data) > 20_000:
        newlines = data.count(b"\n")
        if len(data) / (newlines + 1) > 1_000:
            return "minified"
    return None


def is_lfs_pointer(data: bytes) -> bool:
    """Whether `data` is a Git LFS pointer (git-lfs's spec: under 1024 bytes, `version` first,
    then `oid` and `size`): what a clone without git-lfs, or one that fetched no LFS objects,
    holds in place of an image or a model's weights. Its words are an id and a size, so an
    index of a repository of many LFS files would answer searches with them."""
    return (
        len(data) < 1024
        and data.startswith(_LFS_VERSIONS)
        and b"\noid sha256:" in data
        and b"\nsize " in data
    )


_LFS_VERSIONS = (
    b"version https://git-lfs.github.com/spec/v1\n",
    b"version https://hawser.github.com/spec/v1\n",
)


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


# Code a project carries but does not write, among the folders it indexes (`VENDOR_DIRS` never
# are): copies kept under other names, old versions. Not `contrib/`: in many projects (Django's
# `django/contrib/`, Celery's) it is first-party code.
_BORROWED_DIRS = frozenset({"vendored", "external", "deps", "dependencies", "legacy"})


@lru_cache(maxsize=16384)  # a search asks again for the same candidates' paths
def is_borrowed_path(path: str) -> bool:
    """Whether a path is in a folder of vendored, third-party or legacy code (`vendored/`,
    `deps/`, `lib/legacy/`): a copy of something kept elsewhere, rarely what a fix edits."""
    return any(p.lower() in _BORROWED_DIRS for p in path.split("/")[:-1])


@lru_cache(maxsize=16384)  # a search asks again for the same candidates' paths
def is_example_path(path: str) -> bool:
    """Whether a path is example or demo code: it shows the library in use, it is not it."""
    return any(p.lower() in _EXAMPLE_DIRS for p in path.split("/")[:-1])


@lru_cache(maxsize=16384)  # a search asks again for the same candidates' paths
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
