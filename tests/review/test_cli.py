"""`codemem review` from the command line: targets, --fail-on and the exit-code contract."""

from __future__ import annotations

from click.testing import CliRunner
from review_helpers import CAMEL_FUNCTION, append, cli_review, stage

from codemem.cli import cli
from tests.helpers import git


def warning_only(repo) -> None:
    append(
        repo,
        "shop/prices.py",
        '\n\ndef add_prices(a: Price, b: Price) -> Price:\n    """The sum."""\n'
        "    return Price(a.cents + b.cents)\n",
    )


def test_exit_codes_follow_fail_on(shop):
    clean = cli_review(shop, "--staged")
    assert (clean.exit_code, clean.stdout) == (0, "No findings in 0 files reviewed.\n")
    warning_only(shop)
    git(shop, "add", "-A")
    assert cli_review(shop, "--staged").exit_code == 0
    assert cli_review(shop, "--staged", "--fail-on", "warning").exit_code == 1
    assert cli_review(shop, "--staged", "--fail-on", "info").exit_code == 1
    (shop / ".codemem/config.yml").write_text("review:\n  fail_on: warning\n")
    assert cli_review(shop, "--staged").exit_code == 1
    append(shop, "shop/prices.py", CAMEL_FUNCTION)
    git(shop, "add", "-A")
    assert cli_review(shop, "--staged", "--fail-on", "error").exit_code == 1


def test_json_is_the_json_format_as_for_every_command_that_prints_data(shop):
    # `codemem review --json` was "No such option '--json'. Did you mean '--reason'?"
    append(shop, "shop/cart.py", "\nprint(1)\n")
    as_json = cli_review(shop, "--json")
    assert (as_json.exit_code, as_json.stdout) == (1, cli_review(shop, "--format", "json").stdout)
    assert '"findings": [' in as_json.stdout
    dismissed = cli_review(shop, "--dismissed", "--json")
    assert (dismissed.exit_code, dismissed.stdout) == (0, '{"dismissals": []}\n')
    both = cli_review(shop, "--json", "--format", "sarif")
    assert (both.exit_code, both.stderr) == (
        2,
        "codemem: error: --json and --format sarif do not go together: give one\n",
    )


def test_uncommitted_changes_by_default(shop):
    append(shop, "shop/cart.py", "\nprint(1)\n")
    result = cli_review(shop)
    assert result.exit_code == 1
    assert result.stdout.splitlines()[0] == "shop/cart.py"


def test_a_range_for_ci(shop):
    warning_only(shop)
    git(shop, "commit", "-q", "-am", "add prices")
    result = cli_review(shop, "--range", "HEAD~1..HEAD", "--fail-on", "warning", "--no-llm")
    assert result.exit_code == 1
    assert result.stdout.splitlines()[-1] == "1 finding (1 warning) in 1 of 1 file reviewed."


def test_usage_and_configuration_mistakes_exit_2(shop, tmp_path, caplog):
    both = cli_review(shop, "--staged", "--range", "a..b")
    assert both.exit_code == 2
    assert "give one of --staged, --range A..B or PATH" in both.stderr
    (shop / ".codemem/config.yml").write_text("review:\n  fail_on: sometimes\n")
    bad = cli_review(shop, "--staged")
    assert bad.exit_code == 2
    assert bad.stderr == (
        f"codemem: error: {shop / '.codemem/config.yml'}: review.fail_on: Input should be 'info', 'warning' or 'error'\n"
    )
    (shop / ".codemem/config.yml").write_text("review:\n  bogus: 1\n")  # a newer codemem's
    assert cli_review(shop, "--staged").exit_code == 0
    assert caplog.messages[-1] == (
        f"{shop / '.codemem/config.yml'}: review.bogus: unknown key, ignored: "
        "a newer codemem's setting? (`codemem config example` shows every key)"
    )
    outside = CliRunner().invoke(cli, ["--repo", str(tmp_path), "review", "--staged"])
    assert outside.exit_code == 2


def test_an_unknown_revision_is_a_usage_error_and_the_hook_lets_it_through(shop):
    failed = cli_review(shop, "--range", "nope..HEAD")
    assert (failed.exit_code, failed.stderr) == (
        2,
        "codemem: error: --range nope..HEAD: 'nope' names no commit\n",
    )
    hooked = cli_review(shop, "--range", "nope..HEAD", "--hook")
    assert (hooked.exit_code, hooked.stderr) == (
        0,
        "codemem: warning: --range nope..HEAD: 'nope' names no commit; committing without review\n",
    )


def test_codemem_failures_exit_3_and_the_hook_lets_them_through(shop, monkeypatch):
    import codemem.review.diff as diff
    from codemem.errors import GitError

    def broken(*_args, **_kwargs):
        raise GitError("git diff failed: fatal: bad object")

    monkeypatch.setattr(diff, "run_git", broken)
    failed = cli_review(shop, "--staged")
    assert (failed.exit_code, failed.stderr) == (
        3,
        "codemem: error: git diff failed: fatal: bad object\n",
    )
    hooked = cli_review(shop, "--staged", "--hook")
    assert (hooked.exit_code, hooked.stderr) == (
        0,
        "codemem: warning: git diff failed: fatal: bad object; committing without review\n",
    )


def test_an_internal_error_is_exit_3_not_a_traceback(shop, monkeypatch):
    import codemem.review.engine as engine

    def boom(*_args, **_kwargs):
        raise KeyError("surprise")

    monkeypatch.setattr(engine, "read_changes", boom)
    result = cli_review(shop, "--staged")
    assert (result.exit_code, result.stderr) == (
        3,
        "codemem: error: internal error: KeyError: 'surprise' (CODEMEM_DEBUG=1 shows the traceback)\n",
    )


def test_the_hook_mode_is_quiet_when_clean_and_the_time_limit_exits_4(shop):
    stage(shop, {"notes.md": "hello\n"})
    assert (
        cli_review(shop, "--staged", "--hook").exit_code,
        cli_review(shop, "--staged", "--hook").stdout,
    ) == (0, "")
    slow = cli_review(shop, "--staged", "--timeout", "0.000001")
    assert (slow.exit_code, slow.stderr) == (
        4,
        "codemem: warning: out of time (1e-06 s): the conflicts, leftovers, binaries, conventions, "
        "conventions syntax, naming, docstrings and tests checks were skipped\n",
    )


def test_help_documents_the_rule_syntax_and_exit_codes():
    result = CliRunner().invoke(cli, ["review", "--help"])
    assert "- never: `print(` in `src/**` — use the logger" in result.output
    assert (
        "Exit codes: 0 nothing at or above --fail-on; 1 findings at or above it;" in result.output
    )
