"""Block labels: what a valid one looks like, and the defaults a new block gets.

A label is the block's path under `.codemem/blocks/` without `.md`: lower-case words, digits,
`-` and `_`, separated by `/` (`project`, `conventions`, `users/alice`). No `..`, no leading
`/`, at most 100 characters.
"""

from __future__ import annotations

import re

from codemem.memory.errors import InvalidLabelError

LABEL_RE = re.compile(r"[a-z0-9][a-z0-9_-]*(/[a-z0-9][a-z0-9_-]*)*")
MAX_LABEL_CHARS = 100
DEFAULT_LIMITS = {"project": 8000, "conventions": 6000}
DEFAULT_LIMIT = 4000  # users/* and every other block
DEFAULT_DESCRIPTIONS = {
    "project": "What this project is, its architecture, and how to build, test and run it.",
    "conventions": "Conventions this codebase follows; kept current by the sleep-time pass.",
}


def validate_label(label: str) -> str:
    """Return `label` if it is valid, else raise `InvalidLabelError` saying how to fix it."""
    hint = "use lower-case words, digits, '-', '_' and '/', like 'project' or 'users/alice'"
    if not isinstance(label, str) or not label:
        raise InvalidLabelError(f"a block label is required: {hint}")
    if label.startswith("/"):
        raise InvalidLabelError(f"invalid label '{label}': labels are relative paths; {hint}")
    if ".." in label.split("/"):
        raise InvalidLabelError(f"invalid label '{label}': '..' is not allowed; {hint}")
    if label.endswith(".md") and LABEL_RE.fullmatch(label[:-3]):
        raise InvalidLabelError(f"invalid label '{label}': drop the '.md' (use '{label[:-3]}')")
    if len(label) > MAX_LABEL_CHARS or not LABEL_RE.fullmatch(label):
        raise InvalidLabelError(f"invalid label '{label}': {hint}")
    return label


def default_limit(label: str) -> int:
    """The character limit a new block gets when none is given."""
    return DEFAULT_LIMITS.get(label, DEFAULT_LIMIT)


def default_description(label: str) -> str:
    """The description a block gets when codemem creates it."""
    if label.startswith("users/"):
        return f"Preferences and working style of {label[6:]}; shown only when they are the active user."
    return DEFAULT_DESCRIPTIONS.get(label, f"Notes about {label}.")


def limit_message(label: str, chars: int, limit: int) -> str:
    return (
        f"{label} would be {chars:,} / {limit:,} characters: "
        "shorten it or move detail to archival memory"
    )
