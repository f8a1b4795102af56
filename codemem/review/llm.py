"""The memory-informed model review: one request, a strict JSON reply, validated.

The model sees the memory blocks, the change (new-file line numbers, `+`/`-` marks), what the
static checks already found, and related code (callers and tests of the changed functions),
all within `review.llm_tokens`. It must answer with exactly

    {"findings": [{"file", "line", "severity", "rule", "message", "suggestion"}]}

which pydantic validates strictly (no extra keys, no type coercion). A reply that is not
such an object is rejected as a whole: the review goes on with the static findings and says
why in a warning. A finding that is well-formed but points outside the change (a file not
reviewed, a line past the end) is dropped and counted. Nothing the model or its provider does
ever raises out of `model_review`.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from codemem.review.context import ReviewContext
from codemem.review.errors import ReviewTimeout
from codemem.review.findings import Finding

if TYPE_CHECKING:  # the agent package is imported only when a model review runs
    from codemem.agent.providers import Provider

log = logging.getLogger("codemem")

MODEL_CONFIDENCE = 0.7
_FENCE = re.compile(r"```(?:json)?\s*\n(.*?)```", re.DOTALL)


class ModelFinding(BaseModel):
    """One finding as the model must write it."""

    model_config = ConfigDict(extra="forbid", strict=True)

    file: str = Field(min_length=1, max_length=1_000)
    line: int = Field(ge=1)
    severity: Literal["info", "warning", "error"]
    rule: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,47}$")
    message: str = Field(min_length=1, max_length=1_000)
    suggestion: str = Field(max_length=2_000)


class ModelReply(BaseModel):
    """The whole reply."""

    model_config = ConfigDict(extra="forbid", strict=True)

    findings: list[ModelFinding] = Field(max_length=200)


class InvalidReply(ValueError):
    """The model's reply is not the JSON object the review asked for."""


@dataclass
class ModelReport:
    """What the model review did."""

    model: str
    status: str  # ok | invalid | failed
    findings: int = 0
    dropped: list[str] = field(default_factory=list)
    input_tokens: int = 0
    output_tokens: int = 0
    error: str = ""

    def to_json(self) -> dict:
        """The report as JSON (the `model` key of the review's JSON)."""
        return {
            "model": self.model,
            "status": self.status,
            "findings": self.findings,
            "dropped": self.dropped,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "error": self.error,
        }


def parse_reply(text: str) -> ModelReply:
    """The validated reply; `InvalidReply` saying what is wrong otherwise.

    A JSON object alone, or inside one ```json fence, is accepted; anything else is not.
    """
    body = text.strip()
    fenced = _FENCE.search(body)
    if fenced and not body.startswith("{"):
        body = fenced.group(1).strip()
    if not body:
        raise InvalidReply("the reply is empty")
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        raise InvalidReply(
            f"the reply is not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from None
    try:
        return ModelReply.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "the reply"
        raise InvalidReply(f"{where}: {first['msg']} ({exc.error_count()} problem(s))") from None


def to_findings(
    reply: ModelReply, ctx: ReviewContext, limit: int
) -> tuple[list[Finding], list[str]]:
    """Findings on reviewed files and existing lines (at most `limit`), and why others were dropped."""
    files = {f.path: f for f in ctx.files}
    kept: list[Finding] = []
    dropped: list[str] = []
    for item in reply.findings:
        f = files.get(item.file.removeprefix("./"))
        if f is None:
            dropped.append(f"{item.file}:{item.line}: not a file of this change")
            continue
        if f.data is not None and item.line > max(1, len(f.lines)):
            dropped.append(f"{item.file}:{item.line}: the file has {len(f.lines)} lines")
            continue
        if len(kept) >= limit:
            dropped.append(f"{item.file}:{item.line}: over review.llm_max_findings ({limit})")
            continue
        text = f.lines[item.line - 1] if item.line <= len(f.lines) else ""
        kept.append(
            Finding(
                f"llm/{item.rule}",
                item.severity,
                f.path,
                item.line,
                item.message.strip(),
                item.suggestion.strip(),
                confidence=MODEL_CONFIDENCE,
                source="model",
                line_text=text,
            )
        )
    return kept, dropped


def memory_text(ctx: ReviewContext) -> str:
    """The core memory blocks as the agent sees them (empty when there are none)."""
    try:
        from codemem.memory import MemoryStore

        return MemoryStore(ctx.ws).render_blocks(max_chars=ctx.config.agent.memory_chars)
    except Exception as exc:  # unreadable memory: review the change without it
        log.warning("memory blocks unavailable for the model review: %s", exc)
        return ""


def model_review(
    ctx: ReviewContext, provider: Provider, static: list[Finding]
) -> tuple[list[Finding], ModelReport]:
    """Ask `provider` to review the change; never raises (see the module docstring)."""
    from codemem.agent.messages import Message
    from codemem.review.prompt import CHARS_PER_TOKEN, build_prompt
    from codemem.review.related import related_code

    settings = ctx.settings
    report = ModelReport(getattr(provider, "model", "model"), "ok")
    try:
        related = related_code(ctx, int(settings.llm_tokens * CHARS_PER_TOKEN * 0.3))
    except ReviewTimeout:
        raise
    except Exception as exc:  # related code is a help, not a requirement
        log.debug("no related code: %s", exc, exc_info=True)
        related = ""
    budget = settings.llm_tokens
    target = ctx.changes.target.describe()
    memory = memory_text(ctx)
    try:
        for _ in range(3):  # shrink until the provider's count fits the budget
            system, user = build_prompt(
                memory, ctx.files, related, static, target, budget, settings.llm_max_findings
            )
            messages = [Message.user(user)]
            used = provider.count_tokens(system, messages)
            if used <= settings.llm_tokens:
                break
            budget = int(budget * settings.llm_tokens / used * 0.95)
        response = provider.complete(system, messages, max_tokens=settings.llm_output_tokens)
    except ReviewTimeout:
        raise
    except Exception as exc:  # provider errors, bugs in an adapter: the static review stands
        report.status, report.error = "failed", f"{type(exc).__name__}: {exc}"
        return [], report
    report.input_tokens = response.usage.context_tokens
    report.output_tokens = response.usage.output_tokens
    try:
        reply = parse_reply(response.message.content)
    except InvalidReply as exc:
        report.status, report.error = "invalid", f"reply rejected: {exc}"
        return [], report
    findings, report.dropped = to_findings(reply, ctx, settings.llm_max_findings)
    report.findings = len(findings)
    return findings, report
