"""The one way codemem talks to git; every failure is a `GitError`.

Commands run as plain processes (one process each, output as bytes, the exit code checked
here, messages in the C locale as GitPython would ask; each watched for a wait that never
ends, a FIFO opened where git reads a file: `git_watch`), blobs through
GitPython's persistent `git cat-file --batch` (`git_blobs.BlobReader`, built on `_command`);
`git_state` says whether git is in the middle of an operation.
A failure reads `git <command> failed: <git's last line of stderr>`.

Every command is a read that runs no program the repository's git config names (hooks, filters,
fsmonitor, textconv, external diffs, signature checks, transports: `git_guard`), but for the
writes a person asked for (`as_user=True`: `digest --push`'s commit, pull and push), which keep
all but an fsmonitor command.

Measured here (2 shared cores, load 5-8):

- Start-up: `python -X importtime -c 'import git'` 70-165 ms (GitPython also runs `git version`
  when imported), a third of a `codemem index` that finds nothing changed. So commands run
  without it, and GitPython is imported only when blobs are read, never when `codemem.infra`
  is imported (a test checks it).
- Throughput: `git ls-files -s -z` over 70,000 paths (5 MB of output) takes 25-31 ms with a
  plain `subprocess.run` against 36-49 ms through GitPython's `Git.execute`.
"""

from __future__ import annotations

import os
import re
import shlex
import stat
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from codemem.errors import GitError, RepositoryRefused
from codemem.infra.files import read_at_most
from codemem.infra.git_config_files import linked_git_dir
from codemem.infra.git_guard import guarded, read_environment, unfetched_hint
from codemem.infra.git_watch import run_watched, watching
from codemem.infra.printing import printable

if TYPE_CHECKING:
    import git as gitpython

# Paths in output as they are (UTF-8), not C-quoted.
_OPTIONS = ("-c", "core.quotePath=false")
_C_LOCALE = {"LANGUAGE": "C", "LC_ALL": "C"}  # git's messages in English, as GitPython asks
STREAM_CHUNK = 4 * 1024 * 1024  # bytes a `BlobReader.open` stream yields at a time


@lru_cache(maxsize=1)
def _gitpython() -> ModuleType:
    # Imported here, not at the top: GitPython costs 70-125 ms of start-up (module docstring).
    # A missing git should be a GitError when a command runs, not an ImportError at import.
    os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
    import git

    return git


def _command(root: Path) -> gitpython.Git:
    """GitPython's runner in `root`, for reads: its `cat-file --batch` fetches a missing object
    only as `git_guard` allows (over git's own transports, where the repository's config names
    no program a fetch would run)."""
    command: gitpython.Git = _gitpython().Git(str(root))
    command.update_environment(**read_environment(root))
    return command


def _failure(
    args: tuple[str, ...], status: int | str | None, stderr: bytes | str, env: Mapping[str, str]
) -> GitError:
    text = stderr.decode("utf-8", "replace") if isinstance(stderr, bytes) else stderr
    lines = text.strip().splitlines()
    last = lines[-1] if lines else f"exit code {status}"
    if "Please make sure you have the correct access rights" in text:  # a remote git cannot read
        last = next((line for line in lines if line.startswith("fatal: ")), last)  # says which
    return GitError(f"git {args[0]} failed: {last}{unfetched_hint(text, env)}")


