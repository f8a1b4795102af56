"""Text from the repository (commit messages, README paragraphs) quoted into memory as data.

Memory blocks are read by every agent as trusted context, so whatever codemem copies into
them from commits or files is shown as a quotation, never as text of its own: one line in
a code span (`code_span`) or lines behind `> ` (`quote_block`), bounded in length, with
control characters removed, secrets redacted (`redact_text`), memory region markers
defused and no line that starts like a heading, a fence or HTML.
"""

from __future__ import annotations

import re
import unicodedata

from codemem.infra.redaction import redact_text

MAX_QUOTED_CHARS = 200  # one quoted line (a commit subject, a line of a message)
_BACKTICKS = re.compile(r"`+")
_STRUCTURE = re.compile(
    r"^(#|=|<|>|```|~~~|---|\*\*\*|___|\[)"
)  # a quoted line may not start like these


def clean_text(text: str) -> str:
    """`text` without control or invisible format characters (tabs become spaces; line breaks
    stay), secrets redacted and memory region markers (`<!--`, `-->`) defused."""
    text = text.replace("\r\n", "\n").replace("\t", " ")
    kept = "".join(c for c in text if c == "\n" or unicodedata.category(c) not in ("Cc", "Cf"))
    return redact_text(kept).replace("<!--", "< !--").replace("-->", "-- >")


def bounded(text: str, max_chars: int) -> str:
    """`text` cut to at most `max_chars` characters, a cut marked with `…`."""
    return text if len(text) <= max_chars else text[: max(0, max_chars - 1)].rstrip() + "…"


def one_line(text: str, max_chars: int = MAX_QUOTED_CHARS) -> str:
    """`clean_text` on one line: runs of white space (line breaks too) become one space, bounded."""
    return bounded(" ".join(clean_text(text).split()), max_chars)


def code_span(text: str, max_chars: int = MAX_QUOTED_CHARS) -> str:
    """`one_line(text)` as a Markdown code span, fenced by more backticks than it holds."""
    line = one_line(text, max_chars)
    if not line:
        return "(empty)"
    fence = "`" * (max((len(run) for run in _BACKTICKS.findall(line)), default=0) + 1)
    pad = " " if line.startswith("`") or line.endswith("`") else ""
    return f"{fence}{pad}{line}{pad}{fence}"


def quote_block(text: str, max_lines: int, max_chars: int = MAX_QUOTED_CHARS) -> list[str]:
    """The lines of `text` behind `> `, cleaned and bounded; a line that would start like a
    heading, a fence or HTML is escaped with a backslash; past `max_lines` one line says how
    many more there were."""
    lines = clean_text(text).split("\n")
    out = []
    for line in lines[:max_lines]:
        line = bounded(line.rstrip(), max_chars)
        stripped = line.lstrip()
        if _STRUCTURE.match(stripped):
            line = line[: len(line) - len(stripped)] + "\\" + stripped
        out.append(f"> {line}".rstrip())
    if len(lines) > max_lines:
        out.append(f"> … ({len(lines) - max_lines} more lines)")
    return out
