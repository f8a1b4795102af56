"""Code related to a change, for the model review: callers of the changed functions and their tests.

Which files use a changed function's name comes from the index's tag store (per-file
referenced names, loaded without LanceDB); without an index, from `git grep` (code files
only, never `.codemem/`). From each such
file the lines that use the name are shown with two lines around them, numbered; files
outside tests come first, then tests, within a character budget.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from codemem.code import CodeIndex, is_code, is_test_path, language_for_path, read_repo_file
from codemem.infra import grep_exclusions, run_git
from codemem.review.context import ReviewContext

log = logging.getLogger("codemem")

CONTEXT_LINES = 2
MAX_FILES = 12
MAX_LINES_PER_FILE = 40


def changed_names(ctx: ReviewContext) -> list[str]:
    """Names of the functions and methods whose bodies the change touches."""
    names = [
        s.name
        for _f, s in ctx.changed_symbols()
        if len(s.name) >= 3 and not s.name.startswith("__")
    ]
    return list(dict.fromkeys(names))


def referencing_files(
    root: Path, index: CodeIndex, names: set[str], max_bytes: int
) -> dict[str, set[str]]:
    """path -> the names it uses, from the index's tags if there are any, else `git grep`
    (which would read a file over `max_bytes` whole, a 50 GB sparse one too: left out)."""
    try:
        found = index.files_using(names)
    except Exception as exc:  # a broken store only means the slower path
        log.debug("no tag store: %s", exc)
        found = None
    if found is not None:
        return found
    out: dict[str, set[str]] = {}
    args = ["grep", "-I", "-l", "-w", "-F", "--untracked"]
    for name in sorted(names):
        args += ["-e", name]
    args += ["--", *grep_exclusions(root, (), max_bytes)]
    for line in run_git(root, *args, ok=(0, 1)).decode("utf-8", "replace").splitlines():
        out[line] = set(names)  # refined when the file's lines are read
    return out


def excerpt(
    lines: list[str], names: set[str], limit: int = MAX_LINES_PER_FILE
) -> tuple[list[str], set[str]]:
    """Numbered lines around each use of `names`, and which names were really found."""
    pattern = re.compile(r"\b(" + "|".join(re.escape(n) for n in sorted(names)) + r")\b")
    keep: set[int] = set()
    found: set[str] = set()
    for i, text in enumerate(lines):
        uses = pattern.findall(text)
        if uses:
            found.update(uses)
            keep.update(range(max(0, i - CONTEXT_LINES), min(len(lines), i + CONTEXT_LINES + 1)))
    out, last = [], None
    for i in sorted(keep)[:limit]:
        if last is not None and i != last + 1:
            out.append("   ...")
        out.append(f"{i + 1:5d}  {lines[i]}".rstrip())
        last = i
    return out, found


def related_code(ctx: ReviewContext, budget_chars: int) -> str:
    """Callers and tests of the changed functions, as Markdown, within `budget_chars`."""
    names = set(changed_names(ctx))
    if not names or budget_chars <= 0:
        return ""
    changed = {f.path for f in ctx.files}
    files = {
        p: used
        for p, used in referencing_files(
            ctx.ws.root, CodeIndex(ctx.ws, ctx.config), names, ctx.config.index.max_file_bytes
        ).items()
        if p not in changed and is_code(language_for_path(p)) and not p.startswith(".codemem/")
    }
    order = sorted(files, key=lambda p: (is_test_path(p), -len(files[p]), p))[:MAX_FILES]
    parts, used = [], 0
    for path in order:
        data, _reason = read_repo_file(ctx.ws.root, path, ctx.config.index.max_file_bytes)
        if data is None:
            continue
        from codemem.code import split_source  # tree-sitter: loaded on first use

        lines, found = excerpt(split_source(data), files[path])
        if not lines:
            continue
        role = "test" if is_test_path(path) else "caller"
        block = (
            f"### {path} ({role} of {', '.join(f'`{n}`' for n in sorted(found))})\n"
            + "\n".join(lines)
            + "\n"
        )
        if used + len(block) > budget_chars:
            break
        parts.append(block)
        used += len(block)
    return "\n".join(parts)
