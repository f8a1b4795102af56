"""Code tools over the index and git: `search_code`, `repo_map`, `git_diff`, `git_log`.

The repo map is shared with the context (the map the agent always sees): both ask the
context's `CodeIndex`, which keeps the tag store and graph loaded between calls. `git_diff`
names, rather than diffs, a changed work-tree file git would read whole or fail on (over
`MAX_DIFF_BYTES`, or a FIFO or a device).
"""

from __future__ import annotations

import re
from collections import Counter
from typing import TYPE_CHECKING, Literal

from codemem.agent.tools.budget import cut_line, number_lines
from codemem.agent.tools.registry import ToolError, ToolFunction
from codemem.infra import git_text, has_head, printable, run_git, worktree_exclusions

if TYPE_CHECKING:
    from codemem.agent.tools.toolbox import ToolContext
    from codemem.code import Hit

HIT_LINES = 30  # lines of code shown per search hit with detail=true
MATCH_LINES = 3  # lines shown per hit in the compact view: those with a query word
MATCH_LINE_CHARS = 160
SPANS_PER_FILE = 2  # in the compact view, while other files have hits too
MAX_MAP_TOKENS = 8_192
MAX_DIFF_BYTES = 10_000_000  # a changed work-tree file git_diff diffs (read_file reads as much)
_WORD = re.compile(r"[A-Za-z0-9_]{3,}")


def search_code(
    ctx: ToolContext,
    query: str,
    k: int = 10,
    level: Literal["chunk", "symbol", "file"] = "chunk",
    detail: bool = False,
) -> str:
    """Search the codebase (hybrid BM25 + symbols + paths) and show the best matches.

    Use it first for any question about the code: identifiers, error messages, tracebacks
    or plain-English descriptions all work. Each result shows where it is, its name and the
    lines that match; read a result's code with read_file(path, start_line, end_line), or
    ask for it with detail=true.

    Args:
        query: What to look for.
        k: How many results to return.
        level: Rank chunks of code, whole definitions (symbol) or files.
        detail: Show up to 30 lines of code per result instead of the matching lines only.
    """
    if not query.strip():
        raise ToolError("the query is empty: say what to look for")
    note = ctx.ensure_index()
    k = max(1, min(k, 50))
    if level == "file" or detail:
        hits = ctx.code.search(query, k=k, level=level)
    else:  # rank more, then keep the best spans of the best files
        hits = diverse(ctx.code.search(query, k=3 * k, level=level), k)
    if not hits:
        return _noted(
            "No results. Try other words, a likely identifier, or grep for an exact string.", note
        )
    parts = []
    words = {word.lower() for word in _WORD.findall(query)}
    for n, hit in enumerate(hits, 1):
        what = f" {hit.kind} {hit.symbol}" if hit.symbol else (f" {hit.kind}" if hit.kind else "")
        head = f"{n}. {printable(hit.path)}:{hit.start_line}-{hit.end_line}{what} (score {hit.score:.3f})"
        if level == "file" or not hit.text:
            parts.append(head)
        elif detail:
            parts.append(f"{head}\n{code_excerpt(hit)}")
        else:
            parts.append(f"{head}\n{matching_lines(hit, words)}")
    if level == "file":
        return _noted("\n".join(parts), note)
    text = "\n\n".join(parts)
    if not detail:
        text += (
            "\n\n[matching lines only: read_file(path, start_line, end_line) or detail=true "
            f"shows the code; k={min(2 * k, 50)} finds more]"
        )
    return _noted(text, note)


def _noted(text: str, note: str) -> str:
    """A tool's answer with `ToolContext.ensure_index`'s note, if any, after it."""
    return f"{text}\n\n{note}" if note else text


def diverse(hits: list[Hit], k: int) -> list[Hit]:
    """The first `k` of `hits` (best first) with at most `SPANS_PER_FILE` per file, topped
    up with the rest when there are too few files."""
    chosen: list[Hit] = []
    rest: list[Hit] = []
    per_file: Counter[str] = Counter()
    for hit in hits:
        if per_file[hit.path] < SPANS_PER_FILE:
            per_file[hit.path] += 1
            chosen.append(hit)
        else:
            rest.append(hit)
    chosen = chosen[:k]
    if len(chosen) < k:
        chosen += rest[: k - len(chosen)]
        chosen.sort(key=hits.index)
    return chosen


def code_excerpt(hit: Hit) -> str:
    """Up to `HIT_LINES` numbered lines of the hit, with how to read the rest."""
    lines = hit.text.splitlines()
    body = number_lines(lines[:HIT_LINES], hit.start_line)
    if len(lines) > HIT_LINES:
        rest = hit.start_line + HIT_LINES
        body += f'\n[{len(lines) - HIT_LINES} more lines: read_file("{printable(hit.path)}", start_line={rest})]'
    return body


