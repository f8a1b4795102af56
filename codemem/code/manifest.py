"""The index manifest: what is indexed, at which content id, and with which settings.

The manifest is the source of truth for "is this file indexed?". It is rewritten
atomically after each batch of rows is committed, so it never claims more than the tables
hold; a crash leaves it behind the tables, and the next run simply redoes those files.
`full_text` says whether the full-text indexes were built after the last rows were written:
a run stopped before that leaves it False, and the next run builds them.
Reading it needs no database, which keeps `status` and no-op runs instant.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from codemem.infra import atomic_write

MANIFEST_NAME = "manifest.json"
SCHEMA_VERSION = 1


@dataclass(slots=True)
class FileEntry:
    content_id: str | None
    status: str  # "indexed" or a skip reason
    language: str | None = None
    symbols: int = 0
    chunks: int = 0
    syntax_errors: int = 0

    def to_list(self) -> list[str | int | None]:
        return [
            self.content_id,
            self.status,
            self.language,
            self.symbols,
            self.chunks,
            self.syntax_errors,
        ]


@dataclass
class Manifest:
    fingerprint: str = ""
    files: dict[str, FileEntry] = field(default_factory=dict)
    indexed_at: float = 0.0
    runs_since_maintain: int = 0
    seconds: float = 0.0
    full_text: bool = False

    @classmethod
    def load(cls, index_dir: Path) -> Manifest | None:
        """The saved manifest, or None when missing or unreadable (then: rebuild)."""
        try:
            data = json.loads((index_dir / MANIFEST_NAME).read_text(encoding="utf-8"))
            if data.get("schema") != SCHEMA_VERSION:
                return None
            files = {path: FileEntry(*entry) for path, entry in data["files"].items()}
            return cls(
                fingerprint=data["fingerprint"],
                files=files,
                indexed_at=float(data.get("indexed_at", 0.0)),
                runs_since_maintain=int(data.get("runs_since_maintain", 0)),
                seconds=float(data.get("seconds", 0.0)),
                full_text=bool(data.get("full_text", False)),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def save(self, index_dir: Path) -> None:
        """Write atomically: temp file, fsync, rename."""
        index_dir.mkdir(parents=True, exist_ok=True)
        payload = {
            "schema": SCHEMA_VERSION,
            "fingerprint": self.fingerprint,
            "indexed_at": self.indexed_at or time.time(),
            "runs_since_maintain": self.runs_since_maintain,
            "seconds": self.seconds,
            "full_text": self.full_text,
            "files": {path: entry.to_list() for path, entry in sorted(self.files.items())},
        }
        atomic_write(index_dir / MANIFEST_NAME, json.dumps(payload, separators=(",", ":")))

    def indexed_paths(self) -> list[str]:
        return [p for p, e in self.files.items() if e.status == "indexed"]
