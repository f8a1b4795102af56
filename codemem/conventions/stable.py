"""Rules in the form that is stored and shown: nothing in it moves unless the rule changes.

The miner counts; the records and the block must not repeat the counts, or every digest
would rewrite them and two clones that digest would conflict on every pull. So a stored rule
says how much of the code follows it as a band (`rules.BANDS`: all, almost all, most...), keeps
no counts, and shows a few examples and exceptions chosen deterministically from the miner's
candidates, keeping the ones the previous records showed for as long as they still hold
(they are still among the candidates). The same facts and previous records give the same
rules on any machine.
"""

from __future__ import annotations

from codemem.conventions.rules import Evidence, Rule, band_of

MAX_EXAMPLES = 3


def _key(rule: Rule) -> tuple:
    return (rule.topic, rule.kind, rule.language, rule.subject, rule.value)


def keep_chosen(
    shown: tuple[str, ...], candidates: tuple[str, ...], limit: int = MAX_EXAMPLES
) -> tuple[str, ...]:
    """The items shown before that are still candidates, then the first other candidates."""
    still = set(candidates)
    kept = [item for item in dict.fromkeys(shown) if item in still][:limit]
    kept += [item for item in candidates if item not in kept][: limit - len(kept)]
    return tuple(kept)


def stable_rule(rule: Rule, previous: Rule | None = None) -> Rule:
    """`rule` with its share as a band, no counts, and examples kept from `previous`."""
    ev = rule.evidence
    before = previous.evidence if previous is not None else Evidence()
    band = band_of(rule.share) if rule.share is not None else None
    exceptions = set(ev.exceptions)
    evidence = Evidence(
        # An exception is never shown as an example of the rule it breaks.
        examples=keep_chosen(before.examples, tuple(e for e in ev.examples if e not in exceptions)),
        exceptions=keep_chosen(before.exceptions, ev.exceptions),
        sources=ev.sources,
        # A counted rule's detail is more counts; a configured rule's is its settings.
        detail=ev.detail if rule.share is None else "",
    )
    return Rule(
        rule.topic,
        rule.language,
        rule.statement,
        band.lower if band else None,
        evidence,
        rule.kind,
        rule.subject,
        rule.value,
        band.key if band else None,
    )


def stable_rules(rules: list[Rule], previous: list[Rule] | None = None) -> list[Rule]:
    """Every rule made stable (`stable_rule`), matched with the previous records by what it asserts."""
    before = {_key(rule): rule for rule in previous or ()}
    return [stable_rule(rule, before.get(_key(rule))) for rule in rules]
