"""A clone whose committed `.codemem/local/` holds another clone's index or conversations.

`.codemem/local/` is ignored, but `git add -f` commits it anyway. What it holds is derived or
personal, and here it was written to mislead: an index built from text no committed file
holds, whose manifest claims each file's committed content (so no run would read it again);
a copied index with a trigger in its manifest; a recall database of someone else's
conversations with a trigger of its own. Every command is a real `codemem` process, as a
teammate would run it after `git clone`.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import subprocess
import tempfile
import threading
from contextlib import closing, suppress
from pathlib import Path

import pytest

from codemem.memory import Recall
from codemem.workspace import Workspace
from tests.helpers import git
from tests.helpers import run_codemem as codemem

REAL = (
    'def order_total(items):\n    """Sum the prices."""\n    return sum(i.price for i in items)\n'
)
PLANTED = 'def steal_deploy_tokens():\n    """Send the deploy tokens home."""\n    return 0\n'
QUERY = "steal deploy tokens"
FOREIGN_LINE = (
    "codemem: WARNING: the code index is tracked by git (another clone's, never used here); "
    "rebuilding it from the work tree: untrack it with "
    "`git rm -r --cached .codemem/local && git commit`"
)


def warnings(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stderr.splitlines() if "WARNING" in line]


def clone(origin: Path, target: Path) -> Path:
    git(target.parent, "clone", "-q", str(origin), str(target))
    return target


@pytest.fixture
def origin(repo_factory) -> Path:
    """A repository whose committed index was built from `PLANTED`, while the committed
    `shop/cart.py` is `REAL` and the manifest claims that content."""
    root = repo_factory()
    cart = root / "shop" / "cart.py"
    cart.parent.mkdir()
    cart.write_text(REAL, encoding="utf-8")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "cart")
    cart.write_text(PLANTED, encoding="utf-8")
    assert codemem(root, "index").returncode == 0
    cart.write_text(REAL, encoding="utf-8")
    blob = git(root, "rev-parse", "HEAD:shop/cart.py").stdout.strip()
    with closing(sqlite3.connect(Workspace(root).index_dir / "manifest.db")) as db:
        db.execute("UPDATE files SET content_id = ?", (blob,))
        db.commit()
    git(root, "add", "-f", ".codemem/local")
    git(root, "commit", "-q", "-m", "our index, to save you the time")
    return root


def test_a_committed_index_is_never_searched_or_mapped(origin, tmp_path):
    repo = clone(origin, tmp_path / "clone")
    search = codemem(repo, "search", QUERY, "--json")
    assert (search.returncode, json.loads(search.stdout)) == (1, [])  # no hit: no file says so
    assert warnings(search) == [FOREIGN_LINE]
    found = codemem(repo, "search", "sum prices", "--json")
    assert [hit["symbol"] for hit in json.loads(found.stdout)] == ["order_total"]
    mapped = codemem(repo, "map")
    assert (mapped.returncode, "steal_deploy_tokens" in mapped.stdout) == (0, False)
    assert "order_total" in mapped.stdout
    # Another clone: its first command is the map.
    mapped = codemem(clone(origin, tmp_path / "other"), "map")
    assert (mapped.returncode, "steal_deploy_tokens" in mapped.stdout) == (0, False)
    assert warnings(mapped) == [FOREIGN_LINE]


def test_a_committed_index_is_rebuilt_by_index_with_one_line_naming_the_fix(origin, tmp_path):
    repo = clone(origin, tmp_path / "clone")
    status = json.loads(codemem(repo, "status", "--json").stdout)
    assert status["indexed"] is False  # nothing of another clone's index is reported
    assert [d["message"] for d in status["damage"]] == [
        "the code index is tracked by git (another clone's, never used): "
        "the next `codemem index` or `codemem search` rebuilds it"
    ]
    result = codemem(repo, "index")
    assert result.returncode == 0, result.stderr
    assert warnings(result) == [FOREIGN_LINE]
    assert result.stdout.startswith("Full index: 1 added, 0 changed, 0 removed")
    search = codemem(repo, "search", QUERY, "--json")
    assert (json.loads(search.stdout), warnings(search)) == ([], [])
    again = codemem(repo, "index")  # this clone's index now: nothing to do, and a reminder
    tracked = len(git(repo, "ls-files", ".codemem/local").stdout.split())
    assert again.stdout.startswith("Index is up to date"), again.stdout
    assert warnings(again) == [
        f"codemem: WARNING: git tracks {tracked} files under .codemem/local/, each clone's own "
        "(a commit would carry this clone's index and conversations): untrack them with "
        "`git rm -r --cached .codemem/local && git commit`"
    ]
    status = json.loads(codemem(repo, "status", "--json").stdout)
    assert status["damage"] == []
    assert [p for p in status["problems"] if "git tracks" in p] == [
        f"git tracks {tracked} files under .codemem/local/, which is each clone's own (another "
        "clone's index and conversations are never used): untrack them with "
        "`git rm -r --cached .codemem/local && git commit`"
    ]
    git(repo, "rm", "-r", "-q", "--cached", ".codemem/local")
    git(repo, "commit", "-q", "-m", "untrack")
    status = json.loads(codemem(repo, "status", "--json").stdout)
    assert [p for p in status["problems"] if "git tracks" in p] == []
    assert warnings(codemem(repo, "index")) == []


def test_a_trigger_in_a_copied_manifest_is_refused_and_the_index_rebuilt(repo_factory):
    # Not committed, copied: the check that runs on files this clone did not write finds it.
    repo = repo_factory()
    (repo / "cart.py").write_text(REAL, encoding="utf-8")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "cart")
    assert codemem(repo, "index").returncode == 0
    manifest = Workspace(repo).index_dir / "manifest.db"
    with closing(sqlite3.connect(manifest)) as db:
        db.execute(
            "CREATE TRIGGER planted AFTER INSERT ON files BEGIN "
            "UPDATE files SET content_id = 'forged'; END"
        )
        db.commit()
    (repo / "cart.py").write_text(REAL + "\n\ndef refund():\n    return 1\n", encoding="utf-8")
    result = codemem(repo, "index")
    assert result.returncode == 0, result.stderr
    assert warnings(result) == [
        "codemem: WARNING: the code index was damaged (manifest.db holds a trigger (planted)); "
        "rebuilding it from the work tree"
    ]
    with closing(sqlite3.connect(manifest)) as db:
        assert db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall() == []
        assert db.execute("SELECT count(*) FROM files WHERE content_id = 'forged'").fetchone() == (
            0,
        )


def test_a_committed_recall_database_is_neither_read_nor_written(repo_factory, tmp_path):
    origin = repo_factory()
    with Recall(Workspace(origin)) as recall:
        session = recall.start_session(title="theirs")
        recall.add_message(session, "user", "the staging password is hunter2")
        recall.conn.execute(  # SQL that would run on this clone's next message
            "CREATE TRIGGER planted AFTER INSERT ON messages BEGIN "
            "UPDATE messages SET content = 'owned'; END"
        )
    git(origin, "add", "-f", ".codemem/local/recall.sqlite")
    git(origin, "commit", "-q", "-m", "our conversations")
    repo = clone(origin, tmp_path / "clone")
    committed = (repo / ".codemem/local/recall.sqlite").read_bytes()

    result = codemem(repo, "recall", "hunter2", "--conversations", "--json")
    # nothing found (exit 1): this clone's recall starts empty
    assert (result.returncode, json.loads(result.stdout)) == (1, {"conversations": []})
    [line] = warnings(result)
    assert line.startswith(
        "codemem: WARNING: .codemem/local/recall.sqlite is tracked by git (another clone's "
        "conversations, moved aside to recall.sqlite.committed-"
    )
    assert line.endswith(
        "unread); this session's are kept in memory only until it is untracked: "
        "`git rm -r --cached .codemem/local && git commit`"
    )
    local = Workspace(repo).local_dir
    [aside] = local.glob("recall.sqlite.committed-*")
    assert aside.read_bytes() == committed  # never opened: no SQL of it ran
    (tmp_path / "link").symlink_to(repo)  # a workspace named through a link works the same
    with Recall(Workspace(tmp_path / "link")) as recall:  # a chat: kept, not in a tracked file
        session = recall.start_session(title="mine")
        recall.add_message(session, "user", "my own words")
        assert [s.title for s in recall.list_sessions()] == ["mine"]
    assert sorted(p.name for p in local.glob("recall.sqlite*")) == [aside.name]

    git(repo, "rm", "-r", "-q", "--cached", ".codemem/local")
    git(repo, "commit", "-q", "-m", "untrack")
    with Recall(Workspace(repo)) as recall:
        session = recall.start_session(title="mine")
        recall.add_message(session, "user", "my own words")
        assert [s.title for s in recall.list_sessions()] == ["mine"]
        assert [m.content for m in recall.get_session(session).messages] == ["my own words"]


def test_a_committed_watch_status_sends_no_query_to_its_socket(origin, tmp_path):
    # `watch.json` names the daemon's socket; a committed one names somebody else's listener.
    folder = Path(tempfile.mkdtemp(prefix="cm-", dir="/tmp"))  # a socket path is short
    heard: list[bytes] = []
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(str(folder / "listener.sock"))
        server.listen(1)
        server.settimeout(30)

        def answer() -> None:
            with suppress(OSError), server.accept()[0] as conn:
                heard.append(conn.recv(1 << 16))
                conn.sendall(b'{"hits": []}\n')

        listener = threading.Thread(target=answer, daemon=True)
        listener.start()
        status = Workspace(origin).local_dir / "watch.json"
        status.write_text(json.dumps({"socket": str(folder / "listener.sock")}), encoding="utf-8")
        git(origin, "add", "-f", str(status))
        git(origin, "commit", "-q", "-m", "watch status")
        repo = clone(origin, tmp_path / "clone")
        result = codemem(repo, "search", "sum prices", "--json")
        assert [hit["symbol"] for hit in json.loads(result.stdout)] == ["order_total"]
        assert heard == []
    shutil.rmtree(folder)


def test_a_trigger_in_a_copied_recall_database_is_set_aside_unrun(repo_factory):
    # Not committed, copied in: the triggers and views in it must be the migrations' own.
    repo = repo_factory()
    ws = Workspace(repo)
    with Recall(ws) as recall:
        recall.start_session(title="before")
        recall.conn.execute(
            "CREATE TRIGGER planted AFTER INSERT ON messages BEGIN "
            "UPDATE messages SET content = 'owned'; END"
        )
    with Recall(ws) as recall:
        session = recall.start_session(title="mine")
        recall.add_message(session, "user", "my own words")
        assert [m.content for m in recall.get_session(session).messages] == ["my own words"]
        assert [s.title for s in recall.list_sessions()] == ["mine"]
    [aside] = [p for p in ws.local_dir.glob("recall.sqlite.damaged-*") if p.name[-1].isdigit()]
    with closing(sqlite3.connect(f"{aside.as_uri()}?mode=ro", uri=True)) as db:
        triggers = db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall()
    assert ("planted",) in triggers  # kept for whoever wants it, never run


def test_a_committed_sleep_state_never_makes_the_digest_pass_over_commits(repo_factory, tmp_path):
    # Another clone's sleep.json names the HEAD it reached; committed with `git add -f`, its
    # `last_head` made this clone's digest take every commit up to there as read.
    origin = repo_factory()
    (origin / "billing.py").write_text("def charge_card(amount):\n    return amount\n")
    git(origin, "add", "-A")
    git(origin, "commit", "-q", "-m", "feat: charge cards")
    head = git(origin, "rev-parse", "HEAD").stdout.strip()
    local = Workspace(origin).ensure_local()
    (local / "sleep.json").write_text(json.dumps({"last_head": head}) + "\n")
    assert codemem(origin, "init", "--no-index").returncode == 0  # a digest needs the memory
    git(origin, "add", "-A")
    git(origin, "add", "-f", ".codemem/local/sleep.json")
    git(origin, "commit", "-q", "-m", "our sleep state")
    repo = clone(origin, tmp_path / "clone")

    result = codemem(repo, "digest", "--no-llm", "--json")
    assert result.returncode == 0, result.stderr
    digested = [commit["subject"] for commit in json.loads(result.stdout)["commits"]]
    assert "feat: charge cards" in digested
    [line] = warnings(result)
    assert line == (
        "codemem: WARNING: .codemem/local/sleep.json is tracked by git (another clone's sleep "
        "state): ignored; untrack it: `git rm -r --cached .codemem/local && git commit`"
    )


@pytest.mark.parametrize("kind", ["link to a pipe", "pipe"])
def test_a_findings_cache_that_is_no_file_never_holds_up_the_review(repo_factory, tmp_path, kind):
    # `local/review/findings.json` is read after every review that found something: read
    # through a link or from a FIFO it hung the review (a link to /dev/zero filled the
    # memory), and the hook then let the commit through unreviewed.
    root = repo_factory()
    cache = Workspace(root).local_dir / "review" / "findings.json"
    cache.parent.mkdir(parents=True)
    pipe = tmp_path / "pipe" if kind == "link to a pipe" else cache
    os.mkfifo(pipe)
    if kind == "link to a pipe":
        cache.symlink_to(pipe)
    key = "AKIA" + "Q7XZ2KJH4MPL9WRT"  # AWS-shaped, built so that this file holds none
    (root / "deploy.py").write_text(f'AWS_KEY = "{key}"\n', encoding="utf-8")
    git(root, "add", "deploy.py")
    result = codemem(root, "review", "--staged", timeout=30)
    assert result.returncode == 1, result.stderr
    assert "[secrets/aws-access-key]" in result.stdout
    assert cache.is_file() and not cache.is_symlink()  # the cache written again, as a file


ISSUE = (  # long enough to be read as an issue report: the search reads the co-change file
    "when the cart holds an item twice the order total counts it once and the receipt shows "
    "the wrong sum to the customer at checkout time in the shop today"
)


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("watch.json", ("search", "order total")),
        ("watch.pid", ("watch", "--status")),
        ("cochange.json", ("search", ISSUE)),
        ("index/checked.json", ("search", "order total")),
        ("index/lexicon/segments.json", ("search", "order total")),
    ],
)
def test_a_local_file_that_leads_to_a_pipe_is_not_read(repo_factory, tmp_path, name, args):
    # `git add -f` commits `.codemem/local/`, links included (or a link is left there): one
    # to /dev/zero filled the memory, one to a FIFO hung the command.
    root = repo_factory()
    (root / "cart.py").write_text(REAL, encoding="utf-8")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "cart")
    assert codemem(root, "index").returncode == 0
    target = Workspace(root).local_dir / name
    target.unlink(missing_ok=True)
    os.mkfifo(tmp_path / "pipe")
    target.symlink_to(tmp_path / "pipe")
    result = codemem(root, *args, timeout=60)
    assert result.returncode in (0, 1), result.stderr
    assert "internal error" not in result.stderr


@pytest.mark.parametrize(
    ("name", "holds", "commands"),
    [
        (".codemem", "its memory, index and conversations", [["remember", "a fact"]]),
        (
            ".codemem/local",
            "this clone's index and conversations",
            [["remember", "a fact"], ["index"], ["search", "total"]],
        ),
    ],
)
def test_a_codemem_folder_committed_as_a_file_is_named_with_the_fix(
    repo_factory, name, holds, commands
):
    # `codemem remember` said "[Errno 17] File exists", `codemem index` and `search`
    # "[Errno 2] gone (deleted or moved?)".
    root = repo_factory()
    (root / name).parent.mkdir(exist_ok=True)
    (root / name).write_text("a file in the folder's place\n", encoding="utf-8")
    git(root, "add", "-f", name)
    git(root, "commit", "-q", "-m", "a file")
    line = (
        f"codemem: error: {name} is a file, not a folder: codemem keeps {holds} in that "
        f"folder; move the file away (`git mv {name} <elsewhere>` keeps its text) and run the "
        "command again\n"
    )
    for args in commands:
        result = codemem(root, *args)
        assert (result.returncode, result.stderr) == (2, line), args
    assert (root / name).read_text(encoding="utf-8") == "a file in the folder's place\n"
    # what needs no local/ still runs: the pre-commit hook's review stops a secret
    (root / "deploy.py").write_text('token = "ghp_abcdefghijklmnopqrstuvwxyz0123456789"\n')
    git(root, "add", "deploy.py")
    review = codemem(root, "review", "--staged", "--hook")
    assert review.returncode == 1, review.stderr
    assert "[secrets/github-token]" in review.stdout


@pytest.mark.parametrize("name", ["locks", "sessions", "locks/blocks"])
def test_a_file_in_a_local_folders_place_is_set_aside_and_the_folder_made(repo_factory, name):
    # `.codemem/local/` is derived: a file where a folder of it belongs is damage, rebuilt.
    # Every command that took a lock said "[Errno 17] File exists" (exit 3), and kept saying it.
    root = repo_factory()
    assert codemem(root, "init").returncode == 0
    local = root / ".codemem" / "local"
    shutil.rmtree(local / name)
    (local / name).write_text("not a folder\n", encoding="utf-8")
    result = codemem(root, "remember", "--block", "project", "Run the tests with tox.")
    assert (result.returncode, result.stdout.split(":")[0]) == (0, "Added to project"), (
        result.stderr
    )
    [aside] = (local / name).parent.glob(f"{Path(name).name}.damaged-*")
    assert aside.read_text(encoding="utf-8") == "not a folder\n"
    assert (local / name).is_dir()
    [line] = warnings(result)
    assert line == (
        f"codemem: WARNING: .codemem/local/{name} was not a folder; moved it to {aside.name} "
        "and made the folder again"
    )
