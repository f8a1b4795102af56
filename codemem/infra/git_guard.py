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

Only the repository's own config (`local` and `worktree` scope: what came with it) is
distrusted: the user's (`~/.gitconfig`, where `git lfs install` puts its filter; the system's;
`-c`) is theirs, and its filters, credential helper and ssh command run as git runs them.

Measured with git 2.39 on a repository whose config names each of them (tests/infra and
tests/faults/test_hostile_git_config.py): with these options none runs, and the output of every
read codemem makes is the same, but for two cases. A file under a filter driver the
repository's config defines, whose stat information is stale, is compared byte for byte, not
through the filter: it is listed as changed (`ls-files -m`, a diff of the work tree), and codemem
then hashes and reads it itself, as it does any changed file. And a partial clone whose config
names a program a fetch would run fetches nothing: a read of an object it lacks fails (`git.py`
names the fetch that brings them); one that names none fetches over git's own transports.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

from codemem.infra.git_config_files import Stamp, asking_git, config_stamp
from codemem.infra.git_watch import run_watched

# For every read: no pager; no signature check in `git log` (`log.showSignature` runs
# `gpg.program`).
_ALWAYS = ("--no-pager", "-c", "log.showSignature=false")
# No hooks either (`git diff` of the work tree writes the index it refreshed, whatever
# `GIT_OPTIONAL_LOCKS` says, and runs `post-index-change`), but for `rev-parse`, which runs none
# and answers `--git-path hooks` with `core.hooksPath`: where `codemem hook` puts its own.
_NO_HOOKS = ("-c", "core.hooksPath=/dev/null")
# `GIT_OPTIONAL_LOCKS=0`: `status` does not write the index it refreshed (no lock taken behind
# the user's back). No read asks for a password.
READ_ENV = {"GIT_OPTIONAL_LOCKS": "0", "GIT_TERMINAL_PROMPT": "0"}
# A partial clone's lazy fetch of an object it lacks runs programs the config may name
# (`core.sshCommand`, a local remote's `uploadpack`, a credential helper, `core.askPass`,
# `core.gitProxy`). Where the repository's own config names none, git fetches over its own
# transports only (whatever `protocol.<name>.allow` it sets: no `ext::`); where it names one,
# nothing at all (`GIT_NO_LAZY_FETCH` says the same to git 2.44 and later).
_OWN_TRANSPORTS = {"GIT_ALLOW_PROTOCOL": "file:git:http:https:ssh"}
NO_FETCH = {"GIT_ALLOW_PROTOCOL": "", "GIT_NO_LAZY_FETCH": "1"}
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
_CONFIGURED = (
    r"^(filter\..+\.(clean|smudge|process|required)|core\.fsmonitor"
    r"|core\.(sshcommand|askpass|gitproxy)|credential\..+|remote\..+\.(uploadpack|receivepack))$"
)
# Where the repository's own config is (it came with the repository); the user's own
# (`global`, `system`, `command`: git-lfs's filter, a credential helper) is kept.
_REPOSITORY_SCOPES = frozenset({"local", "worktree"})


def guarded(
    root: Path, args: tuple[str, ...], as_user: bool = False
) -> tuple[list[str], dict[str, str]]:
    """git's arguments for `args` in `root`, and the variables to add to its environment: a
    read runs no program the repository's git config names; a write the person asked for
    (`as_user`) runs as their own `git` would, with the hooks, filters, signing and transports,
    only the fsmonitor (a speed hint, which no write needs) kept to git's own."""
    monitor, drivers, fetch = _configured_once(root)
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
    env = {**READ_ENV, **fetch, **_emptied(drivers)}
    return [*options, *args[: at + 1], *extra, *args[at + 1 :]], env


def read_environment(root: Path) -> dict[str, str]:
    """The variables a read in `root` runs with when only its environment can be set
    (GitPython's `cat-file --batch`: no hooks, diffs or filters run there)."""
    return {**READ_ENV, **_configured_once(root)[2]}


def unfetched_hint(stderr: str, env: Mapping[str, str]) -> str:
    """What to add to git's message when a read failed for an object a partial clone lacks:
    either the guard kept git from fetching it (`env` holds `NO_FETCH`: the config names a
    program a fetch would run), or git tried and could not (the remote unreachable: offline,
    moved, gone), which the first message wrongly blamed on the config."""
    if "from promisor remote" not in stderr:
        return ""
    if env.get("GIT_NO_LAZY_FETCH") == NO_FETCH["GIT_NO_LAZY_FETCH"]:
        return (
            " (a partial clone without that object, whose own git config names a program a "
            "fetch would run: codemem fetches nothing then; fetch them all once with "
            "`git fetch --refetch --no-filter`)"
        )
    return (
        " (a partial clone without that object, which git could not fetch from its remote: "
        "once the remote can be reached, fetch them all with `git fetch --refetch --no-filter`)"
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


def _configured_once(root: Path) -> tuple[str, tuple[str, ...], dict[str, str]]:
    """`_configured` for the config as it is now, git asked once whichever threads want it."""
    stamp = config_stamp(root)
    with asking_git():
        return _configured(root, stamp)


@lru_cache(maxsize=16)
def _configured(
    root: Path, stamp: tuple[tuple[str, Stamp], ...]
) -> tuple[str, tuple[str, ...], dict[str, str]]:
    """The `core.fsmonitor` a read may keep (`true`, git's own daemon, runs no command; any other
    value names one, so `false`), the filter drivers the repository's own config defines (or
    redefines: an empty command there is no filter), and the variables a lazy fetch runs with.

    Read with one `git config` (which runs nothing), once per process and version of the config
    files git reads there (`config_stamp`: a linked worktree's shared config and its
    `config.worktree`, every file they include, the user's): the drivers' names are the
    config's to choose, so they cannot be listed in advance."""
    del stamp  # part of the cache's key only
    found = _config_entries(root, "--show-scope")
    scoped = found is not None
    if found is None:  # git before 2.26: every entry counts as the repository's
        found = _config_entries(root) or []
    monitor, drivers, fetch = "false", set(), _OWN_TRANSPORTS
    for fields in found:
        scope, item = (fields[0], fields[1]) if scoped else ("local", fields[0])
        key, _, value = item.partition("\n")
        if key == "core.fsmonitor":
            monitor = "true" if value.strip().lower() in _BUILT_IN_MONITOR else "false"
        elif scope not in _REPOSITORY_SCOPES:
            continue
        elif key.startswith("filter."):
            drivers.add(key[len("filter.") : key.rindex(".")])
        else:  # a program a fetch would run
            fetch = NO_FETCH
    return monitor, tuple(sorted(drivers)), fetch


def _config_entries(root: Path, *options: str) -> list[list[str]] | None:
    """`git config --get-regexp _CONFIGURED` in `root`, each entry's fields (the scope with
    `--show-scope`, then "key\\nvalue"); None when git refuses the options."""
    try:
        proc = run_watched(  # a FIFO a config includes is named, not waited on
            ["git", "--no-pager", "config", "-z", *options, "--get-regexp", _CONFIGURED],
            cwd=root,
            input=None,
            env={**os.environ, **READ_ENV, **NO_FETCH, "LC_ALL": "C"},
        )
    except OSError:  # no git, no such folder: the command itself will say so
        return []
    if proc.returncode not in (0, 1):  # 1: nothing matched
        return None if options else []
    fields = proc.stdout.decode("utf-8", "surrogateescape").split("\0")[:-1]  # each ends in NUL
    width = len(options) + 1
    return [fields[at : at + width] for at in range(0, len(fields), width)]
