"""The comment block above a definition: its docstring and where the definition's chunk starts.

`CommentsAbove` reads one file's lines. A comment region is scanned upward from its lowest
line once: what is found is kept for every line on the way, so a run of definitions each
under the last (struct fields or macros with trailing `/* ... */`, which read as comment
lines) costs a line each, not the whole run each. A docstring keeps its first
`DOCSTRING_CHARS` characters, so only the lines that make them are cleaned.
"""

from __future__ import annotations

import re

DOCSTRING_CHARS = 500
_MAX_COMMENT_LINES = 200  # a `*/` without its `/*` within this many lines ends there
_COMMENT_MARK = re.compile(r"^(?:/{2,}!?|/\*+!?|\*+(?!/)|#+!?|--)\s?")
_XML_DOC_TAG = re.compile(r"</?(?:summary|remarks|returns|value|para|example)\b[^>]*>")


class CommentsAbove:
    """The comment blocks above one file's definitions, by the definition's first row.

    `style` is the grammar's comment style: "hash" (`#`), "php" (`#` and the C ones), or
    any other for the C ones (`//`, `/* */`).
    """

    def __init__(self, lines: list[str], style: str) -> None:
        self._lines = lines
        self._hash = style in ("hash", "php")
        self._slash = style != "hash"
        self._found: dict[int, tuple[str, int]] = {}  # row -> (docstring, first row)
        # row -> the first row of the comment region that a scan reaching `row` (past a
        # comment line below it) ends at
        self._tops: dict[int, int] = {}
        # a region's first row -> (row, docstring): every block from it down to that row or
        # further has this docstring (its first `DOCSTRING_CHARS` characters are reached)
        self._full: dict[int, tuple[int, str]] = {}
        # a region's first row -> (the last row searched for `</` from it, the first row
        # holding one, or -1)
        self._tags: dict[int, tuple[int, int]] = {}

    def above(self, row: int) -> tuple[str, int]:
        """The comment block right above `row` (markers stripped) and the first row of the
        definition's chunk: the block's, else that of attribute lines (`#[derive]`,
        `@Annotation`) right above it, else `row`. Attribute lines between the comment and
        the definition are part of the definition's chunk but not of its docstring."""
        found = self._found.get(row)
        if found is not None:
            return found
        lines, slash, hash_ = self._lines, self._slash, self._hash
        found = ("", row)
        i = row - 1
        while i >= 0:  # attribute lines, up to the lowest comment line
            text = lines[i].strip()
            if not text:
                if i == row - 1 and slash and i > 0 and self._doc_block_ends(i - 1):
                    i -= 1  # a JSDoc/Javadoc block may stand one blank line above what it documents
                    continue
                break
            # `_is_comment`, inlined: this runs for every definition
            if (slash and (text.endswith("*/") or text.startswith("//"))) or (
                hash_ and text.startswith("#") and not text.startswith("#[")
            ):
                top = self._top(i)
                found = (self._docstring(top, i), top)
                break
            if not (slash and text.startswith(("#[", "#![", "@"))):
                break
            found = ("", i)
            i -= 1
        self._found[row] = found
        return found

    def _is_comment(self, text: str) -> bool:
        """Whether a stripped line is a comment line (or the last line of a block)."""
        return (self._slash and (text.endswith("*/") or text.startswith("//"))) or (
            self._hash and text.startswith("#") and not text.startswith("#[")
        )

    def _top(self, lowest: int) -> int:
        """The first row of the comment region whose lowest line is `lowest`."""
        lines, tops = self._lines, self._tops
        passed: list[int] = []
        i = lowest
        while True:
            top = tops.get(i)
            if top is not None:
                break
            passed.append(i)
            text = lines[i].strip() if i >= 0 else ""
            if not text:
                top = i + 1
                break
            if self._slash and text.endswith("*/"):
                size = 1  # the block's lines, up to the one that opens it
                while "/*" not in text and i > 0 and size < _MAX_COMMENT_LINES:
                    i -= 1
                    text = lines[i].strip()
                    size += 1
            elif not self._is_comment(text):
                top = i + 1
                break
            i -= 1
        for row in passed:
            tops[row] = top
        return top

    def _docstring(self, top: int, lowest: int) -> str:
        """Rows `top`..`lowest` as a docstring: comment marks stripped, at most
        `DOCSTRING_CHARS` characters (the lines past those are not cleaned)."""
        lines = self._lines
        # A cleaned line is part of its line: no `</` in the lines, none in the docstring.
        if self._has_tag(top, lowest):
            doc = _cleaned(lines, top, lowest + 1)
            if "</" in doc:  # C# XML documentation
                doc = _XML_DOC_TAG.sub("", doc)
            return doc.strip()[:DOCSTRING_CHARS]
        full = self._full.get(top)
        if full is not None and lowest >= full[0]:
            return full[1]  # a run of definitions under one long region (commented macros)
        # Lines are cleaned in batches until the text has a docstring's worth of characters
        # (after leading blanks): the rest could not change what is kept, nor can more
        # lines below.
        parts: list[str] = []
        end = top
        while end <= lowest:
            start, end = end, min(lowest + 1, end + 16)
            parts.append(_cleaned(lines, start, end))
            doc = "\n".join(parts).strip()
            if len(doc) >= DOCSTRING_CHARS:
                self._full[top] = (end - 1, doc[:DOCSTRING_CHARS])
                return doc[:DOCSTRING_CHARS]
        return "\n".join(parts).strip()

    def _has_tag(self, top: int, lowest: int) -> bool:
        """Whether a row from `top` to `lowest` holds `</` (each row of a region is searched
        once, however many definitions it is above)."""
        scanned, found = self._tags.get(top, (top - 1, -1))
        if found >= 0 or lowest <= scanned:
            return 0 <= found <= lowest
        lines = self._lines
        if "</" in "\n".join(lines[scanned + 1 : lowest + 1]):
            found = next(i for i in range(scanned + 1, lowest + 1) if "</" in lines[i])
        self._tags[top] = (lowest, found)
        return found >= 0

    def _doc_block_ends(self, end: int) -> bool:
        """Whether a `/** ... */` documentation block ends on row `end`."""
        lines = self._lines
        if not lines[end].strip().endswith("*/"):
            return False
        for i in range(end, max(-1, end - _MAX_COMMENT_LINES), -1):
            text = lines[i].strip()
            if "/*" in text:
                return text.startswith("/**")
        return False


def _cleaned(lines: list[str], start: int, end: int) -> str:
    """Lines `start`..`end - 1` stripped and without their comment marks, joined."""
    return "\n".join(map(_uncommented, lines[start:end]))


def _uncommented(line: str) -> str:
    """A line stripped, then without its opening comment mark and its closing one: the
    regex `\\s*\\*+/\\s*$` cut by string methods (the regex is tried at every character)."""
    line = _COMMENT_MARK.sub("", line.strip())
    if line.endswith("*/"):  # no blank after it: the line is stripped (`\\s` is `isspace`)
        return line[:-1].rstrip("*").rstrip()
    return line
