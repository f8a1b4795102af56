"""A team builds the index once: publishing it to a shared folder, and starting from one.

A shared folder holds one published index per commit:

    TARGET/<commit>/published.json   the record: commit, settings fingerprint, every file
                                     with its size and sha256
    TARGET/<commit>/index/           the index folder as its publisher had it
    TARGET/.tmp-<commit>-<random>/   a publish in progress (names starting with a dot are
                                     never read)
    TARGET/.pruned-<commit>-<random>/  an old published index being removed

`publish_index` copies the index (under the writers' lock, so no run changes it meanwhile)
into a temporary folder inside TARGET and renames it into place: a reader sees a whole
published index or none, a second publisher of the same commit finds it there and says so,
and a publish killed midway leaves only a dot folder that the next publish clears.
With `keep`, the publish then removes all but the `keep` most recently published commits:
each is first renamed to a dot folder (at once out of every reader's view) and then deleted;
a reader copying it meanwhile fails its copy and builds locally, as for any unreadable one.

`start_from_shared` picks the published index of HEAD or of its nearest ancestor built with
the same settings, copies it in through `codemem.code.shared_copy` (untrusted input: paths
confined, sizes bounded, hashes checked, no pickle naming code) into the folder a full
rebuild uses, runs the integrity check and swaps it in; the caller's incremental refresh
then brings it to the work tree. Every path inside an index is repo-relative, so a clone in
another folder can use it. Any problem is said in one line and the index is built locally.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from codemem import __version__
from codemem.code.index_swap import build_dir, clear_leftovers, swap_in
from codemem.code.indexer import LOCK_NAME, index_lock
from codemem.code.integrity import CHECKED_FILE, READERS_LOCK, find_damage
from codemem.code.manifest import Manifest
from codemem.code.plan import fingerprint
from codemem.code.prune import (
    ON_DEFAULT_LINE,
    TEMP_PREFIX,
    DefaultLine,
    clear_abandoned,
    default_line,
    is_commit_id,
    prune_published,
)
from codemem.code.shared_copy import (
    RECORD_NAME,
    Refused,
    check_databases,
    check_pickles,
    copy_in,
    copy_out,
    read_record,
    record_files,
)
from codemem.code.worktree import LISTING_FILE
from codemem.config import Config
from codemem.errors import UsageError
from codemem.infra import atomic_write, git_text, head_commit, stall_for_tests
from codemem.workspace import Workspace

log = logging.getLogger("codemem")

RECORD_FORMAT = 1
SEARCH_DEPTH = 5000  # how far back HEAD's history is searched for a published commit
# Per-clone files, not part of the index: the locks, what this clone checked, and its work
# tree's last listing (a clone lists its own; one from the shared folder is never read).
LEFT_OUT = {READERS_LOCK, CHECKED_FILE, LISTING_FILE}
OBJECT_STORES = ("s3", "gs", "az", "abfs", "gcs")
DESIGN_PAGE = "docs/shared-index.md"


@dataclass(frozen=True, slots=True)
class Published:
    """What `publish_index` did."""

    target: str
    commit: str
    published: bool  # False: this commit was already published (by this or another run)
    files: int
    bytes: int
    dirty: bool  # the work tree differed from HEAD (clones re-index those files)
    pruned: tuple[str, ...] = ()  # older published commits removed (`keep`)
    kept: int = 0  # how many published commits `keep` left in place (0: no pruning asked)
    default_branch: str | None = None  # whose newest published commit a prune kept
    # Already published by another codemem version or with other index settings: clones
    # with this run's settings cannot start from it.
    other_settings: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class SharedStart:
    """What `start_from_shared` did: which published index was taken, or why none."""

    source: str
    used: bool
    commit: str | None = None
    distance: int | None = None  # commits between HEAD and the published one
    files: int = 0
    bytes: int = 0
    problem: str | None = None  # why none was taken (the index is then built locally)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def shared_folder(target: str) -> Path:
    """The folder `target` names (a path or a file:// URI); UsageError for object stores."""
    parsed = urlparse(target)
    if parsed.scheme == "file":
        return Path(parsed.path)
    if parsed.scheme in OBJECT_STORES:
        raise UsageError(
            f"publishing to {parsed.scheme}:// is designed but not built yet "
            f"({DESIGN_PAGE}); give a shared folder instead"
        )
    if parsed.scheme and len(parsed.scheme) > 1:  # "C:" is a Windows drive, not a scheme
        raise UsageError(f"{target}: only a folder (or file:// URI) can be shared")
    return Path(target).expanduser()


def publish_index(ws: Workspace, config: Config, target: str, keep: int = 0) -> Published:
    """Publish the current index as the index of HEAD into the shared folder `target`, then
    with `keep` > 0 remove all but the `keep` most recently published commits; HEAD's and
    the default branch's newest stay (`codemem.code.prune`).

    The index must be complete and built with the current settings (the caller refreshes
    it first). Raises UsageError when there is no commit or no complete index.
    """
    if keep < 0:
        raise UsageError(f"keep must be 0 (keep all) or more, not {keep}")
    line = default_line(ws.root)
    done = _publish(ws, config, target, line)
    if not keep:
        return done
    root = shared_folder(target)
    starts_from = None
    if done.other_settings:  # HEAD's is no clone's start with these settings: an ancestor's is
        with contextlib.suppress(Refused, OSError):
            starts_from = _nearest_published(ws, root, fingerprint(config))[0]
    pruned = prune_published(root, keep, spare=done.commit, line=line, starts_from=starts_from)
    return replace(done, pruned=tuple(pruned), kept=keep, default_branch=line.branch)


def _publish(ws: Workspace, config: Config, target: str, line: DefaultLine) -> Published:
    root = shared_folder(target)
    commit = head_commit(ws.root)
    if commit is None:
        raise UsageError("nothing to publish for: the repository has no commit yet")
    if root.resolve().is_relative_to(ws.root.resolve()):
        raise UsageError(f"{target} is inside the repository: publish to a folder outside it")
    try:
        root.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):  # the folder, or one above it, is a file
        raise UsageError(
            f"{target}: a file is in the way, not a folder: publish to a folder"
        ) from None
    clear_abandoned(root)
    dirty = _work_tree_differs(ws)
    if (root / commit).exists():
        return _already(target, root / commit, fingerprint(config), dirty)
    tmp = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{commit[:12]}-", dir=root))
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp's 0700 would hide it from teammates
    try:
        with index_lock(ws.local_dir / LOCK_NAME):
            manifest = Manifest.load(ws.index_dir)
            if manifest is None or manifest.fingerprint != fingerprint(config):
                raise UsageError("no complete index to publish: run `codemem index` first")
            manifest.close()  # its settings are read: the copy takes the file as it is
            if not manifest.full_text:
                raise UsageError("the index is incomplete: run `codemem index` first")
            files = copy_out(ws.index_dir, tmp / "index", LEFT_OUT)
        record = {
            "format": RECORD_FORMAT,
            "commit": commit,
            "fingerprint": manifest.fingerprint,
            "codemem": __version__,
            "published_at": time.time(),
            "dirty": dirty,
            # Found on the default branch's first-parent line: a prune by a clone that has
            # not fetched this commit still keeps it as the default branch's newest.
            ON_DEFAULT_LINE: line.holds(commit),
            "files": [list(f) for f in files],
        }
        atomic_write(tmp / RECORD_NAME, json.dumps(record, separators=(",", ":")))
        stall_for_tests("publish")
        if not _rename_into_place(tmp, root / commit):
            return _already(target, root / commit, manifest.fingerprint, dirty)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # gone already after the rename
    size = sum(f[1] for f in files)
    log.info("published the index of %s to %s (%d files, %d bytes)", commit, root, len(files), size)
    return Published(target, commit, True, len(files), size, dirty)


