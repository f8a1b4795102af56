"""Parser workers: results come back in order, the same as in one process, a few at a time."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from codemem.code import workers
from codemem.code.batch_writer import PendingFiles
from codemem.code.extract import INDEXED, ExtractSettings, FileResult, extract_file
from codemem.code.joined_rows import JoinedColumn, joined_batches
from codemem.code.packed_rows import pack_results
from codemem.code.rows import Batch, FileRows

SETTINGS = ExtractSettings(max_file_bytes=100_000, chunk_lines=80, max_line_chars=2000)


def test_parallel_results_are_in_order_and_equal_one_process(tmp_path, monkeypatch):
    items = []
    for n in range(150):
        (tmp_path / f"m{n}.py").write_text(
            f"def f{n}(x):\n    return x + {n}\n\n\nclass C{n}:\n    pass\n"
        )
        items.append((f"m{n}.py", None))
    in_flight: list[int] = []
    submit = ProcessPoolExecutor.submit

    def counting_submit(pool, fn, *args):
        in_flight.append(len(pool._pending_work_items))
        return submit(pool, fn, *args)

    monkeypatch.setattr(ProcessPoolExecutor, "submit", counting_submit)
    seen: list[int] = []
    results = list(
        workers.parse_files(tmp_path, items, SETTINGS, 2, lambda done, total: seen.append(done))
    )
    expected = [extract_file(tmp_path, path, None, SETTINGS) for path, _ in items]
    assert [r.path for r in results] == [path for path, _ in items]
    # The tags come encoded as the tag store keeps them, the very bytes this process makes,
    # and the rows packed: joined, they are this process's rows.
    assert [(r.status, r.tags) for r in results] == [(e.status, e.tags.encoded()) for e in expected]
    assert [(r.batch.count("chunks"), r.batch.count("symbols")) for r in results] == [
        (e.batch.count("chunks"), e.batch.count("symbols")) for e in expected
    ]
    assert joined_rows([r.batch for r in results]) == joined_rows([e.batch for e in expected])
    assert seen == list(range(0, 151))  # 0: begun
    assert max(in_flight) < 2 * workers.IN_FLIGHT_PER_WORKER  # never every chunk at once
    assert len(in_flight) > 2 * workers.IN_FLIGHT_PER_WORKER


def joined_rows(batches: list) -> dict:
    """The rows of these files' batches (packed or not), table by table, as lists."""
    pending = PendingFiles()
    for n, batch in enumerate(batches):
        result = FileResult(f"f{n}", "0" * 40, INDEXED, "python", batch)
        if isinstance(batch, Batch):  # this process's rows, packed as the writer takes them
            pack_results([result])
        pending.add(result, had_rows=False)
    lists, tables = joined_batches(pending.rows)

    def plain(columns: dict) -> dict:
        return {
            name: values
            if isinstance(values, list)
            else values.tolist()
            if isinstance(values, np.ndarray | JoinedColumn)
            else values.to_pylist()  # an Arrow array
            for name, values in columns.items()
        }

    return {
        table: plain(getattr(tables, table)) | plain(getattr(lists, table))
        for table in ("files", "chunks", "symbols")
    }


def test_progress_says_the_work_has_begun_before_the_first_file_is_parsed(tmp_path, monkeypatch):
    # One large file parses for many seconds before its step: `index` shows a bar meanwhile.
    (tmp_path / "big.py").write_text("def f():\n    pass\n")
    events: list[object] = []
    monkeypatch.setattr(
        workers, "extract_file", lambda *args: events.append("parse") or extract_file(*args)
    )
    items = [("big.py", None)]
    results = workers.parse_files(tmp_path, items, SETTINGS, 1, lambda *step: events.append(step))
    assert [r.status for r in results] == [INDEXED]
    assert events == [(0, 1), "parse", (1, 1)]


def test_the_last_files_go_in_smaller_chunks():
    files = list(range(300))
    chunks = workers._chunked(files, 8, 2)  # type: ignore[arg-type]
    assert [f for chunk in chunks for f in chunk] == files
    assert [len(chunk) for chunk in chunks] == [8] * 33 + [4] + [2] * 16


