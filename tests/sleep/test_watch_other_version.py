"""A watch daemon of another codemem version beside this one's CLI (an upgrade or a downgrade
while it ran): neither asks the other, and the client says so in one line."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading

from test_watch_daemon import codemem, daemons, shop  # noqa: F401 (fixtures)

from codemem.daemon.query_client import PROTOCOL, private_dir, socket_path

WARNING = (
    "codemem: WARNING: {command}: the running codemem watch (pid {pid}) is another codemem "
    "version's; {what} (`codemem watch --stop`, then `codemem watch --detach`, runs this one's)"
)


@contextlib.contextmanager
def old_daemon(repo):
    """A listener where an older daemon binds, answering every request as it would (with its
    own hits), and the status file as such a daemon wrote it: no `protocol`."""
    path = socket_path(repo)
    private_dir(path.parent)
    path.unlink(missing_ok=True)
    status = {"pid": os.getpid(), "activity": "watching", "socket": str(path)}
    (repo / ".codemem" / "local" / "watch.json").write_text(json.dumps(status))
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen()
    asked: list[dict] = []

    def answer() -> None:
        with contextlib.suppress(OSError):  # closed at the end
            while True:
                conn, _ = listener.accept()
                with conn:
                    asked.append(json.loads(conn.makefile("rb").readline()))
                    hit = {"path": "old/format.py", "line": 1, "score": 1.0, "text": "old"}
                    conn.sendall(json.dumps({"hits": [hit]}).encode() + b"\n")

    threading.Thread(target=answer, daemon=True).start()
    try:
        yield asked
    finally:
        listener.close()
        path.unlink(missing_ok=True)


def test_a_search_beside_an_older_daemon_answers_here_and_says_so(shop):  # noqa: F811
    # Before: the older daemon answered, from its own code and index format (and went on
    # rebuilding the index its way while this version's commands rebuilt it theirs), unsaid.
    in_process = codemem(shop, "search", "--json", "--level", "symbol", "parse price")
    with old_daemon(shop) as asked:
        found = codemem(shop, "search", "--json", "--level", "symbol", "parse price")
        indexed = codemem(shop, "index")
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout) == json.loads(in_process.stdout)
    pid = os.getpid()
    assert found.stderr.splitlines() == [
        WARNING.format(command="search", pid=pid, what="searching here instead")
    ]
    assert asked == []
    assert (indexed.returncode, indexed.stderr.splitlines()) == (
        0,
        [
            WARNING.format(
                command="index", pid=pid, what="it may rebuild the index its own way after this run"
            )
        ],
    )


def test_this_daemon_declines_a_client_of_another_version(shop, daemons):  # noqa: F811
    daemon = daemons(shop)
    path = daemon.status().socket
    assert daemon.status().protocol == PROTOCOL

    def ask(request: dict) -> dict:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.connect(path)
            conn.sendall(json.dumps(request).encode() + b"\n")
            return json.loads(conn.makefile("rb").readline())

    search = {"op": "search", "query": "parse price", "k": 3, "level": "symbol", "env": {}}
    # An older client sends no protocol, and knows to search itself when declined.
    assert ask(search) == {"decline": "another codemem version"}
    assert ask({**search, "protocol": PROTOCOL + 1}) == {"decline": "another codemem version"}
    assert ask({**search, "protocol": PROTOCOL, "op": "map"}) == {"decline": "unknown op 'map'"}
    assert [hit["path"] for hit in ask({**search, "protocol": PROTOCOL})["hits"]][:1] == [
        "shop/prices.py"
    ]
    assert daemon.stop() == 0


def test_two_commands_in_one_process_each_name_the_older_daemon(shop, caplog):  # noqa: F811
    # Before: the first command to name it named it for the whole process (a module-level
    # list), so a second command in the same process (a test's) passed over it unsaid.
    from click.testing import CliRunner

    from codemem.cli import cli

    def named() -> list[str]:
        return [
            r.getMessage() for r in caplog.records if "another codemem version" in r.getMessage()
        ]

    with old_daemon(shop) as asked:
        for command in ("search", "search", "index"):
            args = ["--repo", str(shop), command] + (["parse price"] if command == "search" else [])
            result = CliRunner().invoke(cli, args)
            assert result.exit_code == 0, result.output
    pid = os.getpid()
    search = f"search: the running codemem watch (pid {pid}) is another codemem version's; "
    assert named() == [
        search + "searching here instead (`codemem watch --stop`, then `codemem watch --detach`, "
        "runs this one's)",
    ] * 2 + [
        f"index: the running codemem watch (pid {pid}) is another codemem version's; it may "
        "rebuild the index its own way after this run (`codemem watch --stop`, then "
        "`codemem watch --detach`, runs this one's)"
    ]
    assert asked == []
