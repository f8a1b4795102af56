"""A team builds the index once: `codemem index --publish DIR`, and clones `--from DIR`.

Real repositories, real indexes, real subprocesses where the process boundary matters (two
publishers at once, a publish killed midway). A published index is untrusted input: each
kind of damage or hostility is planted and must be refused in one line, with the index then
built locally and nothing written outside `.codemem/local/`.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from codemem.cli import cli
from codemem.code.manifest import MANIFEST_NAME
from codemem.code.shared_copy import Refused, check_databases, check_pickles
from tests.helpers import git

WAIT = 60.0  # generous bound on waiting for a subprocess (never asserted)


def run(repo: Path, *args: str):
    result = CliRunner().invoke(cli, ["--repo", str(repo), *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def index_json(repo: Path, *args: str) -> dict:
    return json.loads(run(repo, "index", "--json", *args).stdout)


def head(repo: Path) -> str:
    return git(repo, "rev-parse", "HEAD").stdout.strip()


def commit_edit(repo: Path, name: str) -> None:
    path = repo / "shop" / "edits.py"
    path.write_text(path.read_text() if path.exists() else "")
    with path.open("a") as handle:
        handle.write(f"\n\ndef {name}():\n    return '{name}'\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", f"add {name}")


def clone(origin: Path, dest: Path) -> Path:
    git(origin.parent, "clone", "-q", str(origin), str(dest))
    git(dest, "config", "user.email", "dev@example.com")
    git(dest, "config", "user.name", "Dev")
    return dest


def published(shared: Path) -> list[str]:
    return sorted(p.name for p in shared.iterdir()) if shared.exists() else []


def symbol_paths(repo: Path, query: str) -> list[str]:
    result = run(repo, "search", "--json", "--level", "symbol", query)
    return [hit["path"] for hit in json.loads(result.stdout)]


def outside_local(repo: Path) -> dict[str, bytes]:
    """Every file of the clone outside .codemem/local/ and .git/, with its bytes (a local
    index run also writes .codemem/.gitignore, keeping local/ out of git)."""
    return {
        str(p.relative_to(repo)): p.read_bytes()
        for p in sorted(repo.rglob("*"))
        if p.is_file()
        and ".git" not in p.parts
        and "local" not in p.parts
        and p.relative_to(repo).as_posix() != ".codemem/.gitignore"
    }


@pytest.fixture
def origin(repo_factory):
    repo = repo_factory("shop")
    commit_edit(repo, "first_helper")
    return repo


def test_publish_then_a_clone_elsewhere_starts_from_it_and_updates(origin, tmp_path):
    shared = tmp_path / "shared"
    out = index_json(origin, "--publish", str(shared))
    assert out["published"]["published"] is True
    assert out["published"]["dirty"] is False
    assert out["published"]["commit"] == head(origin)
    assert published(shared) == [head(origin)]
    # Paths inside the index are repo-relative: the publisher's folder appears nowhere.
    for path in (shared / head(origin)).rglob("*"):
        if path.is_file():
            assert str(origin).encode() not in path.read_bytes(), path

    other = clone(origin, tmp_path / "elsewhere" / "clone")
    commit_edit(other, "second_helper")
    out = index_json(other, "--from", str(shared))
    assert out["started_from"]["used"] is True
    assert (out["started_from"]["commit"], out["started_from"]["distance"]) == (head(origin), 1)
    assert (out["full"], out["added"], out["changed"], out["removed"]) == (False, 0, 1, 0)
    assert symbol_paths(other, "second_helper")[0] == "shop/edits.py"
    assert index_json(other)["up_to_date"] is True


def test_a_dirty_work_tree_is_published_marked_and_clones_redo_those_files(origin, tmp_path):
    shared = tmp_path / "shared"
    (origin / "shop" / "edits.py").write_text("def uncommitted_helper():\n    return 1\n")
    result = run(origin, "index", "--publish", str(shared))
    assert "The work tree differs from HEAD: clones re-index those files." in result.output
    other = clone(origin, tmp_path / "clone")
    out = index_json(other, "--from", str(shared))
    assert (out["started_from"]["distance"], out["full"], out["changed"]) == (0, False, 1)
    assert symbol_paths(other, "first_helper")[0] == "shop/edits.py"


def test_index_shared_setting_is_used_only_when_the_index_is_missing(origin, tmp_path, monkeypatch):
    shared = tmp_path / "shared"
    run(origin, "index", "--publish", str(shared))
    other = clone(origin, tmp_path / "clone")
    monkeypatch.setenv("CODEMEM_INDEX__SHARED", str(shared))
    out = index_json(other)
    assert out["started_from"]["used"] is True
    assert out["up_to_date"] is True  # HEAD itself was published
    commit_edit(other, "later_helper")
    out = index_json(other)
    assert out["started_from"] is None  # the local index exists: updated in place
    assert out["changed"] == 1


def test_the_nearest_published_ancestor_is_chosen(origin, tmp_path):
    shared = tmp_path / "shared"
    first = head(origin)
    run(origin, "index", "--publish", str(shared))
    commit_edit(origin, "on_main")
    nearest = head(origin)
    run(origin, "index", "--publish", str(shared))
    git(origin, "checkout", "-qb", "side", first)
    commit_edit(origin, "on_side")  # published, newer, but not an ancestor of the clone
    run(origin, "index", "--publish", str(shared))
    assert len(published(shared)) == 3

    other = clone(origin, tmp_path / "clone")
    git(other, "checkout", "-q", "main")
    commit_edit(other, "in_clone")
    commit_edit(other, "in_clone_again")
    out = index_json(other, "--from", str(shared))
    assert (out["started_from"]["commit"], out["started_from"]["distance"]) == (nearest, 2)
    assert (out["full"], out["changed"]) == (False, 1)
    assert symbol_paths(other, "in_clone_again")[0] == "shop/edits.py"


def _rewrite_record(folder: Path, rel: str, data: bytes) -> None:
    """Replace one published file and give the record its new size and hash (a hostile
    publisher can do that, so hashes alone cannot be the defence)."""
    (folder / "index" / rel).write_bytes(data)
    record = json.loads((folder / "published.json").read_text())
    for item in record["files"]:
        if item[0] == rel:
            item[1], item[2] = len(data), hashlib.sha256(data).hexdigest()
    (folder / "published.json").write_text(json.dumps(record))


def _truncate_a_table_file(folder: Path) -> None:
    path = next(p for p in sorted((folder / "index").rglob("*.lance")) if p.is_file())
    path.write_bytes(path.read_bytes()[:-10])


def _flip_a_byte(folder: Path) -> None:
    path = folder / "index" / "tags.bin"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _plant_code_in_the_tag_store(folder: Path) -> None:
    _rewrite_record(folder, "tags.bin", pickle.dumps((os.system, ("echo owned",))))


def _plant_code_inside_a_nested_pickle(folder: Path) -> None:
    inner = pickle.dumps(os.getcwd)
    _rewrite_record(folder, "tags.bin", pickle.dumps(("magic", 1, 1, {"a.py": (inner, b"")})))


def _plant_a_symlink(folder: Path) -> None:
    (folder / "index" / "extra").symlink_to("/etc/passwd")


def _plant_an_unlisted_file(folder: Path) -> None:
    (folder / "index" / "surprise.bin").write_bytes(b"x")


def _list_a_path_outside(folder: Path) -> None:
    record = json.loads((folder / "published.json").read_text())
    record["files"].append(["../../escape.txt", 1, "0" * 64])
    (folder / "published.json").write_text(json.dumps(record))


def _damage_the_record(folder: Path) -> None:
    (folder / "published.json").write_text('{"files": [')


def _damage_the_manifest_consistently(folder: Path) -> None:
    _rewrite_record(folder, MANIFEST_NAME, b"not a manifest in any format")


DAMAGE = {
    "truncated table file": (_truncate_a_table_file, "bytes, not"),
    "flipped byte": (_flip_a_byte, "tags.bin does not match its hash"),
    "code in the tag store": (_plant_code_in_the_tag_store, "names posix.system"),
    "code in a nested pickle": (_plant_code_inside_a_nested_pickle, "names posix.getcwd"),
    "symlink": (_plant_a_symlink, "extra is a symlink"),
    "unlisted file": (_plant_an_unlisted_file, "'surprise.bin' is not in published.json"),
    "path outside": (_list_a_path_outside, "leaves the index"),
    "unreadable record": (_damage_the_record, "published.json is unreadable"),
    "manifest of the wrong shape": (
        _damage_the_manifest_consistently,
        "its manifest is missing, incomplete",
    ),
}


@pytest.mark.parametrize("kind", list(DAMAGE))
def test_a_damaged_or_hostile_published_index_is_refused_and_built_locally(
    origin, tmp_path, kind, caplog
):
    damage, reason = DAMAGE[kind]
    shared = tmp_path / "shared"
    run(origin, "index", "--publish", str(shared))
    damage(shared / head(origin))
    other = clone(origin, tmp_path / "clone")
    before = outside_local(other)

    out = index_json(other, "--from", str(shared))
    assert out["started_from"]["used"] is False
    assert reason in out["started_from"]["problem"]
    assert (out["full"], out["added"]) == (True, out["files"])
    warnings = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(warnings) == 1 and reason in warnings[0] and "building locally" in warnings[0]
    assert symbol_paths(other, "first_helper")[0] == "shop/edits.py"
    assert outside_local(other) == before
    assert not (other / ".codemem" / "local" / "index.next").exists()
    assert not (tmp_path / "escape.txt").exists()


def test_an_absurd_size_is_refused(origin, tmp_path, monkeypatch):
    shared = tmp_path / "shared"
    run(origin, "index", "--publish", str(shared))
    other = clone(origin, tmp_path / "clone")
    monkeypatch.setenv("CODEMEM_INDEX__SHARED_MAX_BYTES", "1000")
    out = index_json(other, "--from", str(shared))
    assert "larger than index.shared_max_bytes (1,000 bytes)" in out["started_from"]["problem"]
    assert out["full"] is True


def test_published_with_other_settings_is_passed_over(origin, tmp_path, monkeypatch):
    shared = tmp_path / "shared"
    run(origin, "index", "--publish", str(shared))
    other = clone(origin, tmp_path / "clone")
    monkeypatch.setenv("CODEMEM_INDEX__CHUNK_LINES", "40")
    out = index_json(other, "--from", str(shared))
    assert (
        "1 published ancestor(s), built by another codemem version"
        in (out["started_from"]["problem"])
    )


def test_check_pickles_allows_plain_data_and_arrays(tmp_path):
    from array import array

    inner = pickle.dumps(("python", [("f", "f", "function", 1, 2, "def f()")], ["os"]))
    (tmp_path / "tags.bin").write_bytes(pickle.dumps(("m", 1, 2, {"a.py": (inner, b"\x80")})))
    (tmp_path / "graph.1.pkl").write_bytes(pickle.dumps({"rank": array("d", [0.5])}))
    check_pickles(tmp_path)
    (tmp_path / "graph.1.pkl").write_bytes(pickle.dumps({"rank": Path("x")}))
    with pytest.raises(Refused, match="graph.1.pkl: a pickle in the index names pathlib"):
        check_pickles(tmp_path)


def test_check_pickles_reads_every_record_of_a_column_tag_store(tmp_path):
    from codemem.code.tags import FileTags, TagStore

    store = TagStore(tmp_path)
    store.update(
        [FileTags("a.py", "python", [("f", "f", "function", 1, 2, "def f()")], {"g": 1}).encoded()],
        [],
    )
    store.save()
    check_pickles(tmp_path)
    store._records["b.py"] = (pickle.dumps(("python", [], [])), pickle.dumps(Path("x")))
    store.version += 1
    store.save()
    with pytest.raises(
        Refused, match=r"tags(\.base\.\d+)?\.bin: a pickle in the index names pathlib"
    ):
        check_pickles(tmp_path)


def test_check_databases_refuses_sql_that_would_run(tmp_path):
    import sqlite3

    db = sqlite3.connect(tmp_path / "manifest.db")
    db.execute("CREATE TABLE files (path TEXT PRIMARY KEY, status TEXT)")
    db.commit()
    check_databases(tmp_path)
    db.execute("CREATE TRIGGER wipe AFTER INSERT ON files BEGIN DELETE FROM files; END")
    db.commit()
    db.close()
    with pytest.raises(Refused, match=r"manifest.db holds a trigger \(wipe\)"):
        check_databases(tmp_path)
    (tmp_path / "manifest.db").write_bytes(b"SQLite format 3\x00" + b"\xff" * 200)
    with pytest.raises(Refused, match="manifest.db is unreadable"):
        check_databases(tmp_path)


def _publish_killed_at(point: str, repo: Path, shared: Path, stall: Path, *args: str) -> None:
    """Run a publish, hold it at the stall point `point`, and SIGKILL it there."""
    env = {"CODEMEM_TEST_STALL_AT": point, "CODEMEM_TEST_STALL_FILE": str(stall)}
    proc = _publish_process(repo, shared, env, *args)
    deadline = time.monotonic() + WAIT
    while not stall.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert stall.exists(), proc.communicate()
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=WAIT)


def _publish_process(
    repo: Path, shared: Path, env: dict[str, str] | None = None, *args: str
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "codemem", "--repo", str(repo), "index", "--json"]
        + ["--publish", str(shared), *args],
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def test_two_publishers_at_once_both_succeed_and_one_says_it_was_there(origin, tmp_path):
    shared = tmp_path / "shared"
    clones = [clone(origin, tmp_path / f"clone{n}") for n in range(2)]
    for repo in clones:
        run(repo, "index")
    procs = [_publish_process(repo, shared) for repo in clones]
    outputs = [proc.communicate(timeout=WAIT) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], outputs
    flags = sorted(json.loads(out)["published"]["published"] for out, _ in outputs)
    assert flags == [False, True]
    assert published(shared) == [head(origin)]  # and no temporary folder left
    reader = clone(origin, tmp_path / "reader")
    assert index_json(reader, "--from", str(shared))["started_from"]["used"] is True


def test_a_publish_killed_midway_leaves_nothing_a_reader_takes(origin, tmp_path):
    shared = tmp_path / "shared"
    run(origin, "index")
    _publish_killed_at("publish", origin, shared, tmp_path / "stalled")

    left = published(shared)
    assert len(left) == 1 and left[0].startswith(".tmp-")  # only the dot folder
    reader = clone(origin, tmp_path / "reader")
    out = index_json(reader, "--from", str(shared))
    assert out["started_from"]["problem"] == "nothing is published there"
    assert out["full"] is True

    # The next publish succeeds; the abandoned folder goes once it is a day old.
    abandoned = shared / left[0]
    os.utime(abandoned, (time.time() - 2 * 86400,) * 2)
    assert index_json(origin, "--publish", str(shared))["published"]["published"] is True
    assert published(shared) == [head(origin)]


def test_object_store_targets_point_to_the_design(origin):
    result = CliRunner().invoke(cli, ["--repo", str(origin), "index", "--publish", "s3://b/x"])
    assert result.exit_code == 2
    assert "s3:// is designed but not built yet (docs/shared-index.md)" in result.output


def test_a_repository_without_commits_builds_locally_despite_index_shared(
    repo_factory, tmp_path, monkeypatch
):
    repo = repo_factory("shop", commit=False)
    monkeypatch.setenv("CODEMEM_INDEX__SHARED", str(tmp_path / "shared"))
    out = index_json(repo)
    assert out["started_from"]["problem"] == "the repository has no commit yet"
    assert (out["full"], out["files"] > 0) == (True, True)


def test_publishing_into_the_repository_itself_is_refused(origin):
    result = CliRunner().invoke(
        cli, ["--repo", str(origin), "index", "--publish", str(origin / "shared")]
    )
    assert result.exit_code == 2
    assert "is inside the repository: publish to a folder outside it" in result.output
    assert not (origin / "shared").exists()


def test_publishing_to_a_file_is_one_usage_line(origin, tmp_path):
    # was "codemem: error: [Errno 17] File exists: ...", exit 3, as if codemem had failed
    note = tmp_path / "notes.txt"
    note.write_text("mine\n")
    for target in (note, note / "shared"):
        result = CliRunner().invoke(cli, ["--repo", str(origin), "index", "--publish", str(target)])
        assert result.exit_code == 2, result.output
        assert result.output.splitlines()[-1] == (
            f"codemem: error: {target}: a file is in the way, not a folder: publish to a folder"
        )
    assert note.read_text() == "mine\n"


def _publish_commits(origin: Path, shared: Path, names: list[str]) -> list[str]:
    """Commit and publish each name in turn, each publish a minute after the one before
    (folder times), so that "most recently published" has one answer; the commits, in order."""
    commits = []
    for minutes, name in enumerate(names):
        commit_edit(origin, name)
        index_json(origin, "--publish", str(shared))
        commits.append(head(origin))
        stamp = time.time() - 3600 + 60 * minutes
        os.utime(shared / commits[-1], (stamp, stamp))
    return commits


def test_keep_removes_all_but_the_most_recently_published(origin, tmp_path, monkeypatch):
    shared = tmp_path / "shared"
    first, second, third = _publish_commits(origin, shared, ["one_fn", "two_fn", "three_fn"])
    commit_edit(origin, "four_fn")
    out = index_json(origin, "--publish", str(shared), "--keep", "2")["published"]
    assert (out["published"], out["kept"], out["pruned"]) == (True, 2, [second, first])
    assert published(shared) == sorted([third, head(origin)])  # no dot folder left either

    # The setting does the same without the flag, and HEAD's own index always stays, even
    # when it is the oldest there (published long ago, then published again).
    os.utime(shared / head(origin), (time.time() - 86400,) * 2)
    monkeypatch.setenv("CODEMEM_INDEX__SHARED_KEEP", "1")
    result = run(origin, "index", "--publish", str(shared))
    assert "Already published" in result.output
    assert (
        "Removed 1 older published index (keeping the 1 newest and main's newest)." in result.output
    )
    assert published(shared) == [head(origin)]
    reader = clone(origin, tmp_path / "reader")
    assert index_json(reader, "--from", str(shared))["started_from"]["used"] is True


def test_keep_is_refused_without_publish_and_below_one(origin):
    for args, said in [
        (["--keep", "2"], "use it with --publish"),
        (["--publish", "/tmp/x", "--keep", "0"], "'--keep': 0 is not in the range x>=1"),
    ]:
        result = CliRunner().invoke(cli, ["--repo", str(origin), "index", *args])
        assert result.exit_code == 2, result.output
        assert said in result.output


def test_a_reader_copying_an_index_as_it_is_pruned_builds_locally(origin, tmp_path, monkeypatch):
    from codemem.code import publish

    shared = tmp_path / "shared"
    run(origin, "index", "--publish", str(shared))
    reader = clone(origin, tmp_path / "reader")  # its HEAD is the first published commit
    (newer,) = _publish_commits(origin, shared, ["newer_fn"])
    real_copy = publish.copy_in

    def pruned_meanwhile(source: Path, files, dest: Path) -> None:
        # The reader has chosen its commit; a publisher elsewhere now prunes it.
        line = publish.default_line(origin)
        assert publish.prune_published(shared, 1, spare=newer, line=line) == [head(reader)]
        real_copy(source, files, dest)

    monkeypatch.setattr(publish, "copy_in", pruned_meanwhile)
    out = index_json(reader, "--from", str(shared))
    assert out["started_from"]["used"] is False
    assert "No such file or directory" in out["started_from"]["problem"]
    assert (out["full"], out["files"] > 0) == (True, True)  # built locally instead
    assert symbol_paths(reader, "first_helper")[0] == "shop/edits.py"
    assert published(shared) == [newer]


def test_a_prune_killed_midway_leaves_nothing_a_reader_takes(origin, tmp_path):
    shared = tmp_path / "shared"
    (old,) = _publish_commits(origin, shared, ["old_fn"])
    commit_edit(origin, "new_fn")
    run(origin, "index")
    _publish_killed_at("prune", origin, shared, tmp_path / "stalled", "--keep", "1")

    gone, kept = published(shared)
    assert gone.startswith(".pruned-") and kept == head(origin)  # the old one, out of view
    reader = clone(origin, tmp_path / "reader")
    git(reader, "reset", "-q", "--hard", old)  # a clone whose nearest would have been it
    out = index_json(reader, "--from", str(shared))
    assert out["started_from"]["used"] is False
    assert out["started_from"]["problem"].startswith("no published index for HEAD")

    # The next publish clears what the killed prune left, whatever its age.
    assert index_json(origin, "--publish", str(shared))["published"]["published"] is False
    assert published(shared) == [head(origin)]


def test_a_commit_published_with_other_settings_is_named_so_not_just_already_there(
    origin, tmp_path
):
    # was "Already published …; left as it is.", as if clones could start from it
    shared = tmp_path / "shared"
    run(origin, "index", "--publish", str(shared))
    record_path = shared / head(origin) / "published.json"
    record = json.loads(record_path.read_text())
    record.update(codemem="99.0.0", fingerprint="0" * 16)  # what a newer codemem writes
    record_path.write_text(json.dumps(record))
    said = run(origin, "index", "--publish", str(shared)).output.splitlines()[-1]
    assert said == (
        f"Already published in {shared} for {head(origin)[:12]} by another codemem version or "
        "with other index settings (or unreadable), left as it is: clones with these settings "
        f"build locally; remove {shared}/{head(origin)} to publish this one."
    )
    out = index_json(origin, "--publish", str(shared))["published"]
    assert (out["published"], out["other_settings"]) == (False, True)
    assert json.loads(record_path.read_text()) == record  # left as it is
    reader = clone(origin, tmp_path / "reader")
    problem = index_json(reader, "--from", str(shared))["started_from"]["problem"]
    assert problem.endswith("built by another codemem version or other index settings")
