"""Review feedback: dismissed findings, and the confidence of rules that keep being dismissed.

`codemem review --dismiss ID [--reason TEXT]` writes one small JSON file per dismissed
finding to `.codemem/review/dismissed/<id>.json` (committed, so the team shares it; one file
per dismissed finding, so two people dismissing different ones never meet in a merge). It
holds the finding's id, rule and file, the reason, who dismissed it and when, and never the
line's text, which may be a secret. Two teammates who dismiss one finding each keep their
reason: the merge driver keeps the earliest dismissal at the top and the others in `also`
(`conventions/dismissal_merge.py`), and a dismissal again replaces only one's own.

Effects:

- a dismissed finding is not reported again (its id survives line shifts);
- every `review.dismiss_after` dismissals of one rule halve that rule's confidence
  (`rule_confidence`); each halving lowers the rule's findings one severity level, and once
  a finding's confidence is under `review.min_confidence` it is no longer shown. The
  sleep-time pass reads the same numbers to mark learned conventions that reviews reject.
  Not the secret scan's findings: dismissing the fake keys of test fixtures says nothing
  about the next key, so each one is shown until it is itself dismissed (or marked
  `codemem: ignore` on its line).

To find a finding by id, every review keeps what it reported in
`.codemem/local/review/findings.json` (not committed; the newest 2,000 findings).
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from codemem.conventions import dismissal_entries, dismissal_text
from codemem.errors import FileTooLarge, NotARegularFile, UsageError
from codemem.infra import (
    atomic_write,
    iso_utc,
    json_text,
    line_ends,
    make_folder,
    printable,
    read_regular,
    utc_now,
)
from codemem.memory import (
    BlockFormatError,
    check_memory_write,
    read_memory_bytes,
    read_memory_file,
)
from codemem.review.findings import Finding, demote
from codemem.workspace import Workspace

log = logging.getLogger("codemem")
CACHE_LIMIT = 2_000
CACHE_MAX_BYTES = 16 * 1024 * 1024  # far above CACHE_LIMIT findings
SECRETS = "secrets/"  # the secret scan's rules: never lowered by other findings' dismissals


@dataclass(frozen=True)
class Reason:
    """One teammate's dismissal of a finding: why, who and when."""

    reason: str
    by: str
    at: str  # ISO 8601, UTC


@dataclass(frozen=True)
class Dismissal:
    """One dismissed finding: the first dismissal's reason, who and when, and in `also` the
    other teammates' (merged into its file by the merge driver), by time."""

    id: str
    rule: str
    file: str
    reason: str
    by: str
    at: str  # ISO 8601, UTC
    also: tuple[Reason, ...] = ()

    @property
    def reasons(self) -> list[Reason]:
        """Every dismissal of the finding, the first one first."""
        return [Reason(self.reason, self.by, self.at), *self.also]

    def to_json(self) -> dict[str, object]:
        """The finding and every dismissal of it, for `review --dismissed --format json`."""
        return {
            "id": self.id,
            "rule": self.rule,
            "file": self.file,
            "reasons": [asdict(reason) for reason in self.reasons],
        }


def dismissed_dir(ws: Workspace) -> Path:
    """`.codemem/review/dismissed/`: one JSON file per dismissed finding (committed)."""
    return ws.dir / "review" / "dismissed"


def cache_path(ws: Workspace) -> Path:
    """The local cache of recent findings that `--dismiss` looks ids up in."""
    return ws.local_dir / "review" / "findings.json"


