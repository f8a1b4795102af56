"""The installed pre-commit hook, driven by real `git commit` subprocesses in fixture repositories."""

from __future__ import annotations

import os
import shlex
import stat
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from review_helpers import CAMEL_FUNCTION, append, fake_aws_key, stage, write

from codemem.cli import cli
from codemem.merge_driver import codemem_argv
from codemem.review.findings import finding_id
from codemem.review.hook import MARKER, hook_script
from tests.helpers import git

# how this Python's hook line starts codemem (`-P -m codemem`; Python 3.10 has no -P)
OUR_ARGS = shlex.join(codemem_argv()[1:])

ROOT = Path(__file__).resolve().parents[2]
FOOTER = (
    "codemem: commit stopped by 1 finding at or above error. Fix it, or dismiss a false alarm with "
    "`codemem review --dismiss ID`; to commit anyway: SKIP=codemem git commit ... (or git commit --no-verify).\n"
)


def hook(repo: Path, *args: str):
    return CliRunner().invoke(cli, ["--repo", str(repo), "hook", *args], catch_exceptions=False)


def commit(repo: Path, *args: str, env: dict | None = None):
    return git(repo, "commit", "-q", "-m", "change", *args, env=env, check=False)


def head_subject(repo: Path) -> str:
    return git(repo, "log", "-1", "--format=%s").stdout.strip()


@pytest.fixture
def hooked(shop):
    result = hook(shop, "install")
    assert result.output == "Installed the codemem pre-commit hook at .git/hooks/pre-commit.\n"
    return shop


def test_install_writes_an_executable_script_for_this_python(hooked):
    path = hooked / ".git/hooks/pre-commit"
    assert path.stat().st_mode & stat.S_IXUSR
    text = path.read_text()
    assert text.startswith("#!/bin/sh\n" + MARKER + "\n")
    assert text == hook_script(sys.executable, 10.0)
    assert hook(hooked, "status").output == "Installed at .git/hooks/pre-commit.\n"
    assert (
        hook(hooked, "install").output
        == "The codemem pre-commit hook is already installed at .git/hooks/pre-commit.\n"
    )


def test_status_names_a_hook_an_older_codemem_wrote(hooked):
    path = hooked / ".git/hooks/pre-commit"
    path.write_text(path.read_text().replace(f" {OUR_ARGS}", " -m codemem"))  # as 0.2.0 wrote
    assert hook(hooked, "status").output == (
        "Installed at .git/hooks/pre-commit; written by another codemem version: "
        "`codemem hook install` updates it.\n"
    )
    assert (
        hook(hooked, "install").output
        == "Updated the codemem pre-commit hook at .git/hooks/pre-commit.\n"
    )
    assert hook(hooked, "status").output == "Installed at .git/hooks/pre-commit.\n"


def test_a_clean_commit_goes_through_quietly(hooked):
    append(
        hooked,
        "shop/prices.py",
        '\n\ndef add_prices(a: Price, b: Price) -> Price:\n    """The sum."""\n'
        "    return Price(a.cents + b.cents)\n",
    )
    append(hooked, "tests/test_cart.py", "\n# add_prices\n")
    git(hooked, "add", "-A")
    result = commit(hooked)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert head_subject(hooked) == "change"


def test_a_commit_breaking_a_learned_convention_is_stopped_with_the_findings(hooked):
    append(hooked, "shop/prices.py", CAMEL_FUNCTION)
    append(hooked, "tests/test_cart.py", "\n# applyDiscount\n")
    git(hooked, "add", "-A")
    result = commit(hooked)
    fid = finding_id(
        "naming/python/function",
        "shop/prices.py",
        "def applyDiscount(price: Price, percent: int) -> Price:",
    )
    assert result.returncode == 1
    assert result.stderr == (
        "shop/prices.py\n"
        "  28  error    `applyDiscount` is camelCase; Python functions here are named in snake_case (almost all, ≥95%) "
        "[naming/python/function]\n"
        f"      fix: rename it to `apply_discount` · id {fid}\n"
        "\n"
        "1 finding (1 error) in 1 of 2 files reviewed.\n" + FOOTER
    )
    assert head_subject(hooked) == "initial"