def run_git(
    root: Path,
    *args: str,
    input: bytes | None = None,
    ok: tuple[int, ...] = (0,),
    as_user: bool = False,
    env: Mapping[str, str] | None = None,
) -> bytes:
    """Run `git <args>` in `root` and return its stdout as bytes.

    Args:
        root: The folder to run in (the repository's work tree).
        args: The git command and its arguments.
        input: Bytes for git's stdin (for `--stdin`/`--batch` commands).
        ok: Exit codes that are not failures (e.g. `(0, 1)` for `rev-parse --verify -q`).
        as_user: A write the person asked for, run as their own `git` would be: with the
            repository's hooks, filters (git-lfs), signing and transports (but no fsmonitor
            command). Otherwise a read that runs none of the programs the repository's git
            config names (`git_guard`).
        env: Variables added to git's environment (`GIT_ATTR_NOSYSTEM=1`); the guard's win.
    """
    command, extra = guarded(root, args, as_user)
    try:  # watched: a FIFO where git reads a file would hang it for ever (`git_watch`)
        proc = run_watched(
            ["git", *_OPTIONS, *command],
            cwd=root,
            input=input,
            env={**os.environ, **_C_LOCALE, **(env or {}), **extra},
        )
    except FileNotFoundError as exc:
        if exc.filename == str(root):  # the folder, not git, is missing
            raise GitError(f"git {args[0]} failed: no such folder {root}") from None
        raise GitError("git is not installed or not on PATH") from None
    if proc.returncode != 0:
        _check_refusal(root, proc.stderr)
        if b"not a git repository: " in proc.stderr:  # a worktree's link to a moved repository?
            for top in (root, *root.parents):
                if os.path.lexists(top / ".git"):
                    check_git_link(top)
                    break
    if proc.returncode not in ok:
        if b"--no-index" in proc.stderr:  # `git diff` found no repository it works in: why?
            run_git(root, "rev-parse", "--git-dir")
        error = _failure(args, proc.returncode, proc.stderr, extra)
        error.output = proc.stdout
        raise error
    return proc.stdout


_DUBIOUS = re.compile(rb"detected dubious ownership in repository at '([^\n]*)'")


def _check_refusal(root: Path, stderr: bytes) -> None:
    """`RepositoryRefused` when git's message says it refuses the repository (whatever exit
    code the caller accepts: `rev-parse --verify` exits 128 then, as for a bad revision)."""
    found = _DUBIOUS.search(stderr)
    if found is None:
        return
    where = found[1].decode("utf-8", "surrogateescape")
    raise RepositoryRefused(
        f"git refuses to work in {where}: another user owns it (git's safe.directory check); "
        f"if you trust it, run `git config --global --add safe.directory {shlex.quote(where)}`"
    )


def check_repository(top: Path) -> None:
    """`RepositoryRefused` when git would refuse the work tree `top`: its `.git` file links to
    a git directory that is gone (`check_git_link`), or another user owns it (git's
    safe.directory check). git is asked only when an owner of the work tree or its git
    directory is not this user: otherwise three stats decide, so no command pays a git
    process for it (a search of a fresh index runs none)."""
    folder = check_git_link(top)
    try:
        owners = {os.stat(path).st_uid for path in (top, top / ".git", folder)}
    except OSError:
        return  # gone meanwhile: the command's own git run says what is wrong
    if owners == {os.geteuid()} and os.environ.get("GIT_TEST_ASSUME_DIFFERENT_OWNER", "") in (
        "",
        "0",
        "false",
    ):
        return
    try:  # git's own rules decide (safe.directory entries, `*`, sudo's SUDO_UID)
        run_git(top, "rev-parse", "--git-dir")
    except RepositoryRefused:
        raise
    except GitError:
        return  # not a repository git can read: the command's own git run says so


def check_git_link(top: Path) -> Path:
    """The git directory of the work tree `top`; `RepositoryRefused` when `top/.git` is a file
    (a linked worktree's or a submodule's) naming a git directory that is not there: the
    repository moved, and git's own words ("not a git repository: <path>") say nothing of
    the fix."""
    link = top / ".git"
    target = linked_git_dir(top)
    if target is None:
        return link  # a folder, or not a link git writes: git's own message stands
    if target.is_dir():
        return target
    raise RepositoryRefused(
        f"{printable(str(link))} points at {printable(str(target))}, which is gone (the "
        "repository moved?): run `git worktree repair "
        f"{printable(shlex.quote(str(top)))}` in the repository it belongs to"
    )


def worktree_exclusions(root: Path, paths: Iterable[str], max_bytes: int) -> list[str]:
    """Pathspecs that leave out of a `git diff` (or `git grep`) of the work tree each of
    `paths` that is not a regular file or is over `max_bytes`.

    git reads a changed work-tree file whole to diff it: a pull that made one a 50 GB sparse
    file keeps it reading for minutes, and on a FIFO the whole diff fails (`cannot hash`);
    `git grep` allocates a file's whole size. Such files are reported by the caller, not read.
    """
    out = []
    for path in paths:
        try:
            info = os.lstat(root / path)
        except OSError:
            continue  # gone: git lists it as deleted, nothing to read
        if stat.S_ISLNK(info.st_mode) or stat.S_ISDIR(info.st_mode):
            continue  # git diffs a link's target text, and a folder as the file deleted
        if not stat.S_ISREG(info.st_mode) or info.st_size > max_bytes:
            out.append(f":(top,exclude,literal){path}")
    return out


