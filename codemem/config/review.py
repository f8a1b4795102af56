"""The `review:` section: `codemem review` and the pre-commit hook."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from codemem.config.core import Section

Severity = Literal["info", "warning", "error"]
SeverityOrOff = Literal["info", "warning", "error", "off"]


class ReviewConfig(Section):
    """Settings of `codemem review` and of the pre-commit hook."""

    fail_on: Severity = "error"  # default of --fail-on: findings at or above it exit 1
    llm: bool = True  # outside the hook, run the model review when a model is configured
    model: str | None = None  # model for the review (default: the top-level `model`)
    hook_llm: bool = False  # let the pre-commit hook (`--staged`) call the model too
    hook_timeout: float = Field(
        default=10.0, gt=0
    )  # seconds for the hook's review; the secret scan always runs whole, other checks share the rest
    timeout: float | None = Field(
        default=300.0, gt=0
    )  # seconds for a review run by hand (--timeout); null: no limit
    llm_tokens: int = Field(default=16_000, ge=1_000)  # prompt budget of the model review
    llm_output_tokens: int = Field(default=2_000, ge=256)  # reply budget of the model review
    llm_max_findings: int = Field(default=20, ge=1)  # model findings kept at most
    min_share: float = Field(
        default=0.8, ge=0, le=1
    )  # learned conventions followed less are not checked
    strict_share: float = Field(
        default=0.95, ge=0, le=1
    )  # a naming convention this strong is an error
    severity: dict[str, SeverityOrOff] = Field(default_factory=dict)  # rule-id prefix -> level
    exclude: list[str] = Field(default_factory=list)  # globs of files the review skips
    max_binary_kb: int = Field(default=500, ge=0)  # binary files added larger than this are flagged
    secret_entropy: float = Field(
        default=3.5, ge=0
    )  # bits/char of a value assigned to a secret-like name
    dismiss_after: int = Field(default=3, ge=1)  # every N dismissals of a rule halve its confidence
    min_confidence: float = Field(default=0.3, ge=0, le=1)  # findings less certain are not shown

    @field_validator("severity", mode="before")
    @classmethod
    def _off(cls, levels: Any) -> Any:
        # YAML reads a bare `off` as false: `{tests: off}` means what it says.
        if isinstance(levels, dict):
            return {rule: "off" if level is False else level for rule, level in levels.items()}
        return levels
