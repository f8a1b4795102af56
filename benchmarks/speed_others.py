"""The tools codemem is measured against, in the same run: Universal Ctags and Aider.

- `ctags -R` over the work tree (tags file written outside it): the floor for "find every
  definition" with no ranking and no search.
- Aider's repo map, cold: `aider --show-repo-map` with its tag cache removed first, so it
  parses every file with tree-sitter and ranks them, as on a first session. No API key and
  no network: the process runs in its own network namespace (`unshare -rn`) where that is
  allowed, behind a dead proxy otherwise, with Aider's model-metadata cache pre-seeded from
  the copy LiteLLM ships and analytics, update checks and release notes off. Whatever Aider
  writes into the repository (`.aider.*`) is removed afterwards.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from measure import Measured, run_measured

CTAGS = "/usr/bin/ctags"
AIDER_FLAGS = (
    "--show-repo-map",
    "--map-tokens",
    "1024",
    "--model",
    "gpt-4o",  # for its token counter only (LiteLLM ships the tokenizer); nothing is sent
    "--no-check-update",
    "--no-show-release-notes",
    "--no-show-model-warnings",
    "--no-analytics",
    "--no-gitignore",
    "--no-pretty",
    "--no-fancy-input",
    "--yes-always",
    "--chat-history-file",
    os.devnull,
    "--input-history-file",
    os.devnull,
)
DEAD_PROXY = "http://127.0.0.1:9"


def measured_row(call: Measured) -> dict[str, Any]:
    out: dict[str, Any] = call.timing()
    if not call.ok:
        out["error"] = call.brief_error()
    return out


def ctags(root: Path, timeout: float = 3600) -> dict[str, Any]:
    """`ctags -R` over `root`; wall, CPU, RSS and how many tags it wrote."""
    if not Path(CTAGS).exists():
        return {"error": f"{CTAGS} is not installed"}
    with tempfile.TemporaryDirectory(prefix="speed-ctags-") as tmp:
        tags = Path(tmp) / "tags"
        call = run_measured(
            [CTAGS, "-R", "--exclude=.git", "--exclude=.codemem", "-f", str(tags), "."],
            cwd=root,
            timeout=timeout,
            sample_every=0.05,
        )
        out = measured_row(call)
        if tags.exists():
            with tags.open("rb") as fh:
                out["tags"] = sum(1 for line in fh if not line.startswith(b"!_"))
    return out


class Aider:
    """Runs Aider's cold repo map with no key and no network."""

    def __init__(self, command: str, home: Path) -> None:
        self.command = shlex.split(command)
        self.home = home
        self.isolate = self._can_unshare()

    def preflight(self) -> str | None:
        """None when `aider --version` runs; else why not."""
        call = run_measured([*self.command, "--version"], env=self._env(), timeout=120)
        return (
            None
            if call.ok
            else f"`{shlex.join(self.command)} --version` failed: {call.brief_error()}"
        )

    def repo_map(self, root: Path, timeout: float = 3600) -> dict[str, Any]:
        """Aider's repo map from a cold start (its tag cache removed) in a fresh process."""
        self._clean(root)
        cmd = [*self.command, *AIDER_FLAGS]
        if self.isolate:
            cmd = ["unshare", "-rn", *cmd]
        try:
            call = run_measured(cmd, cwd=root, env=self._env(), timeout=timeout, sample_every=0.05)
        finally:
            self._clean(root)
        out = measured_row(call)
        out["network"] = "none (own namespace)" if self.isolate else "dead proxy"
        out["map_chars"] = len(call.stdout)
        if call.ok and "Here are summaries of some files" not in call.stdout:
            out["error"] = "printed no repo map"
        return out

    def _env(self) -> dict[str, str]:
        self._seed_model_cache()
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.endswith("_API_KEY") and not k.startswith(("AIDER_", "CODEMEM_"))
        }
        env.update(
            HOME=str(self.home),
            HTTP_PROXY=DEAD_PROXY,
            HTTPS_PROXY=DEAD_PROXY,
            http_proxy=DEAD_PROXY,
            https_proxy=DEAD_PROXY,
            NO_PROXY="",
            LITELLM_LOCAL_MODEL_COST_MAP="True",
            HF_HUB_OFFLINE="1",
            AIDER_ANALYTICS="false",
            AIDER_CHECK_UPDATE="false",
        )
        return env

    def _seed_model_cache(self) -> None:
        """Aider fetches LiteLLM's model list once a day unless its cache is fresh: give it
        LiteLLM's bundled copy, dated now."""
        cache = self.home / ".aider" / "caches" / "model_prices_and_context_window.json"
        if cache.exists() and time.time() - cache.stat().st_mtime < 3600:
            return
        cache.parent.mkdir(parents=True, exist_ok=True)
        python = Path(self.command[0]).parent / "python"
        probe = subprocess.run(
            [str(python), "-c", "import litellm, os; print(os.path.dirname(litellm.__file__))"],
            capture_output=True,
            text=True,
            env={**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"},
            check=False,
        )
        bundled = Path(probe.stdout.strip()) / "model_prices_and_context_window_backup.json"
        cache.write_text(bundled.read_text() if bundled.exists() else json.dumps({}))

    @staticmethod
    def _can_unshare() -> bool:
        if not shutil.which("unshare"):
            return False
        probe = subprocess.run(["unshare", "-rn", "true"], capture_output=True, check=False)
        return probe.returncode == 0

    @staticmethod
    def _clean(root: Path) -> None:
        for path in root.glob(".aider.*"):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
