"""`codemem review`: the static checks and the model review of a change.

Only click is imported at the top: the pre-commit hook runs this on every commit, so the
review's modules load inside the commands and the model's only when a model review runs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import click

from codemem.cli import AppContext
from codemem.cli.output import OUTPUT_HELP, output_path
from codemem.errors import CodememError, UsageError
from codemem.infra import printable
from codemem.review.errors import EXIT_FAILED, EXIT_FINDINGS, EXIT_TIMEOUT

if TYPE_CHECKING:  # only for the type checker: the hook's start-up stays cheap
    from codemem.config import Config, ReviewConfig
    from codemem.review.diff import Target
    from codemem.review.feedback import Reason


RULES_HELP = """\b
Exit codes: 0 nothing at or above --fail-on; 1 findings at or above it;
2 a usage or configuration mistake; 3 codemem failed; 4 a check out of time
(a model review out of time, or failing, is a warning).
With --hook every failure of codemem itself warns and exits 0.

\b
Rules you can write in .codemem/blocks/conventions.md, one list item each:
  - never: `print(` in `src/**` — use the logger
  - avoid: `assert ` in `src/**` except `src/tests/**`
  - never: /\\bTODO\\b/
  - require: docstrings on public functions in `src/**`
  - prefer: tests for public functions