def _already(target: str, folder: Path, fp: str, dirty: bool) -> Published:
    """What a publish says of a commit published there before (by this run's settings or
    not: a record that cannot be read counts as other settings, since no clone takes it)."""
    try:
        other = read_record(folder).get("fingerprint") != fp
    except (Refused, OSError):
        other = True
    return Published(target, folder.name, False, 0, 0, dirty, other_settings=other)


def start_from_shared(ws: Workspace, config: Config, target: str) -> SharedStart:
    """Make the published index of HEAD or its nearest published ancestor the local index.

    Never raises for a bad published index: the problem is logged in one line and returned
    (`used` False), and the caller's refresh builds the index locally.
    """
    root = shared_folder(target)
    ws.ensure_local()
    build = build_dir(ws.index_dir)
    fp = fingerprint(config)
    try:
        commit, distance, record = _nearest_published(ws, root, fp)
        files = record_files(record, config.index.shared_max_bytes)
        with index_lock(ws.local_dir / LOCK_NAME):
            clear_leftovers(ws.index_dir)
            try:
                copy_in(root / commit / "index", files, build)
                (build / LISTING_FILE).unlink(missing_ok=True)  # another work tree's
                check_pickles(build)  # before anything unpickles the tag store or graph
                check_databases(build)  # before anything opens an SQLite file in it
                _check_index(build, fp)
            except BaseException:
                shutil.rmtree(build, ignore_errors=True)
                raise
            swap_in(build, ws.index_dir)
    except Refused as exc:
        log.warning("the shared index in %s was refused (%s); building locally", target, exc)
        return SharedStart(target, False, problem=str(exc))
    except OSError as exc:  # the shared folder went away or cannot be read
        problem = f"{exc.strerror or exc}: {exc.filename or target}"
        log.warning("the shared index in %s was refused (%s); building locally", target, problem)
        return SharedStart(target, False, problem=problem)
    size = sum(f[1] for f in files)
    log.info("started from the index published for %s (%d commits back)", commit, distance)
    return SharedStart(target, True, commit, distance, len(files), size)


