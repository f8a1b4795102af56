"""The repository's own files, as the miners and the project learner read them.

Paths come from git (tracked plus untracked-not-ignored); contents are read from the work
tree once, bounded in size, and parsed as TOML, JSON or YAML on demand. Nothing here raises
for a broken file: it simply reads as empty.
"""

from __future__ import annotations

import json
import re
import sys
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from codemem.code import list_candidates, matches_any, read_repo_file
from codemem.infra import load_yaml

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10: tomli, the library tomllib came from
    import tomli as tomllib

MAX_CONFIG_BYTES = 1_000_000
# What a parser raises for a file it reads but cannot build: values YAML cannot construct
# (2025-02-30, a 5,000-digit number), arrays nested thousands deep in any of the three
UNBUILDABLE = (ValueError, TypeError, AttributeError, OverflowError, RecursionError)


class RepoFiles:
    """Paths and contents of one repository's files."""

    def __init__(self, root: Path, paths: list[str] | None = None) -> None:
        self.root = root
        self._paths = paths
        self._texts: dict[str, str | None] = {}

    @cached_property
    def paths(self) -> list[str]:
        """Every file git offers (sorted)."""
        if self._paths is not None:
            return sorted(self._paths)
        return [c.path for c in list_candidates(self.root)]

    @cached_property
    def _lower(self) -> dict[str, str]:
        return {p.lower(): p for p in self.paths}

    def find(self, *names: str) -> str | None:
        """The first of `names` that exists (case-insensitive), as the repository spells it."""
        for name in names:
            found = self._lower.get(name.lower())
            if found is not None:
                return found
        return None

    def glob(self, *patterns: str) -> list[str]:
        """Paths matching any of the gitignore-style patterns, sorted."""
        return [p for p in self.paths if matches_any(p, list(patterns))]

    def text(self, path: str | None, max_bytes: int = MAX_CONFIG_BYTES) -> str | None:
        """The file's text, or None when missing, binary or too large."""
        if path is None:
            return None
        if path not in self._texts:
            data, _reason = read_repo_file(self.root, path, max_bytes)
            text = None
            if data is not None and b"\0" not in data[:8192]:
                text = data.decode("utf-8", "replace").replace("\r\n", "\n")
            self._texts[path] = text
        return self._texts[path]

    def toml(self, path: str | None) -> dict[str, Any]:
        text = self.text(path)
        if not text:
            return {}
        try:
            return tomllib.loads(text)
        except (tomllib.TOMLDecodeError, *UNBUILDABLE):
            return {}

    def json(self, path: str | None) -> dict[str, Any]:
        text = self.text(path)
        if not text:
            return {}
        try:
            data = json.loads(text)
        except RecursionError:
            return {}
        except ValueError:
            try:  # tsconfig.json and friends allow comments and trailing commas
                data = json.loads(_strip_json_comments(text))
            except UNBUILDABLE:
                return {}
        return data if isinstance(data, dict) else {}

    def yaml(self, path: str | None) -> Any:
        text = self.text(path)
        if not text:
            return None
        try:
            return load_yaml(text)
        except (yaml.YAMLError, *UNBUILDABLE):
            return None

    def ini(self, path: str | None) -> dict[str, dict[str, str]]:
        """An INI file's sections (setup.cfg, tox.ini, .flake8, .editorconfig) as dicts."""
        text = self.text(path)
        out: dict[str, dict[str, str]] = {}
        section: dict[str, str] | None = None
        for raw in (text or "").splitlines():
            line = raw.strip()
            if not line or line.startswith(("#", ";")):
                continue
            if line.startswith("[") and line.endswith("]"):
                section = out.setdefault(line[1:-1].strip(), {})
            elif section is not None and ("=" in line or ":" in line):
                key, _, value = line.partition("=") if "=" in line else line.partition(":")
                section[key.strip().lower()] = value.strip()
        return out

    @cached_property
    def pyproject(self) -> dict[str, Any]:
        return self.toml(self.find("pyproject.toml"))

    @cached_property
    def package_json(self) -> dict[str, Any]:
        return self.json(self.find("package.json"))

    @cached_property
    def cargo(self) -> dict[str, Any]:
        return self.toml(self.find("Cargo.toml"))

    @cached_property
    def workflows(self) -> list[str]:
        return self.glob(".github/workflows/*.yml", ".github/workflows/*.yaml")


_JSON_COMMENT = re.compile(r'("(?:\\.|[^"\\])*")|//[^\n]*|/\*.*?\*/', re.S)
_TRAILING_COMMA = re.compile(r",(\s*[}\]])")


def _strip_json_comments(text: str) -> str:
    text = _JSON_COMMENT.sub(lambda m: m.group(1) or "", text)
    return _TRAILING_COMMA.sub(r"\1", text)


def dig(data: Any, *keys: str) -> Any:
    """`data[k1][k2]...`, or None when any step is missing."""
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data
