"""New definitions named against the learned naming convention of their language and kind."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import PurePosixPath

from codemem.code import display_name
from codemem.conventions import MIXED, NAMED_KINDS, name_styles
from codemem.review.context import ReviewContext
from codemem.review.findings import Finding

RESERVED_NAMES = frozenset({"constructor", "initialize"})
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_WORDS = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")
_FAMILY = re.compile(r"(_*[a-z][a-z0-9]*(?:_[a-z0-9]+)*_)[A-Z]")  # `_print_` of `_print_Integer`
FAMILY_SIZE = 5  # names sharing a prefix that make it an established family


def describe_style(name: str) -> str:
    """The style a name shows, for messages (`mixed` when it fits none)."""
    styles = name_styles(name)
    for style in ("snake_case", "camelCase", "PascalCase", "UPPER_CASE"):
        if style in styles:
            return style
    return "a mixed style"


def restyle(name: str, style: str) -> str:
    """`name` rewritten in `style`, keeping leading underscores (`getUserID` → `get_user_id`)."""
    lead = name[: len(name) - len(name.lstrip("_"))]
    words = _WORDS.findall(name.strip("_")) or [name.strip("_")]
    if style == "snake_case":
        out = "_".join(w.lower() for w in words)
    elif style == "UPPER_CASE":
        out = "_".join(w.upper() for w in words)
    elif style == "PascalCase" or (style == MIXED and name.strip("_")[:1].isupper()):
        out = "".join(w[:1].upper() + w[1:].lower() for w in words)
    else:  # camelCase, or mixedCaps starting lower-case
        out = words[0].lower() + "".join(w[:1].upper() + w[1:].lower() for w in words[1:])
    return lead + out


def exempt(name: str, kind: str, qualname: str) -> bool:
    """Names a language dictates: special methods, constructors named after their class."""
    if name.startswith("__") or name in RESERVED_NAMES or not _IDENT.match(name):
        return True
    parent = qualname.rsplit(".", 2)[-2] if qualname.count(".") >= 1 else ""
    return kind == "method" and name == parent


def family_prefix(name: str) -> str | None:
    """`_print_` for `_print_Integer`: a snake_case prefix naming something after a type."""
    match = _FAMILY.match(name)
    return match.group(1) if match else None


def check(ctx: ReviewContext) -> Iterator[Finding]:
    """A new definition whose name breaks a convention followed by at least `review.min_share`.

    Members of an established family (`_print_Integer` beside five or more other
    `_print_<Type>` names in the tree: dispatch by type name) are left alone.
    """
    naming = ctx.conventions.naming
    if not naming:
        return
    settings = ctx.settings
    breaking = []
    for d in ctx.new_definitions:
        rule = naming.get((d.language, d.kind))
        if rule is None or rule.share < settings.min_share or exempt(d.name, d.kind, d.qualname):
            continue
        if rule.style not in name_styles(d.name):
            breaking.append((d, rule))
    prefixes = {prefix for d, _ in breaking if (prefix := family_prefix(d.name)) is not None}
    suffixes = {
        f":(glob)**/*{PurePosixPath(d.file.path).suffix}"
        for d, _ in breaking
        if family_prefix(d.name)
    }
    families = ctx.names_with_prefix(prefixes, tuple(sorted(suffixes))) if prefixes else {}
    for d, rule in breaking:
        prefix = family_prefix(d.name)
        if prefix is not None and len(families.get(prefix, set()) - {d.name}) >= FAMILY_SIZE:
            continue
        evidence = rule.band if rule.band is not None else f"declared in {ctx.conventions.path}"
        kinds = NAMED_KINDS[d.kind]
        language = display_name(d.language)
        yield Finding(
            f"naming/{d.language}/{d.kind}",
            "error" if rule.share >= settings.strict_share else "warning",
            d.file.path,
            d.line,
            f"`{d.name}` is {describe_style(d.name)}; {language} {kinds} here are named in {rule.style} ({evidence})",
            f"rename it to `{restyle(d.name, rule.style)}`",
            confidence=rule.share,
            line_text=d.file.lines[d.line - 1] if d.line <= len(d.file.lines) else d.name,
        )
