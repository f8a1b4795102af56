"""What a review looks at: each changed file's added and changed lines, with its hunks.

Targets (`Target`):

- `staged`: what `git commit` would record (`git diff --cached`); contents come from git's
  index, so a partly staged file is reviewed as it will be committed.
- `range`: `git diff A..B` (or `A...B`, from their merge base); contents at B. For CI.
- `worktree` (no target given): tracked changes against HEAD, plus untracked files that git
  does not ignore, as they are on disk.
- `paths`: the given files (folders: the files git sees in them), every line counted as new.

Deleted files, symlinks and submodules are left out. A file is `binary` when git says so
(its attributes) or its first 8000 bytes hold a NUL; contents over `max_bytes` are not read.
In the work tree, a file over `max_bytes` or not a regular file (a pull may leave a 50 GB sparse
file or a FIFO) is left out of git's patch too, since git reads a file whole to diff it, and
files are read as the index reads them (`read_repo_file`: no link, no FIFO waited on).
Everything is read with a handful of git processes, whatever the number of files.
"""

from __future__ import annotations

import os
import re
import shlex
import stat
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from codemem.code import read_repo_file
from codemem.errors import UsageError
from codemem.infra import (
    empty_tree,
    has_head,
    read_blobs,
    resolve_commit,
    run_git,
    shallow_hint,
    worktree_exclusions,
)
from codemem.review.patch import Hunk, parse_patch

ZERO = "0" * 40
STATUS = {"A": "added", "M": "modified", "R": "renamed", "C": "copied", "T": "typechange"}
SKIPPED_MODES = ("120000", "160000")  # symlinks, submodules


@dataclass(frozen=True)
class Target:
    """Which change to review."""

    kind: str  # staged | range | worktree | paths
    rev_range: str | None = None
    paths: tuple[str, ...] = ()

    def describe(self) -> str:
        """The target in words, for prompts and messages."""
        if self.kind == "staged":
            return "staged changes"
        if self.kind == "range":
            return f"changes in {self.rev_range}"
        if self.kind == "paths":
            return "files " + ", ".join(self.paths)
        return "uncommitted changes"

    def to_json(self) -> dict:
        """The target as JSON."""
        return {"kind": self.kind, "range": self.rev_range, "paths": list(self.paths)}


@dataclass
class ChangedFile:
    """One file of the change, its new content and which of its lines are new."""

    path: str
    status: str  # added | modified | renamed | copied | typechange
    old_path: str | None = None
    old_blob: str | None = None
    new_blob: str | None = None  # None: read from the work tree
    binary: bool = False
    size: int | None = None
    data: bytes | None = None  # None when binary, too large or unreadable
    hunks: list[Hunk] = field(default_factory=list)
    whole: bool = False  # every line counts as new
    hunk_text: dict[int, str] = field(
        default_factory=dict, repr=False
    )  # line -> text from the patch

    @cached_property
    def lines(self) -> list[str]:
        """The new content's lines (empty for binary or unread files)."""
        if self.data is None:
            return []
        from codemem.code import split_source  # tree-sitter: loaded on first use

        return split_source(self.data)

    @cached_property
    def added(self) -> dict[int, str]:
        """Added and changed lines of the new version: line number -> text."""
        lines = self.lines
        if self.whole:
            return {n: text for n, text in enumerate(lines, 1)}
        numbers = sorted({n for hunk in self.hunks for n in hunk.added})
        return {n: lines[n - 1] if n <= len(lines) else self.hunk_text.get(n, "") for n in numbers}

    @property
    def removed(self) -> list[str]:
        """Text of the lines the change took out."""
        return [text for hunk in self.hunks for text in hunk.removed]

    @property
    def text(self) -> str | None:
        """The new content as text (None when it was not read)."""
        return None if self.data is None else "\n".join(self.lines)


@dataclass
class ChangeSet:
    """The files of one review target."""

    root: Path
    target: Target
    files: list[ChangedFile] = field(default_factory=list)
    patch: str = ""  # the zero-context patch as git printed it (for the model review)

    def get(self, path: str) -> ChangedFile | None:
        """The changed file at `path`, if it is part of the change."""
        return next((f for f in self.files if f.path == path), None)


def diff_args(root: Path, target: Target) -> list[str]:
    """The `git diff` arguments selecting the target's two sides."""
    if target.kind == "staged":
        return ["--cached"]
    if target.kind == "range":
        spec = target.rev_range or ""
        if ".." not in spec:
            raise UsageError(f"--range {spec}: expected A..B or A...B")
        sides = re.split(r"\.{2,3}", spec, maxsplit=1)
        for rev in sides:
            if rev and resolve_commit(root, rev) is None:  # an empty side is HEAD, as in git
                raise UsageError(f"--range {spec}: {rev!r} names no commit{shallow_hint(root)}")
        if "..." in spec:
            base = run_git(root, "merge-base", *(rev or "HEAD" for rev in sides), ok=(0, 1))
            if not base.strip():  # git diff would fail: "no merge base"
                raise UsageError(
                    f"--range {spec}: the two sides have no common commit in this clone"
                    f"{shallow_hint(root)}"
                )
        return [spec]
    return ["HEAD" if has_head(root) else empty_tree(root)]


_COMMON = ["-M", "--no-ext-diff", "--diff-filter=ACMRT", "--ignore-submodules"]


