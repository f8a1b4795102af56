"""What the conventions miner produces: rules, each with the evidence behind it."""

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
        return {
            "matched": self.matched,
            "total": self.total,
            "examples": list(self.examples),
            "exceptions": list(self.exceptions),
            "sources": list(self.sources),
            "detail": self.detail,
        }


@dataclass(frozen=True)
class Rule:
    """One learned convention.

    `share` is the fraction of the evidence that follows the rule (None for a rule read
    from a configuration file, which holds by definition).
    """

    topic: str
    language: str | None
    statement: str
    share: float | None = None
    evidence: Evidence = field(default_factory=Evidence)

    def to_json(self) -> dict:
        return {
            "topic": self.topic,
            "language": self.language,
            "statement": self.statement,
            "share": None if self.share is None else round(self.share, 4),
            "evidence": self.evidence.to_json(),
        }


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
