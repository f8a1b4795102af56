"""A repository that arrives with its own `.git` carries its `.git/config`, and git runs the
programs named there (fsmonitor, filters, textconv, external diffs, gpg, hooks, transports).
codemem's reads through the git layer run none of them and answer as before; the writes a
person asks for (`as_user`) keep the hooks and filters."""

from __future__ import annotations

import os

import pytest

from codemem.errors import GitError
from codemem.infra import BlobReader, git_config, git_head, git_text, run_git
from codemem.infra.git_config_files import config_stamp
from tests.helpers import (
    arm_git_config,
    commands_run,
    forge_signature,
    git,
    make_repo,
    marked,
    stale_stat,
)


@pytest.fixture
def repo(repo_factory):
    repo = repo_factory(commit=False)
    (repo / "a.py").write_text("def alpha():\n    return 1\n")
    (repo / "notes.md").write_text("# Notes\nFixed yesterday.\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "first")
    (repo / "a.py").write_text("def alpha():\n    return 2\n")
    git(repo, "commit", "-qam", "second")
    forge_signature(repo)
    return repo


def test_reads_run_no_program_the_repository_config_names(repo, tmp_path):
    head = git(repo, "rev-parse", "HEAD").stdout.strip()
    patch = git(repo, "diff", "HEAD~1", "HEAD").stdout
    blame = git(repo, "blame", "--porcelain", "--", "notes.md").stdout
    marks = tmp_path / "marks"
    arm_git_config(repo, marks)
    stale_stat(repo, "a.py", "notes.md")  # git must read them again: through the clean filter
    listing = run_git(repo, "ls-files", "-t", "-s", "-m", "-o", "--exclude-standard", "-z")
    assert [entry[:2] for entry in listing.split(b"\0") if entry] == [b"H ", b"H "]
    assert git_text(repo, "status", "--porcelain") == ""
    assert git_text(repo, "diff", "HEAD", "--") == ""
    assert git_text(repo, "diff", "--cached") == ""
    assert git_text(repo, "diff", "HEAD~1", "HEAD") == patch
    assert git_text(repo, "blame", "--porcelain", "--", "notes.md") == blame
    assert git_text(repo, "log", "-1", "--format=%H") == f"{head}\n"
    assert "-    return 1\n+    return 2\n" in git_text(repo, "log", "-p", "-1", "--format=")
    shown, left = git_head(repo, "show", "--format=%H", "HEAD", max_bytes=100_000)
    assert (shown.decode().partition("\n")[0], left) == (head, 0)
    assert marked(marks) == []


def test_a_long_running_filter_process_is_not_started(repo, tmp_path):
    marks = tmp_path / "marks"
    arm_git_config(repo, marks)
    git(repo, "config", "filter.marked.process", f"{marks / 'program'} process")
    stale_stat(repo, "a.py")
    assert git_text(repo, "status", "--porcelain") == ""
    assert marked(marks) == []


def test_a_partial_clone_fetches_no_missing_object(repo, tmp_path):
    # A lazy fetch runs the transport the config names: here `core.sshCommand`.
    marks = tmp_path / "marks"
    arm_git_config(repo, marks)
    for key, value in (
        ("core.repositoryFormatVersion", "1"),
        ("extensions.partialClone", "origin"),
        ("remote.origin.url", "ssh://example.invalid/repo"),
        ("remote.origin.promisor", "true"),
        ("protocol.ssh.allow", "always"),
    ):
        git(repo, "config", key, value)
    missing = "1" * 40
    with BlobReader(repo) as reader:
        assert reader.size(missing) is None
    assert run_git(repo, "cat-file", "-e", missing, ok=(0, 1, 128)) == b""
    assert marked(marks) == []


def linked_worktree(repo, tmp_path):
    """A worktree of `repo` made by `git worktree add`: its `.git` is a file naming its own
    git directory, whose `commondir` names `repo/.git`, where the config is."""
    linked = tmp_path / "linked"
    git(repo, "worktree", "add", "-q", str(linked))
    return linked


@pytest.mark.parametrize("linked", [False, True], ids=["work tree", "linked worktree"])
def test_a_config_armed_while_a_process_runs_is_read_again(repo, tmp_path, linked):
    # `watch` and `mcp` run for hours: the config read before (no drivers) is not kept.
    tree = linked_worktree(repo, tmp_path) if linked else repo
    assert git_text(tree, "status", "--porcelain") == ""
    marks = tmp_path / "marks"
    arm_git_config(repo, marks)
    stale_stat(tree, "a.py", "notes.md")
    assert git_text(tree, "status", "--porcelain") == ""
    assert marked(marks) == []


def test_a_write_the_user_asked_for_keeps_hooks_and_filters_but_no_fsmonitor(repo, tmp_path):
    marks = tmp_path / "marks"
    arm_git_config(repo, marks)
    # The commit refreshes the index: notes.md, its stat stale, is read again through its
    # filter. Without that it is read only while racily clean, when the fixture wrote it in
    # the second the index was last written, which a loaded machine can miss.
    stale_stat(repo, "notes.md")
    (repo / "b.py").write_text("b = 1\n")
    run_git(repo, "add", "b.py", as_user=True)
    run_git(repo, "commit", "-qm", "third", as_user=True)
    assert marked(marks) == [
        "clean",
        "clean-of-a-driver-named-with-equals",  # notes.md, read again by the commit
        "hook-post-commit",
        "hook-post-index-change",
        "hook-pre-commit",
        "hook-reference-transaction",
    ]


def test_the_users_own_config_in_the_environment_still_counts(repo, tmp_path, monkeypatch):
    arm_git_config(repo, tmp_path / "marks")
    monkeypatch.setenv("GIT_CONFIG_COUNT", "1")
    monkeypatch.setenv("GIT_CONFIG_KEY_0", "user.name")
    monkeypatch.setenv("GIT_CONFIG_VALUE_0", "From The Environment")
    assert git_config(repo, "user.name") == "From The Environment"
    stale_stat(repo, "a.py")
    assert git_text(repo, "status", "--porcelain") == ""
    assert marked(tmp_path / "marks") == []


def blobless_clone(tmp_path):
    """A partial clone (`--filter=blob:none`) of a two-commit repository: the first version of
    `m.py` is not in it."""
    source = make_repo(tmp_path / "source")
    for n in (1, 2):
        (source / "m.py").write_text(f"x = {n}\n")
        git(source, "add", "m.py")
        git(source, "commit", "-qm", f"version {n}")
    git(source, "config", "uploadpack.allowFilter", "true")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--filter=blob:none", f"file://{source}", str(clone))
    return clone


def test_a_partial_clones_read_of_a_missing_blob_fetches_it_over_gits_own_transport(tmp_path):
    # A partial clone as `git clone --filter` or scalar makes it: its config names no program.
    clone = blobless_clone(tmp_path)
    assert run_git(clone, "diff-tree", "--numstat", "HEAD~1", "HEAD").endswith(b"1\t1\tm.py\n")
    with BlobReader(clone) as reader:  # fetched by the read above: present now
        blob = git(clone, "rev-parse", "HEAD~1:m.py").stdout.strip()
        assert reader.read(blob, max_bytes=100) == b"x = 1\n"


def test_a_partial_clone_whose_config_names_a_program_fetches_nothing_and_says_how(tmp_path):
    # A fetch from a local remote runs `remote.<name>.uploadpack`: a command of the config's.
    clone = blobless_clone(tmp_path)
    marks = tmp_path / "marks"
    arm_git_config(clone, marks)
    git(clone, "config", "remote.origin.uploadpack", f"{marks / 'program'} upload-pack")
    assert missing_blob_error(clone).endswith(
        "from promisor remote (a partial clone without that object, whose own git config names "
        "a program a fetch would run: codemem fetches nothing then; fetch them all once with "
        "`git fetch --refetch --no-filter`)"
    )
    assert marked(marks) == []


def test_a_partial_clone_whose_remote_cannot_be_reached_is_not_said_to_name_a_program(tmp_path):
    # Offline, or the remote moved: git tried the fetch and failed, and the error blamed a
    # program the clone's config named, which it names none of.
    clone = blobless_clone(tmp_path)
    git(clone, "remote", "set-url", "origin", f"file://{tmp_path / 'moved-away'}")
    message = missing_blob_error(clone)
    assert message.endswith(
        " (a partial clone without that object, which git could not fetch "
        "from its remote: once the remote can be reached, fetch them all with "
        "`git fetch --refetch --no-filter`)"
    )
    assert "names a program" not in message


def missing_blob_error(clone) -> str:
    """The error of a read of the blob `blobless_clone` lacks."""
    with pytest.raises(GitError) as caught:
        run_git(clone, "diff-tree", "--numstat", "HEAD~1", "HEAD")
    return str(caught.value)


def test_the_users_own_filters_still_run(repo, tmp_path, monkeypatch):
    # git-lfs installs its filter in the user's global config: a read compares through it.
    marks = tmp_path / "marks"
    arm_git_config(repo, marks)
    for section in ("filter.marked", "filter.x=y"):  # the repository's own: none left
        git(repo, "config", "--remove-section", section)
    own = tmp_path / "gitconfig"
    own.write_text(f'[filter "marked"]\n\tclean = "{marks / "program"}" own-clean\n')
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(own))
    stale_stat(repo, "a.py")
    assert git_text(repo, "status", "--porcelain") == ""
    assert marked(marks) == ["own-clean"]


