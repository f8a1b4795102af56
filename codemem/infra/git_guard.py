"""What keeps codemem's own reads of a repository from running the programs its git config names.

A repository that arrives with its `.git` (a tarball, a zip, a shared folder, a CI cache) brings
its `.git/config`, and git runs the commands named there on reads too: `core.fsmonitor` on any
command that reads the index (`ls-files`, `diff --cached`), `filter.<driver>.clean` on a work-tree
file whose stat information is stale (`ls-files -m`, `diff`, `status`, `blame`), `smudge` and
`diff.<driver>.textconv` on `log -p` and `blame`, `diff.external` and `diff.<driver>.command` on
`diff`, `gpg.program` on `log` with `log.showSignature`, hooks (`post-index-change` when `diff`
or `status` writes back the index it refreshed), a submodule's own filters when `diff` or
`status` runs `git status` in it, and `core.sshCommand` or a local remote's `uploadpack` on a
partial clone's lazy fetch of a missing object. codemem runs git from the watch
daemon, an editor's MCP server and the commit hook, so none of these may run because codemem
looked at the code.

Measured with git 2.39 on a repository whose config names each of them (tests/infra and
tests/faults/test_hostile_git_config.py): with these options none runs, and the output of every
read codemem makes is the same, but for two cases. A file under a filter driver whose stat
information is stale is compared byte for byte, not through the filter: a git-lfs file touched
since git last looked is listed as changed (`ls-files -m`, a diff of the work tree), and codemem
then hashes and reads it itself, as it does any changed file; the user's own git commands (and
`digest --push`'s commit, run `as_user`) still run git-lfs. And a partial clone's read of an
object it lacks fails (`git.py` names the fetch that brings them) instead of fetching it.
"""

from __future__ import annotations

import os
import subprocess
from functools import lru_cache
from pathlib import Path

# For every read: no pager; no signature check in `git log` (`log.showSignature` runs
# `gpg.program`).
_ALWAYS = ("--no-pager", "-c", "log.showSignature=false")
# No hooks either (`git diff` of the work tree writes the index it refreshed, whatever
# `GIT_OPTIONAL_LOCKS` says, and runs `post-index-change`), but for `rev-parse`, which runs none
# and answers `--git-path hooks` with `core.hooksPath`: where `codemem hook` puts its own.
_NO_HOOKS = ("-c", "core.hooksPath=/dev/null")
# `GIT_ALLOW_PROTOCOL` empty: no transport at all, whatever `protocol.<name>.allow` the repository
# sets (a partial clone's lazy fetch runs `core.sshCommand`, or `remote.<name>.uploadpack` for a
# local remote); `GIT_NO_LAZY_FETCH` says the same to git 2.44 and later. `GIT_OPTIONAL_LOCKS=0`:
# `status` does not write the index it refreshed (no lock taken behind the user's back). No read
# asks for a password.
READ_ENV = {
    "GIT_ALLOW_PROTOCOL": "",
    "GIT_NO_LAZY_FETCH": "1",
    "GIT_OPTIONAL_LOCKS": "0",
    "GIT_TERMINAL_PROMPT": "0",
}
# Options of a subcommand that keep it from running `diff.external`, `diff.<driver>.command` or
# `diff.<driver>.textconv` (an empty value would not do: git tries to run the empty command).
# `blame` and `log -p` run textconv by default, `diff` both. `diff` and `status` of the work
# tree also run `git status` in each submodule, where the submodule's own config (its filters)
# counts: `--ignore-submodules=dirty` looks only at the commit a submodule is at (a caller's
# own `--ignore-submodules` comes later, and wins).
_SUBCOMMAND = {
    "diff": ("--no-ext-diff", "--no-textconv", "--ignore-submodules=dirty"),
    "log": ("--no-ext-diff", "--no-textconv"),
    "show": ("--no-ext-diff", "--no-textconv"),
    "blame": ("--no-textconv",),
    "status": ("--ignore-submodules=dirty",),
}
_FILTER_KEYS = ("clean", "smudge", "process")
# Values of `core.fsmonitor` that name git's own daemon, not a command (git's boolean spellings).
_BUILT_IN_MONITOR = frozenset({"true", "yes", "on", "1", ""})
_CONFIGURED = r"^(filter\..+\.(clean|smudge|process|required)|core\.fsmonitor)$"


