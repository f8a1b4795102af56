"""Where things live: the repository root and the `.codemem/` layout inside it."""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from codemem.errors import (
    CodememError,
    GitError,
    NotARepositoryError,
    PathOutsideRepository,
    RepositoryRefused,
    UsageError,
)
from codemem.infra import (
    SWAPS,
    atomic_file,
    atomic_write,
    check_repository,
    checkout_line_ends_of,
    configured_work_tree,
    confine,
    git_config_bytes,
    git_dir,
    git_operation,
    in_git_folder,
    owner_only,
    printable,
    private_dir,
    read_regular_bytes,
    run_git,
    sparse_operation,
    unmerged_operation,
)

log = logging.getLogger("codemem")

CODEMEM_DIR = ".codemem"
# The message of the commit `codemem digest --push` makes ([skip ci]: the push starts no
# pipeline); the commit-msg hook holds no person's conventions against it.
MEMORY_COMMIT_MESSAGE = "codemem: update memory [skip ci]"
# made 0700 up front: their creators use plain mkdir
LOCAL_FOLDERS = ("locks", "sessions")
LOCAL_IGNORE = b"*\n"  # local/.gitignore: git ignores everything in the folder
# `.codemem/local/` is this clone's own, but `git add -f` commits it anyway: a clone then
# checks out another clone's index and conversations, which codemem never trusts.
LOCAL_DIR = f"{CODEMEM_DIR}/local"
UNTRACK_LOCAL = f"git rm -r --cached {LOCAL_DIR} && git commit"


def find_repo_root(start: Path) -> Path:
    """The top of the git work tree containing `start` (any subdirectory works)."""
    start = start.expanduser()
    if not start.exists():
        raise NotARepositoryError(f"{start}: no such directory")
    here = start.resolve()
    if not here.is_dir():  # `--repo setup.py`: the folder is what was meant, most likely
        raise NotARepositoryError(
            f"{start} is a file, not a folder: pass --repo the repository's folder"
            f" (--repo {start.parent})"
        )
    if not os.environ.get("GIT_WORK_TREE"):
        for candidate in (here, *here.parents):
            if (candidate / ".git").exists():
                if not os.environ.get("GIT_DIR"):  # else git's own rev-parse below decides
                    # another user's repository, or a linked worktree of a moved one: no
                    # command runs there, memory-only ones included (whose identity is it?)
                    check_repository(candidate)
                    _check_work_tree_here(candidate, here)
                return candidate
    if any(os.environ.get(name) for name in GIT_LOCATION):
        return _git_top(here)  # git's choice: every git command codemem runs makes the same
    if _git_says(here, "--is-bare-repository") == "true":
        raise NotARepositoryError(_bare(here))
    raise NotARepositoryError(
        f"{start} is not inside a git repository: run `git init` there first, "
        "or pass --repo DIR pointing at one"
    )


def _check_work_tree_here(candidate: Path, here: Path) -> None:
    """Refuse (`NotARepositoryError`, with the command that works) a repository whose config
    sets `core.worktree` to another folder (a dotfiles repository made so): its files are
    there, not beside its `.git`, and every git command codemem runs from `candidate` would
    answer for them, so an index of `candidate` found every file missing and said nothing.
    Only a config that names a work tree at all costs a git process."""
    git_folder = candidate / ".git"
    config = git_config_bytes(git_folder)
    if config is None or b"worktree" not in config.lower():
        return
    _check_work_tree_exists(git_folder, config)
    top = _git_says(here, "--show-toplevel")
    if top and Path(top) != candidate:
        raise NotARepositoryError(
            f"{printable(str(git_folder))} sets core.worktree: its work tree is "
            f"{printable(top)}; run codemem there with git told where the repository is: "
            f"`GIT_DIR={shlex.quote(str(git_folder))} codemem --repo {shlex.quote(top)} ...`"
        )


def _check_work_tree_exists(git_folder: Path, config_bytes: bytes) -> None:
    """Refuse (`NotARepositoryError`) a `core.worktree` naming a folder that does not exist
    (moved or deleted): every git command fails there (`cannot chdir`, which codemem showed
    from `ls-files`, or not at all where git named the folder anyway and codemem said to run
    there). Read from the file's bytes the caller read (`configured_work_tree`)."""
    config = git_folder / "config"
    value = configured_work_tree(config, config_bytes)
    if not value or (git_folder / value).is_dir():  # a relative one is the git folder's
        return
    fix = shlex.join(
        ["git", "-C", "/", "config", "--file", str(config), "--unset", "core.worktree"]
    )
    raise NotARepositoryError(
        f"{printable(str(git_folder))} sets core.worktree to {printable(value)}, a folder that "
        f"does not exist (moved or deleted?): make it, or remove the setting: `{printable(fix)}`"
    )