def test_a_submodules_own_filter_does_not_run_on_a_diff_or_status(repo, repo_factory, tmp_path):
    # git looks into each submodule with `git status` there, under the submodule's config.
    inner = repo_factory()
    (inner / "f.txt").write_text("inner\n")
    git(inner, "add", "f.txt")
    git(inner, "commit", "-qm", "inner")
    git(repo, "-c", "protocol.file.allow=always", "submodule", "-q", "add", str(inner), "sub")
    git(repo, "commit", "-qm", "a submodule")
    marks = tmp_path / "marks"
    arm_git_config(repo / "sub", marks)
    stale_stat(repo / "sub", "f.txt")
    assert git_text(repo, "diff", "--") == ""
    assert git_text(repo, "status", "--porcelain") == ""
    assert marked(marks) == []
    git(repo / "sub", "-c", "core.hooksPath=/dev/null", "commit", "-q", "--allow-empty", "-m", "x")
    assert git_text(repo, "status", "--porcelain") == " M sub\n"  # its commit still counts


def test_a_filter_added_to_an_included_file_is_seen_without_a_restart(repo, tmp_path):
    # `watch` and `mcp` keep what the config said until one of its files changes: the ones
    # `.git/config` includes (conditionally, nested, by a relative path) count too.
    marks = tmp_path / "marks"
    arm_git_config(repo, marks)
    for section in ("filter.marked", "filter.x=y"):
        git(repo, "config", "--remove-section", section)
    nested = tmp_path / "nested.config"
    nested.write_text("")
    included = tmp_path / "included.config"
    included.write_text(f'[includeIf "gitdir:{repo}/"]\n\tpath = nested.config\n')
    git(repo, "config", "include.path", str(included))
    assert git_text(repo, "status", "--porcelain") == ""  # no filter anywhere yet
    nested.write_text(f'[filter "marked"]\n\tclean = "{marks / "program"}" clean\n')
    stale_stat(repo, "a.py")
    assert git_text(repo, "status", "--porcelain") == ""
    assert marked(marks) == []


