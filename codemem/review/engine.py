"""One review: `run_review(ws, config, ReviewOptions(target))` → `ReviewResult`.

1. Read the change (`diff.read_changes`).
2. The secret scan, first and whole: no time limit cuts it short, nothing discards its findings.
3. The other static checks against memory's conventions (`checks.run_checks`), each with its
   own share of `ReviewOptions.time_limit` (limits.py); with `secrets_only` (a broken
   configuration) they do not run, nor does the model review.
4. Drop findings on lines marked `codemem: ignore` (or `codemem: ignore[rule, ...]`) and
   apply the `review.severity` overrides.
5. With a model (configured, and allowed for this target), the memory-informed model review,
   told what the static checks found, within the time left; its findings go through step 4 too.
6. Feedback: dismissed findings go, rules that keep being dismissed lose confidence and
   severity.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from codemem.config import Config, ReviewConfig
from codemem.conventions import NewerRecords, records_text
from codemem.errors import CodememError
from codemem.review.checks import CHECKS, SECRET_SCAN, run_checks
from codemem.review.context import ReviewContext
from codemem.review.diff import ChangeSet, Target, read_changes
from codemem.review.errors import ReviewTimeout
from codemem.review.feedback import apply_feedback, load_dismissals, remember_findings
from codemem.review.findings import Finding, at_or_above, configured_level, count_by_severity
from codemem.review.limits import Budget, time_limit
from codemem.workspace import Workspace

if TYPE_CHECKING:  # imported only when a model review runs
    from codemem.agent.providers import Provider
    from codemem.review.llm import ModelReport

log = logging.getLogger("codemem")

MODEL_REVIEW = "model review"  # its name in `ReviewResult.out_of_time`
_IGNORE = re.compile(r"codemem:\s*ignore(?:\[([^\]]*)\])?")


@dataclass
class ReviewOptions:
    """What to review and how."""

    target: Target
    use_model: bool | None = None  # None: `review.llm` (or `review.hook_llm` for --staged)
    provider: Provider | None = None  # a ready one (tests); default: resolved from config
    remember: bool = True  # keep the findings where `--dismiss` finds their ids
    time_limit: float | None = (
        None  # seconds for the review; the secret scan runs whole regardless (None: no limit)
    )
    time_limit_source: str = ""  # where the limit was set, for messages: "review.timeout"
    secrets_only: bool = False  # only the secret scan (the configuration is broken)


@dataclass
class ReviewResult:
    """Findings of one review, and what happened on the way."""

    target: Target
    files: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    suppressed: int = 0  # dismissed, or under review.min_confidence
    warnings: list[str] = field(default_factory=list)
    model: ModelReport | None = None  # when the model review ran (or was asked for)
    out_of_time: list[str] = field(
        default_factory=list
    )  # checks cut short or skipped for lack of time

    def checks_cut_short(self) -> list[str]:
        """The static checks cut short or skipped for lack of time (the model review, cut
        short, is a warning, as a model that fails is)."""
        return [name for name in self.out_of_time if name != MODEL_REVIEW]

    def blocking(self, fail_on: str) -> list[Finding]:
        """The findings that make the review fail at this threshold."""
        return at_or_above(self.findings, fail_on)

    def to_json(self, fail_on: str) -> dict:
        """The stable JSON of `codemem review --format json` (`version: 1`)."""
        return {
            "version": 1,
            "target": self.target.to_json(),
            "files": self.files,
            "fail_on": fail_on,
            "failed": bool(self.blocking(fail_on)),
            "counts": count_by_severity(self.findings),
            "suppressed": self.suppressed,
            "findings": [f.to_json() for f in self.findings],
            "model": self.model.to_json() if self.model is not None else None,
            "warnings": self.warnings,
        }


def model_wanted(target: Target, settings: ReviewConfig, flag: bool | None) -> bool:
    """Whether to run the model review: the flag, else the setting for this kind of target."""
    if flag is not None:
        return flag
    return settings.hook_llm if target.kind == "staged" else settings.llm


def ignored(finding: Finding, changes: ChangeSet) -> bool:
    """Whether the finding's line carries `codemem: ignore` for its rule."""
    if finding.line is None:
        return False
    file = changes.get(finding.file)
    if file is None or finding.line > len(file.lines):
        return False
    for match in _IGNORE.finditer(file.lines[finding.line - 1]):
        if match.group(1) is None:
            return True
        wanted = [part.strip() for part in match.group(1).split(",") if part.strip()]
        if any(finding.rule == w or finding.rule.startswith(w.rstrip("/") + "/") for w in wanted):
            return True
    return False


def override(finding: Finding, severity: Mapping[str, str]) -> Finding | None:
    """The finding at the level `review.severity` sets for its rule (longest prefix); None if off."""
    level = configured_level(finding.rule, finding.severity, severity)
    if level == finding.severity:
        return finding
    return None if level == "off" else finding.with_changes(severity=level)


