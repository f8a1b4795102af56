"""Conventions of commit messages, from the subjects (and bodies) of recent commits."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from codemem.conventions.rules import Evidence, Rule, percent, ratio, sample
from codemem.infra import code_span

CONVENTIONAL = re.compile(
    r"^(feat|fix|chore|docs|refactor|test|tests|ci|build|perf|style|revert|deps|release)"
    r"(\([^)]*\))?!?: \S"
)
MAX_EXAMPLE_CHARS = 100  # a subject shown as an example: quoted data, bounded and redacted
ISSUE_REF = re.compile(r"(#\d+|\b[A-Z][A-Z0-9]+-\d+\b)")
VERBS = frozenset(
    "add allow avoid build bump cache call change check clean compute configure convert create "
    "delete deprecate disable document drop enable ensure explain expose extract fix format handle "
    "implement improve increase install introduce keep let limit load log make mark merge migrate "
    "move optimize parse pass pin prepare prevent print raise read reduce refactor refresh "
    "register release remove rename reorganize replace restore return revert rewrite rework "
    "round run save set show simplify skip sort speed split start stop store support switch "
    "test tidy track translate tweak turn unify update upgrade use validate warn wrap write".split()
)


@dataclass(frozen=True)
class CommitMessage:
    subject: str
    has_body: bool = False


def _past(verb: str) -> set[str]:
    if verb.endswith("e"):
        return {verb + "d"}
    if verb.endswith("y") and verb[-2:-1] not in "aeiou":
        return {verb[:-1] + "ied"}
    return {verb + "ed", verb + verb[-1] + "ed"}


def _third(verb: str) -> set[str]:
    if verb.endswith(("s", "sh", "ch", "x", "z")):
        return {verb + "es"}
    if verb.endswith("y") and verb[-2:-1] not in "aeiou":
        return {verb[:-1] + "ies"}
    return {verb + "s"}


PAST = {form: verb for verb in VERBS for form in _past(verb)}
THIRD = {form: verb for verb in VERBS for form in _third(verb)}


def _quoted(subject: str) -> str:
    """A subject shown as an example: a code span, bounded, cleaned and redacted (it is the
    repository's text, not codemem's)."""
    return code_span(subject, MAX_EXAMPLE_CHARS)


def _summary(subject: str) -> str:
    """The subject without a Conventional Commits prefix."""
    match = CONVENTIONAL.match(subject)
    return subject[subject.index(": ") + 2 :] if match else subject


def commit_rules(messages: list[CommitMessage], min_samples: int) -> list[Rule]:
    """Conventional Commits, mood, capitals, trailing periods, length and issue references."""
    messages = [
        m for m in messages if m.subject and not m.subject.startswith(("Merge ", 'Revert "'))
    ]
    total = len(messages)
    if total < min_samples:
        return []
    rules = []
    subjects = [m.subject for m in messages]
    matches = [(s, m) for s in subjects if (m := CONVENTIONAL.match(s))]
    conventional = [s for s, _ in matches]
    if ratio(len(conventional), total) >= 0.5:
        types = Counter(m.group(1) for _, m in matches)
        scoped = sum(bool(m.group(2)) for _, m in matches)
        rules.append(
            Rule(
                "commits",
                None,
                "Commit subjects follow Conventional Commits (`type(scope): summary`)",
                ratio(len(conventional), total),
                Evidence(
                    len(conventional),
                    total,
                    sample([_quoted(s) for s in conventional]),
                    sample([_quoted(s) for s in subjects if s not in conventional]),
                    detail="types: "
                    + ", ".join(
                        f"{t} {n}" for t, n in sorted(types.items(), key=lambda i: (-i[1], i[0]))
                    )
                    + f"; with a scope: {scoped}",
                ),
                "commit-format",
                value="Conventional Commits",
            )
        )
    summaries = [_summary(s) for s in subjects]
    words = [
        (s, m.split()[0].lower().strip(":,") if m.split() else "")
        for s, m in zip(subjects, summaries, strict=True)
    ]
    imperative = [s for s, w in words if w in VERBS]
    past = [s for s, w in words if w in PAST]
    third = [s for s, w in words if w in THIRD]
    moods = len(imperative) + len(past) + len(third)
    if moods >= min_samples:
        if len(imperative) >= max(len(past), len(third)):
            statement, used, others = (
                "Commit subjects use the imperative mood (`Add x`, not `Added x`)",
                imperative,
                past + third,
            )
            mood = "imperative"
        elif len(past) >= len(third):
            statement, used, others = (
                "Commit subjects use the past tense (`Added x`)",
                past,
                imperative + third,
            )
            mood = "past"
        else:
            statement, used, others = (
                "Commit subjects use the third person (`Adds x`)",
                third,
                imperative + past,
            )
            mood = "third person"
        rules.append(
            Rule(
                "commits",
                None,
                statement,
                ratio(len(used), moods),
                Evidence(
                    len(used),
                    moods,
                    sample([_quoted(s) for s in used]),
                    sample([_quoted(s) for s in others]),
                ),
                "commit-mood",
                value=mood,
            )
        )
    if not conventional or ratio(len(conventional), total) < 0.5:
        capital = [s for s in summaries if s[:1].isupper()]
        lower = [s for s in summaries if s[:1].islower()]
        if capital or lower:
            upper_wins = len(capital) >= len(lower)
            rules.append(
                Rule(
                    "commits",
                    None,
                    "Commit subjects start with a capital letter"
                    if upper_wins
                    else "Commit subjects start in lower case",
                    ratio(max(len(capital), len(lower)), len(capital) + len(lower)),
                    Evidence(
                        max(len(capital), len(lower)),
                        len(capital) + len(lower),
                        exceptions=sample([_quoted(s) for s in (lower if upper_wins else capital)]),
                    ),
                    "commit-case",
                    value="capital" if upper_wins else "lower",
                )
            )
    periods = [s for s in subjects if s.rstrip().endswith(".")]
    rules.append(
        Rule(
            "commits",
            None,
            "Commit subjects do not end with a period"
            if len(periods) * 2 <= total
            else "Commit subjects end with a period",
            ratio(max(total - len(periods), len(periods)), total),
            Evidence(max(total - len(periods), len(periods)), total),
            "commit-period",
            value="no" if len(periods) * 2 <= total else "yes",
        )
    )
    lengths = sorted(len(s) for s in subjects)
    within = sum(n <= 72 for n in lengths)
    median = lengths[len(lengths) // 2]
    statement = (
        "Commit subjects are at most 72 characters"
        if within * 2 >= total
        else "Commit subjects often run past 72 characters"
    )
    rules.append(
        Rule(
            "commits",
            None,
            statement,
            ratio(within, total),
            Evidence(
                within,
                total,
                exceptions=sample([_quoted(s) for s in subjects if len(s) > 72]),
                detail=f"median length: {median}; at most 50: {percent(ratio(sum(n <= 50 for n in lengths), total))}",
            ),
            "commit-length",
            value="72" if within * 2 >= total else "longer",
        )
    )
    refs = [s for s in subjects if ISSUE_REF.search(s)]
    if ratio(len(refs), total) >= 0.5:
        rules.append(
            Rule(
                "commits",
                None,
                "Commit subjects reference an issue (#123 or KEY-123)",
                ratio(len(refs), total),
                Evidence(len(refs), total, sample([_quoted(s) for s in refs])),
                "commit-issue-refs",
                value="yes",
            )
        )
    bodies = sum(m.has_body for m in messages)
    rules.append(
        Rule(
            "commits",
            None,
            "Commits usually have a body explaining the change"
            if bodies * 2 > total
            else "Commits are usually a subject line only",
            ratio(max(bodies, total - bodies), total),
            Evidence(max(bodies, total - bodies), total),
            "commit-body",
            value="yes" if bodies * 2 > total else "no",
        )
    )
    return rules