def parse_raw(raw: bytes) -> list[ChangedFile]:
    """Entries of `git diff --raw -z --abbrev=40`, symlinks and submodules left out."""
    fields = raw.split(b"\0")
    out, i = [], 0
    while i < len(fields) and fields[i]:
        meta = fields[i].decode().lstrip(":").split()
        _old_mode, new_mode, old_blob, new_blob, status = meta
        letter = status[0]
        if letter in "RC":
            old, new, i = fields[i + 1], fields[i + 2], i + 3
        else:
            old, new, i = None, fields[i + 1], i + 2
        if new_mode in SKIPPED_MODES:
            continue
        out.append(
            ChangedFile(
                path=new.decode("utf-8", "surrogateescape"),
                status=STATUS.get(letter, "modified"),
                old_path=old.decode("utf-8", "surrogateescape") if old is not None else None,
                old_blob=None if old_blob == ZERO else old_blob,
                new_blob=None if new_blob == ZERO else new_blob,
            )
        )
    return out


def _read_disk(root: Path, path: str, max_bytes: int) -> tuple[int | None, bytes | None]:
    full = root / path
    try:
        st = os.lstat(full)
    except OSError:
        return None, None
    if not stat.S_ISREG(st.st_mode):  # `lstat`: a symlink is not a regular file here
        return None, None
    # Read as the index reads: a FIFO or a link swapped in since the `lstat` is not waited on
    # or followed.
    return st.st_size, read_repo_file(root, path, max_bytes)[0]


def _load_contents(root: Path, files: list[ChangedFile], max_bytes: int) -> None:
    blobs = read_blobs(root, [f.new_blob for f in files if f.new_blob], max_bytes)
    for f in files:
        if f.new_blob:
            f.size, f.data = blobs.get(f.new_blob, (None, None))
        else:
            f.size, f.data = _read_disk(root, f.path, max_bytes)
        if f.data is not None and b"\0" in f.data[:8000]:
            f.binary = True
        if f.binary:
            f.data = None


def _untracked(root: Path) -> list[ChangedFile]:
    out = run_git(root, "ls-files", "--others", "--exclude-standard", "-z")
    return [
        ChangedFile(p.decode("utf-8", "surrogateescape"), "added", whole=True)
        for p in out.split(b"\0")
        if p
    ]


def _nested_repository(root: Path, folder: Path) -> Path | None:
    """The top of the repository of its own (a submodule, a clone inside) that holds
    `folder`, a folder inside `root` (both resolved), or None when it is `root`'s."""
    for candidate in (folder, *folder.parents):
        if candidate == root or root not in candidate.parents:
            return None
        if os.path.lexists(candidate / ".git"):
            return candidate
    return None


def _on_disk(path: Path) -> bool:
    """Whether a path git lists is a file here to review: not a submodule or a clone inside
    (a folder), nor a tracked file missing (deleted, or outside a sparse checkout)."""
    try:
        return not stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def _expand_paths(root: Path, paths: tuple[str, ...]) -> list[ChangedFile]:
    out: dict[str, ChangedFile] = {}
    for given in paths:
        full = (
            (Path.cwd() / given).resolve()
            if not Path(given).is_absolute()
            else Path(given).resolve()
        )
        try:
            rel = full.relative_to(root.resolve()).as_posix()
        except ValueError:
            raise UsageError(f"{given}: not inside the repository {root}") from None
        if full.is_dir():
            nested = _nested_repository(root.resolve(), full)
            if nested is not None:  # git lists none of its files here: "0 files reviewed"
                inner = nested.relative_to(root.resolve()).as_posix()
                raise UsageError(
                    f"{given}: inside {inner}, a repository of its own (a submodule?): "
                    f"review it there: codemem --repo {shlex.quote(str(nested))} review ..."
                )
            listed = run_git(root, "ls-files", "-co", "--exclude-standard", "-z", "--", rel or ".")
            for p in listed.split(b"\0"):
                path = p.decode("utf-8", "surrogateescape")
                if p and _on_disk(root / path):
                    out.setdefault(path, ChangedFile(path, "added", whole=True))
        elif full.is_file():
            out.setdefault(rel, ChangedFile(rel, "added", whole=True))
        else:
            raise UsageError(f"{given}: no such file or folder")
    return [out[p] for p in sorted(out) if not p.startswith(".git/")]


def read_changes(root: Path, target: Target, max_bytes: int) -> ChangeSet:
    """The files of `target` with their hunks and new contents (see the module docstring)."""
    changes = ChangeSet(root, target)
    if target.kind == "paths":
        changes.files = _expand_paths(root, target.paths)
        _load_contents(root, changes.files, max_bytes)
        return changes
    sides = diff_args(root, target)
    raw = run_git(root, "diff", "--raw", "-z", "--abbrev=40", *_COMMON, *sides, "--")
    entries = parse_raw(raw)
    # Work-tree files git would read whole or fail on (a FIFO, a 50 GB sparse file) are left
    # out of the patch: their entries count every line as new, and their content is not read.
    on_disk = [e.path for e in entries if e.new_blob is None] if target.kind == "worktree" else []
    patch = run_git(
        root,
        "diff",
        "-U0",
        "--no-color",
        "--no-textconv",
        "--src-prefix=a/",
        "--dst-prefix=b/",
        *_COMMON,
        *sides,
        "--",
        *worktree_exclusions(root, on_disk, max_bytes),
    )
    blocks = parse_patch(patch)
    files = []
    for entry in entries:
        block = blocks.get(entry.path)
        if (
            block is None
        ):  # no block of its own: every line counts as new, never another file's lines
            entry.whole = True
        else:
            entry.hunks, entry.hunk_text, entry.binary = block.hunks, block.texts, block.binary
            entry.whole = entry.status == "added"
        files.append(entry)
    if target.kind == "worktree":
        known = {f.path for f in files}
        files += [f for f in _untracked(root) if f.path not in known]
    _load_contents(root, files, max_bytes)
    changes.files = sorted(files, key=lambda f: f.path)
    changes.patch = patch.decode("utf-8", "replace")
    return changes