def settle(findings: list[Finding], changes: ChangeSet, settings: ReviewConfig) -> list[Finding]:
    """Without the lines marked `codemem: ignore`, at the levels `review.severity` sets."""
    kept = [f for f in findings if not ignored(f, changes)]
    if settings.severity:
        kept = [f for f in (override(f, settings.severity) for f in kept) if f is not None]
    return kept


NOT_LEARNED = (
    "no conventions learned yet, so naming, docstrings and tests were not checked: "
    "run `codemem digest` to learn them from the code"
)
# the same before `codemem init`, where `digest` would only refuse and name init
NOT_INITIALIZED = (
    "no conventions learned yet, so naming, docstrings and tests were not checked: "
    "run `codemem init`, then `codemem digest`, to learn them from the code"
)


def newer_records(ws: Workspace) -> bool:
    """Whether a newer codemem wrote the learned records (`read_records` named it)."""
    return isinstance(records_text(ws), NewerRecords)


def run_review(ws: Workspace, config: Config, options: ReviewOptions) -> ReviewResult:
    """Review `options.target` in `ws` (see the module docstring)."""
    settings = config.review
    budget = Budget(options.time_limit)
    changes = read_changes(ws.root, options.target, config.index.max_file_bytes)
    ctx = ReviewContext(ws, config, settings, changes)
    result = ReviewResult(options.target, [f.path for f in ctx.files])
    static, result.warnings = run_checks(ctx, (SECRET_SCAN,))
    if not options.secrets_only:
        more, warnings = run_checks(ctx, tuple(c for c in CHECKS if c != SECRET_SCAN), budget)
        static += more
        result.warnings += warnings
        if ctx.files and not ctx.conventions.learned and not newer_records(ws):
            # (a newer codemem's records: named already)
            result.warnings.append(NOT_LEARNED if ws.dir.is_dir() else NOT_INITIALIZED)
    findings = settle(static, changes, settings)
    if (
        not options.secrets_only
        and ctx.files
        and model_wanted(options.target, settings, options.use_model)
    ):
        findings += settle(
            _timed_model_findings(ctx, options, findings, result, budget), changes, settings
        )
    result.out_of_time = budget.ran_out
    findings, result.suppressed = apply_feedback(
        findings,
        load_dismissals(ws),
        settings.dismiss_after,
        settings.min_confidence,
    )
    result.findings = sorted(findings, key=Finding.sort_key)
    if (
        options.remember and result.findings and ws.dir.is_dir()
    ):  # never create .codemem/ just for this
        try:
            remember_findings(ws, result.findings)
        except (OSError, CodememError) as exc:  # a read-only checkout, a file in local/'s
            # place: the review still stands (and the hook still stops a secret)
            log.debug("cannot cache the findings: %s", exc)
    return result


def _timed_model_findings(
    ctx: ReviewContext,
    options: ReviewOptions,
    static: list[Finding],
    result: ReviewResult,
    budget: Budget,
) -> list[Finding]:
    left = budget.remaining()
    if left is not None and left <= 0:
        budget.ran_out.append(MODEL_REVIEW)
        result.warnings.append(f"out of time ({budget.seconds:g} s): the model review was skipped")
        return []
    try:
        with time_limit(left, "the model review"):
            return _model_findings(ctx, options, static, result)
    except ReviewTimeout:
        budget.ran_out.append(MODEL_REVIEW)
        retrying = result.model.error if result.model is not None else ""
        source = f" ({options.time_limit_source})" if options.time_limit_source else ""
        result.warnings.append(
            f"the model review was cut short by the review's time limit of {budget.seconds:g} s"
            f"{source}{retrying and ', ' + retrying}"
        )
        return []


def _model_findings(
    ctx: ReviewContext, options: ReviewOptions, static: list[Finding], result: ReviewResult
) -> list[Finding]:
    from codemem.review.llm import ModelReport, model_review

    provider = options.provider
    if provider is None:
        model = ctx.settings.model or ctx.config.model
        if not model:
            if options.use_model:
                result.warnings.append(
                    "no model is configured (set `model:` or `review.model:`); static checks only"
                )
            return []
        try:
            from codemem.agent.providers import resolve_provider

            provider = resolve_provider(model, ctx.config, quiet=True)
        except ReviewTimeout:  # out of time while the SDK loaded: said as such by the caller
            raise
        except Exception as exc:  # a missing key or bad model string: static checks still count
            result.model = ModelReport(model, "failed", error=str(exc))
            result.warnings.append(f"model review skipped: {exc}")
            return []
    try:
        findings, result.model = model_review(ctx, provider, static)
    except ReviewTimeout:  # name the failure it was retrying, if any: the hook's one line
        failure = getattr(getattr(provider, "retry", None), "retrying", None)
        if failure is not None:
            name = getattr(provider, "model", "model")
            result.model = ModelReport(name, "failed", error=f"retrying after: {failure}")
        raise
    if result.model.status != "ok":
        result.warnings.append(f"model review {result.model.status}: {result.model.error}")
    return findings