never/require findings are errors, avoid/prefer ones warnings. A pattern is text in
backticks or a regex between slashes; `in`/`except` take globs in backticks;
require/prefer take docstrings, tests or type hints on public functions, classes,
methods or definitions. Text after ` — ` is the message. Silence one line with a
`codemem: ignore` (or `codemem: ignore[rule]`) comment on it."""


def _target(staged: bool, rev_range: str | None, paths: tuple[str, ...]) -> Target:
    from codemem.review.diff import Target

    chosen = sum([staged, rev_range is not None, bool(paths)])
    if chosen > 1:
        raise click.UsageError("give one of --staged, --range A..B or PATH ...")
    if staged:
        return Target("staged")
    if rev_range is not None:
        return Target("range", rev_range=rev_range)
    if paths:
        return Target("paths", paths=paths)
    return Target("worktree")


REPORT_NAMES = {"text": "review.txt", "json": "review.json", "sarif": "review.sarif"}


def _emit(text: str, output: Path | None) -> None:
    if output is None:
        click.echo(text)
    else:
        output.write_text(text + "\n", encoding="utf-8")


def _settings(app: AppContext, hook: bool) -> tuple[Config, ReviewConfig, str | None]:
    """The configuration and its `review:` section, and None.

    In the hook a broken configuration must not open the door to secrets: then the
    defaults, and why the configuration is broken (elsewhere it is an error, exit 2).
    """
    from codemem.config import Config  # the hook imports only click at the top (start-up)
    from codemem.errors import ConfigError

    try:
        config = app.config()
        return config, config.review, None
    except ConfigError as exc:
        if not hook:
            raise
        config = Config()
        return config, config.review, " ".join(str(exc).split())


def _review(
    app: AppContext,
    target: Target,
    fail_on: str | None,
    use_llm: bool | None,
    fmt: str,
    output: Path | None,
    hook: bool,
    timeout: float | None,
) -> int:
    from codemem.review.engine import ReviewOptions, run_review
    from codemem.review.output import render_json, render_sarif, render_text, summary

    ws = app.workspace()
    config, settings, broken = _settings(app, hook)
    fail_on = fail_on or settings.fail_on
    limit: float | None
    if timeout is not None:
        limit, source = timeout, "--timeout"
    elif hook:
        limit, source = settings.hook_timeout, "review.hook_timeout"
    else:
        limit, source = settings.timeout, "review.timeout"
    options = ReviewOptions(
        target,
        use_model=use_llm,
        time_limit=limit,
        time_limit_source=source,
        secrets_only=broken is not None,
    )
    result = run_review(ws, config, options)
    if broken is not None:  # the secret scan still ran, with the defaults
        click.echo(
            f"codemem: warning: the configuration is broken ({broken}); only the secret scan ran, "
            "with default settings",
            err=True,
        )
    for warning in result.warnings:
        click.echo(f"codemem: warning: {printable(warning)}", err=True)
    blocking = result.blocking(fail_on)
    if fmt == "json":
        _emit(render_json(result, fail_on), output)
    elif fmt == "sarif":
        _emit(render_sarif(result, ws.root), output)
    elif not (hook and not result.findings):  # a clean commit stays quiet
        _emit(render_text(result), output)
    if output is not None:
        click.echo(summary(result), err=True)
    if not blocking:
        return EXIT_TIMEOUT if result.checks_cut_short() else 0
    if hook:
        verdict = os.environ.get("CODEMEM_HOOK_RESULT")
        if verdict:
            Path(verdict).write_text("findings", encoding="utf-8")
        click.echo(
            f"codemem: commit stopped by {len(blocking)} finding{'s' if len(blocking) != 1 else ''} at or "
            f"above {fail_on}. Fix {'them' if len(blocking) != 1 else 'it'}, or dismiss a false alarm with "
            "`codemem review --dismiss ID`; to commit anyway: SKIP=codemem git commit ... "
            "(or git commit --no-verify).",
            err=True,
        )
    return EXIT_FINDINGS


def _dismiss(app: AppContext, finding_id: str, reason: str) -> None:
    from codemem.memory import user_slug
    from codemem.review.feedback import dismiss

    ws = app.workspace()
    settings = app.config().review
    item, count = dismiss(ws, finding_id, reason)
    mine = user_slug(ws.root)  # the one `dismiss` recorded as
    confidence = 0.5 ** (count // settings.dismiss_after)
    click.echo(
        f"Dismissed {item.id} ({printable(item.rule)} in {printable(item.file)}); it will not be reported again."
    )
    click.echo(
        f"{item.rule} has been dismissed {count} time{'s' if count != 1 else ''}; "
        f"its confidence is {confidence:.0%}."
    )
    for earlier in (r for r in item.reasons if r.by != mine):  # teammates' dismissals of it
        click.echo(f"Also dismissed {_reason_line(earlier)}")
    click.echo(f"Recorded in .codemem/review/dismissed/{item.id}.json (commit it to share it).")


def _reason_line(reason: Reason) -> str:
    """`by <who> at <when>: <why>`, as one printable line."""
    why = printable(reason.reason) or "(no reason given)"
    return (
        f"by {printable(reason.by) or '(unknown)'} at {printable(reason.at) or '(unknown)'}: {why}"
    )


def _list_dismissals(app: AppContext, fmt: str, output: Path | None) -> None:
    """Every dismissed finding, each with every teammate's reason, who and when."""
    from codemem.review.feedback import load_dismissals

    dismissals = load_dismissals(app.workspace())
    if fmt == "sarif":
        raise click.UsageError("--dismissed lists in text or json, not sarif")
    if fmt == "json":
        from codemem.infra import json_text

        _emit(json_text({"dismissals": [d.to_json() for d in dismissals]}), output)
        return
    lines = []
    for item in dismissals:
        lines.append(f"{printable(item.id)} {printable(item.rule)} in {printable(item.file)}")
        lines.extend(f"  dismissed {_reason_line(reason)}" for reason in item.reasons)
    _emit("\n".join(lines) if lines else "No dismissed findings.", output)