def matching_lines(hit: Hit, words: set[str]) -> str:
    """The hit's numbered lines that contain a query word (at most `MATCH_LINES`), or its
    first line when none does (a match on meaning or on the path)."""
    lines = hit.text.splitlines()
    numbered = [(hit.start_line + i, line) for i, line in enumerate(lines) if line.strip()]
    found = [(n, line) for n, line in numbered if any(w in line.lower() for w in words)]
    shown = found[:MATCH_LINES] or numbered[:1]
    width = max(4, len(str(hit.end_line)))
    out = [f"{n:>{width}}\t{cut_line(line.rstrip(), MATCH_LINE_CHARS)}" for n, line in shown]
    if len(found) > MATCH_LINES:
        out.append(f"{'':>{width}}\t[{len(found) - MATCH_LINES} more matching lines]")
    return "\n".join(out)


def repo_map(
    ctx: ToolContext, focus: str | list[str] | None = None, tokens: int | None = None
) -> str:
    """Show the repo map: the most important files and their definitions, with line numbers.

    Files are ranked by how much the rest of the code uses them; focus on files,
    directories or symbols to see what matters around them.

    Args:
        focus: Paths, directories or symbol names to center the map on.
        tokens: Size of the map in tokens (default: the configured map size).
    """
    note = ctx.ensure_index()
    budget = tokens or ctx.map_tokens or 1024
    if not 64 <= budget <= MAX_MAP_TOKENS:
        raise ToolError(f"tokens must be between 64 and {MAX_MAP_TOKENS}, not {budget}")
    entries = [focus] if isinstance(focus, str) else list(focus or [])
    rendered = ctx.code.repo_map(budget, entries)
    if rendered is None:
        raise ToolError(
            "the index has no repo-map data: the index may still be building; use list_files"
        )
    text = rendered.text or "(the map is empty: nothing indexed, or the budget is too small)"
    if rendered.unmatched:
        text += "\n[no file or symbol matches: " + ", ".join(rendered.unmatched) + "]"
    return _noted(text, note)


def git_diff(ctx: ToolContext, rev: str | None = None) -> str:
    """Show changes as a unified diff: uncommitted changes, or against a revision or range.

    Args:
        rev: A commit, branch or range (HEAD~3, main, abc123..def456); default: every change not committed yet, new files included.
    """
    if rev is not None and (not rev.strip() or rev.strip().startswith("-") or "\0" in rev):
        raise ToolError(f"invalid revision {rev!r}: give a commit, branch or range like HEAD~1")
    root = ctx.ws.root
    if rev:
        base = [rev.strip()]
        if ".." in rev:  # two commits: the work tree is not read
            diff = git_text(root, "diff", "--no-color", "--no-ext-diff", *base, "--")
            return diff or f"No differences against {rev}."
    else:
        base = ["HEAD"] if has_head(root) else ["--cached"]
    left_out = _unreadable(ctx, base)
    diff = git_text(root, "diff", "--no-color", "--no-ext-diff", *base, "--", *left_out)
    if left_out:
        diff += (
            ("\n" if diff else "")
            + f"Left out (not a regular file, or over {MAX_DIFF_BYTES // 1_000_000} MB): "
            + ", ".join(printable(spec.partition(")")[2]) for spec in left_out)
            + "\n"
        )
    if rev:
        return diff or f"No differences against {rev}."
    untracked = [
        p for p in git_text(root, "ls-files", "-o", "--exclude-standard").splitlines() if p
    ]
    if untracked:
        diff += (
            "\nNew files not yet tracked by git:\n" + "\n".join(f"  {p}" for p in untracked) + "\n"
        )
    return diff or "No uncommitted changes."


def _unreadable(ctx: ToolContext, base: list[str]) -> list[str]:
    """Pathspecs leaving out the changed work-tree files git would read whole or fail on (a
    50 GB sparse file, a FIFO a pull left behind): `infra.worktree_exclusions`."""
    if base == ["--cached"]:
        return []
    names = run_git(ctx.ws.root, "diff", "--name-only", "-z", "--no-renames", *base, "--")
    paths = [p.decode("utf-8", "surrogateescape") for p in names.split(b"\0") if p]
    return worktree_exclusions(ctx.ws.root, paths, MAX_DIFF_BYTES)


def git_log(ctx: ToolContext, n: int = 20) -> str:
    """Show the most recent commits: short hash, date, author and subject.

    Args:
        n: How many commits to show.
    """
    if n < 1:
        raise ToolError(f"n must be at least 1, not {n}")
    if not has_head(ctx.ws.root):
        return "No commits yet."
    return (
        git_text(ctx.ws.root, "log", f"-n{min(n, 500)}", "--date=short", "--format=%h %ad %an: %s")
        or "No commits yet."
    )


CODE_READ_TOOLS: list[ToolFunction] = [search_code, repo_map, git_diff, git_log]
