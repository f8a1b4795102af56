"""git's zero-context patches read back: each file's hunks and the text of its added lines.

Paths are read as git prints them (C-quoted when they hold odd characters) and blocks are
keyed by their new path, never by their position in the patch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_HUNK = re.compile(rb"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


@dataclass
class Hunk:
    """One `@@` block of a zero-context diff."""

    old_start: int
    old_count: int
    new_start: int
    new_count: int
    added: list[int] = field(default_factory=list)  # line numbers in the new file
    removed: list[str] = field(default_factory=list)  # text of the lines taken out


@dataclass
class FilePatch:
    """One `diff --git` block: its hunks, the text of its added lines, whether git called it binary."""

    hunks: list[Hunk] = field(default_factory=list)
    texts: dict[int, str] = field(default_factory=dict)
    binary: bool = False
    deleted: bool = False  # the old half of a type change (`deleted file mode`)


_C_ESCAPES = {
    ord("a"): 7,
    ord("b"): 8,
    ord("t"): 9,
    ord("n"): 10,
    ord("v"): 11,
    ord("f"): 12,
    ord("r"): 13,
    ord('"'): 34,
    ord("\\"): 92,
}


def unquote_path(text: bytes) -> bytes:
    """A path as git prints it: C-quoted between double quotes when it holds odd characters."""
    if not (text.startswith(b'"') and text.endswith(b'"') and len(text) >= 2):
        return text
    body, out, i = text[1:-1], bytearray(), 0
    while i < len(body):
        if body[i] == 92 and i + 1 < len(body):  # a backslash
            nxt = body[i + 1]
            if 48 <= nxt <= 55:  # \ooo: one byte in octal
                out.append(int(body[i + 1 : i + 4], 8))
                i += 4
                continue
            out.append(_C_ESCAPES.get(nxt, nxt))
            i += 2
            continue
        out.append(body[i])
        i += 1
    return bytes(out)


def _split_quoted(rest: bytes) -> tuple[bytes, bytes] | None:
    """`"a/x y" b/z` → the two sides, when the first one is quoted."""
    end = 1
    while end < len(rest):
        if rest[end] == 92:
            end += 2
            continue
        if rest[end] == 34:
            break
        end += 1
    return (rest[: end + 1], rest[end + 2 :]) if end < len(rest) else None


def header_path(rest: bytes) -> bytes | None:
    """The new path of a `diff --git a/P b/P` line (its text after `diff --git `), or None.

    Without a rename or copy both sides name the same path, so the line splits in its middle
    whatever spaces the path holds; quoted sides are unquoted.
    """
    if rest.startswith(b'"'):
        sides = _split_quoted(rest)
        if sides is None:
            return None
        new = unquote_path(sides[1])
        return new[2:] if new.startswith(b"b/") else None
    half = (len(rest) - 5) // 2  # "a/" + P + " b/" + P
    path = rest[2 : 2 + half]
    return path if rest == b"a/" + path + b" b/" + path else None


def _new_hunk(match: re.Match[bytes]) -> Hunk:
    old_start, old_count, new_start, new_count = match.groups()
    return Hunk(int(old_start), int(old_count or 1), int(new_start), int(new_count or 1))


def parse_patch(patch: bytes) -> dict[str, FilePatch]:
    """The blocks of a zero-context patch keyed by their new path (never by their position).

    A type change prints two blocks for one path, `deleted file mode` then `new file mode`:
    the deleted half is dropped, so it can never take the place of another file's block.
    """
    out: dict[str, FilePatch] = {}
    block: FilePatch | None = None
    path: bytes | None = None
    hunk: Hunk | None = None
    line_no = 0

    def close() -> None:
        if block is not None and path is not None and not block.deleted:
            out[path.decode("utf-8", "surrogateescape")] = block

    for raw in patch.split(b"\n"):
        if raw.startswith(b"diff --git "):
            close()
            block, hunk = FilePatch(), None
            path = header_path(raw[len(b"diff --git ") :])
            continue
        if block is None:
            continue
        if hunk is None:  # the block's header lines
            match = _HUNK.match(raw)
            if match:
                hunk = _new_hunk(match)
                block.hunks.append(hunk)
                line_no = hunk.new_start
            elif raw.startswith((b"rename to ", b"copy to ")):
                path = unquote_path(raw.split(b" ", 2)[2])
            elif raw.startswith(b"+++ b/") or raw.startswith(b'+++ "b/'):
                path = unquote_path(raw[4:].rstrip(b"\t"))[2:]
            elif raw.startswith(b"deleted file mode "):
                block.deleted = True
            elif raw.startswith(b"Binary files ") or raw == b"GIT binary patch":
                block.binary = True
            continue
        if raw.startswith(b"@@"):
            match = _HUNK.match(raw)
            if match:
                hunk = _new_hunk(match)
                block.hunks.append(hunk)
                line_no = hunk.new_start
        elif raw.startswith(b"+"):
            hunk.added.append(line_no)
            block.texts[line_no] = raw[1:].decode("utf-8", "replace")
            line_no += 1
        elif raw.startswith(b"-"):
            hunk.removed.append(raw[1:].decode("utf-8", "replace"))
    close()
    return out
