"""The digest file of one pass: `.codemem/digests/<date>-<base>-<head>.md`.

The name and the frontmatter come from the commits shown and HEAD alone (HEAD less the
commits of `.codemem/` alone on top of it; the date is the head commit's, in UTC; `base` is the parent of the oldest commit shown, `root` for none), so
two clones that digest the same range write the same file under the same name, and the
digests' `head`s tell every clone how far the history is digested. The body has one section
per project change: its subject, author, message body, files (skipped ones named), and the
definitions it added, changed and removed, or the model's summary when there is one; bot
commits are summarised in one line; commits of `.codemem/` alone and merges without changes
of their own are left out. Everything is sorted and derived from git, so the same range
always gives the same text.

The frontmatter's `checksum:` is that of the rest of the text as codemem wrote it
(`as_written`): a digest a person has since written into is told from one codemem wrote, and
no automatic step removes it (`sleep/overlaps.py`).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from codemem.infra import clean_text, printable, utc_date
from codemem.sleep.changes import SymbolChanges, SymbolRef
from codemem.sleep.commits import BOT, Commit, CommitRange
from codemem.sleep.patches import range_key
from codemem.sleep.project import safe
from codemem.sleep.quoted import QUOTED_NOTE, quote_author, quote_message, quote_subject

MAX_FILES = 30
MAX_SYMBOLS = 30
MAX_BOT_SUBJECTS = 10
# after `summaries:`; digests older versions wrote have none
_CHECKSUM_LINE = re.compile(r"^checksum: ([0-9a-f]{32})\n", re.MULTILINE)


@dataclass
class CommitDigest:
    """One commit with what the pass learned about it."""

    commit: Commit
    symbols: SymbolChanges
    summary: str | None = None  # by a model; None: the extractive summary stands alone

    def to_json(self) -> dict:
        c = self.commit
        return {
            "sha": c.sha,
            "author": c.author,
            "date": c.date,
            "subject": c.subject,
            "merge": c.is_merge,
            "files": [f.to_json() for f in c.files],
            "symbols": self.symbols.to_json(),
            "summary": self.summary,
        }


def file_head(commit_range: CommitRange) -> str | None:
    """The head the file names: HEAD, less the memory commits on top of it."""
    return commit_range.digest_head or commit_range.head


def head_commit_of(commit_range: CommitRange) -> Commit | None:
    """The file's head commit, digested or skipped."""
    every = [*commit_range.commits, *(c for c, _ in commit_range.skipped)]
    return next((c for c in every if c.sha == file_head(commit_range)), None)


def range_text(commit_range: CommitRange) -> str:
    """`<base>..<head>` in short ids (`root..<head>` from the first commit)."""
    base, head = commit_range.base, file_head(commit_range) or ""
    return f"{base[:7] if base else 'root'}..{head[:7]}"


def digest_name(commit_range: CommitRange) -> str:
    """`<date of the head commit>-<base>-<head>.md`, the range of the file's header."""
    head = head_commit_of(commit_range)
    day = utc_date(head.committed) if head else "0000-00-00"
    return f"{day}-{range_text(commit_range).replace('..', '-')}.md"


def _people(names: list[str]) -> str:
    names = list(dict.fromkeys(names))
    if len(names) == 1:
        return names[0]
    if len(names) <= 3:
        return ", ".join(names[:-1]) + " and " + names[-1]
    rest = len(names) - 3
    return ", ".join(names[:3]) + f" and {rest} other" + ("" if rest == 1 else "s")


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
    lines = [
        f"## {c.date} `{c.short}` {quote_subject(c.subject)}",
        f"Author: {quote_author(c.author)}",
    ]
    if c.body:
        lines += ["", *quote_message(c.body)]
    if item.summary:
        lines += ["", f"Summary: {clean_text(item.summary.strip())}"]
    if c.is_merge:  # only merges with changes of their own (resolved conflicts) are digested
        files = ", ".join(f"`{f.path}`" for f in c.files[:MAX_FILES])
        more = f", and {len(c.files) - MAX_FILES} more" if len(c.files) > MAX_FILES else ""
        lines += [
            "",
            f"A merge with changes of its own in {files}{more}; the rest is under the commits it merged.",
        ]
        return lines
    if c.truncated_history:
        lines += [
            "",
            "The history before this commit is not in this clone (shallow), so its changes are not listed.",
        ]
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
        details.append(
            "Skipped: "
            + ", ".join(f"`{printable(f.path)}` ({f.skipped})" for f in skipped[:MAX_FILES])
            + (f", and {len(skipped) - MAX_FILES} more" if len(skipped) > MAX_FILES else "")
        )
    s = item.symbols
    for word, refs in (("Added", s.added), ("Changed", s.changed), ("Removed", s.removed)):
        if refs:
            details.append(f"{word}: {_symbols(refs)}")
    if s.files_not_compared:
        details.append(f"Not compared: {s.files_not_compared} code files (too many or too large)")
    if not c.files:
        details.append("No file changes.")
    return [*lines, "", *details]


