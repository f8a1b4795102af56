"""The digest file of one pass: `.codemem/digests/<date>-<first>-<last>.md`.

Frontmatter gives the date (of the newest commit, UTC), the commit range and counts; the body
has one section per commit: its subject, author, message body, files (skipped ones named),
and the definitions it added, changed and removed, or the model's summary when there is one.
Everything is sorted and derived from git, so the same range always gives the same text.
"""

from __future__ import annotations

from dataclasses import dataclass

from codemem.infra import clean_text, printable, utc_date
from codemem.sleep.changes import SymbolChanges, SymbolRef
from codemem.sleep.commits import Commit, CommitRange
from codemem.sleep.project import safe
from codemem.sleep.quoted import QUOTED_NOTE, quote_author, quote_message, quote_subject

MAX_FILES = 30
MAX_SYMBOLS = 30


@dataclass
class CommitDigest:
    """One commit with what the pass learned about it."""

    commit: Commit
    symbols: SymbolChanges
    summary: str | None = None  # by a model; None: the extractive summary stands alone

    def to_json(self) -> dict:
        c = self.commit
        return {
            "sha": c.sha, "author": c.author, "date": c.date, "subject": c.subject,
            "merge": c.is_merge, "files": [f.to_json() for f in c.files],
            "symbols": self.symbols.to_json(), "summary": self.summary,
        }


def digest_name(commits: list[Commit]) -> str:
    """`<date of the newest commit>-<first>-<last>.md` (one commit: `<date>-<sha>.md`)."""
    first, last = commits[0], commits[-1]
    day = utc_date(last.committed)
    return f"{day}-{first.short}.md" if first is last else f"{day}-{first.short}-{last.short}.md"


def _people(names: list[str]) -> str:
    names = list(dict.fromkeys(names))
    if len(names) == 1:
        return names[0]
    if len(names) <= 3:
        return ", ".join(names[:-1]) + " and " + names[-1]
    return ", ".join(names[:3]) + f" and {len(names) - 3} others"


def _symbols(refs: list[SymbolRef]) -> str:
    by_file: dict[str, list[str]] = {}
    for ref in refs[:MAX_SYMBOLS]:
        by_file.setdefault(ref.path, []).append(f"{ref.kind} `{safe(ref.qualname)}`")
    text = "; ".join(f"`{printable(path)}`: " + ", ".join(items) for path, items in by_file.items())
    if len(refs) > MAX_SYMBOLS:
        text += f"; and {len(refs) - MAX_SYMBOLS} more"
    return text


def _commit_section(item: CommitDigest) -> list[str]:
    c = item.commit
    lines = [f"## {c.date} `{c.short}` {quote_subject(c.subject)}", f"Author: {quote_author(c.author)}"]
    if c.body:
        lines += ["", *quote_message(c.body)]
    if item.summary:
        lines += ["", f"Summary: {clean_text(item.summary.strip())}"]
    if c.is_merge:
        lines += ["", "A merge: its changes are listed under the commits it merged."]
        return lines
    if c.truncated_history:
        lines += ["", "The history before this commit is not in this clone (shallow), so its changes are not listed."]
        return lines
    details = []
    shown = [f for f in c.files if f.skipped is None]
    if shown:
        parts = []
        for f in shown[:MAX_FILES]:
            counts = f", +{f.added} −{f.deleted}" if f.added is not None else ""
            moved = f" from `{printable(f.old_path)}`" if f.old_path else ""
            parts.append(f"`{printable(f.path)}` ({f.status}{counts}){moved}")
        more = f", and {len(shown) - MAX_FILES} more" if len(shown) > MAX_FILES else ""
        details.append("Files: " + ", ".join(parts) + more)
    skipped = [f for f in c.files if f.skipped is not None]
    if skipped:
        details.append("Skipped: " + ", ".join(f"`{printable(f.path)}` ({f.skipped})" for f in skipped[:MAX_FILES])
                       + (f", and {len(skipped) - MAX_FILES} more" if len(skipped) > MAX_FILES else ""))
    s = item.symbols
    for word, refs in (("Added", s.added), ("Changed", s.changed), ("Removed", s.removed)):
        if refs:
            details.append(f"{word}: {_symbols(refs)}")
    if s.files_not_compared:
        details.append(f"Not compared: {s.files_not_compared} code files (too many or too large)")
    if not c.files:
        details.append("No file changes.")
    return [*lines, "", *details]


def render_digest(commit_range: CommitRange, items: list[CommitDigest], rolled_off: list[str]) -> str:
    """The digest file's text."""
    commits = [item.commit for item in items]
    newest = commits[-1]
    first_day, day = commits[0].date, utc_date(newest.committed)
    base = commit_range.base
    range_text = f"{base[:7] if base else 'root'}..{newest.short}"
    summaries = "model" if any(item.summary for item in items) else "extractive"
    added = sum(f.added or 0 for c in commits for f in c.files if f.skipped is None)
    deleted = sum(f.deleted or 0 for c in commits for f in c.files if f.skipped is None)
    paths = {f.path for c in commits for f in c.files}
    noun = "commit" if len(commits) == 1 else "commits"
    span = first_day if first_day == commits[-1].date else f"{first_day} to {commits[-1].date}"
    lines = [
        "---",
        f"date: {day}",
        f"range: {range_text}",
        f"base: {base or 'null'}",
        f"head: {newest.sha}",
        f"commits: {len(commits)}",
        f"summaries: {summaries}",
        "---",
        f"# Digest {day}: {range_text}",
        "",
        f"{len(commits)} {noun} by {_people([quote_author(c.author) for c in commits])}, {span}: "
        f"{len(paths)} files changed, +{added} −{deleted} lines.",
        "",
        QUOTED_NOTE,
    ]
    if commit_range.omitted:
        lines.append(f"{commit_range.omitted} older commits in the range were left out (more than sleep.max_commits).")
    for item in items:
        lines += ["", *_commit_section(item)]
    if rolled_off:
        lines += ["", "## Rolled off the project block's recent changes", *rolled_off]
    return "\n".join(lines) + "\n"