def test_a_commit_adding_a_secret_is_stopped(hooked):
    stage(hooked, {"shop/settings.py": f'AWS_KEY = "{fake_aws_key()}"\n'})
    result = commit(hooked)
    fid = finding_id("secrets/aws-access-key", "shop/settings.py", f'AWS_KEY = "{fake_aws_key()}"')
    assert result.returncode == 1
    assert result.stderr == (
        "shop/settings.py\n"
        "  1  error    AWS access key ID (AKIA…, 20 characters) in the change [secrets/aws-access-key]\n"
        f"     fix: remove it, rotate it if it was ever pushed, and read it from the environment · id {fid}\n"
        "\n"
        "1 finding (1 error) in 1 of 1 file reviewed.\n" + FOOTER
    )
    assert fake_aws_key() not in result.stderr


def test_warnings_are_shown_but_do_not_stop_the_commit(hooked):
    append(
        hooked,
        "shop/prices.py",
        '\n\ndef add_prices(a: Price, b: Price) -> Price:\n    """The sum."""\n'
        "    return Price(a.cents + b.cents)\n",
    )
    git(hooked, "add", "-A")
    result = commit(hooked)
    assert result.returncode == 0
    assert "no test mentions the new public function `add_prices`" in result.stderr
    assert result.stderr.endswith("1 finding (1 warning) in 1 of 1 file reviewed.\n")


def test_skip_and_no_verify(hooked):
    stage(hooked, {"shop/settings.py": f'AWS_KEY = "{fake_aws_key()}"\n'})
    skipped = commit(hooked, env={"SKIP": "flake8, codemem"})
    assert (skipped.returncode, skipped.stderr) == (
        0,
        "codemem: review skipped (SKIP=flake8, codemem)\n",
    )
    stage(hooked, {"shop/more.py": "breakpoint()\n"})  # codemem: ignore
    assert commit(hooked, env={"SKIP": "codemem-other"}).returncode == 1
    no_verify = commit(hooked, "--no-verify")
    assert (no_verify.returncode, no_verify.stderr) == (0, "")


def test_an_existing_hook_is_chained_runs_first_and_is_restored(shop):
    original = "#!/bin/sh\necho 'lint: ok' >&2\nexit ${LINT_STATUS:-0}\n"
    write(shop, {".git/hooks/pre-commit": original})
    os.chmod(shop / ".git/hooks/pre-commit", 0o755)
    assert hook(shop, "install").output == (
        "Installed the codemem pre-commit hook at .git/hooks/pre-commit.\n"
        "The hook that was there runs first: .git/hooks/pre-commit.codemem-chained.\n"
    )
    stage(shop, {"shop/settings.py": f'AWS_KEY = "{fake_aws_key()}"\n'})
    stopped = commit(shop)
    assert stopped.returncode == 1
    assert stopped.stderr.startswith("lint: ok\nshop/settings.py\n")
    failing = commit(shop, env={"LINT_STATUS": "3"})
    assert (failing.returncode, failing.stderr) == (
        1,
        "lint: ok\n",
    )  # the chained hook failed; codemem never ran
    assert hook(shop, "uninstall").output == (
        "Removed the codemem pre-commit hook from .git/hooks/pre-commit.\n"
        "Restored the hook it had replaced at .git/hooks/pre-commit.\n"
    )
    assert (shop / ".git/hooks/pre-commit").read_text() == original
    assert not (shop / ".git/hooks/pre-commit.codemem-chained").exists()


def test_core_hooks_path_is_respected(shop):
    git(shop, "config", "core.hooksPath", ".githooks")
    assert (
        hook(shop, "install").output
        == "Installed the codemem pre-commit hook at .githooks/pre-commit.\n"
    )
    assert not (shop / ".git/hooks/pre-commit").exists()
    stage(shop, {"shop/settings.py": f'AWS_KEY = "{fake_aws_key()}"\n'})
    assert commit(shop).returncode == 1
    assert hook(shop, "uninstall").exit_code == 0
    assert not (shop / ".githooks/pre-commit").exists()


def secret_report(path: str, line_text: str, line: int = 1) -> str:
    """The hook's report of the one AWS key in `path` at `line`."""
    fid = finding_id("secrets/aws-access-key", path, line_text)
    pad = " " * (len(str(line)) + 4)
    return (
        f"{path}\n"
        f"  {line}  error    AWS access key ID (AKIA…, 20 characters) in the change [secrets/aws-access-key]\n"
        f"{pad}fix: remove it, rotate it if it was ever pushed, and read it from the environment · id {fid}\n"
        "\n"
    )