def test_one_process_packs_the_rows_as_the_workers_do(tmp_path):
    (tmp_path / "a.py").write_text("def f(x):\n    return x\n\n\nclass C:\n    pass\n")
    (result,) = workers.parse_files(tmp_path, [("a.py", None)], SETTINGS, 1, None)
    expected = extract_file(tmp_path, "a.py", None, SETTINGS)
    assert isinstance(result.batch, FileRows)
    assert joined_rows([result.batch]) == joined_rows([expected.batch])


KILLED_WHILE_PARSING = """
import os, signal, sys
from pathlib import Path
import lancedb  # loaded: the workers come from multiprocessing's fork server, as in chat or MCP
from codemem.code import workers
from codemem.code.extract import ExtractSettings

settings = ExtractSettings(max_file_bytes=100_000, chunk_lines=80, max_line_chars=2000)
items = [(f"m{n}.py", None) for n in range(400)]
results = workers.parse_files(Path(sys.argv[1]), items, settings, 2, None)
next(results)  # the workers are parsing
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_killed_indexer_takes_a_fork_servers_workers_with_it(tmp_path):
    for n in range(400):
        (tmp_path / f"m{n}.py").write_text(f"def f{n}(x):\n    return x + {n}\n")
    killed = subprocess.Popen(
        [sys.executable, "-c", KILLED_WHILE_PARSING, str(tmp_path)],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        start_new_session=True,
    )
    try:
        assert killed.wait(timeout=120) == -signal.SIGKILL
        deadline = time.monotonic() + 10  # a worker looks for the indexer once a second
        while time.monotonic() < deadline:
            try:
                os.killpg(killed.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        else:
            raise AssertionError("the fork server or a worker outlived the indexer")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(killed.pid, signal.SIGKILL)


HALF_SENT = """
import os, struct, sys, time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from codemem.code.workers import _stop

MARK = Path(sys.argv[1])

def half_sent():
    # What a worker killed in the middle of sending a large result leaves in the pipe: the
    # message's length and its first bytes. (Found from the worker loop's frame.)
    frame = sys._getframe()
    while "result_queue" not in frame.f_locals:
        frame = frame.f_back
    os.write(frame.f_locals["result_queue"]._writer.fileno(), struct.pack("!i", 1 << 20) + b"x" * 16)
    MARK.write_text("sent")
    time.sleep(120)

pool = ProcessPoolExecutor(1, mp_context=get_context("fork"))
pool.submit(half_sent)
while not MARK.exists():
    time.sleep(0.01)
time.sleep(0.2)  # the pool's thread reads the length and waits for the rest
_stop(pool, finished=False)
print("stopped")
"""


def test_stopping_workers_one_killed_half_way_through_a_result_does_not_hang(tmp_path):
    # A stop (SIGTERM, the repository removed) kills the workers; the one killed while it
    # sent a result left half a message, which the pool's thread then waited on for ever.
    done = subprocess.run(
        [sys.executable, "-c", HALF_SENT, str(tmp_path / "mark")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stdout) == (0, "stopped\n"), done.stderr


def test_results_closed_before_the_first_is_read_stop_the_workers(tmp_path):
    """A Ctrl-C between the fork and the first result (the indexer opening its store) closes
    results never read: the workers stop all the same, none left idle with the pool's thread."""
    items = []
    for n in range(workers.PARALLEL_MIN_FILES):
        (tmp_path / f"m{n}.py").write_text(f"def f{n}():\n    return {n}\n")
        items.append((f"m{n}.py", None))
    results = workers.parse_files(tmp_path, items, SETTINGS, 2, None)
    assert len(multiprocessing.active_children()) == 2
    results.close()
    assert multiprocessing.active_children() == []


def test_each_languages_query_is_compiled_once_not_once_per_worker(tmp_path, monkeypatch):
    """The indexer loads the grammar and compiles the tag query of the languages it will hand
    the workers before it forks them: each worker compiled its own (C++'s: 0.23 s each)."""
    import tree_sitter

    from codemem.code import languages

    compiled = tmp_path / "compiled"
    real = tree_sitter.Query

    def counted(language, text):
        with compiled.open("a") as fh:  # the forked workers write here too
            fh.write(f"{os.getpid()}\n")
        return real(language, text)

    monkeypatch.setattr(tree_sitter, "Query", counted)
    monkeypatch.delitem(sys.modules, "lancedb", raising=False)  # forked, not a fork server's
    root = tmp_path / "repo"
    root.mkdir()
    items = []
    for n in range(workers.PARALLEL_MIN_FILES + 12):
        (root / f"m{n}.py").write_text(f"def f{n}():\n    return {n}\n")
        items.append((f"m{n}.py", None))
    languages.clear_caches()
    try:
        results = list(workers.parse_files(root, items, SETTINGS, 2, None))
    finally:
        languages.clear_caches()  # no counted query kept for later tests
    assert [(r.status, r.batch.count("symbols")) for r in results] == [(INDEXED, 1)] * len(items)
    assert compiled.read_text().splitlines() == [str(os.getpid())]  # once, by the indexer


