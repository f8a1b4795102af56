"""One value's three-way merge: the rule every key-by-key merge of a `.codemem/` file keeps
(a block's frontmatter, `config.yml`, a review dismissal's fields)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from codemem.memory import same_frontmatter_value

CLASH: Any = object()  # both sides changed the value, each its own way


def pick(
    was: Any, mine: Any, other: Any, equal: Callable[[Any, Any], bool] = same_frontmatter_value
) -> Any:
    """Ours where both sides agree or theirs left the value as it was; theirs where only they
    changed it; else `CLASH`. A key one version lacks is a sentinel value the caller passes
    (`equal` must tell it apart)."""
    if equal(mine, other) or equal(other, was):
        return mine
    if equal(mine, was):
        return other
    return CLASH
