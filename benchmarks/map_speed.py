"""Speed of the repo map: tag store, graph build, warm map in-process and as `codemem map`.

    python benchmarks/map_speed.py [FOLDER] [--work DIR] [--reparse] [--repeat N]

FOLDER defaults to /tmp/sympy (an extracted sympy checkout). Every code file under it is
parsed once with `codemem.code.parse.parse_file` into a tag store kept in
`WORK/repo/.codemem/local/index/` (reused on later runs unless --reparse), inside an empty git
repository, so `python -m codemem --repo WORK/repo map` reads exactly what a user's warm map
reads. Times are wall seconds: the best and the median of --repeat runs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from codemem.code.graph import load_graph
from codemem.code.graph_build import build_graph
from codemem.code.repomap import render_repo_map
from codemem.code.tags import FileTags, TagStore

FOCUS = ["sympy/solvers", "Basic.subs"]


def timed(fn, repeat: int) -> tuple[float, float, object]:
    """(best, median, last result) of `repeat` calls."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times), result


def parse_tree(folder: Path) -> list[FileTags]:
    """Tags of every code file under `folder`, as the indexer would extract them."""
    from codemem.code.languages import is_code, language_for_path
    from codemem.code.parse import parse_file

    out = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and ".git" not in p.parts):
        rel = path.relative_to(folder).as_posix()
        data = path.read_bytes()
        language = language_for_path(rel, data[:4096])
        if language is None or not is_code(language):
            continue
        out.append(FileTags.from_parsed(parse_file(rel, data, language)))
    return out


def prepare(folder: Path, work: Path, reparse: bool) -> Path:
    """The benchmark repository with a filled tag store; returns its index folder."""
    repo = work / "repo"
    index_dir = repo / ".codemem" / "local" / "index"
    if not (repo / ".git").exists():
        repo.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "init", "-q", str(repo)], check=True)
    if reparse or not TagStore.load(index_dir).exists:
        start = time.perf_counter()
        tags = parse_tree(folder)
        parsed = time.perf_counter() - start
        store = TagStore(index_dir)
        store.update([t.encoded() for t in tags], [])
        store.save()
        print(f"parsed {len(tags)} files in {parsed:.1f} s", file=sys.stderr)
    return index_dir


def main() -> None:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", nargs="?", default="/tmp/sympy")
    ap.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "codemem-map-bench"))
    ap.add_argument("--reparse", action="store_true", help="parse the folder again")
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--tokens", type=int, default=1024)
    args = ap.parse_args()
    index_dir = prepare(Path(args.folder), Path(args.work), args.reparse)
    repo = index_dir.parents[2]
    rows: list[tuple[str, float, float]] = []

    def row(label: str, fn) -> object:
        best, median, result = timed(fn, args.repeat)
        rows.append((label, best, median))
        return result

    store = TagStore.load(index_dir)
    files = store.files
    defs = sum(len(t.defs) for t in files.values())
    refs = sum(sum(t.refs.values()) for t in files.values())
    names = sum(len(t.refs) for t in files.values())
    print(f"{len(files)} files, {defs} definitions, {refs} references ({names} per-file names)")

    some = next(iter(files.values()))

    def index_update() -> None:  # what the indexer does after a run that changed one file
        s = TagStore.load(index_dir)
        changed = FileTags(some.path, some.language, some.defs, dict(some.refs), some.imports)
        s.update([changed.encoded()], [])
        s.save()

    row("store: load + update 1 file + save", index_update)
    row(
        "store: load (lazy) + definitions of 1 file",
        lambda: TagStore.load(index_dir).definitions(some.path),
    )
    graph = row("graph: build (cold, no cache)", lambda: build_graph(TagStore.load(index_dir)))
    print(
        f"graph: {len(graph.paths)} files, {len(graph.names)} names, "
        f"{len(graph.arrays['edge_src'])} edges, {len(graph.arrays['pair_src'])} file pairs"
    )

    def cold() -> None:
        for stale in index_dir.glob("graph.*"):
            stale.unlink()
        load_graph(index_dir)

    row("graph: load_graph cold (build + save)", cold)
    row("graph: load_graph warm (from cache)", lambda: load_graph(index_dir))

    def warm_map(focus: list[str]) -> None:
        s = TagStore.load(index_dir)
        render_repo_map(s, load_graph(index_dir, s), tokens=args.tokens, focus=focus)

    row(f"map in-process, warm, {args.tokens} tokens", lambda: warm_map([]))
    row("map in-process, warm, --focus " + " ".join(FOCUS), lambda: warm_map(FOCUS))

    env = dict(os.environ, CODEMEM_HOME=str(Path(args.work) / "home"))
    env = {k: v for k, v in env.items() if not k.startswith("CODEMEM_") or k == "CODEMEM_HOME"}
    cli = [sys.executable, "-m", "codemem", "--repo", str(repo), "map"]

    def run(cmd: list[str]) -> None:
        subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)

    row("python -c pass (start-up floor)", lambda: run([sys.executable, "-c", "pass"]))
    row("python -m codemem --help", lambda: run([sys.executable, "-m", "codemem", "--help"]))
    row("codemem map (warm)", lambda: run(cli))
    row("codemem map --tokens 1024 (warm, no config)", lambda: run([*cli, "--tokens", "1024"]))
    focus_args = [a for f in FOCUS for a in ("--focus", f)]
    row("codemem map --focus ... (warm)", lambda: run([*cli, *focus_args]))
    row("codemem map --json (warm)", lambda: run([*cli, "--json"]))

    width = max(len(label) for label, _, _ in rows)
    print(f"{'':{width}}  {'best s':>8}  {'median s':>8}")
    for label, best, median in rows:
        print(f"{label:{width}}  {best:8.3f}  {median:8.3f}")


if __name__ == "__main__":
    main()