@click.command("review", epilog=RULES_HELP)
@click.argument("paths", nargs=-1, type=click.Path(path_type=str))
@click.option(
    "--staged", is_flag=True, help="Review what `git commit` would record (what the hook does)."
)
@click.option(
    "--range",
    "rev_range",
    metavar="A..B",
    help="Review the changes from A to B (A...B: from their merge base); for CI.",
)
@click.option(
    "--fail-on",
    type=click.Choice(["info", "warning", "error"]),
    help="Exit 1 when a finding is at or above this severity (default: review.fail_on, error).",
)
@click.option(
    "--llm/--no-llm",
    "use_llm",
    default=None,
    help="Run (or skip) the model review. Default: when a model is configured; with --staged only if review.hook_llm.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "sarif"]),
    default="text",
    show_default=True,
    help="text grouped by file, json for scripts, sarif (2.1.0) for code-scanning dashboards.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="The same as --format json: {target, files, counts, failed, findings, warnings, ...}.",
)
@click.option(
    "-o",
    "--output",
    metavar="FILE",
    help=f"Write the report to FILE instead of stdout; {OUTPUT_HELP} (review.txt, .json, .sarif).",
)
@click.option(
    "--dismiss",
    "dismiss_id",
    metavar="FINDING_ID",
    help="Record that a finding is not a problem, and stop.",
)
@click.option("--reason", default="", help="Why the finding is dismissed (with --dismiss).")
@click.option(
    "--dismissed",
    "list_dismissed",
    is_flag=True,
    help="List the dismissed findings, each with every reason given, who and when (--format text or json), and stop.",
)
@click.option(
    "--hook",
    is_flag=True,
    help="Run as the pre-commit hook: quiet when clean, time-limited, and never failing because of codemem itself.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    metavar="SECONDS",
    help="Time limit of the review: the secret scan always runs whole, the other checks share what is left; one that runs out is cut short and the exit code is 4; a model review cut short is one warning line (default: review.timeout, 300; with --hook: review.hook_timeout, 10).",
)
@click.pass_obj
def review_command(
    app: AppContext,
    paths: tuple[str, ...],
    staged: bool,
    rev_range: str | None,
    fail_on: str | None,
    use_llm: bool | None,
    fmt: str,
    as_json: bool,
    output: str | None,
    dismiss_id: str | None,
    reason: str,
    list_dismissed: bool,
    hook: bool,
    timeout: float | None,
) -> None:
    """Review changes against what memory holds (no model needed).

    Checks the added and changed lines: naming against the learned conventions of each
    language and kind, docstrings and tests for new public code where the project has them,
    the rules written in conventions.md, debugging leftovers, secrets, conflict markers and
    large binaries. With a model configured it adds a memory-informed model review.

    Without arguments it reviews uncommitted changes; --staged what a commit would record;
    --range A..B a pull request's commits (CI); PATH ... whole files.
    """
    if as_json:  # every command that prints data takes --json (the README's promise)
        if fmt not in ("text", "json"):
            raise UsageError(f"--json and --format {fmt} do not go together: give one")
        fmt = "json"
    if dismiss_id is not None:
        _dismiss(app, dismiss_id, reason)
        return
    if list_dismissed:
        name = "dismissed.json" if fmt == "json" else "dismissed.txt"
        _list_dismissals(app, fmt, None if output is None else output_path(output, name))
        return
    ctx = click.get_current_context()
    try:
        report = None if output is None else output_path(output, REPORT_NAMES[fmt])
        code = _review(
            app, _target(staged, rev_range, paths), fail_on, use_llm, fmt, report, hook, timeout
        )
    except click.UsageError:
        if hook:
            click.echo(
                "codemem: warning: the hook was called with bad options; committing without review",
                err=True,
            )
            ctx.exit(0)
        raise
    except CodememError as exc:
        if os.environ.get("CODEMEM_DEBUG"):
            raise
        code = exc.exit_code if exc.exit_code >= 2 else EXIT_FAILED
        _failed(str(exc), code, hook)
    except Exception as exc:  # a bug: still the exit-code contract, and never a blocked commit
        if os.environ.get("CODEMEM_DEBUG"):
            raise
        code = EXIT_FAILED
        _failed(
            f"internal error: {type(exc).__name__}: {exc} (CODEMEM_DEBUG=1 shows the traceback)",
            code,
            hook,
        )
    if hook and code >= 2:
        code = 0
    ctx.exit(code)


def _failed(message: str, code: int, hook: bool) -> None:
    if hook:
        click.echo(f"codemem: warning: {message}; committing without review", err=True)
    else:
        click.echo(f"codemem: error: {message}", err=True)