def test_a_broken_configuration_still_runs_the_secret_scan_with_the_defaults(hooked):
    write(hooked, {".codemem/config.yml": "review: [not, a, mapping\n"})
    stage(hooked, {"shop/settings.py": f'AWS_KEY = "{fake_aws_key()}"\n', ".env": "TOKEN=1\n"})
    result = commit(hooked)
    broken = (
        f"codemem: warning: the configuration is broken ({hooked}/.codemem/config.yml: line 2: invalid YAML: "
        "expected ',' or ']', but got '<stream end>'); only the secret scan ran, with default settings\n"
    )
    assert (result.returncode, result.stderr) == (
        1,
        broken + ".env\n"
        "  -  error    this file's name says it holds credentials [secrets/secret-file]\n"
        "     fix: keep it out of git (add it to .gitignore) and commit a template instead · id "
        + finding_id("secrets/secret-file", ".env", ".env")
        + "\n\n"
        + secret_report("shop/settings.py", f'AWS_KEY = "{fake_aws_key()}"')
        + "2 findings (2 errors) in 2 of 3 files reviewed.\n"
        + FOOTER.replace("1 finding", "2 findings").replace("Fix it", "Fix them"),
    )
    stage(hooked, {"shop/settings.py": None, ".env": None, "notes.md": "hello\n"})
    clean = commit(hooked)
    assert (clean.returncode, clean.stderr) == (0, broken)


def test_codemem_crashing_does_not_block(hooked, tmp_path):
    broken = tmp_path / "broken" / "codemem"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text("raise ImportError('codemem is broken')\n")
    (broken / "__main__.py").write_text("")
    stage(hooked, {"shop/settings.py": f'AWS_KEY = "{fake_aws_key()}"\n'})
    result = commit(hooked, env={"PYTHONPATH": str(broken.parent)})
    assert result.returncode == 0
    assert "ImportError: codemem is broken" in result.stderr
    assert result.stderr.endswith(
        "codemem: warning: the review failed (exit 1); committing without review\n"
    )


def test_running_out_of_time_skips_the_other_checks_never_the_secret_scan(hooked):
    write(hooked, {".codemem/config.yml": "review:\n  hook_timeout: 0.001\n"})
    stage(hooked, {"shop/settings.py": f'AWS_KEY = "{fake_aws_key()}"\n'})
    result = commit(hooked)
    assert (result.returncode, result.stderr) == (
        1,
        "codemem: warning: out of time (0.001 s): the conflicts, leftovers, binaries, conventions, conventions syntax, "
        "naming, docstrings and tests checks were skipped\n"
        + secret_report("shop/settings.py", f'AWS_KEY = "{fake_aws_key()}"')
        + "1 finding (1 error) in 1 of 2 files reviewed.\n"
        + FOOTER,
    )
    stage(hooked, {"shop/settings.py": None, "notes.md": "hello\n"})
    clean = commit(hooked)
    assert (clean.returncode, clean.stderr) == (
        0,
        "codemem: warning: out of time (0.001 s): the conflicts, leftovers, binaries, conventions, conventions syntax, "
        "naming, docstrings and tests checks were skipped\n",
    )


def test_install_refuses_to_lose_a_leftover_chained_hook_unless_forced(shop):
    hooks = shop / ".git/hooks"
    write(
        shop,
        {
            ".git/hooks/pre-commit": "#!/bin/sh\nexit 0\n",
            ".git/hooks/pre-commit.codemem-chained": "#!/bin/sh\n",
        },
    )
    refused = CliRunner().invoke(cli, ["--repo", str(shop), "hook", "install"])
    assert refused.exit_code == 2
    assert "pre-commit.codemem-chained is already taken" in refused.stderr
    forced = hook(shop, "install", "--force")
    assert forced.output == (
        "Installed the codemem pre-commit hook at .git/hooks/pre-commit.\n"
        "Kept the leftover pre-commit.codemem-chained as .git/hooks/pre-commit.codemem-chained.old.\n"
        "The hook that was there runs first: .git/hooks/pre-commit.codemem-chained.\n"
    )
    assert (hooks / "pre-commit.codemem-chained").read_text() == "#!/bin/sh\nexit 0\n"
    assert (hooks / "pre-commit.codemem-chained.old").read_text() == "#!/bin/sh\n"


