"""The client side of the watch daemon's search socket (see `query_server`).

Imports nothing heavy: it runs at the start of `codemem search`, before anything else loads.

The socket does not live in the repository: a Unix socket's path is limited to 108 bytes,
which a deep repository path alone can exceed. It lives in a short directory only this user
can enter (`$XDG_RUNTIME_DIR/codemem/`, else `/tmp/codemem-<uid>/`), named by a hash of the
repository's path, and the daemon records where in its status file (`watch.json`,
`"socket"`), which is how a client finds it. A client waits `REPLY_SECONDS` for the whole
reply, then searches in-process: a stopped daemon's socket still accepts connections.

A daemon left running through an upgrade or a downgrade is another codemem version's: it
records `PROTOCOL` in `watch.json` (those before it record none) and each request carries the
client's, so a client passes over a daemon of another protocol, saying so once, and a daemon
declines a client of another one; both sides then search in-process.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import stat
import time
from collections.abc import Mapping
from pathlib import Path

from codemem.errors import CodememError, LockTimeout, NotARegularFile, UsageError
from codemem.infra import FileLock, printable, read_regular_bytes

log = logging.getLogger("codemem")

STATUS_FILE = "watch.json"
# A warm daemon answers in a fraction of a second, during an index run too (`query_server`);
# one that has not in this long (stopped, wedged) is passed over for a search in this process.
REPLY_SECONDS = 10.0
# A Unix socket path must fit in sun_path (108 bytes on Linux, 104 on macOS, with the NUL).
MAX_SOCKET_PATH = 100
# The request and reply below and the index formats the daemon's runs write, as one number
# (1: the daemons that recorded none): bump it when any of them changes, so a daemon of another
# version is never asked, nor left rebuilding the index in turn with the CLI unnoticed.
PROTOCOL = 3  # 3: a reply names the files it is stale for (`stale`, `stale_total`)
# Variables that do not change what a search returns.
NEUTRAL_ENV = frozenset({"CODEMEM_HOME", "CODEMEM_REPO", "CODEMEM_DEBUG", "CODEMEM_USER"})


def socket_dirs() -> list[Path]:
    """Where the daemon may put its socket, in order of preference."""
    dirs = []
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isabs(runtime) and os.path.isdir(runtime):
        dirs.append(Path(runtime) / "codemem")
    dirs.append(Path("/tmp") / f"codemem-{os.getuid()}")
    return dirs


def socket_path(ws_root: Path) -> Path:
    """Where the daemon of `ws_root` binds its socket (a short path, whatever the root's)."""
    name = hashlib.sha256(str(ws_root.resolve()).encode()).hexdigest()[:24] + ".sock"
    dirs = socket_dirs()
    for directory in dirs:
        if len(os.fsencode(directory / name)) <= MAX_SOCKET_PATH:
            return directory / name
    return dirs[-1] / name


def private_dir(directory: Path) -> Path:
    """Create `directory` (mode 0700) or check that an existing one is this user's alone."""
    try:
        directory.mkdir(mode=0o700, exist_ok=True)
        info = directory.lstat()
    except OSError as exc:
        raise CodememError(f"cannot create the search socket's folder {directory}: {exc}") from exc
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise CodememError(
            f"{directory} must be a folder owned by you with mode 0700 (it holds codemem "
            "watch's search socket); remove it or fix its permissions"
        )
    return directory


# A socket that refuses connections this long after it was bound has no daemon behind it:
# one killed (SIGKILL, a crash, a machine's OOM killer) leaves its file. A daemon listens
# within microseconds of binding, so a younger one may be a daemon starting: left alone.
DEAD_AFTER_SECONDS = 60.0
_SOCKET_NAME = re.compile(r"[0-9a-f]{24}\.sock")
# Held, in the socket folder, by whoever removes a socket file there: a daemon while it removes
# its repository's old socket, binds and listens, and a sweep from its probe of a socket to its
# removal. So no sweep removes a socket a daemon bound after the probe (the name is the same:
# the sweep would take the new daemon's file for the dead one), nor probes one bound and not yet
# listening. A holder holds it for a probe (`_PROBE_SECONDS`) or a bind at most.
SOCKETS_LOCK = "sockets.lock"
_PROBE_SECONDS = 0.2
SWEEP_WAIT_SECONDS = 1.0  # a sweep that waits longer leaves the socket for the next one


def sockets_lock(directory: Path, timeout: float = SWEEP_WAIT_SECONDS) -> FileLock:
    """The lock every removal of a socket file in `directory` holds (`SOCKETS_LOCK`)."""
    return FileLock(directory / SOCKETS_LOCK, timeout=timeout)


def socket_identity(info: os.stat_result) -> tuple[int, int, int]:
    """What tells one socket file from another bound at the same name later (an inode number
    alone does not: a file system hands a freed one out again)."""
    return info.st_dev, info.st_ino, info.st_ctime_ns


def remove_if_dead(path: Path) -> bool:
    """Remove the socket file `path` when it is this user's, older than `DEAD_AFTER_SECONDS`
    and refuses a connection (no process listens there); whether it was removed.

    The probe and the removal are made under `sockets_lock`, which a daemon holds from
    removing its old socket to listening on its new one: the file removed is the one that
    refused, never one a daemon bound since.
    """
    if not _may_be_dead(path):
        return False
    try:
        with sockets_lock(path.parent):
            if not _may_be_dead(path):
                return False
            info = path.lstat()
            if not _refuses(path):
                return False
            if socket_identity(path.lstat()) != socket_identity(info):
                return False
            path.unlink()
    except (OSError, LockTimeout):
        return False
    return True


def _may_be_dead(path: Path) -> bool:
    try:
        info = path.lstat()
    except OSError:
        return False
    if not stat.S_ISSOCK(info.st_mode) or info.st_uid != os.getuid():
        return False
    return time.time() - info.st_mtime >= DEAD_AFTER_SECONDS


def _refuses(path: Path) -> bool:
    import socket  # here: a search with no daemon running never loads it

    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(_PROBE_SECONDS)
        try:
            probe.connect(str(path))
        except ConnectionRefusedError:
            return True
        except OSError:  # busy (a full backlog), gone: not known dead
            return False
        return False


def remove_dead_sockets(directory: Path) -> int:
    """Remove the sockets killed daemons left in `directory` (`remove_if_dead`), one per
    repository otherwise, kept until that repository's daemon starts again, which may be
    never (a repository deleted, a temporary one); how many were removed."""
    try:
        names = [name for name in os.listdir(directory) if _SOCKET_NAME.fullmatch(name)]
    except OSError:
        return 0
    return sum(remove_if_dead(directory / name) for name in names)


def daemon_status(ws_root: Path) -> dict:
    """What the daemon last wrote to its status file ({} when there is none to read)."""
    try:  # no link followed, no FIFO waited on: a committed one may lead to /dev/zero
        data = json.loads(read_regular_bytes(ws_root / ".codemem" / "local" / STATUS_FILE))
    except (OSError, ValueError, NotARegularFile):
        return {}
    return data if isinstance(data, dict) else {}


def other_version(status: Mapping) -> bool:
    """Whether the daemon that wrote `status` is another codemem version's (`PROTOCOL`)."""
    return status.get("protocol", 1) != PROTOCOL


def recorded_socket(ws_root: Path, data: Mapping | None = None) -> Path | None:
    """The socket the running daemon recorded in its status file (`data`: as read already),
    when it is one this user's daemon of this repository bound (None: none recorded, or not
    such a socket).

    The status file is under `.codemem/local/`, which a clone can commit (`git add -f`): the
    path it names is taken only with this repository's socket name, as a socket this user
    owns in a folder only this user can enter, so no query (nor the CODEMEM_* settings sent
    with it) reaches anybody else's listener.
    """
    if data is None:
        data = daemon_status(ws_root)
    recorded = data.get("socket")
    if not isinstance(recorded, str) or not recorded:
        return None
    path = Path(recorded)
    if path.name != socket_path(ws_root).name:
        return None
    try:
        info, folder = path.lstat(), path.parent.lstat()
    except OSError:
        return None
    uid = os.getuid()
    if not (stat.S_ISSOCK(info.st_mode) and info.st_uid == uid):
        return None
    if not stat.S_ISDIR(folder.st_mode) or folder.st_uid != uid or folder.st_mode & 0o077:
        return None
    return path


def say_other_version(
    status: Mapping, command: str, what: str, told: set[object] | None = None
) -> None:
    """Name the running daemon of another version (`status`) in one warning per command:
    `told` holds the daemons the command has named (the CLI keeps it on its `AppContext`;
    None: a caller that names it once anyway)."""
    if told:
        return
    if told is not None:
        told.add(status.get("pid"))
    log.warning(
        "%s: the running codemem watch (pid %s) is another codemem version's; %s "
        "(`codemem watch --stop`, then `codemem watch --detach`, runs this one's)",
        command,
        status.get("pid"),
        what,
    )


def warn_other_version(ws_root: Path, told: set[object] | None = None) -> None:
    """`index`: name a running daemon of another version, which rebuilds the index its way
    (unless this command named it already: `told`, see `say_other_version`)."""
    status = daemon_status(ws_root)
    if recorded_socket(ws_root, status) is not None and other_version(status):
        what = "it may rebuild the index its own way after this run"
        say_other_version(status, "index", what, told)


def settings_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The CODEMEM_* variables that could change a search's results."""
    env = os.environ if environ is None else environ
    return {k: v for k, v in env.items() if k.startswith("CODEMEM_") and k not in NEUTRAL_ENV}


STALE_NAMED = 10  # the stale files a warning names


def say_stale(stale: object, total: object) -> None:
    """Say that a search was answered while another index run held the index, and which
    files that answer is stale for (a warning: an agent must know; none stale: info)."""
    paths = [p for p in stale if isinstance(p, str)] if isinstance(stale, list) else None
    count = total if isinstance(total, int) and not isinstance(total, bool) else None
    if paths is None or count is None:
        log.warning(
            "search: another index run holds the index; answered from the index as last "
            "committed, which may not hold the latest saves (search again once it ends)"
        )
    elif count:
        named = ", ".join(printable(p) for p in paths[:STALE_NAMED])
        more = f" and {count - len(paths[:STALE_NAMED])} more" if count > STALE_NAMED else ""
        log.warning(
            "search: the index does not hold the latest saves of %d file(s): %s%s (another "
            "index run holds it; search again once that run ends)",
            count,
            named,
            more,
        )
    else:
        log.info("search: codemem watch is indexing; the index already holds every saved file")


def ask_daemon(
    ws_root: Path,
    query: str,
    k: int | None,
    level: str,
    timeout: float = REPLY_SECONDS,
    told: set[object] | None = None,
) -> list[dict] | None:
    """Hits from a running watch daemon, or None (no daemon, it declined, or it did not answer
    within `timeout` seconds in all): search locally. A daemon of another version is named
    once per command (`told`, see `say_other_version`)."""
    status = daemon_status(ws_root)
    path = recorded_socket(ws_root, status)
    if path is None:
        return None
    if other_version(status):
        say_other_version(status, "search", "searching here instead", told)
        return None
    request = {
        "op": "search",
        "protocol": PROTOCOL,
        "query": query,
        "k": k,
        "level": level,
        "env": settings_env(),
    }
    import socket  # here, not at the top: a search with no daemon running never loads it

    deadline = time.monotonic() + timeout
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(0.5)
            conn.connect(str(path))  # a stopped daemon's backlog still takes it
            conn.settimeout(timeout)
            conn.sendall(json.dumps(request).encode() + b"\n")
            data = b""
            while not data.endswith(b"\n"):  # one deadline for the whole reply, however sent
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError
                conn.settimeout(left)
                chunk = conn.recv(1 << 16)
                if not chunk:
                    break
                data += chunk
        reply = json.loads(data)
    except TimeoutError:
        log.warning(
            "search: codemem watch did not answer within %gs (stopped or stuck: "
            "`codemem watch --stop` stops it); searching here instead",
            timeout,
        )
        return None
    except ConnectionRefusedError:  # a killed daemon's socket: search here instead
        remove_if_dead(path)
        return None
    except (OSError, ValueError):
        return None  # a daemon going down: search here instead
    if "hits" in reply:
        if reply.get("indexing"):
            say_stale(reply.get("stale"), reply.get("stale_total"))
        return reply["hits"]
    if "error" in reply:
        raise UsageError(reply["error"])
    return None
