"""The reference graph at scale: build time and peak memory, the search prior's cost, the map.

    python benchmarks/graph_scale.py INDEX_DIR [--copy DIR]

INDEX_DIR is an index folder (`.codemem/local/index`) holding a tag store, e.g. the Linux
kernel's. The graph is built from it in this process, as the indexer's last step does, and
written beside it (use --copy to work on a copy of the tag store instead: the index is left
alone). Then, each in a fresh process: the search prior read as `codemem search` reads it,
and an unpersonalized map. Peak RSS is the process's own (`ru_maxrss`), so run each part in a
fresh process, which this script does.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

STEPS = {
    "build": """
from codemem.code.graph_build import build_graph
from codemem.code.tags import TagStore
store = TagStore.load(INDEX)
graph = build_graph(store, INDEX)
print(f"{len(graph.paths)} files, {len(graph.names)} names, "
      f"{len(graph.arrays['edge_src'])} edges", end="; ")
""",
    "prior": """
from codemem.code.graph import read_prior
prior = read_prior(INDEX)
top = max(prior.values())
some = [prior.get(p, 0.0) for p in list(prior)[::50][:1000]]
""",
    "map": """
from codemem.code.graph import load_graph
from codemem.code.repomap import render_repo_map
from codemem.code.tags import TagStore
store = TagStore.load(INDEX)
render_repo_map(store, load_graph(INDEX, store), tokens=1024)
""",
}


def run_step(name: str, index_dir: Path) -> None:
    """One step in a fresh process; prints its wall and CPU time and peak RSS."""
    code = (
        "import resource, time\nfrom pathlib import Path\n"
        f"INDEX = Path({str(index_dir)!r})\n"
        "t0, c0 = time.perf_counter(), time.process_time()\n"
        + STEPS[name]
        + "print(f'{time.perf_counter() - t0:.3f} s wall, {time.process_time() - c0:.3f} s CPU, "
        "peak {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB')\n"
    )
    print(f"{name:6}", end=" ", flush=True)
    subprocess.run([sys.executable, "-c", code], check=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("index_dir", type=Path)
    parser.add_argument("--copy", type=Path, help="copy the tag store here and work there")
    args = parser.parse_args()
    index_dir = args.index_dir
    if args.copy:
        args.copy.mkdir(parents=True, exist_ok=True)
        for part in [index_dir / "tags.bin", *index_dir.glob("tags.base.*.bin")]:
            shutil.copy2(part, args.copy / part.name)
        index_dir = args.copy
    for stale in index_dir.glob("graph.*"):
        stale.unlink()
    started = time.perf_counter()
    for name in STEPS:
        run_step(name, index_dir)
    own = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"all steps: {time.perf_counter() - started:.1f} s; largest step {own:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