class Killed(BaseException):
    """A kill at a forced point: nothing after it runs, as with SIGKILL."""


def test_a_kill_during_install_leaves_the_hook_that_was_there_running(shop, monkeypatch):
    # The old install moved the hook aside, then wrote codemem's: killed between the two,
    # no pre-commit hook was left, and the user's one stopped running until a new install.
    import codemem.review.hook as hook_module

    original = "#!/bin/sh\necho 'lint: ok' >&2\n"
    write(shop, {".git/hooks/pre-commit": original})
    os.chmod(shop / ".git/hooks/pre-commit", 0o755)

    def killed(path, text):
        raise Killed

    with monkeypatch.context() as patched:
        patched.setattr(hook_module, "_write", killed)
        with pytest.raises(Killed):
            hook(shop, "install")
    assert (shop / ".git/hooks/pre-commit").read_text() == original
    stage(shop, {"notes.md": "hello\n"})
    assert commit(shop).stderr == "lint: ok\n"
    assert hook(shop, "install").output == (  # the next install goes on, nothing to force
        "Installed the codemem pre-commit hook at .git/hooks/pre-commit.\n"
        "The hook that was there runs first: .git/hooks/pre-commit.codemem-chained.\n"
    )
    assert (shop / ".git/hooks/pre-commit.codemem-chained").read_text() == original
    assert MARKER in (shop / ".git/hooks/pre-commit").read_text()


def test_a_kill_during_uninstall_never_strands_the_hook_it_replaced(shop, monkeypatch):
    # The old uninstall removed codemem's hook, then moved the chained one back: killed between
    # the two, the user's hook was left as pre-commit.codemem-chained, never run, and a second
    # uninstall said "nothing to do".
    original = "#!/bin/sh\necho 'lint: ok' >&2\n"
    hooks = shop / ".git/hooks"
    write(shop, {".git/hooks/pre-commit": original})
    os.chmod(hooks / "pre-commit", 0o755)
    hook(shop, "install")
    real_replace = os.replace

    def killed_at_the_move_back(source, target):
        if Path(target) == hooks / "pre-commit":
            raise Killed
        real_replace(source, target)

    with monkeypatch.context() as patched:
        patched.setattr(os, "replace", killed_at_the_move_back)
        with pytest.raises(Killed):
            hook(shop, "uninstall")
    assert MARKER in (hooks / "pre-commit").read_text()  # still installed, whole
    assert hook(shop, "uninstall").exit_code == 0
    assert (hooks / "pre-commit").read_text() == original
    # What such a kill left behind (the hook gone, the chained one there) is put back.
    (hooks / "pre-commit").rename(hooks / "pre-commit.codemem-chained")
    assert hook(shop, "status").output == (
        "Not installed (no pre-commit hook at .git/hooks/pre-commit).\n"
        "The hook codemem had replaced is left at .git/hooks/pre-commit.codemem-chained: "
        "`codemem hook uninstall` puts it back.\n"
    )
    assert hook(shop, "uninstall").output == (
        "Restored the hook codemem had replaced at .git/hooks/pre-commit (its "
        "pre-commit.codemem-chained, left by an install or uninstall cut short).\n"
    )
    assert (hooks / "pre-commit").read_text() == original
    assert not (hooks / "pre-commit.codemem-chained").exists()


def test_uninstall_leaves_another_tools_hook_alone(shop):
    write(shop, {".git/hooks/pre-commit": "#!/bin/sh\nexit 0\n"})
    result = CliRunner().invoke(cli, ["--repo", str(shop), "hook", "uninstall"])
    assert result.exit_code == 2
    assert (
        result.stderr
        == f"codemem: error: {shop}/.git/hooks/pre-commit is not codemem's hook; it was left alone\n"
    )
    assert hook(shop, "status").output == (
        "Not installed: .git/hooks/pre-commit is another tool's hook (`codemem hook install` chains it).\n"
    )
    (shop / ".git/hooks/pre-commit").unlink()
    assert (
        hook(shop, "uninstall").output
        == "No codemem pre-commit hook at .git/hooks/pre-commit; nothing to do.\n"
    )