def _nearest_published(ws: Workspace, root: Path, fp: str) -> tuple[str, int, dict[str, Any]]:
    """(commit, distance, record) of the published index nearest HEAD with settings `fp`."""
    if head_commit(ws.root) is None:
        raise Refused("the repository has no commit yet")
    if not root.is_dir():
        raise Refused(f"{root} is not a folder")
    published = {
        entry.name
        for entry in os.scandir(root)
        if is_commit_id(entry.name) and entry.is_dir(follow_symlinks=False)
    }
    if not published:
        raise Refused("nothing is published there")
    history = git_text(ws.root, "rev-list", f"--max-count={SEARCH_DEPTH}", "HEAD").split()
    other_settings = 0
    for distance, commit in enumerate(history):
        if commit not in published:
            continue
        record = read_record(root / commit)
        if record.get("commit") != commit:
            raise Refused(f"{commit[:12]}/{RECORD_NAME} names another commit")
        if record["fingerprint"] == fp:
            return commit, distance, record
        other_settings += 1
    if other_settings:
        raise Refused(
            f"{other_settings} published ancestor(s), built by another codemem version "
            "or other index settings"
        )
    raise Refused(f"no published index for HEAD or its last {SEARCH_DEPTH:,} commits")


def _check_index(index_dir: Path, fp: str) -> None:
    """The integrity check, and the manifest's own settings, on the copied index."""
    try:
        manifest = Manifest.load(index_dir)
        if manifest is not None:
            manifest.close()  # only its settings are needed
        if manifest is None or manifest.fingerprint != fp or not manifest.full_text:
            raise Refused("its manifest is missing, incomplete or for other settings")
        damage = find_damage(index_dir, deep=True)
    except Refused:
        raise
    except Exception as exc:  # untrusted input can fail a reader in any way
        raise Refused(f"unreadable: {type(exc).__name__}: {exc}") from None
    if damage is not None:
        raise Refused(damage)


def _rename_into_place(tmp: Path, final: Path) -> bool:
    """Rename the finished folder to its commit's name; False when one is already there."""
    try:
        os.rename(tmp, final)
    except OSError as exc:
        if exc.errno in (errno.EEXIST, errno.ENOTEMPTY):
            return False
        raise
    with contextlib.suppress(OSError):  # the rename is done; this only makes it durable
        fd = os.open(final.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    return True


def _work_tree_differs(ws: Workspace) -> bool:
    """Whether tracked files differ from HEAD (outside .codemem/)."""
    out = git_text(
        ws.root, "status", "--porcelain", "--untracked-files=no", "--", ".", ":!.codemem"
    )
    return bool(out.strip())


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
