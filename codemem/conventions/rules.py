"""What the conventions miner produces: rules, each with the evidence behind it.

A `Rule` is a record other packages read as data (the review reads `kind`, `language`,
`subject`, `value` and `share`, never `statement`); `statement` is the sentence people read.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Topics in the order they are shown and kept when a block runs short of room.
TOPICS = (
    "naming", "docstrings", "type hints", "tests", "formatting", "linting", "imports",
    "line length", "indentation", "comments", "commits",
)


@dataclass(frozen=True)
class Evidence:
    """Why a rule holds: counts, examples that follow it, exceptions, and the files read."""

    matched: int | None = None
    total: int | None = None
    examples: tuple[str, ...] = ()
    exceptions: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    detail: str = ""  # further numbers worth keeping, in words

    def to_json(self) -> dict:
        """The evidence as JSON-ready data (`from_json` reads it back)."""
        return {
            "matched": self.matched,
            "total": self.total,
            "examples": list(self.examples),
            "exceptions": list(self.exceptions),
            "sources": list(self.sources),
            "detail": self.detail,
        }

    @classmethod
    def from_json(cls, data: dict) -> Evidence:
        return cls(
            data.get("matched"), data.get("total"), tuple(data.get("examples", ())),
            tuple(data.get("exceptions", ())), tuple(data.get("sources", ())), data.get("detail", ""),
        )


@dataclass(frozen=True)
class Rule:
    """One learned convention.

    `share` is the fraction of the evidence that follows the rule (None for a rule read
    from a configuration file, which holds by definition). What the rule asserts, for
    machines: `kind` (`naming`, `docstring-coverage`, `test-framework`...; the topic when
    not set), within the scope of `language` (None: the whole repository) and `subject`
    (for naming, the definition kind: `function`, `class`...), the `value` it takes
    (`snake_case`, `most`, `pytest`...).
    """

    topic: str
    language: str | None
    statement: str
    share: float | None = None
    evidence: Evidence = field(default_factory=Evidence)
    kind: str = ""
    subject: str | None = None
    value: str | None = None

    def __post_init__(self) -> None:
        if not self.kind:
            object.__setattr__(self, "kind", self.topic)

    def to_json(self) -> dict:
        """The rule as JSON-ready data; `from_json(to_json())` gives an equal rule."""
        return {
            "topic": self.topic,
            "kind": self.kind,
            "language": self.language,
            "subject": self.subject,
            "value": self.value,
            "statement": self.statement,
            "share": self.share,
            "evidence": self.evidence.to_json(),
        }

    @classmethod
    def from_json(cls, data: dict) -> Rule:
        return cls(
            data["topic"], data.get("language"), data.get("statement", ""), data.get("share"),
            Evidence.from_json(data.get("evidence") or {}),
            data.get("kind") or "", data.get("subject"), data.get("value"),
        )


def ratio(matched: int, total: int) -> float:
    return matched / total if total else 0.0


def percent(share: float) -> str:
    """A share as a whole percentage that never rounds a partial 100 up to 100%."""
    value = share * 100
    if value >= 99.5 and share < 1:
        return ">99%"
    if 0 < value < 0.5:
        return "<1%"
    return f"{value:.0f}%"


def sample(items: list[str], limit: int = 3) -> tuple[str, ...]:
    """The first `limit` distinct items, in the order given."""
    return tuple(dict.fromkeys(items))[:limit]
