"""Where each tool is configured or run, gathered once, and the rule that a tool is used.

Shared by the tool miners (`python_tools`, `js_tools`, `tooling`) and the test-suite miner.
"""

from __future__ import annotations

import re
from typing import Any

from codemem.conventions.repo_files import RepoFiles, dig
from codemem.conventions.rules import Evidence, Rule

SCRIPT_SOURCES = (
    "Makefile",
    "makefile",
    "GNUmakefile",
    "tox.ini",
    "noxfile.py",
    ".gitlab-ci.yml",
    ".pre-commit-config.yaml",
    "justfile",
    "Justfile",
)


def tool_settings(data: dict[str, Any], keys: tuple[str, ...]) -> str:
    """The settings among `keys` that `data` has, as `key = value; ...` (lists joined)."""
    parts = []
    for key in keys:
        value = data.get(key)
        if value is None:
            continue
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        elif isinstance(value, bool):
            value = str(value).lower()
        parts.append(f"{key} = {value}")
    return "; ".join(parts)


class ToolScan:
    """Where each tool is configured or run, gathered once."""

    def __init__(self, files: RepoFiles) -> None:
        self.files = files
        self.scripts: dict[str, str] = {}  # path -> text of files that run commands
        for path in [*files.workflows, *(p for p in (files.find(n) for n in SCRIPT_SOURCES) if p)]:
            self.scripts[path] = files.text(path) or ""
        package_scripts = files.package_json.get("scripts")
        if isinstance(package_scripts, dict):
            package = files.find("package.json") or "package.json"
            self.scripts[package] = "\n".join(
                f"{k}: {v}" for k, v in sorted(package_scripts.items())
            )
        self.precommit = self._precommit_hooks()

    def _precommit_hooks(self) -> list[str]:
        data = self.files.yaml(self.files.find(".pre-commit-config.yaml"))
        hooks: list[str] = []
        for repo in (data or {}).get("repos", []) if isinstance(data, dict) else []:
            for hook in repo.get("hooks", []) if isinstance(repo, dict) else []:
                if isinstance(hook, dict) and hook.get("id"):
                    hooks.append(str(hook["id"]))
        return hooks

    def run_in(self, pattern: str) -> list[str]:
        """Files whose commands match `pattern` (a regular expression)."""
        regex = re.compile(pattern)
        return sorted(path for path, text in self.scripts.items() if regex.search(text))

    def package_deps(self) -> dict[str, str]:
        deps: dict[str, str] = {}
        for key in ("dependencies", "devDependencies", "peerDependencies"):
            value = self.files.package_json.get(key)
            if isinstance(value, dict):
                deps.update({str(k): str(v) for k, v in value.items()})
        return deps


def ruff_config(files: RepoFiles) -> tuple[str | None, Any]:
    """ruff's own settings file (None when they are in pyproject.toml) and its settings."""
    ruff_file = files.find("ruff.toml", ".ruff.toml")
    return ruff_file, files.toml(ruff_file) if ruff_file else dig(files.pyproject, "tool", "ruff")


def flake8_config(files: RepoFiles) -> tuple[str | None, dict[str, str]]:
    """The file holding flake8's settings and its `[flake8]` section, or (None, {})."""
    for name in (".flake8", "setup.cfg", "tox.ini"):
        path = files.find(name)
        section = files.ini(path).get("flake8") if path else None
        if section is not None:
            return path, section
    return None, {}


def tool_rule(
    tool: str,
    topic: str,
    language: str | None,
    statement: str,
    sources: list[str],
    detail: str = "",
) -> Rule:
    """A rule that `tool` (a formatter, linter or checker) is used."""
    evidence = Evidence(sources=tuple(dict.fromkeys(s for s in sources if s)), detail=detail)
    return Rule(topic, language, statement, None, evidence, "tool", value=tool)
