"""Large binary files added or changed."""

from __future__ import annotations

from collections.abc import Iterator

from codemem.review.context import ReviewContext
from codemem.review.findings import Finding

RULE = "binaries/large-file"


def check(ctx: ReviewContext) -> Iterator[Finding]:
    """Binary files over `review.max_binary_kb`: they bloat every clone for good."""
    limit = ctx.settings.max_binary_kb * 1024
    for f in ctx.files:
        if f.binary and f.size is not None and f.size > limit:
            size = f"{f.size / 1_048_576:.1f} MB" if f.size >= 1_048_576 else f"{f.size // 1024} KB"
            yield Finding(
                RULE,
                "warning",
                f.path,
                None,
                f"binary file of {size} (over review.max_binary_kb = {ctx.settings.max_binary_kb})",
                "keep large binaries out of git (Git LFS, a release asset or a download step)",
                line_text=f.new_blob or f"size:{f.size}",
            )
