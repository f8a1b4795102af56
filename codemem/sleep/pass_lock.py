"""One sleep-time pass at a time per clone: `.codemem/local/digest.lock`.

`codemem digest`, the `watch` daemon's idle pass and a CI job on the same clone would each do
the whole pass, each write the range's digest file and each save `local/sleep.json`. The pass
holds an flock (`infra.FileLock`) from before it reads anything until its last write (with
`--push`, until the push): the kernel lets go of it when the holder dies, however it dies, so a
killed pass never blocks the next one (the file stays, holding its holder's pid and command
for the message while it is held: `infra.current_holder` names the holder that is in the way,
never the one before it). A dry run writes nothing and takes no lock.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from codemem.errors import DigestRunningError, LockTimeout
from codemem.infra import FileLock, LockHolder, current_holder, lock_held
from codemem.workspace import Workspace

LOCK_FILE = "digest.lock"
# The locks this process holds, by thread, so `digest --push` can hold one across the pass
# and the push while `run_digest` takes it again inside (a second flock of the same file in
# one process would wait for itself).
_HELD: set[tuple[int, Path]] = set()


def lock_path(ws: Workspace) -> Path:
    """The digest lock of `ws`'s clone."""
    return ws.local_dir / LOCK_FILE


@contextmanager
def digest_lock(ws: Workspace, wait: float = 0.0) -> Iterator[None]:
    """Hold this clone's digest lock, waiting up to `wait` seconds for another pass to end
    (`DigestRunningError`, naming it, when it does not); already held by this thread: held on."""
    path = lock_path(ws)
    key = (threading.get_ident(), path)
    if key in _HELD:
        yield
        return
    ws.check_initialized()  # the lock's folder is made only under a `.codemem/` there
    ws.ensure_local()
    lock = FileLock(path, wait)
    try:
        lock.acquire()
    except LockTimeout:
        raise _running(ws, path, current_holder(path), wait) from None
    _HELD.add(key)
    try:
        yield
    finally:
        _HELD.discard(key)
        lock.release()


def digest_running(ws: Workspace) -> LockHolder | None:
    """Who holds this clone's digest lock right now (probed without waiting), or None; a
    holder that wrote no pid is named pid 0."""
    path = lock_path(ws)
    if not lock_held(path):
        return None
    return current_holder(path) or LockHolder(0, "")


def _running(ws: Workspace, path: Path, holder: LockHolder | None, wait: float) -> Exception:
    who = f": {holder}" if holder else ""
    waited = f"; gave up after {wait:g} s" if wait > 0 else ""
    message = (
        f"another digest is running in this clone{who}{waited}; nothing digested: run it "
        "again once it ends" + ("" if wait > 0 else " (or wait for it: --wait SECONDS)")
    )
    return DigestRunningError(
        message, ws.relative(path), holder.pid if holder else None, holder.command if holder else ""
    )
