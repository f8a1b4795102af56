"""Working clones of the local mirrors (`/work/.mirror/<owner>+<name>/repo`, bare).

A clone shares the mirror's objects (`git clone --shared`), so it costs only its work tree.
Moving it to another commit is `git checkout -f` plus `git clean -fdx -e .codemem`: the tree is
exactly the commit's, and codemem's own folder (with its index) survives, so indexing stays
incremental the way it is for a user who switches branches.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path


class CheckoutError(RuntimeError):
    """A git step failed; the message carries git's own words."""


def git(*args: str, cwd: Path | None = None, git_dir: Path | None = None) -> str:
    """Run git and return its stdout; raise CheckoutError with stderr on failure."""
    cmd = ["git"]
    if git_dir is not None:
        cmd += ["--git-dir", str(git_dir)]
    proc = subprocess.run(
        [*cmd, *args], cwd=cwd, capture_output=True, text=True, errors="replace", check=False
    )
    if proc.returncode != 0:
        raise CheckoutError(f"git {' '.join(args)}: {proc.stderr.strip()[-400:]}")
    return proc.stdout


def find_mirror(mirrors: Path, repo: str) -> Path | None:
    """The bare git dir for `owner/name`, matching `<owner>+<name>` case-insensitively."""
    if not mirrors.is_dir():
        return None
    wanted = repo.replace("/", "+").lower()
    for entry in sorted(mirrors.iterdir()):
        if entry.name.lower() == wanted and entry.is_dir():
            bare = entry / "repo"
            return bare if bare.is_dir() else entry
    return None


@dataclass
class TrackedFile:
    path: str  # repository-relative, "/" separators
    blob: str  # git blob id: same id, same content


@dataclass
class WorkClone:
    """One working clone of a mirror under the benchmark's work folder."""

    mirror: Path
    root: Path

    def ensure(self) -> WorkClone:
        """Create the clone if it is not there yet (no checkout: the caller picks commits)."""
        if not (self.root / ".git").exists():
            self.root.parent.mkdir(parents=True, exist_ok=True)
            git("clone", "--quiet", "--shared", "--no-checkout", str(self.mirror), str(self.root))
        return self

    def checkout(self, commit: str, *, keep_codemem: bool = True) -> list[str]:
        """Make the work tree exactly `commit` (detached), keeping `.codemem/` if asked.

        The mirrors lack some large blobs (data files, generated headers). Those paths are
        left out through a sparse checkout: they stay in git's index with the skip-worktree
        bit and are absent on disk. Returns them.
        """
        missing = self.missing_blobs(commit)
        sparse = self.root / ".git" / "info" / "sparse-checkout"
        if missing or sparse.exists():
            # once on, sparse stays on: re-applying "/*" is what brings skipped files back
            sparse.parent.mkdir(parents=True, exist_ok=True)
            sparse.write_text(
                "/*\n" + "".join(f"!/{_escape(p)}\n" for p in missing), encoding="utf-8"
            )
            git("config", "core.sparseCheckout", "true", cwd=self.root)
        git("checkout", "--quiet", "--force", "--detach", commit, cwd=self.root)
        clean = ["clean", "-fdxq"] + (["-e", ".codemem"] if keep_codemem else [])
        git(*clean, cwd=self.root)
        return missing

    def missing_blobs(self, commit: str) -> list[str]:
        """Paths of `commit` whose blobs the mirror does not have."""
        tree = git("ls-tree", "-r", "-z", "--full-tree", commit, cwd=self.root)
        blobs: dict[str, list[str]] = {}
        for record in tree.split("\0"):
            if record:
                meta, path = record.split("\t", 1)
                _mode, kind, oid = meta.split()
                if kind == "blob":
                    blobs.setdefault(oid, []).append(path)
        check = subprocess.run(
            ["git", "cat-file", "--batch-check"],
            cwd=self.root,
            input="\n".join(blobs) + "\n",
            capture_output=True,
            text=True,
            check=False,
        )
        missing = [
            line.split()[0] for line in check.stdout.splitlines() if line.endswith(" missing")
        ]
        return sorted(path for oid in missing for path in blobs.get(oid, ()))

    def head(self) -> str:
        return git("rev-parse", "HEAD", cwd=self.root).strip()

    def tracked_files(self) -> list[TrackedFile]:
        """Regular tracked files (no symlinks, no submodules) with their blob ids."""
        out = git("ls-files", "-s", "-z", cwd=self.root)
        files = []
        for record in out.split("\0"):
            if not record:
                continue
            meta, path = record.split("\t", 1)
            mode, blob, _stage = meta.split()
            if mode in ("100644", "100755"):
                files.append(TrackedFile(path, blob))
        return files

    def exists_at(self, commit: str, path: str) -> bool:
        """Whether `path` is a file in `commit` (gold files may be created by the fix)."""
        proc = subprocess.run(
            ["git", "cat-file", "-e", f"{commit}:{path}"],
            cwd=self.root,
            capture_output=True,
            check=False,
        )
        return proc.returncode == 0


def _escape(path: str) -> str:
    """A path as a literal gitignore-style pattern."""
    return "".join("\\" + c if c in "\\*?[]!# " else c for c in path)


def is_text(data: bytes) -> bool:
    """git's own heuristic: a NUL byte in the first 8000 bytes means binary."""
    return b"\0" not in data[:8000]


def tree_size(root: Path, files: list[TrackedFile]) -> dict[str, int]:
    """Tracked files, how many are text, and their lines and bytes."""
    text = lines = size = 0
    for f in files:
        try:
            data = (root / f.path).read_bytes()
        except OSError:
            continue
        if is_text(data):
            text += 1
            lines += data.count(b"\n")
            size += len(data)
    return {"files": len(files), "text_files": text, "lines": lines, "text_bytes": size}