def test_a_linked_worktrees_own_config_worktree_is_read_again(repo, tmp_path):
    # With `extensions.worktreeConfig` on, a worktree's own `config.worktree` counts too.
    linked = linked_worktree(repo, tmp_path)
    marks = tmp_path / "marks"
    arm_git_config(repo, marks)
    for section in ("filter.marked", "filter.x=y"):
        git(repo, "config", "--remove-section", section)
    git(repo, "config", "extensions.worktreeConfig", "true")
    assert git_text(linked, "status", "--porcelain") == ""
    program = marks / "program"
    git(linked, "config", "--worktree", "filter.marked.clean", f"{program} worktree-clean")
    assert git(linked, "config", "--show-scope", "filter.marked.clean").stdout.split("\t") == [
        "worktree",
        f"{program} worktree-clean\n",
    ]
    stale_stat(linked, "a.py")
    assert git_text(linked, "status", "--porcelain") == ""
    assert marked(marks) == []


def test_the_stamp_covers_nested_includes_once_and_the_branch_when_a_condition_names_it(
    repo, tmp_path
):
    loop = tmp_path / "loop.config"  # includes itself (git gives up then): stamped once
    loop.write_text("[include]\n\tpath = loop.config\n")
    with (repo / ".git" / "config").open("a") as config:
        config.write(
            f'[include]\n\tpath = {loop}\n[includeIf "onbranch:main"]\n\tpath = missing.config\n'
        )
    stamped = [path for path, _ in config_stamp(repo)]
    git_dir = str(repo / ".git")
    assert stamped[-5:] == [
        f"{git_dir}/config",
        f"{git_dir}/config.worktree",
        str(loop),
        f"{git_dir}/missing.config",
        f"{git_dir}/HEAD",
    ]


