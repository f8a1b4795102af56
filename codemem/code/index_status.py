"""What `codemem status` reports, computed without opening the database: SQLite sums the
manifest's rows, and the work tree is compared as `codemem index` would compare it (only the
paths whose listing entries changed, when the last run's listing is kept)."""

from __future__ import annotations

import sqlite3
from typing import Any

from codemem.code.indexer import skip_counts
from codemem.code.integrity import FOREIGN, inspect_index
from codemem.code.manifest import MANIFEST_NAME, Manifest
from codemem.code.plan import fingerprint
from codemem.code.staleness import pending_paths
from codemem.code.worktree import ListingSettings, WorkTree
from codemem.config import Config
from codemem.workspace import LOCAL_DIR, UNTRACK_LOCAL, Workspace

REBUILT = "the next `codemem index` or `codemem search` rebuilds it"


def collect_status(ws: Workspace, config: Config) -> dict[str, Any]:
    """Index contents per language, freshness, skips and problems with their fixes."""
    problems: list[str] = []
    if not ws.dir.exists():
        # A sparse checkout that leaves the team's memory out: `init` would make it anew.
        left_out = ws.memory_left_out()
        problems.append(
            f"no .codemem/ folder: {left_out}"
            if left_out
            else "no .codemem/ folder: run `codemem init` to create memory and config"
        )
    tracked = ws.tracked_local()
    if tracked:
        problems.append(
            f"git tracks {len(tracked)} files under {LOCAL_DIR}/, which is each clone's own "
            f"(another clone's index and conversations are never used): untrack them with "
            f"`{UNTRACK_LOCAL}`"
        )
    damage = inspect_index(ws)
    # Another clone's index: nothing in it is reported as this one's.
    manifest = None if damage == FOREIGN else Manifest.load(ws.index_dir)
    report: dict[str, Any] = {
        "root": str(ws.root),
        "indexed": manifest is not None,
        "problems": problems,
        "damage": [],
    }
    if damage == FOREIGN:
        message = f"the code index is tracked by git (another clone's, never used): {REBUILT}"
        report["damage"].append({"kind": "index", "message": message})
        problems.append(message)
        return report
    if damage is not None:
        message = f"the code index is damaged ({damage}): {REBUILT}"
        report["damage"].append({"kind": "index", "message": message})
        problems.append(message)
    if manifest is None:
        problems.append("no index: run `codemem index`")
        return report
    try:
        # SQLite sums every row (a damaged page shows now, not mid-report); no row is kept.
        by_language = manifest.language_totals()
        skipped = skip_counts(manifest)
        tree = WorkTree.read(ws.root, ListingSettings.of(config.index))
        stale = len(pending_paths(manifest, tree, ws.index_dir))  # what `index` would redo
    except sqlite3.Error as exc:
        manifest.close()
        report["indexed"] = False
        if damage is None:  # damaged since the check, or beyond what its quick check reads
            message = f"the code index is damaged ({MANIFEST_NAME} is unreadable: {exc}): {REBUILT}"
            report["damage"].append({"kind": "index", "message": message})
            problems.append(message)
        return report

    languages: dict[str, dict[str, int]] = {}
    syntax_files = 0
    for language, (files, symbols, chunks, with_errors) in by_language.items():
        row = languages.setdefault(language or "unknown", {"files": 0, "symbols": 0, "chunks": 0})
        row["files"] += files
        row["symbols"] += symbols
        row["chunks"] += chunks
        syntax_files += with_errors
    report["submodules"] = tree.submodules()
    report["index"] = {
        "files": sum(row["files"] for row in languages.values()),
        "symbols": sum(row["symbols"] for row in languages.values()),
        "chunks": sum(row["chunks"] for row in languages.values()),
        "indexed_at": manifest.indexed_at,
        "seconds": manifest.seconds,
        "path": str(ws.index_dir),
    }
    report["freshness"] = {"stale_files": stale}
    report["languages"] = dict(sorted(languages.items(), key=lambda kv: -kv[1]["files"]))
    report["skipped"] = dict(sorted(skipped.items(), key=lambda kv: -kv[1]))
    if manifest.fingerprint != fingerprint(config):
        problems.append(
            "index settings changed since the last run: the next `codemem index` rebuilds it"
        )
    if syntax_files:
        problems.append(
            f"{syntax_files} files have syntax errors; they are indexed as far as they parse"
        )
    failed = sum(n for reason, n in skipped.items() if reason.startswith("parse_failed"))
    if failed:
        problems.append(f"{failed} files could not be parsed (a bug: run with -vv and report it)")
    if skipped.get("too_large"):
        problems.append(
            f"{skipped['too_large']} files are over index.max_file_bytes "
            f"({config.index.max_file_bytes:,} bytes); raise it in .codemem/config.yml to index them"
        )
    return report
