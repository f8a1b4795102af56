"""Code tools over the index and git: `search_code`, `repo_map`, `git_diff`, `git_log`.

The repo map is shared with the context (the map the agent always sees): both ask the
context's `CodeIndex`, which keeps the tag store and graph loaded between calls.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from codemem.agent.tools.budget import number_lines
from codemem.agent.tools.registry import ToolError
from codemem.infra import git_text, has_head, printable

if TYPE_CHECKING:
    from codemem.agent.tools.toolbox import ToolContext

HIT_LINES = 30  # lines of code shown per search hit
MAX_MAP_TOKENS = 8_192




def search_code(
    ctx: ToolContext, query: str, k: int = 10, level: Literal["chunk", "symbol", "file"] = "chunk"
) -> str:
    """Search the codebase (hybrid BM25 + symbols + paths) and show the best matches.

    Use it first for any question about the code: identifiers, error messages, tracebacks
    or plain-English descriptions all work.

    Args:
        query: What to look for.
        k: How many results to return.
        level: Rank chunks of code, whole definitions (symbol) or files.
    """
    if not query.strip():
        raise ToolError("the query is empty: say what to look for")
    ctx.ensure_index()
    hits = ctx.code.search(query, k=max(1, min(k, 50)), level=level)
    if not hits:
        return "No results. Try other words, a likely identifier, or grep for an exact string."
    parts = []
    for n, hit in enumerate(hits, 1):
        what = f" {hit.kind} {hit.symbol}" if hit.symbol else (f" {hit.kind}" if hit.kind else "")
        head = f"{n}. {printable(hit.path)}:{hit.start_line}-{hit.end_line}{what} (score {hit.score:.3f})"
        if level == "file" or not hit.text:
            parts.append(head)
            continue
        lines = hit.text.splitlines()
        body = number_lines(lines[:HIT_LINES], hit.start_line)
        if len(lines) > HIT_LINES:
            rest = hit.start_line + HIT_LINES
            body += f'\n[{len(lines) - HIT_LINES} more lines: read_file("{printable(hit.path)}", start_line={rest})]'
        parts.append(f"{head}\n{body}")
    return ("\n" if level == "file" else "\n\n").join(parts)


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
    ctx.ensure_index()
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
    return text


def git_diff(ctx: ToolContext, rev: str | None = None) -> str:
    """Show changes as a unified diff: uncommitted changes, or against a revision or range.

    Args:
        rev: A commit, branch or range (HEAD~3, main, abc123..def456); default: every change not committed yet, new files included.
    """
    if rev is not None and (not rev.strip() or rev.strip().startswith("-")):
        raise ToolError(f"invalid revision {rev!r}: give a commit, branch or range like HEAD~1")
    root = ctx.ws.root
    if rev:
        diff = git_text(root, "diff", "--no-color", "--no-ext-diff", rev.strip(), "--")
        return diff or f"No differences against {rev}."
    base = ["HEAD"] if has_head(root) else ["--cached"]
    diff = git_text(root, "diff", "--no-color", "--no-ext-diff", *base, "--")
    untracked = [p for p in git_text(root, "ls-files", "-o", "--exclude-standard").splitlines() if p]
    if untracked:
        diff += (
            "\nNew files not yet tracked by git:\n" + "\n".join(f"  {p}" for p in untracked) + "\n"
        )
    return diff or "No uncommitted changes."


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


CODE_READ_TOOLS = [search_code, repo_map, git_diff, git_log]