def _left_out(commit_range: CommitRange) -> list[str]:
    """One line for the bots' commits. (Commits of `.codemem/` and empty merges are not
    named: which of them a range holds depends on the clone, and the file must not.)"""
    lines = []
    bots = [c for c, reason in commit_range.skipped if reason == BOT]
    if bots:
        subjects = [quote_subject(c.subject) for c in bots]
        more = (
            f"; and {len(subjects) - MAX_BOT_SUBJECTS} more"
            if len(subjects) > MAX_BOT_SUBJECTS
            else ""
        )
        lines.append(
            f"Dependency and bot updates ({len(bots)}): "
            + "; ".join(subjects[:MAX_BOT_SUBJECTS])
            + more
        )
    return lines


def _keys(commit_range: CommitRange) -> list[str]:
    """The frontmatter's `keys:`: what names the commits shown (the project changes, then the
    bots') once a rebase, an amend or a reword gives them new ids (`Commit.key`, then
    `Commit.patch_key`), and what names their range once squashed (`range_key`)."""
    shown = [*commit_range.commits, *(c for c, reason in commit_range.skipped if reason == BOT)]
    if not shown:
        return []
    keys = dict.fromkeys(c.key for c in shown)
    keys.update(dict.fromkeys(c.patch_key for c in shown if c.patch_key is not None))
    if commit_range.patch_id is not None:
        keys[range_key(commit_range.patch_id)] = None
    return ["keys:", *(f"- {key}" for key in keys)]


def render_digest(commit_range: CommitRange, items: list[CommitDigest]) -> str:
    """The digest file's text (`items`: the range's project changes, oldest first)."""
    commits = [item.commit for item in items]
    head = head_commit_of(commit_range)
    day = utc_date(head.committed) if head else "0000-00-00"
    text_range = range_text(commit_range)
    summaries = "model" if any(item.summary for item in items) else "extractive"
    lines = [
        "---",
        f"date: {day}",
        f"range: {text_range}",
        f"base: {commit_range.base or 'null'}",
        f"head: {file_head(commit_range)}",
        f"commits: {len(commits)}",
        f"summaries: {summaries}",
        CHECKSUM,
        *_keys(commit_range),
        "---",
        f"# Digest {day}: {text_range}",
        "",
    ]
    if commits:
        added = sum(f.added or 0 for c in commits for f in c.files if f.skipped is None)
        deleted = sum(f.deleted or 0 for c in commits for f in c.files if f.skipped is None)
        paths = {f.path for c in commits for f in c.files}
        noun = "commit" if len(commits) == 1 else "commits"
        days = sorted(c.date for c in commits)
        span = days[0] if days[0] == days[-1] else f"{days[0]} to {days[-1]}"
        lines.append(
            f"{len(commits)} {noun} by {_people([quote_author(c.author) for c in commits])}, {span}: "
            f"{len(paths)} files changed, +{added} −{deleted} lines."
        )
        lines += ["", QUOTED_NOTE]
    if commit_range.omitted:
        lines.append(
            f"{commit_range.omitted} older commits in the range were left out (more than sleep.max_commits)."
        )
    lines += _left_out(commit_range)
    for item in items:
        lines += ["", *_commit_section(item)]
    text = "\n".join(lines) + "\n"
    unmarked = text.replace(f"\n{CHECKSUM}\n", "\n", 1)
    return text.replace(CHECKSUM, f"checksum: {_checksum(unmarked)}", 1)


CHECKSUM = "checksum: <of the rest>"  # a stand-in, replaced once the text is whole


def _checksum(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogateescape"), digest_size=16).hexdigest()


def as_written(data: bytes) -> bool | None:
    """Whether a digest file's bytes are the text codemem wrote (line ends aside: git may
    check it out with CRLF); False when they were edited since (or are no UTF-8 text), None
    when its frontmatter holds no `checksum:` (written by an older codemem: cannot tell)."""
    try:
        text = data.decode("utf-8").replace("\r\n", "\n")
    except UnicodeDecodeError:
        return False
    head, sep, _ = text.partition("\n---\n")
    found = _CHECKSUM_LINE.search(head + "\n") if sep and text.startswith("---\n") else None
    if found is None:
        return None
    unmarked = text[: found.start()] + text[found.end() :]
    return _checksum(unmarked) == found[1]
