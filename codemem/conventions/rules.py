"""What the conventions miner produces: rules, each with the evidence behind it.

A `Rule` is a record other packages read as data (the review reads `kind`, `language`,
`subject`, `value` and `share`, never `statement`); `statement` is the sentence people read.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Topics in the order they are shown and kept when a block runs short of room.
TOPICS = (
    "naming",
    "docstrings",
    "type hints",
    "tests",
    "formatting",
    "linting",
    "imports",
    "line length",
    "indentation",
    "comments",
    "commits",
)


@dataclass(frozen=True)
class Band:
    """A stable way to say how much of the evidence follows a rule: a rule is re-stated only
    when its share crosses from one band into another, not whenever a count moves."""

    key: str  # as stored in the records: `all`, `almost-all`, `most`...
    lower: float  # the smallest share in the band
    words: str  # `almost all`
    bound: str  # `≥95%` ("" for `all`)

    @property
    def label(self) -> str:
        """`almost all, ≥95%` (`all` alone)."""
        return f"{self.words}, {self.bound}" if self.bound else self.words


# Highest first. 0.8 and 0.95 are the review's default `min_share` and `strict_share`, so a
# band's lower bound decides a check exactly as the share it stands for would.
BANDS = (
    Band("all", 1.0, "all", ""),
    Band("almost-all", 0.95, "almost all", "≥95%"),
    Band("most", 0.8, "most", "≥80%"),
    Band("many", 0.6, "many", "≥60%"),
    Band("about-half", 0.4, "about half", "≥40%"),
    Band("some", 0.2, "some", "≥20%"),
    Band("few", 0.0, "few", "<20%"),
)
BANDS_BY_KEY = {band.key: band for band in BANDS}


def band_of(share: float) -> Band:
    """The band a share falls in."""
    return next(band for band in BANDS if share >= band.lower)


@dataclass(frozen=True)
class Evidence:
    """Why a rule holds: counts, examples that follow it, exceptions, and the files read.

    The counts (`matched`, `total`) are the miner's; the records keep only the stable part
    (examples, exceptions, sources and, for rules read from configuration, `detail`).
    """

    matched: int | None = None
    total: int | None = None
    examples: tuple[str, ...] = ()
    exceptions: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    detail: str = ""  # further numbers worth keeping, in words

    def to_json(self) -> dict:
        """The stable evidence as JSON-ready data (`from_json` reads it back; no counts)."""
        return {
            "examples": list(self.examples),
            "exceptions": list(self.exceptions),
            "sources": list(self.sources),
            "detail": self.detail,
        }

    @classmethod
    def from_json(cls, data: dict) -> Evidence:
        """Stored evidence; raises TypeError for a field of the wrong type."""
        return cls(
            _count(data, "matched"),
            _count(data, "total"),
            _texts(data, "examples"),
            _texts(data, "exceptions"),
            _texts(data, "sources"),
            _text(data, "detail", ""),
        )


@dataclass(frozen=True)
class Rule:
    """One learned convention.

    `share` is the fraction of the evidence that follows the rule (None for a rule read
    from a configuration file, which holds by definition); once made stable
    (`stable.stable_rules`, as every stored rule is) it is the lower bound of its `band`. What the rule asserts, for
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
    band: str | None = None  # a key of BANDS, set by `stable.stable_rules`

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
            "band": self.band,
            "evidence": self.evidence.to_json(),
        }

    @classmethod
    def from_json(cls, data: dict) -> Rule:
        """A stored rule; an old record's `share` (version 1) is read as its band. Raises
        TypeError for a field of the wrong type (a hand edit, a hostile clone), which every
        reader then takes for a malformed records file rather than failing on it later."""
        band = _optional_text(data, "band")
        if band not in BANDS_BY_KEY:
            old = data.get("share")
            band = band_of(old).key if isinstance(old, (int, float)) else None
        evidence = data.get("evidence") or {}
        if not isinstance(evidence, dict):
            raise TypeError(f"evidence must be an object, not {type(evidence).__name__}")
        return cls(
            _text(data, "topic"),
            _optional_text(data, "language"),
            _text(data, "statement", ""),
            BANDS_BY_KEY[band].lower if band else None,
            Evidence.from_json(evidence),
            _optional_text(data, "kind") or "",
            _optional_text(data, "subject"),
            _optional_text(data, "value"),
            band,
        )


# The fields `Rule.to_json` and `Evidence.to_json` write; a stored rule's others are a newer
# codemem's.
RULE_FIELDS = frozenset(
    {"topic", "kind", "language", "subject", "value", "statement", "band", "evidence"}
)
EVIDENCE_FIELDS = frozenset({"examples", "exceptions", "sources", "detail"})
_REQUIRED = object()


def _text(data: dict, key: str, default: object = _REQUIRED) -> str:
    if key not in data and default is not _REQUIRED:
        return str(default)
    value = data[key]  # KeyError: a required field missing
    if not isinstance(value, str):
        raise TypeError(f"{key} must be text, not {type(value).__name__}")
    return value


def _optional_text(data: dict, key: str) -> str | None:
    value = data.get(key)
    return None if value is None else _text(data, key)


def _texts(data: dict, key: str) -> tuple[str, ...]:
    values = data.get(key, [])
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise TypeError(f"{key} must be a list of texts")
    return tuple(values)


def _count(data: dict, key: str) -> int | None:
    value = data.get(key)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise TypeError(f"{key} must be a whole number, not {type(value).__name__}")
    return value


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


def sample(items: list[str]) -> tuple[str, ...]:
    """Every distinct item, in the order given: the candidates `stable.stable_rules` picks
    the few shown from (keeping the ones shown before while they hold)."""
    return tuple(dict.fromkeys(items))