# Set in a hook git runs (`GIT_DIR` in a linked worktree, both with `git --git-dir --work-tree`)
# or by hand: a work tree given so, or a git folder found by no `.git`, is git's to name.
GIT_LOCATION = ("GIT_DIR", "GIT_WORK_TREE")


def _git_says(here: Path, *args: str) -> str | None:
    """`git rev-parse ARGS` run in `here`, or None when git says it is no repository."""
    try:
        return run_git(here, "rev-parse", *args).decode("utf-8", "surrogateescape").strip()
    except RepositoryRefused:
        raise
    except GitError:
        return None


def _bare(where: Path | str) -> str:
    return (
        f"{where} is a bare repository, with no work tree for codemem to read: run it in a "
        "checkout (`git worktree add DIR`, or a clone)"
    )


def _git_top(here: Path) -> Path:
    """The work tree git takes from `GIT_DIR`/`GIT_WORK_TREE` and `here`."""
    git_dir = os.environ.get("GIT_DIR", "")
    if _git_says(here, "--is-bare-repository") == "true":
        raise NotARepositoryError(_bare(git_dir or here))
    top = _git_says(here, "--show-toplevel")
    if not top:
        raise NotARepositoryError(
            f"git finds no repository from {here} with GIT_DIR={git_dir!r} and "
            f"GIT_WORK_TREE={os.environ.get('GIT_WORK_TREE', '')!r}: fix or unset them"
        )
    return Path(top)