def grep_exclusions(root: Path, pathspecs: tuple[str, ...], max_bytes: int) -> list[str]:
    """`worktree_exclusions` for a `git grep --untracked` over `pathspecs`: the tracked and
    untracked-not-ignored files there (git allocates a file's whole size to grep it)."""
    listed = run_git(root, "ls-files", "-z", "-co", "--exclude-standard", "--", *pathspecs)
    paths = [p.decode("utf-8", "surrogateescape") for p in listed.split(b"\0") if p]
    return worktree_exclusions(root, paths, max_bytes)


def log_records(out: str, fields: int) -> list[list[str]]:
    """The records of `git log -z` whose `--format` joins `fields` fields with `%x00`: git ends
    each field and each commit in NUL, the one byte no message can hold (git cuts it there)."""
    parts = out.split("\0")
    return [parts[at : at + fields] for at in range(0, len(parts) - fields + 1, fields)]


_BOT_AUTHOR = re.compile(r"\[bot\]\Z|\A(dependabot|renovate)\b", re.I)


def is_bot_author(author: str) -> bool:
    """Whether a commit's author name is a bot's (`dependabot[bot]`, `renovate[bot]`...)."""
    return bool(_BOT_AUTHOR.search(author.strip()))


def git_text(root: Path, *args: str, ok: tuple[int, ...] = (0,)) -> str:
    """Run `git <args>` in `root` and return its stdout as text (bad UTF-8 replaced)."""
    return run_git(root, *args, ok=ok).decode("utf-8", "replace")


def git_head(root: Path, *args: str, max_bytes: int) -> tuple[bytes, int]:
    """The first `max_bytes` of the output of `git <args>`, and how many bytes were left out.

    The rest is read and counted, never kept, so a huge diff costs no memory. Failures (and
    git's stderr) are not reported: the output so far is what there is.
    """
    gitpython = _gitpython()
    command, extra = guarded(root, args)
    git = _command(root)
    git.update_environment(**extra)
    try:
        proc = git.execute(["git", *_OPTIONS, *command], as_process=True)
    except gitpython.GitCommandNotFound:
        raise GitError("git is not installed or not on PATH") from None
    process = proc.proc
    assert process is not None and process.stdout is not None  # as_process=True pipes stdout
    with watching(process, root, ["git", *command]):  # a FIFO `.gitattributes` (`git_watch`)
        data = read_at_most(process.stdout, max_bytes + 1)
        rest = 0
        while chunk := process.stdout.read(65536):
            rest += len(chunk)
        process.wait()
    return data[:max_bytes], rest + max(0, len(data) - max_bytes)


def has_head(root: Path) -> bool:
    """Whether the repository has a commit yet."""
    return bool(run_git(root, "rev-parse", "--verify", "--quiet", "HEAD", ok=(0, 1)).strip())


def shallow_hint(root: Path) -> str:
    """Why a commit may be missing here and the fix, to add to an error, when this clone is
    shallow (`git clone --depth`, as CI checks out: commits older than its graft are not in
    it); empty otherwise."""
    if run_git(root, "rev-parse", "--is-shallow-repository").strip() != b"true":
        return ""
    return (
        " (a shallow clone: fetch the history it needs, e.g. `git fetch --unshallow`, "
        "or `fetch-depth: 0` in actions/checkout)"
    )


def resolve_commit(root: Path, rev: str) -> str | None:
    """The full id of the commit `rev` names, or None when it names no commit."""
    out = run_git(root, "rev-parse", "--verify", "-q", f"{rev}^{{commit}}", ok=(0, 1, 128))
    return out.decode().strip() or None


def head_commit(root: Path) -> str | None:
    """The full id of HEAD, or None in a repository without commits.

    Read from the ref files when they say it plainly (`_head_from_files`): a search asks
    for it on every run, and a git process costs it 5-15 ms. Anything else asks git.
    """
    return _head_from_files(root) or resolve_commit(root, "HEAD")


