"""What a repository's git attributes say about its files: generated, vendored, binary.

Teams already tell GitHub and git which files are generated or vendored (Linguist's
`linguist-generated` and `linguist-vendored`) and which are binary (git's `binary` macro,
`-diff -text`). The index honours them over its own heuristics, both ways: a marked file is
skipped with the reason the heuristics would give, and `linguist-generated=false` or
`-linguist-vendored` keeps a file they would skip (first-party code under `vendor/`).

git itself reads the attributes, once per index run for all the paths judged in it (one
`git check-attr --stdin -z`: nested `.gitattributes`, `.git/info/attributes`, `[attr]` macros,
`**`, later lines winning, git's limits on huge files and lines), and only when an attributes
file names an attribute the index reads (`*.c diff=cpp` alone asks nothing). Only the
repository's own files count: its `.gitattributes` files and its git directory's
`info/attributes`, each stamped in every listing's digest (`attributes_key`). A user's global
file (`core.attributesFile`) and the system's (`/etc/gitattributes`, or wherever git was built
to read it: `git var GIT_ATTR_SYSTEM`) are left out (`-c core.attributesFile=/dev/null`,
`GIT_ATTR_NOSYSTEM=1`): the index says what the repository says, the same on every machine (a
published index, a teammate's), and nothing outside it that no run stamps can change a
file's status unseen.

Not honoured, by choice: `linguist-documentation` (Linguist leaves such files out of its
language statistics; they are still what people search, and pages already rank below code) and
`export-ignore` (what `git archive` leaves out: tests, CI files, which a search should find).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from pathlib import Path

from codemem.code.files import MISSING, NO_MARKS, Marks, entry_path, read_repo_file
from codemem.errors import GitError
from codemem.infra import run_git

log = logging.getLogger("codemem")

ATTRIBUTES_NAME = b".gitattributes"
_ASKED = ("linguist-generated", "linguist-vendored", "text", "diff")
# Words one of which an attributes file that may mark a file holds (a macro's too).
_MARKING_WORDS = (b"linguist-generated", b"linguist-vendored", b"binary", b"-text", b"-diff")
_SCANNED_BYTES = 1 << 20  # an attributes file larger than this is left to git to read
# No user's global attributes, and no system's (see the module's docstring).
_CHECK_ATTR = ("-c", "core.attributesFile=/dev/null", "check-attr", "--stdin", "-z", *_ASKED)
_NO_SYSTEM = {"GIT_ATTR_NOSYSTEM": "1"}


def _linguist(value: bytes) -> bool | None:
    """A Linguist attribute's meaning, as Linguist reads it: unset or `false` un-marks, any
    other value marks."""
    if value == b"unspecified":
        return None
    return value not in (b"unset", b"false")


def is_attributes_entry(entry: bytes) -> bool:
    """Whether one of `read_listing`'s raw entries names a `.gitattributes` file."""
    if not entry.endswith(ATTRIBUTES_NAME):
        return False
    before = entry[-len(ATTRIBUTES_NAME) - 1 : -len(ATTRIBUTES_NAME)]
    return before in (b"/", b"\t", b" ")


def attributes_key(
    root: Path,
    entries: Iterable[bytes],
    hashed: Iterable[tuple[str, str | None]],
    info: tuple[int, ...] | None,
) -> str:
    """What decides every file's attributes, as a short key ("" when no attributes file says
    anything the index reads, so no file has marks): the `.gitattributes` entries of a listing
    (their blob ids), the content ids of those git could not vouch for (`hashed`: path, id),
    and the stamp of `info/attributes` (`info`)."""
    found = sorted(e for e in entries if is_attributes_entry(e))
    if not found and info is None:
        return ""
    changed = sorted((p, cid or "") for p, cid in hashed if _is_attributes_path(p))
    paths = {entry_path(e).decode("utf-8", "surrogateescape") for e in found}
    if info is None and not any(_may_mark(root, path) for path in sorted(paths)):
        return ""  # the usual `*.c diff=cpp`, `*.sh eol=lf`: nothing to ask git about
    return hashlib.sha1(
        repr((found, changed, info)).encode("utf-8", "surrogateescape")
    ).hexdigest()[:16]


def _is_attributes_path(path: str) -> bool:
    return path == ".gitattributes" or path.endswith("/.gitattributes")


def _may_mark(root: Path, path: str) -> bool:
    """Whether the attributes file `path` may mark a file (it names an attribute the index
    reads); a file too large to scan, or unreadable as a plain file, may."""
    data, reason = read_repo_file(root, path, _SCANNED_BYTES)
    if data is None:
        return reason not in (MISSING, "symlink")  # git reads neither
    return any(word in data for word in _MARKING_WORDS)


def read_marks(root: Path, paths: list[str]) -> dict[str, Marks]:
    """The marks of those of `paths` that have any, from one `git check-attr` over them all.
    A git that fails leaves every file to the heuristics (with a warning), never the run."""
    if not paths:
        return {}
    data = b"".join(p.encode("utf-8", "surrogateescape") + b"\0" for p in paths)
    try:
        out = run_git(root, *_CHECK_ATTR, input=data, env=_NO_SYSTEM)
    except GitError as exc:
        log.warning("git attributes not read, the index judges files by itself: %s", exc)
        return {}
    fields = out.split(b"\0")
    said: dict[bytes, dict[bytes, bytes]] = {}
    for at in range(0, len(fields) - 2, 3):
        path, name, value = fields[at : at + 3]
        if value != b"unspecified":
            said.setdefault(path, {})[name] = value
    marks: dict[str, Marks] = {}
    for path, values in said.items():
        mark = Marks(
            generated=_linguist(values.get(b"linguist-generated", b"unspecified")),
            vendored=_linguist(values.get(b"linguist-vendored", b"unspecified")),
            binary=values.get(b"text") == values.get(b"diff") == b"unset",
        )
        if mark != NO_MARKS:
            marks[path.decode("utf-8", "surrogateescape")] = mark
    return marks