@dataclass(frozen=True)
class Workspace:
    """One repository and its `.codemem/` folder."""

    root: Path
    # the line ends of the new files a writer is making (`making_files`)
    _planned_ends: dict[Path, str] = field(
        default_factory=dict, init=False, compare=False, repr=False
    )

    @classmethod
    def discover(cls, start: Path | str | None = None) -> Workspace:
        return cls(find_repo_root(Path(start) if start else Path.cwd()))

    @property
    def dir(self) -> Path:
        return self.root / CODEMEM_DIR

    @property
    def config_file(self) -> Path:
        return self.dir / "config.yml"

    @property
    def blocks_dir(self) -> Path:
        return self.dir / "blocks"

    @property
    def archive_dir(self) -> Path:
        return self.dir / "archive"

    @property
    def digests_dir(self) -> Path:
        return self.dir / "digests"

    @property
    def state_file(self) -> Path:
        """The sleep bookkeeping older versions committed: read once by the digest, never written."""
        return self.dir / "state.json"

    @property
    def local_dir(self) -> Path:
        return self.dir / "local"

    def check_inside(self) -> Path:
        """`.codemem/` itself, refused (`PathOutsideRepository`) when it is a link that leads out
        of the repository, or into git's own folder: a cloned `.codemem -> ~/somewhere` must not
        make codemem write there, nor `.codemem -> .git` among git's refs and config."""
        try:
            inside = confine(self.root, CODEMEM_DIR)
        except PathOutsideRepository:
            raise PathOutsideRepository(
                f"{CODEMEM_DIR} is a link out of the repository: codemem keeps memory only "
                f"inside it; remove the link (`git rm {CODEMEM_DIR}`) and run the command again"
            ) from None
        if in_git_folder(inside.rel):
            raise PathOutsideRepository(
                f"{CODEMEM_DIR} is a link into git's own folder ({printable(inside.rel)}): "
                f"codemem writes nothing there; remove the link (`git rm {CODEMEM_DIR}`) and "
                "run the command again"
            )
        return self.dir

    def check_initialized(self) -> None:
        """Refuse (`UsageError`) a command that needs `.codemem/` where there is none, naming the
        fix: `codemem init`, or, where a sparse checkout leaves the team's memory out of the
        work tree, the sparse fix (`init` refuses there: it would make the memory anew)."""
        self.check_folders()  # a `.codemem` file is named as such, not taken for no init
        if not self.is_initialized():
            fix = self.memory_left_out() or "run `codemem init` first"
            what = f"{self.dir.name}/" if not self.dir.is_dir() else f"memory in {self.dir.name}/"
            raise UsageError(f"no {what} in {printable(str(self.root))}: {fix}")

    def is_initialized(self) -> bool:
        """Whether `.codemem/` holds memory: anything but what `ensure_local` makes before
        `codemem init` (its `.gitignore` and `local/`, for a search or a map), which would
        otherwise pass for a set-up repository and let a digest or `config set` run there."""
        try:
            names = set(os.listdir(self.dir))
        except (NotADirectoryError, FileNotFoundError):
            return False
        return bool(names - {".gitignore", "local"})

    def check_folders(self) -> None:
        """Refuse (`UsageError`, naming the fix) a `.codemem` or `.codemem/local` that is there
        but no folder (a file a clone committed in its place): nothing can be made under it.
        Asked by `ensure_local`, so what needs no `local/` (the hook's review) still runs."""
        for folder, holds in (
            (self.dir, "its memory, index and conversations"),
            (self.local_dir, "this clone's index and conversations"),
        ):
            if os.path.lexists(folder) and not os.path.isdir(folder):
                name = folder.relative_to(self.root).as_posix()
                raise UsageError(
                    f"{name} is a file, not a folder: codemem keeps {holds} in that folder; "
                    f"move the file away (`git mv {name} <elsewhere>` keeps its text) and run "
                    "the command again"
                )
            if not os.path.isdir(folder):
                return

    def ensure_local(self) -> Path:
        """Create `.codemem/local/`, making sure git ignores it (even before `codemem init`).

        It holds every conversation and the index: the folder and its subfolders are the
        owner's alone (0700), created so and tightened here if an older codemem left them open.
        """
        self.check_inside()
        if not self.root.is_dir():  # deleted or moved (under `codemem watch`): never made again
            raise CodememError(
                f"{self.root}: the repository is no longer there (deleted or moved?)"
            )
        self.check_folders()
        ignore = self.dir / ".gitignore"
        if not os.path.lexists(ignore):  # a (cloned) link is left alone, never written through
            self.dir.mkdir(exist_ok=True)  # never its parents: the repository is there
        # created only where nothing is: one saved a moment ago is theirs, kept as it is; and
        # not while a sparse checkout leaves the team's (in git) out: one made here would
        # stand in its way (`local/.gitignore` keeps `local/` out of git meanwhile)
        # whole or not at all (never torn by a kill or a full disk: it is committed); its temp
        # name, where it needs one, beside it: `local/` is not checked yet (a link?)
        if not os.path.lexists(ignore) and self.memory_left_out() is None:
            aside = self.dir / f".{ignore.name}"
            with (
                contextlib.suppress(FileExistsError),
                atomic_file(ignore, new_only=True, temp_prefix=aside) as new,
            ):
                new.write(b"local/\n")
        with contextlib.suppress(FileExistsError):  # made here alone (`infra.make_folder`)
            self.local_dir.mkdir(mode=0o700)
        private_dir(self.local_dir)
        self._ignore_local()
        for name in LOCAL_FOLDERS:
            private_dir(self.local_dir / name)
        for entry in self.local_dir.iterdir():  # folders others made (index/, review/...)
            if entry.is_dir() and not entry.is_symlink():
                owner_only(entry)  # never re-creates one removed meanwhile (an index swap)
        return self.local_dir

    def _ignore_local(self) -> None:
        """`local/.gitignore` holding `*`: git ignores the folder (conversations, the index)
        whatever `.codemem/.gitignore` says, even after a commit that dropped `local/` from it
        (then `git add -A` would have committed every conversation)."""
        ignore = self.local_dir / ".gitignore"
        try:
            intact = read_regular_bytes(ignore, 64) == LOCAL_IGNORE
        except (OSError, CodememError):  # missing, a link, a folder, too large: written anew
            intact = False
        if not intact:
            try:
                atomic_write(ignore, LOCAL_IGNORE, durable=False)
            except OSError as exc:  # a folder in its place: .codemem/.gitignore still holds
                log.warning("could not write %s: %s", ignore, exc)

    @property
    def swap_dir(self) -> Path:
        """Where a compare-and-swap write of a repository file (a memory file, one the agent
        edits) writes its new file before swapping it in, so that what a kill leaves of one is
        never beside the file for `git add -A` (`infra.update_text`'s `folder`)."""
        return self.local_dir / SWAPS

    @property
    def index_dir(self) -> Path:
        return self.local_dir / "index"

    @property
    def last_digest_file(self) -> Path:
        """What this clone's last digest did and who ran it (`codemem digest`, `codemem
        watch`, CI): derived, for `watch --status`, which reads it without the sleep pass."""
        return self.local_dir / "last-digest.json"

    @property
    def recall_db(self) -> Path:
        return self.local_dir / "recall.sqlite"

    @property
    def sessions_dir(self) -> Path:
        return self.local_dir / "sessions"

    def tracked_local(self, *names: str) -> list[str]:
        """The files under `.codemem/local/` (or only those `names` in it) that git tracks,
        from one `git ls-files`: another clone's, never this one's (fix: `UNTRACK_LOCAL`).

        Empty when git cannot say (no repository): nothing is tracked then. A repository git
        refuses (another user's) is `RepositoryRefused`: whose files these are is unknown.
        """
        specs = [f"{LOCAL_DIR}/{name}" for name in names] or [LOCAL_DIR]
        try:
            out = run_git(self.root, "ls-files", "-z", "--", *specs)
        except RepositoryRefused:
            raise
        except GitError:
            return []
        return [path.decode("utf-8", "surrogateescape") for path in out.split(b"\0") if path]

    @cached_property
    def git_dir(self) -> Path:
        """The real git directory (a worktree's `.git` may be a file pointing elsewhere)."""
        return git_dir(self.root) or self.root / ".git"

    def git_operation(self) -> str | None:
        """The git operation under way in this clone (a merge, rebase, cherry-pick, revert or
        bisect waiting for the user, or memory files left unmerged by a conflicted `git stash
        pop`, `stash apply` or `checkout -m`, or left out of the work tree by a sparse
        checkout), as a phrase naming how to end it; None when there is none."""
        busy = git_operation(self.git_dir)
        if busy is not None:
            return busy
        try:  # no marker file for these: the index says so (a stat while it is unchanged)
            return (
                unmerged_operation(self.root, self.git_dir, CODEMEM_DIR) or self.memory_left_out()
            )
        except RepositoryRefused:
            raise
        except GitError:
            return None  # no repository: nothing is under way

    def memory_left_out(self) -> str | None:
        """The phrase, with its fix, when a sparse checkout leaves the committed `.codemem/` out
        of the work tree: memory written there would be made anew in place of the team's
        (`git add -A` then commits the new blocks over theirs); None otherwise."""
        try:
            return sparse_operation(self.root, self.git_dir, CODEMEM_DIR)
        except RepositoryRefused:
            raise
        except GitError:
            return None

    def new_file_line_ends(self, path: Path) -> str:
        """The line end to write a new committed file at `path` with: the one git would check it
        out with (`\\r\\n` in a Windows clone, `core.autocrlf=true`, or under `eol=crlf`), so
        `git add` neither warns nor, with `core.safecrlf=true`, refuses it; `\\n` when git
        cannot say. Inside `making_files`, the answer asked for the files it names."""
        if path in self._planned_ends:
            return self._planned_ends[path]
        return self.new_files_line_ends([path])[path]

    def new_files_line_ends(self, paths: Iterable[Path]) -> dict[Path, str]:
        """`new_file_line_ends` of each of `paths`, asked of git in one command."""
        found = dict.fromkeys(paths, "\n")
        inside = {
            path: path.relative_to(self.root).as_posix()
            for path in found
            if path.is_relative_to(self.root)
        }
        try:
            ends = checkout_line_ends_of(self.root, list(dict.fromkeys(inside.values())))
        except RepositoryRefused:
            raise
        except GitError:
            return found
        found.update((path, ends[relative]) for path, relative in inside.items())
        return found

    @contextlib.contextmanager
    def making_files(self, paths: Iterable[Path]) -> Iterator[None]:
        """Around a writer making several new committed files at once (the digest's notes):
        `new_file_line_ends` answers for `paths` from one `git check-attr` asked as it starts,
        not one each."""
        planned = self.new_files_line_ends(paths)
        self._planned_ends.update(planned)
        try:
            yield
        finally:
            for path in planned:
                self._planned_ends.pop(path, None)

    def relative(self, path: Path | str) -> str:
        """A repository-relative path with `/` separators."""
        return Path(path).resolve().relative_to(self.root).as_posix()