def load_dismissals(ws: Workspace) -> list[Dismissal]:
    """Every readable dismissal, by id (an unreadable file is skipped, not fatal)."""
    folder = dismissed_dir(ws)
    if not folder.is_dir():
        return []
    out = []
    for path in sorted(folder.glob("*.json")):
        try:
            text = read_memory_file(ws, path)  # a link or a path out: skipped, with a warning
            if text is None:
                continue
            data = json.loads(text)
            out.append(_dismissal(data, _entries(data, text, path.relative_to(ws.root))))
        except (OSError, ValueError, TypeError, AttributeError, RecursionError) as exc:
            where = printable(path.relative_to(ws.root).as_posix())
            log.warning("skipped %s: not a dismissal (%s)", where, exc)
        except BlockFormatError as exc:  # too large, or not UTF-8
            log.warning("skipped %s", exc)
    return out


def _dismissal(data: dict, entries: list[tuple[str, str, str]]) -> Dismissal:
    """The dismissal a file's JSON holds, with its `entries` (reason, by, at), first first."""
    first, *others = entries or [("", "", "")]
    fields = {k: str(data.get(k) or "") for k in ("id", "rule", "file")}
    also = tuple(Reason(*entry) for entry in others)
    return Dismissal(**fields, **asdict(Reason(*first)), also=also)


def _entries(data: dict, text: str, where: Path) -> list[tuple[str, str, str]]:
    """The dismissals (reason, by, at) of a file: the first alone, with a warning, when its
    `also` is not a list of them (the finding stays dismissed)."""
    try:
        return dismissal_entries(text)
    except ValueError:
        log.warning("%s: `also` is not a list of dismissals: ignored", printable(where.as_posix()))
        reason, by, at = (str(data.get(key) or "") for key in ("reason", "by", "at"))
        return [(reason, by, at)]