def head_branch(root: Path) -> str | None:
    """The branch HEAD is on (`refs/heads/<name>`), or None when HEAD is detached."""
    out = run_git(root, "symbolic-ref", "-q", "HEAD", ok=(0, 1, 128))
    return out.decode("utf-8", "replace").strip() or None


_OBJECT_ID = re.compile(rb"[0-9a-f]{40}(?:[0-9a-f]{24})?")  # SHA-1 or SHA-256
# A branch ref as git would write it, in plain ASCII: no `..`, no part starting with a dot
# or ending in `.lock`. Any other name is git's to resolve.
_PLAIN_BRANCH = re.compile(
    rb"refs/heads/(?!.*\.\.)(?:[A-Za-z0-9_\-][A-Za-z0-9_.\-]*/)*[A-Za-z0-9_\-][A-Za-z0-9_.\-]*(?<!\.lock)"
)
_GIT_ENV = ("GIT_DIR", "GIT_COMMON_DIR", "GIT_WORK_TREE", "GIT_OBJECT_DIRECTORY")


def _head_from_files(root: Path) -> str | None:
    """The commit id that `root/.git`'s HEAD names through a loose or packed branch ref (or
    itself, when detached), as git resolves it; None whenever git itself should answer: a
    git environment variable set, a `.git` that is neither a folder nor a `gitdir:` file,
    refs kept otherwise (reftable), an unborn branch, anything unexpected."""
    if any(name in os.environ for name in _GIT_ENV):
        return None
    try:
        git_path = root / ".git"
        if git_path.is_file():  # a linked worktree or a submodule
            linked = linked_git_dir(root)
            if linked is None:
                return None
            git_path = linked.resolve()
        common = git_path
        if (git_path / "commondir").is_file():  # a linked worktree: refs are shared
            common = (
                git_path / os.fsdecode((git_path / "commondir").read_bytes().strip())
            ).resolve()
        head = (git_path / "HEAD").read_bytes().strip()
        if _OBJECT_ID.fullmatch(head):
            return head.decode()
        ref_bytes = head[len(b"ref: ") :]
        if not head.startswith(b"ref: ") or not _PLAIN_BRANCH.fullmatch(ref_bytes):
            return None  # a hostile `ref: refs/heads/../../x` never reaches the disk
        ref = ref_bytes.decode("ascii")
        loose = common / ref
        if loose.is_file():
            value = loose.read_bytes().strip()
            return value.decode() if _OBJECT_ID.fullmatch(value) else None
        packed = common / "packed-refs"
        if not packed.is_file():
            return None
        wanted = b" " + ref.encode("utf-8")
        for line in packed.read_bytes().splitlines():
            if line.endswith(wanted) and _OBJECT_ID.fullmatch(line[: -len(wanted)]):
                return line[: -len(wanted)].decode()
    except (OSError, UnicodeError, ValueError):
        return None
    return None


def git_dir(root: Path) -> Path | None:
    """The real git directory (a worktree's `.git` may be a file pointing elsewhere), or None."""
    try:
        out = run_git(root, "rev-parse", "--absolute-git-dir")
    except GitError:
        return None
    return Path(out.decode("utf-8", "surrogateescape").strip())


def git_path(root: Path, name: str) -> Path:
    """Where git keeps `name` of its directory (`hooks`, `shallow`...): in a linked worktree
    or a submodule, the shared one git resolves it to, not the worktree's own `.git` folder."""
    out = run_git(root, "rev-parse", "--git-path", name)
    path = Path(out.decode("utf-8", "surrogateescape").rstrip("\n"))
    return path if path.is_absolute() else root / path


def git_config(root: Path, key: str) -> str | None:
    """The value of git config `key` as seen from `root`, or None when unset."""
    try:
        value = run_git(root, "config", key, ok=(0, 1)).decode("utf-8", "replace").strip()
    except GitError:
        return None
    return value or None


def empty_tree(root: Path) -> str:
    """The id of the empty tree in this repository's hash (sha1 or sha256)."""
    return run_git(root, "hash-object", "-t", "tree", "--stdin", input=b"").decode().strip()
