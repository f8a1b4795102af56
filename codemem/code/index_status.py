"""What `codemem status` reports, computed without opening the database."""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from typing import Any

from codemem.code.extract import INDEXED
from codemem.code.indexer import fingerprint, skip_counts
from codemem.code.integrity import FOREIGN, inspect_index
from codemem.code.manifest import MANIFEST_NAME, Manifest
from codemem.code.worktree import ListingSettings, WorkTree
from codemem.config import Config
from codemem.workspace import LOCAL_DIR, UNTRACK_LOCAL, Workspace

REBUILT = "the next `codemem index` or `codemem search` rebuilds it"


def collect_status(ws: Workspace, config: Config) -> dict[str, Any]:
    """Index contents per language, freshness, skips and problems with their fixes."""
    problems: list[str] = []
    if not ws.dir.exists():
        problems.append("no .codemem/ folder: run `codemem init` to create memory and config")
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
        files = manifest.files  # every row, read once: a damaged page shows now, not mid-report
    except sqlite3.Error as exc:
        manifest.close()
        report["indexed"] = False
        if damage is None:  # damaged since the check, or beyond what its quick check reads
            message = f"the code index is damaged ({MANIFEST_NAME} is unreadable: {exc}): {REBUILT}"
            report["damage"].append({"kind": "index", "message": message})
            problems.append(message)
        return report

    languages: dict[str, dict[str, int]] = defaultdict(
        lambda: {"files": 0, "symbols": 0, "chunks": 0}
    )
    syntax_files = 0
    for entry in files.values():
        if entry.status != INDEXED:
            continue
        row = languages[entry.language or "unknown"]
        row["files"] += 1
        row["symbols"] += entry.symbols
        row["chunks"] += entry.chunks
        syntax_files += entry.syntax_errors > 0
    tree = WorkTree.read(ws.root, ListingSettings.of(config.index))
    current = tree.ids()
    report["submodules"] = tree.submodules()
    stale = sum(
        1
        for path, (cid, reason) in current.items()
        if (known := files.get(path)) is None
        or known.content_id != cid
        or (reason is not None and known.status != reason)
    )
    stale += sum(1 for path in files if path not in current)
    indexed = [e for e in files.values() if e.status == INDEXED]
    report["index"] = {
        "files": len(indexed),
        "symbols": sum(e.symbols for e in indexed),
        "chunks": sum(e.chunks for e in indexed),
        "indexed_at": manifest.indexed_at,
        "seconds": manifest.seconds,
        "path": str(ws.index_dir),
    }
    report["freshness"] = {"stale_files": stale}
    report["languages"] = dict(sorted(languages.items(), key=lambda kv: -kv[1]["files"]))
    skipped = skip_counts(manifest)
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
