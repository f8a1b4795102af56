"""Docstrings (and type hints) on new public definitions, where the project expects them.

Learned: when memory says a language documents most of its public definitions (at least
`review.min_share`), a new public one without a docstring is a warning. Declared: a
`require:` / `prefer:` rule in conventions.md asks for docstrings or type hints on some
kinds of public definitions in some files.
"""

from __future__ import annotations

from collections.abc import Iterator

from codemem.code import display_name
from codemem.conventions import split_params
from codemem.review.checks.patterns import applies
from codemem.review.context import Definition, ReviewContext
from codemem.review.findings import Finding

LEARNED_KINDS = frozenset(
    {"function", "method", "class", "struct", "interface", "enum", "trait", "type"}
)
_SKIPPED_PARAMS = frozenset({"self", "cls", "*", "/", "this"})


def _word(language: str) -> str:
    return "docstring" if language == "python" else "doc comment"


def _line_text(d: Definition) -> str:
    return d.file.lines[d.line - 1] if d.line <= len(d.file.lines) else d.qualname


def missing_hints(d: Definition) -> list[str] | None:
    """Unannotated parameters (and `return` when the return type is missing); None if unknown."""
    if d.language not in ("python", "typescript") or d.kind not in ("function", "method"):
        return None
    split = split_params(d.signature, d.name)
    if split is None:
        return None
    params, rest = split
    out = []
    for param in params:
        bare = param.split(":")[0].split("=")[0].strip().lstrip("*")
        if bare in _SKIPPED_PARAMS:
            continue
        if ":" not in param.split("=", 1)[0]:
            out.append(bare)
    if d.language == "python":
        returns = "->" in rest or d.name == "__init__"
    else:
        returns = rest.lstrip().startswith(":") or d.name == "constructor"
    if not returns:
        out.append("return")
    return out


def check(ctx: ReviewContext) -> Iterator[Finding]:
    """Missing docstrings on new public definitions; missing type hints where required."""
    learned = ctx.conventions.docs
    requires = [r for r in ctx.conventions.requires if r.what in ("docstrings", "type hints")]
    if not learned and not requires:
        return
    for d in ctx.new_definitions:
        if not d.public:
            continue
        for rule in requires:
            if d.kind not in rule.kinds or not applies(rule, d.file.path):
                continue
            if rule.what == "docstrings" and not d.docstring.strip():
                yield Finding(
                    rule.rule_id,
                    rule.severity,
                    d.file.path,
                    d.line,
                    f"public {d.kind} `{d.name}` has no {_word(d.language)} "
                    f"(required by {ctx.conventions.path}:{rule.line})",
                    rule.message or f"add a {_word(d.language)} saying what it does",
                    line_text=_line_text(d),
                )
            elif rule.what == "type hints":
                missing = missing_hints(d)
                if missing:
                    yield Finding(
                        rule.rule_id,
                        rule.severity,
                        d.file.path,
                        d.line,
                        f"public {d.kind} `{d.name}` lacks type hints for {', '.join(missing)} "
                        f"(required by {ctx.conventions.path}:{rule.line})",
                        rule.message or "annotate every parameter and the return type",
                        line_text=_line_text(d),
                    )
        docs = learned.get(d.language)
        if (
            docs is None
            or docs.share < ctx.settings.min_share
            or d.kind not in LEARNED_KINDS
            or d.docstring.strip()
        ):
            continue
        if any(
            r.what == "docstrings" and d.kind in r.kinds and applies(r, d.file.path)
            for r in requires
        ):
            continue  # already reported under the declared rule
        evidence = docs.band if docs.band is not None else "declared"
        language = display_name(d.language)
        yield Finding(
            f"docstrings/{d.language}",
            "warning",
            d.file.path,
            d.line,
            f"public {d.kind} `{d.name}` has no {_word(d.language)}; "
            f"{language} public definitions here have one ({evidence})",
            f"add a {_word(d.language)} saying what `{d.name}` does",
            confidence=docs.share,
            line_text=_line_text(d),
        )
