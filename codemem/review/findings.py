"""What a review reports: `Finding`s, each with a stable id, and the severity scale.

A finding's `id` is a hash of its rule, its file and the normalized text of its line, not of
the line number, so the same problem keeps its id while code above it moves. That id is what
`codemem review --dismiss ID` records. Two identical lines breaking the same rule in one file
share an id; dismissing one dismisses both.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

SEVERITIES = ("info", "warning", "error")
SOURCES = ("static", "model", "codemem")  # a check, the model review, codemem about itself


def severity_rank(severity: str) -> int:
    """0 for info, 1 for warning, 2 for error."""
    return SEVERITIES.index(severity)


def demote(severity: str, steps: int = 1) -> str:
    """The severity `steps` levels lower (never below info)."""
    return SEVERITIES[max(0, severity_rank(severity) - steps)]


def configured_level(rule: str, level: str, severity: Mapping[str, str]) -> str:
    """The level `review.severity` sets for `rule` (its longest matching rule-id prefix), else
    `level`; "off" for a rule turned off."""
    best = None
    for key in severity:
        if (rule == key or rule.startswith(key.rstrip("/") + "/")) and (
            best is None or len(key) > len(best)
        ):
            best = key
    return level if best is None else severity[best]


def normalize_line(text: str) -> str:
    """A line's text without indentation or runs of spaces, so reformatting keeps ids."""
    return " ".join(text.split())


def finding_id(rule: str, file: str, line_text: str) -> str:
    """12 hex digits identifying a finding across line shifts."""
    key = f"{rule}\0{file}\0{normalize_line(line_text)}".encode("utf-8", "surrogateescape")
    return hashlib.sha256(key).hexdigest()[:12]


@dataclass(frozen=True)
class Finding:
    """One problem in the reviewed change.

    `line` is 1-based in the new version of `file`, or None for the file as a whole (a
    large binary, a secret file). `line_text` only feeds the id and is never printed: it
    may hold a secret. `confidence` is how sure codemem is (the learned rule's share, lowered
    by dismissals in review feedback).
    """

    rule: str
    severity: str
    file: str
    line: int | None
    message: str
    suggestion: str = ""
    confidence: float = 1.0
    source: str = "static"
    line_text: str = field(default="", repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"unknown severity {self.severity!r}")

    @property
    def id(self) -> str:
        """12 hex digits from rule, file and normalized line text (see `finding_id`)."""
        return finding_id(self.rule, self.file, self.line_text)

    @property
    def family(self) -> str:
        """The check family: the rule id up to its first `/` (`naming/python/function` → `naming`)."""
        return self.rule.split("/", 1)[0]

    def with_changes(self, **changes: Any) -> Finding:
        """A copy with some fields changed."""
        return replace(self, **changes)

    def sort_key(self) -> tuple:
        """File, line, worst severity first, then rule and message."""
        return (self.file, self.line or 0, -severity_rank(self.severity), self.rule, self.message)

    def to_json(self) -> dict:
        """The finding as JSON (never its line's text)."""
        return {
            "id": self.id,
            "file": self.file,
            "line": self.line,
            "severity": self.severity,
            "rule": self.rule,
            "message": self.message,
            "suggestion": self.suggestion,
            "confidence": round(self.confidence, 3),
            "source": self.source,
        }


def at_or_above(findings: list[Finding], threshold: str) -> list[Finding]:
    """The findings whose severity is `threshold` or worse."""
    rank = severity_rank(threshold)
    return [f for f in findings if severity_rank(f.severity) >= rank]


def count_by_severity(findings: list[Finding]) -> dict[str, int]:
    """How many findings of each severity, every severity present (error first)."""
    return {s: sum(1 for f in findings if f.severity == s) for s in reversed(SEVERITIES)}