def guarded(
    root: Path, args: tuple[str, ...], as_user: bool = False
) -> tuple[list[str], dict[str, str]]:
    """git's arguments for `args` in `root`, and the variables to add to its environment: a
    read runs no program the repository's git config names; a write the person asked for
    (`as_user`) runs as their own `git` would, with the hooks, filters, signing and transports,
    only the fsmonitor (a speed hint, which no write needs) kept to git's own."""
    monitor, drivers = _configured(root, _config_stamp(root))
    if as_user:
        return ["-c", f"core.fsmonitor={monitor}", *args], {}
    at = 0
    while at < len(args) and args[at].startswith("-"):  # `-c name=value` before the command
        at += 2 if args[at] in ("-c", "-C") else 1
    command = args[at] if at < len(args) else ""
    options = [*_ALWAYS, "-c", f"core.fsmonitor={monitor}"]
    if command != "rev-parse":
        options += _NO_HOOKS
    extra = _SUBCOMMAND.get(command, ())
    return [*options, *args[: at + 1], *extra, *args[at + 1 :]], {**READ_ENV, **_emptied(drivers)}


def unfetched_hint(stderr: str) -> str:
    """What to add to git's message when a read failed for an object a partial clone lacks: git
    would have fetched it, with the transport (and programs) the repository's config names."""
    if "from promisor remote" not in stderr:
        return ""
    return (
        " (a partial clone without that object: codemem fetches nothing while it reads, since a "
        "fetch runs programs the repository's git config names; fetch them all once with "
        "`git fetch --refetch --no-filter`)"
    )


def _emptied(drivers: tuple[str, ...]) -> dict[str, str]:
    """Every command of each filter driver emptied (an empty command is no filter: git compares
    and hashes the file as it is), and none required (git would stop: "filter failed").

    Given as `GIT_CONFIG_COUNT`/`GIT_CONFIG_KEY_<n>`/`GIT_CONFIG_VALUE_<n>` (git 2.31 and later),
    after any the environment already holds: a driver's name is the config's to choose, and one
    holding `=` cannot be named by `-c name=value`."""
    if not drivers:
        return {}
    try:
        first = int(os.environ.get("GIT_CONFIG_COUNT", "0"))
    except ValueError:
        first = 0  # git refuses such a count itself, and says so
    settings = [
        (f"filter.{driver}.{key}", "false" if key == "required" else "")
        for driver in drivers
        for key in (*_FILTER_KEYS, "required")
    ]
    env = {"GIT_CONFIG_COUNT": str(first + len(settings))}
    for at, (key, value) in enumerate(settings, start=first):
        env[f"GIT_CONFIG_KEY_{at}"], env[f"GIT_CONFIG_VALUE_{at}"] = key, value
    return env


def _config_stamp(root: Path) -> tuple[int, int, int] | None:
    """When `root/.git/config` last changed, so a long-running process (`watch`, `mcp`) reads
    it again after an edit; None when there is no such file (git finds the config elsewhere)."""
    try:
        info = os.stat(root / ".git" / "config")
    except OSError:
        return None
    return info.st_mtime_ns, info.st_size, info.st_ino


@lru_cache(maxsize=16)
def _configured(root: Path, stamp: tuple[int, int, int] | None) -> tuple[str, tuple[str, ...]]:
    """The `core.fsmonitor` a read may keep (`true`, git's own daemon, runs no command; any other
    value names one, so `false`), and the names of the filter drivers the config defines.

    Read with one `git config` (which runs nothing), once per process and version of the config
    file: the drivers' names are the config's to choose, so they cannot be listed in advance."""
    del stamp  # part of the cache's key only
    try:
        proc = subprocess.run(
            ["git", "--no-pager", "config", "-z", "--get-regexp", _CONFIGURED],
            cwd=root,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            env={**os.environ, **READ_ENV, "LC_ALL": "C"},
            check=False,
        )
    except OSError:  # no git, no such folder: the command itself will say so
        return "false", ()
    monitor, drivers = "false", set()
    for item in proc.stdout.split(b"\0"):
        key, _, value = item.decode("utf-8", "surrogateescape").partition("\n")
        if key == "core.fsmonitor":
            monitor = "true" if value.strip().lower() in _BUILT_IN_MONITOR else "false"
        elif key.startswith("filter."):
            drivers.add(key[len("filter.") : key.rindex(".")])
    return monitor, tuple(sorted(drivers))