def test_a_config_file_that_includes_nothing_is_not_listed_by_git(repo, tmp_path, monkeypatch):
    # Most config files include nothing: stamping them must not start a `git config` each,
    # three processes before every command's first git call (the system's, the user's, the
    # repository's). A header that spells the word in any case still is listed by git.
    from codemem.infra import git_config_files

    listed: list[str] = []
    run = git_config_files.run_watched

    def counted(args, **kwargs):
        if "--file" in args:
            listed.append(args[args.index("--file") + 1])
        return run(args, **kwargs)

    monkeypatch.setattr(git_config_files, "run_watched", counted)
    git_config_files._included.cache_clear()
    plain = tmp_path / "plain.config"
    plain.write_text("[core]\n\tautocrlf = false\n")
    shouted = tmp_path / "shouted.config"
    shouted.write_text(f"[InClUdE]\n\tpath = {plain}\n")
    git(repo, "config", "include.path", str(shouted))
    stamped = [path for path, _ in config_stamp(repo)]
    assert str(shouted) in stamped and str(plain) in stamped  # found through the odd case
    assert str(plain) not in listed  # before: every stamped file was listed by git
    assert str(repo / ".git" / "config") in listed and str(shouted) in listed


def test_the_system_config_stamped_is_the_one_git_reads(repo, tmp_path, monkeypatch):
    # A git built with another prefix reads its own system file (`/usr/local/etc/gitconfig`):
    # this one is told another by a wrapper, as such a git would say it, and an edit to that
    # file is seen where it once was taken to be `/etc/gitconfig`.
    from codemem.infra import git_config_files

    system = _git_reading_its_own_system_file(tmp_path, monkeypatch)
    missing = dict(config_stamp(repo))  # named by git's complaint that it cannot read it
    assert missing[str(system)] is None and "/etc/gitconfig" not in missing
    system.parent.mkdir(parents=True)
    system.write_text("[core]\n\tquotePath = false\n")
    assert dict(config_stamp(repo))[str(system)] is not None
    assert git_config_files.system_config_file() == str(system)  # named as its entries' origin
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    assert str(system) not in dict(config_stamp(repo))


def test_an_empty_system_config_elsewhere_is_the_one_stamped(repo, tmp_path, monkeypatch):
    # git before 2.42 cannot say where its system file is while it is empty (`git var
    # GIT_CONFIG_SYSTEM` came in 2.42): a git built at another prefix (here told so by a
    # wrapper) was taken to read /etc/gitconfig, so a long-lived process never saw a setting
    # added to the file that git reads. Checked with a git 2.41.0 built at another prefix.
    from codemem.infra import git_config_files

    system = _git_reading_its_own_system_file(tmp_path, monkeypatch)
    system.parent.mkdir(parents=True)
    system.write_text("")
    assert git_config_files.system_config_file() == str(system)
    before = dict(config_stamp(repo))
    assert before[str(system)] is not None and "/etc/gitconfig" not in before
    system.write_text("[core]\n\tautocrlf = true\n")
    assert dict(config_stamp(repo))[str(system)] != before[str(system)]
    assert system.read_text() == "[core]\n\tautocrlf = true\n"


def _git_reading_its_own_system_file(tmp_path, monkeypatch):
    """The system file (not made) of a `git` first on PATH that reads it, as a git built at
    another prefix would: a wrapper tells the real git so."""
    import shutil

    system = tmp_path / "prefix" / "etc" / "gitconfig"
    wrapper = tmp_path / "bin" / "git"
    wrapper.parent.mkdir()
    wrapper.write_text(f'#!/bin/sh\nGIT_CONFIG_SYSTEM={system} exec {shutil.which("git")} "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{wrapper.parent}:{os.environ['PATH']}")
    monkeypatch.delenv("GIT_CONFIG_NOSYSTEM")
    return system


def test_two_threads_asking_at_once_run_each_git_config_once(repo, monkeypatch):
    # A fresh `codemem index` lists the work tree and reads the co-change history in two
    # threads at once: both missed the process's caches and ran the same `git config`
    # (the system file's, the repository's drivers) twice.
    import threading
    import time

    from codemem.infra import git_config_files, git_guard

    monkeypatch.delenv("GIT_CONFIG_NOSYSTEM")
    git_config_files._users_files.cache_clear()
    git_guard._configured.cache_clear()

    def slow(args):
        if "config" in args:
            time.sleep(0.2)  # the other thread comes in meanwhile

    started = commands_run(monkeypatch, slow)
    start = threading.Barrier(2)
    answers: list[tuple[list[str], dict[str, str]]] = []

    def read() -> None:
        start.wait()
        answers.append(git_guard.guarded(repo, ("status",)))

    threads = [threading.Thread(target=read) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    asked = [tuple(args) for args in started if "config" in args]
    assert len(asked) == 2 and len(set(asked)) == 2  # the system file's, the drivers': once each
    assert answers[0] == answers[1]
