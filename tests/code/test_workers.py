"""Parser workers: results come back in order, the same as in one process, a few at a time."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor

from codemem.code import workers
from codemem.code.extract import ExtractSettings, extract_file

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
    # The tags come encoded as the tag store keeps them, the very bytes this process makes.
    assert [(r.status, r.batch, r.tags) for r in results] == [
        (e.status, e.batch, e.tags.encoded()) for e in expected
    ]
    assert seen == list(range(1, 151))
    assert max(in_flight) < 2 * workers.IN_FLIGHT_PER_WORKER  # never every chunk at once
    assert len(in_flight) > 2 * workers.IN_FLIGHT_PER_WORKER


def test_the_last_files_go_in_smaller_chunks():
    files = list(range(300))
    chunks = workers._chunked(files, 8, 2)  # type: ignore[arg-type]
    assert [f for chunk in chunks for f in chunk] == files
    assert [len(chunk) for chunk in chunks] == [8] * 33 + [4] + [2] * 16