def test_the_pre_commit_framework_manifest():
    [entry] = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert entry == {
        "id": "codemem",
        "name": "codemem review",
        "description": "Review the staged change against what codemem's memory holds.",
        "entry": "codemem review --staged --hook",
        "language": "python",
        "pass_filenames": False,
        "always_run": True,
        "require_serial": True,
        "stages": ["pre-commit"],
    }


def test_commit_all_and_commit_paths_review_what_git_is_about_to_record(hooked):
    append(hooked, "shop/cart.py", "\nbreakpoint()\n")  # codemem: ignore
    assert (
        git(hooked, "diff", "--cached", "--name-only").stdout == ""
    )  # nothing staged in the real index
    assert commit(hooked, "-a").returncode == 1
    assert commit(hooked, "--", "shop/cart.py").returncode == 1
    assert head_subject(hooked) == "initial"


def test_a_codemem_folder_in_the_repository_is_never_run_by_the_hook(hooked):
    # git runs the hook in the work tree, and `python -m codemem` imports from there first.
    marker = hooked.parent / "ran-the-repository's-codemem"
    write(
        hooked,
        {
            "codemem/__init__.py": "",
            "codemem/__main__.py": f"open({str(marker)!r}, 'w').close()\n",
        },
    )
    stage(hooked, {"shop/settings.py": f'AWS_KEY = "{fake_aws_key()}"\n'})
    result = commit(hooked)
    assert (result.returncode, marker.exists()) == (1, False)
    assert "[secrets/aws-access-key]" in result.stderr
    assert head_subject(hooked) == "initial"


def _slow_python(tmp_path: Path) -> tuple[Path, Path]:
    """A Python for the hook whose review starts only after 30 s, and the file of its pid."""
    site = tmp_path / "slow-site"
    site.mkdir()
    pid_file = tmp_path / "review.pid"
    (site / "sitecustomize.py").write_text(  # the pid file appears whole (renamed into place)
        "import os, time\n"
        f"open({str(pid_file)!r} + '.tmp', 'w').write(str(os.getpid()))\n"
        f"os.replace({str(pid_file)!r} + '.tmp', {str(pid_file)!r})\n"
        "time.sleep(30)\n"
    )
    python = tmp_path / "slow-python"
    python.write_text(f'#!/bin/sh\nPYTHONPATH={site}:"$PYTHONPATH" exec {sys.executable} "$@"\n')
    python.chmod(0o755)
    return python, pid_file


def test_ctrl_c_during_the_hook_ends_the_review_with_the_commit(hooked, tmp_path):
    import pty
    import select
    import signal
    import time

    python, pid_file = _slow_python(tmp_path)
    (hooked / ".git/hooks/pre-commit").write_text(hook_script(str(python), 10.0))
    stage(hooked, {"notes.md": "hello\n"})
    temp = tmp_path / "temp"
    temp.mkdir()
    pid, terminal = pty.fork()
    if pid == 0:  # the child: git at a terminal, as a person runs it
        os.chdir(hooked)
        os.environ["TMPDIR"] = str(temp)  # where the hook keeps the review's verdict
        os.execvp("git", ["git", "commit", "-q", "-m", "change"])
    try:
        deadline = time.monotonic() + 20
        while not pid_file.exists() and time.monotonic() < deadline:
            select.select([terminal], [], [], 0.1)
        review = int(pid_file.read_text())
        os.write(terminal, b"\x03")  # Ctrl-C, typed at the terminal
        assert os.waitpid(pid, 0)[1] != 0
        deadline = time.monotonic() + 20  # a bound, not a timing: loaded machines are slow
        while Path(f"/proc/{review}").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not Path(f"/proc/{review}").exists(), "the review went on after the commit ended"
        while any(temp.iterdir()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(temp.iterdir()), "the verdict's temp file was left behind"
    finally:
        if pid_file.exists() and Path(f"/proc/{pid_file.read_text()}").exists():
            os.kill(int(pid_file.read_text()), signal.SIGKILL)
        os.close(terminal)
    assert head_subject(hooked) == "initial"
