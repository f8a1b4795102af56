"""Printing repository text safely: names and text with their control characters escaped, and
JSON that no terminal obeys. Every name, path or repository text shown to a person or an agent
goes through here, so a clone cannot add a line to a listing or drive the terminal.
"""

from __future__ import annotations

import json
import re

# C0 and C1 controls, DEL, Unicode's own line and paragraph separators, and the lone
# surrogates that stand for the bytes of a name git gave that are not UTF-8 (`surrogateescape`):
# shown as the byte, `\xe9`, never written raw nor refused by an encoder.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\udc80-\udcff]")
_NAMED = {"\n": r"\n", "\r": r"\r", "\t": r"\t"}


def _escape(match: re.Match[str]) -> str:
    char = match[0]
    if char in _NAMED:
        return _NAMED[char]
    if "\udc80" <= char <= "\udcff":
        return f"\\x{ord(char) - 0xDC00:02x}"
    return f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"


def printable(name: str) -> str:
    r"""`name` with control characters escaped (`\n`, `\t`, `\x1b`...): one line, no terminal codes.

    Every path printed into text an agent or a person reads line by line goes through here, so
    a file named `a<newline>b` shows as `a\nb` and cannot add a line to a repo map or a listing.
    """
    return _CONTROL.sub(_escape, name)


def json_text(value: object, indent: int | None = None) -> str:
    r"""`value` as JSON, non-ASCII kept as it is, except when a lone surrogate (a file name git
    gave as bytes that are not UTF-8) would make the text unencodable: then every non-ASCII
    character is escaped (`\udce9`), which any JSON reader takes back. The 8-bit control
    codes (U+0080-U+009F), which JSON leaves as they are and a terminal may obey as ESC [ or
    ESC ], are escaped too (`\u009b`): `--json` printed where a person reads it drives nothing."""
    text = json.dumps(value, ensure_ascii=False, indent=indent)
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(value, indent=indent)
    # outside strings JSON has only ASCII, so each one is inside a string: escaped alike
    return _C1.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


_C1 = re.compile(r"[\x80-\x9f]")


# The same, less the tab, the line feed and a carriage return that ends a line (CRLF).
_CONTROL_IN_TEXT = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\udc80-\udcff]|\r(?!\n)"
)


def printable_text(text: str) -> str:
    r"""`text` with its lines and tabs kept and every other control character escaped as in
    `printable`: what a person is shown to approve (a command, a diff) or reads from the
    repository (a cloned memory block) cannot hide part of itself, move the cursor, retitle
    the window or write the clipboard with terminal codes (`\x1b[2K` erasing a line, a lone
    `\r` writing over it)."""
    return _CONTROL_IN_TEXT.sub(_escape, text)
