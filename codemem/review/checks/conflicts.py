"""Merge conflict markers left in added lines."""

from __future__ import annotations

import re
from collections.abc import Iterator

from codemem.review.context import ReviewContext
from codemem.review.findings import Finding

RULE = "conflicts/marker"
_SIDE = re.compile(r"^(<{7}|>{7}|\|{7})(?: |$)")
_MIDDLE = re.compile(r"^={7}$")


def check(ctx: ReviewContext) -> Iterator[Finding]:
    """`<<<<<<<`, `|||||||`, `>>>>>>>` at the start of a line, and `=======` next to them.

    A lone `=======` is a Markdown or reStructuredText underline, so it counts only in a
    file whose added lines also hold one of the other markers.
    """
    for f in ctx.text_files():
        sides = {n: t for n, t in f.added.items() if _SIDE.match(t)}
        if not sides:
            continue
        for n, text in f.added.items():
            if n in sides or _MIDDLE.match(text):
                yield Finding(
                    RULE,
                    "error",
                    f.path,
                    n,
                    f"merge conflict marker `{text[:7]}` left in the file",
                    "resolve the conflict and remove the markers",
                    line_text=text,
                )