# A signal whose handler Python runs inside the fork's own callbacks (`os.register_at_fork`:
# logging's, here one of its own), in the parent, while the workers are forked; another
# thread takes it from the kernel, as in `codemem index` (the listing, the watchdog).
FORKED_WHILE_INTERRUPTED = """
import multiprocessing, os, signal, sys, threading, time
from pathlib import Path
from codemem.code import workers
from tests.code.test_workers import SETTINGS

signal.signal(signal.SIGINT, signal.default_int_handler)
root = Path(sys.argv[1])
items = []
for n in range(workers.PARALLEL_MIN_FILES):
    (root / f"m{n}.py").write_text(f"def f{n}():\\n    return {n}\\n")
    items.append((f"m{n}.py", None))
armed = [True]


def interrupt():
    if armed and armed.pop():
        os.kill(os.getpid(), signal.SIGINT)
        deadline = time.monotonic() + 2  # the handler runs here unless it is held
        while time.monotonic() < deadline:
            pass


threading.Thread(target=time.sleep, args=(60,), daemon=True).start()
os.register_at_fork(after_in_parent=interrupt)
try:
    results = workers.parse_files(root, items, SETTINGS, 2, None)
except KeyboardInterrupt:
    print(f"interrupted; {len(multiprocessing.active_children())} workers left")
else:
    print(f"not interrupted; {sum(1 for _ in results)} files parsed")
"""


def test_a_ctrl_c_while_the_workers_are_forked_is_not_lost(tmp_path):
    """It is held over the forks and raised once they are done; the workers stop."""
    done = subprocess.run(
        [sys.executable, "-c", FORKED_WHILE_INTERRUPTED, str(tmp_path)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
        timeout=120,
        check=False,
    )
    assert (done.stdout, done.stderr) == ("interrupted; 0 workers left\n", "")


FORKED_BEFORE_NUMPY = """
import os, sys
from pathlib import Path
from codemem.code import workers
from codemem.code.extract import ExtractSettings

root, marks = Path(sys.argv[1]), Path(sys.argv[2])
real = workers._worker_chunk

def noting_chunk(chunk):
    results = real(chunk)  # parsed and packed: what a worker does
    (marks / str(os.getpid())).write_text(str("numpy" in sys.modules))
    return results

workers._worker_chunk = noting_chunk
settings = ExtractSettings(max_file_bytes=100_000, chunk_lines=80, max_line_chars=2000)
items = [(f"m{n}.py", None) for n in range(60)]
results = workers.parse_files(root, items, settings, 2, None)
forked_with_numpy = "numpy" in sys.modules
done = list(results)
results.close()
from codemem.code.joined_rows import joined_batches
lists, _ = joined_batches([r.batch for r in done])
print(forked_with_numpy, len(done), lists.symbols["start_line"][:2], lists.symbols["name"].tolist()[:2])
"""


def test_workers_fork_and_pack_before_numpy_is_loaded(tmp_path):
    """A small index forks its workers before it loads numpy (which then loads while they
    parse), and they pack their rows without it; the rows join as ever."""
    root, marks = tmp_path / "repo", tmp_path / "marks"
    root.mkdir()
    marks.mkdir()
    for n in range(60):
        (root / f"m{n}.py").write_text(f'def f{n}(x):\n    """Größe {n}."""\n    return x\n')
    done = subprocess.run(
        [sys.executable, "-c", FORKED_BEFORE_NUMPY, str(root), str(marks)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "60", "[1,", "1]", "['f0',", "'f1']"]
    noted = [mark.read_text() for mark in marks.iterdir()]
    assert noted and set(noted) == {"False"}
