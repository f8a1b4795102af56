"""The model review's prompt: memory, the change with new-file line numbers, related code.

Every part is cut to its share of a token budget (`review.llm_tokens`): the static findings
at most an eighth, memory at most a quarter of the rest, the change 55% plus what memory
left over, related code what remains. Cuts
happen at line boundaries and say what was left out.
"""

from __future__ import annotations

from codemem.review.diff import ChangedFile
from codemem.review.findings import Finding

CHARS_PER_TOKEN = 3.5
CONTEXT_LINES = 3

SYSTEM = """\
You review a code change in a repository whose memory (core memory blocks: the project, \
its conventions, the team's preferences) is given below. Find real problems in the added \
and changed lines: bugs, broken conventions from memory, missing error handling, security \
issues, misleading names, missing tests or docs where the conventions ask for them. Do not \
repeat anything listed under "Already reported", and do not report what a formatter fixes.

Cite only files shown under "Change", and lines by the numbers shown there (line numbers \
of the new version). Reply with one JSON object and nothing else:
{"findings": [{"file": "path/as/shown.py", "line": 12, "severity": "error", \
"rule": "short-kebab-case-name", "message": "what is wrong, in one or two sentences", \
"suggestion": "how to fix it, or an empty string"}]}

severity: "error" for a bug or a broken rule that must be fixed before merging, "warning" \
for what should be fixed, "info" for what is worth knowing. At most {max_findings} \
findings, the most important first. If nothing is wrong, reply {"findings": []}."""


def cut(text: str, budget: int, what: str) -> str:
    """`text` within `budget` characters, cut at a line boundary with a note saying so."""
    if len(text) <= budget:
        return text
    note = f"\n[... {what} cut here to fit the review budget]"
    head = text[: max(0, budget - len(note))]
    head = head[: head.rfind("\n")] if "\n" in head else ""
    return head + note


def render_file(f: ChangedFile) -> str:
    """One changed file: numbered new lines around each hunk, `+` added, `-` removed."""
    renamed = f", was {f.old_path}" if f.old_path and f.old_path != f.path else ""
    header = f"### {f.path} ({f.status}{renamed})"
    if f.binary:
        return f"{header}\n(binary file)\n"
    if f.data is None:
        return f"{header}\n(not shown: too large)\n"
    lines = f.lines
    added = f.added
    if f.whole:
        return (
            header + "\n" + "".join(f"{n:5d} + {text}".rstrip() + "\n" for n, text in added.items())
        )
    removed_before: dict[int, list[str]] = {}
    keep: set[int] = set()
    for hunk in f.hunks:
        at = hunk.new_start if hunk.new_count else hunk.new_start + 1
        removed_before.setdefault(at, []).extend(hunk.removed)
        first, last = hunk.new_start, hunk.new_start + max(hunk.new_count, 1) - 1
        keep.update(range(max(1, first - CONTEXT_LINES), min(len(lines), last + CONTEXT_LINES) + 1))
    out, previous = [header], None
    for n in sorted(keep | {at for at in removed_before if at > len(lines)}):
        if previous is not None and n != previous + 1:
            out.append("  ...")
        for text in removed_before.get(n, []):
            out.append(f"      - {text}")
        if n <= len(lines):
            out.append(f"{n:5d} {'+' if n in added else ' '} {lines[n - 1]}".rstrip())
        previous = n
    return "\n".join(out) + "\n"


def render_change(files: list[ChangedFile], budget: int) -> str:
    """The changed files within `budget` characters; files that do not fit are named."""
    parts: list[str] = []
    left_out: list[str] = []
    used = 0
    for f in files:
        block = render_file(f)
        if used + len(block) <= budget:
            parts.append(block)
            used += len(block)
        elif not left_out and budget - used > 400:
            parts.append(cut(block, budget - used, f"{f.path}"))
            used = budget
        else:
            left_out.append(f.path)
    if left_out:
        parts.append("Not shown for lack of budget: " + ", ".join(left_out))
    return "\n".join(parts)


def render_static(findings: list[Finding]) -> str:
    """The static findings as a list the model should not repeat."""
    if not findings:
        return "nothing"
    return "\n".join(f"- {f.file}:{f.line or '-'} {f.rule}: {f.message}" for f in findings[:50])


def build_prompt(
    memory: str,
    files: list[ChangedFile],
    related: str | None,
    static: list[Finding],
    target: str,
    budget_tokens: int,
    max_findings: int,
) -> tuple[str, str]:
    """(system, user message) within about `budget_tokens` tokens.

    `related` may be None when there is none; it is cut to whatever the other parts leave.
    """
    system = SYSTEM.replace("{max_findings}", str(max_findings))
    room = int(budget_tokens * CHARS_PER_TOKEN) - len(system) - 400
    static_text = cut(render_static(static), max(200, room // 8), "list")
    total = room - len(static_text)
    memory_text = cut(memory.strip() or "(no memory blocks yet)", max(500, total // 4), "memory")
    change_budget = max(1_000, int(total * 0.55) + (total // 4 - len(memory_text)))
    change_text = render_change(files, change_budget)
    related_budget = total - len(memory_text) - len(change_text)
    related_text = cut(related or "", max(0, related_budget), "related code") if related else ""
    user = (
        f"## Memory\n{memory_text}\n\n"
        f"## Already reported by the static checks\n{static_text}\n\n"
        f"## Change ({target})\nLines marked + are added or changed; - lines were removed.\n\n{change_text}\n"
    )
    if related_text:
        user += f"\n## Related code (callers and tests of the changed functions)\n{related_text}\n"
    return system, user
