"""The client side of the watch daemon's search socket (see `query_server`).

Imports nothing heavy: it runs at the start of `codemem search`, before anything else loads.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

from codemem.errors import UsageError

SOCKET_NAME = "watch.sock"
# Variables that do not change what a search returns.
NEUTRAL_ENV = frozenset({"CODEMEM_HOME", "CODEMEM_REPO", "CODEMEM_DEBUG", "CODEMEM_USER"})


def socket_path(ws_root: Path) -> Path:
    return ws_root / ".codemem" / "local" / SOCKET_NAME


def settings_env(environ: dict[str, str] | None = None) -> dict[str, str]:
    """The CODEMEM_* variables that could change a search's results."""
    environ = os.environ if environ is None else environ
    return {k: v for k, v in environ.items() if k.startswith("CODEMEM_") and k not in NEUTRAL_ENV}


def ask_daemon(ws_root: Path, query: str, k: int | None, level: str, timeout: float = 60.0) -> list[dict] | None:
    """Hits from a running watch daemon, or None (no daemon, or it declined): search locally."""
    path = socket_path(ws_root)
    if not path.exists():
        return None
    request = {"op": "search", "query": query, "k": k, "level": level, "env": settings_env()}
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(0.5)
            conn.connect(str(path))
            conn.settimeout(timeout)
            conn.sendall(json.dumps(request).encode() + b"\n")
            data = b""
            while not data.endswith(b"\n"):
                chunk = conn.recv(1 << 16)
                if not chunk:
                    break
                data += chunk
        reply = json.loads(data)
    except (OSError, ValueError):
        return None  # a stale socket or a daemon going down: search here instead
    if "hits" in reply:
        return reply["hits"]
    if "error" in reply:
        raise UsageError(reply["error"])
    return None