def confidence_from(dismissals: list[Dismissal], dismiss_after: int) -> dict[str, float]:
    """Rule id -> confidence in (0, 1]: halved for every `dismiss_after` dismissals, each
    teammate's dismissal of one finding counted (a finding's file holds them all)."""
    counts: dict[str, int] = {}
    for item in dismissals:
        counts[item.rule] = counts.get(item.rule, 0) + len(item.reasons)
    return {rule: 0.5 ** (n // dismiss_after) for rule, n in sorted(counts.items())}


def rule_confidence(ws: Workspace, dismiss_after: int | None = None) -> dict[str, float]:
    """Confidence of each rule that has been dismissed (rules not listed are at 1.0).

    `dismiss_after` defaults to the project's `review.dismiss_after`.
    """
    if dismiss_after is None:
        from codemem.config import load_config

        dismiss_after = load_config(ws.config_file).review.dismiss_after
    return confidence_from(load_dismissals(ws), dismiss_after)


def halvings(confidence: float) -> int:
    """How many times a rule's confidence has been halved."""
    n = 0
    while confidence < 1.0 and n < 10:
        confidence *= 2
        n += 1
    return n


def apply_feedback(
    findings: list[Finding], dismissals: list[Dismissal], dismiss_after: int, min_confidence: float
) -> tuple[list[Finding], int]:
    """Drop dismissed findings, lower the rest by their rule's confidence; (kept, dropped)."""
    dismissed = {d.id for d in dismissals}
    confidence = confidence_from(dismissals, dismiss_after)
    kept, dropped = [], 0
    for finding in findings:
        if finding.id in dismissed:
            dropped += 1
            continue
        if finding.rule.startswith(SECRETS):
            kept.append(finding)
            continue
        factor = confidence.get(finding.rule, 1.0)
        if factor < 1.0:
            finding = finding.with_changes(
                confidence=finding.confidence * factor,
                severity=demote(finding.severity, halvings(factor)),
            )
        if finding.confidence < min_confidence:
            dropped += 1
            continue
        kept.append(finding)
    return kept, dropped


def remember_findings(ws: Workspace, findings: list[Finding]) -> None:
    """Add this review's findings to the local cache `--dismiss` looks ids up in."""
    path = cache_path(ws)
    cached = _read_cache(path)
    for finding in findings:
        cached.pop(finding.id, None)
        cached[finding.id] = {k: v for k, v in finding.to_json().items() if k != "id"}
    if len(cached) > CACHE_LIMIT:
        cached = dict(list(cached.items())[-CACHE_LIMIT:])
    ws.ensure_local()
    make_folder(path.parent)
    atomic_write(path, json_text({"findings": cached}) + "\n")


def _read_cache(path: Path) -> dict[str, dict]:
    # Derived, and `git add -f` commits it anyway: a link (to `/dev/zero`, to a key) or a FIFO
    # in its place is neither followed nor waited on, and what is read is bounded, else a
    # review that found something would never end, and the hook would let the commit through.
    try:
        data = json.loads(read_regular(path, max_bytes=CACHE_MAX_BYTES))
        findings = data.get("findings", {})
        return findings if isinstance(findings, dict) else {}
    except (OSError, ValueError, AttributeError, NotARegularFile, FileTooLarge):
        return {}


def _dismissals_in(ws: Workspace, path: Path) -> tuple[list[tuple[str, str, str]], str]:
    """The dismissals (reason, by, at) the file at `path` holds already (teammates' ones merged
    into it), none when there is no readable one; and the line ends it uses, which its rewrite
    keeps (CRLF from a teammate's checkout on Windows: else every line of it would change)."""
    try:
        data = read_memory_bytes(ws, path) if path.is_file() else None
        if data is None:  # a new file: in the line ends git would check it out with
            return [], ws.new_file_line_ends(path)
        return dismissal_entries(data.decode("utf-8").replace("\r\n", "\n")), line_ends(data)
    except (OSError, ValueError, RecursionError, BlockFormatError):
        return [], "\n"  # replaced, as it always was


def find_cached(ws: Workspace, finding_id: str) -> tuple[str, dict]:
    """The cached finding whose id is `finding_id` or starts with it (at least 6 characters)."""
    wanted = finding_id.strip().lower()
    if len(wanted) < 6:
        raise UsageError(f"--dismiss {finding_id}: give at least 6 characters of the finding id")
    cached = _read_cache(cache_path(ws))
    matches = [key for key in cached if key.startswith(wanted)]
    if not matches:
        if not ws.dir.is_dir():  # dismissals live in .codemem/: `init`, or the sparse fix
            try:
                ws.check_initialized()
            except UsageError as exc:
                raise UsageError(f"--dismiss {finding_id}: {exc}") from None
        raise UsageError(
            f"--dismiss {finding_id}: no finding with that id in the recent reviews; run "
            "`codemem review` (or commit again) and copy the id it prints"
        )
    if len(matches) > 1:
        raise UsageError(
            f"--dismiss {finding_id}: several findings start with it: {', '.join(sorted(matches))}"
        )
    return matches[0], cached[matches[0]]


def dismiss(
    ws: Workspace,
    finding_id: str,
    reason: str = "",
    by: str | None = None,
    now: datetime | None = None,
) -> tuple[Dismissal, int]:
    """Record that a finding is not a problem; returns it as recorded (with teammates' earlier
    dismissals of it, the earliest first) and how often its rule was dismissed."""
    from codemem.memory import user_slug

    full_id, data = find_cached(ws, finding_id)
    item = Dismissal(
        full_id,
        data["rule"],
        data["file"],
        reason.strip(),
        by or user_slug(ws.root),
        iso_utc(now or utc_now()),
    )
    path = dismissed_dir(ws) / f"{full_id}.json"
    check_memory_write(ws, path)  # not through a cloned link to a folder out of the repository
    entries, ends = _dismissals_in(ws, path)
    others = [entry for entry in entries if entry[1] != item.by]
    make_folder(path.parent)
    fields = asdict(item)
    del fields["also"]
    text = dismissal_text(fields, [*others, (item.reason, item.by, item.at)])
    atomic_write(path, text.replace("\n", ends))
    count = sum(1 for d in load_dismissals(ws) if d.rule == item.rule)
    return _dismissal(fields, dismissal_entries(text)), count
