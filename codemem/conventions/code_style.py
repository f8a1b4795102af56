"""Conventions read from the symbols of the index: naming, docstrings, type hints.

Pure functions over the index's symbol rows (`codemem.code.SymbolRow`); test files are left
out, since tests follow their framework's naming rather than the project's.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable

from codemem.code import CODE_LANGUAGES, SymbolRow, display_name, language_family
from codemem.conventions.rules import Evidence, Rule, percent, ratio, sample

NAMED_KINDS = {
    "function": "functions",
    "method": "methods",
    "class": "classes",
    "struct": "structs",
    "interface": "interfaces",
    "enum": "enums",
    "trait": "traits",
    "type": "type names",
}
DOCUMENTED_KINDS = frozenset(NAMED_KINDS)
TYPE_KINDS = frozenset({"class", "struct", "interface", "enum", "trait", "type"})
RESERVED_NAMES = frozenset({"constructor", "initialize"})
# The usual style of functions and methods, to break ties among one-word names.
PREFERRED = {
    "javascript": "camelCase",
    "typescript": "camelCase",
    "java": "camelCase",
    "php": "camelCase",
    "csharp": "PascalCase",
}
STYLE_ORDER = ("snake_case", "camelCase", "PascalCase", "UPPER_CASE")
MIXED = "mixedCaps"
NAMING_STYLES = (*STYLE_ORDER, MIXED)  # every value a naming rule can take
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_SNAKE = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*\Z")
_CAMEL = re.compile(r"[a-z][a-zA-Z0-9]*\Z")
_PASCAL = re.compile(r"[A-Z][a-zA-Z0-9]*\Z")
_UPPER = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*\Z")


def language_of(row: SymbolRow) -> str:
    return language_family(row.language)


def display(language: str | None) -> str:
    """A language's display name; `Repository` for rules of the whole repository."""
    return display_name(language) if language else "Repository"


def name_styles(name: str) -> set[str]:
    """The naming styles a name is consistent with (`total` fits snake_case and camelCase)."""
    bare = name.strip("_")
    styles: set[str] = set()
    if _SNAKE.match(bare):
        styles.add("snake_case")
    if _CAMEL.match(bare):
        styles.add("camelCase")
    if _PASCAL.match(bare) and (any(c.islower() for c in bare) or len(bare) > 1):
        styles.add("PascalCase")
    if _UPPER.match(bare) and ("_" in bare or not any(c.islower() for c in bare)):
        styles.add("UPPER_CASE")
    if styles & {"camelCase", "PascalCase"}:
        styles.add(MIXED)
    return styles


def _distinctive(name: str, style: str) -> bool:
    """Whether a name shows its style (has a separator or a hump, not a single word)."""
    bare = name.strip("_")
    if style in ("snake_case", "UPPER_CASE"):
        return "_" in bare
    return any(c.isupper() for c in bare[1:])


def _where(row: SymbolRow) -> str:
    # No line number: it moves whenever code above it changes, and the records must not.
    return f"`{row.name}` ({row.path})"


def _rows(rows: Iterable[SymbolRow]) -> list[SymbolRow]:
    return sorted(
        (r for r in rows if not r.is_test and r.language in CODE_LANGUAGES),
        key=lambda r: (r.path, r.start_line, r.qualname),
    )


def _parent_names(rows: list[SymbolRow]) -> dict[tuple[str, str], str]:
    return {(r.path, r.qualname): r.kind for r in rows}


def naming_rules(rows: Iterable[SymbolRow], min_samples: int) -> list[Rule]:
    """Per language and kind: the naming style most names follow, with its share."""
    rows = _rows(rows)
    groups: dict[tuple[str, str], list[SymbolRow]] = defaultdict(list)
    for row in rows:
        name, kind = row.name, row.kind
        if kind not in NAMED_KINDS or not _IDENT.match(name):
            continue
        if name.startswith("__") or name in RESERVED_NAMES:
            continue  # special methods (`__init__`, PHP's `__construct`) are named by the language
        parent = (row.parent or "").rsplit(".", 1)[-1]
        if kind == "method" and name == parent:
            continue  # constructors carry their class's name
        groups[(language_of(row), kind)].append(row)
    rules = []
    for (language, kind), members in sorted(groups.items()):
        if len(members) < min_samples:
            continue
        fits = {
            style: [r for r in members if style in name_styles(r.name)]
            for style in (*STYLE_ORDER, MIXED)
        }
        preferred = "PascalCase" if kind in TYPE_KINDS else PREFERRED.get(language, "snake_case")
        scores = {
            style: (
                len(fits[style]),
                sum(_distinctive(r.name, style) for r in fits[style]),
                style == preferred,
            )
            for style in STYLE_ORDER
        }
        best = max(STYLE_ORDER, key=scores.__getitem__)
        if len(fits[best]) / len(members) < 0.8 and len(fits[MIXED]) / len(members) >= 0.8:
            best = MIXED
        following = fits[best]
        shown = [r.name for r in following if _distinctive(r.name, best)] or [
            r.name for r in following
        ]
        others = [_where(r) for r in members if best not in name_styles(r.name)]
        style_text = "mixedCaps (camelCase or PascalCase)" if best == MIXED else best
        share = ratio(len(following), len(members))
        rules.append(
            Rule(
                "naming",
                language,
                f"{display(language)} {NAMED_KINDS[kind]} are named in {style_text}",
                share,
                Evidence(
                    len(following),
                    len(members),
                    tuple(f"`{n}`" for n in sample(shown)),
                    sample(others),
                ),
                "naming",
                kind,
                best,
            )
        )
    return rules


def is_public(name: str, language: str, signature: str, parent_kind: str | None) -> bool:
    """Whether a definition is public API (the review judges new code by the same rule)."""
    if name.startswith("_") or not _IDENT.match(name):
        return False
    if parent_kind in ("function", "method"):
        return False  # a helper nested in a function
    if language == "go":
        return name[0].isupper()
    if language == "rust":
        return signature.startswith("pub")
    return True


def _public(row: SymbolRow, language: str, parents: dict[tuple[str, str], str]) -> bool:
    parent_kind = parents.get((row.path, row.parent or ""))
    return is_public(row.name, language, row.signature or "", parent_kind)


_GOOGLE = re.compile(
    r"^\s*(Args|Arguments|Returns|Raises|Yields|Attributes|Examples?|Note):\s*$", re.M
)
_NUMPY = re.compile(r"^\s*(Parameters|Returns|Raises|Yields|Attributes)\s*\n\s*-{3,}\s*$", re.M)
_REST = re.compile(r"^\s*:(param|type|returns?|rtype|raises?)\b", re.M)
_TAGS = re.compile(r"^\s*@(param|returns?|throws|example)\b", re.M)
DOC_STYLES = (
    ("Google style sections (Args:, Returns:)", _GOOGLE),
    ("NumPy style sections", _NUMPY),
    ("reST fields (:param x:)", _REST),
    ("@param / @returns tags", _TAGS),
)
DOC_STYLE_KEYS = dict(
    zip((name for name, _ in DOC_STYLES), ("google", "numpy", "rest", "tags"), strict=True)
)


def docstring_rules(rows: Iterable[SymbolRow], min_samples: int) -> list[Rule]:
    """Per language: how many public definitions are documented, and in which style."""
    rows = _rows(rows)
    parents = _parent_names(rows)
    by_language: dict[str, list[SymbolRow]] = defaultdict(list)
    for row in rows:
        language = language_of(row)
        if row.kind in DOCUMENTED_KINDS and _public(row, language, parents):
            by_language[language].append(row)
    rules = []
    for language, members in sorted(by_language.items()):
        if len(members) < min_samples:
            continue
        documented = [r for r in members if (r.docstring or "").strip()]
        share = ratio(len(documented), len(members))
        word = "docstrings" if language == "python" else "doc comments"
        what = (
            "public functions, classes and methods"
            if language == "python"
            else "public definitions"
        )
        if share >= 0.75:
            statement, coverage = f"{display(language)} {what} have {word}", "most"
        elif share <= 0.25:
            statement, coverage = (
                f"{display(language)} {word} are rare on public definitions",
                "rare",
            )
        else:
            statement, coverage = (
                f"{display(language)} {word} are used on some public definitions",
                "some",
            )
        ids = {id(r) for r in documented}
        missing = [_where(r) for r in members if id(r) not in ids]
        rules.append(
            Rule(
                "docstrings",
                language,
                statement,
                share,
                Evidence(
                    len(documented),
                    len(members),
                    sample([f"`{r.name}`" for r in documented]),
                    sample(missing),
                ),
                "docstring-coverage",
                value=coverage,
            )
        )
        rules += _doc_style(language, documented, min_samples)
    return rules


def _doc_style(language: str, documented: list[SymbolRow], min_samples: int) -> list[Rule]:
    if language == "go":
        starts = [
            r for r in documented if r.docstring.split(maxsplit=1)[0] in (r.name, "A", "An", "The")
        ]
        if len(documented) >= min_samples:
            return [
                Rule(
                    "docstrings",
                    language,
                    "Go doc comments start with the name they document",
                    ratio(len(starts), len(documented)),
                    Evidence(len(starts), len(documented), sample([f"`{r.name}`" for r in starts])),
                    "docstring-style",
                    value="name-first",
                )
            ]
        return []
    counts = {
        name: [r for r in documented if pattern.search(r.docstring)] for name, pattern in DOC_STYLES
    }
    structured = [r for r in documented if any(p.search(r.docstring) for _, p in DOC_STYLES)]
    if len(structured) < min_samples:
        return []
    style = max(counts, key=lambda name: len(counts[name]))
    chosen = {id(r) for r in counts[style]}
    share = ratio(len(counts[style]), len(structured))
    word = "Docstrings" if language == "python" else "Doc comments"
    return [
        Rule(
            "docstrings",
            language,
            f"{display(language)}: {word.lower()} that describe parameters use {style}",
            share,
            Evidence(
                len(counts[style]),
                len(structured),
                sample([f"`{r.name}`" for r in counts[style]]),
                sample([_where(r) for r in structured if id(r) not in chosen]),
                detail=f"{len(structured)} of {len(documented)} {word.lower()} have such sections",
            ),
            "docstring-style",
            value=DOC_STYLE_KEYS[style],
        )
    ]


def split_params(signature: str, name: str) -> tuple[list[str], str] | None:
    """The parameter texts and what follows the closing parenthesis, or None if cut off."""
    at = signature.find(name + "(")
    start = signature.find("(", at if at >= 0 else 0)
    if start < 0:
        return None
    params: list[str] = []
    current: list[str] = []
    depth, quote = 0, ""
    for i in range(start + 1, len(signature)):
        char = signature[i]
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char in "([{<":
            depth += 1
        elif char in ")]}>" and depth > 0 and not (char == ">" and signature[i - 1] == "-"):
            depth -= 1
        elif char == ")" and depth == 0:
            params.append("".join(current).strip())
            return [p for p in params if p], signature[i + 1 :]
        elif char == "," and depth == 0:
            params.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    return None


def _annotated(param: str) -> bool:
    head = param.split("=", 1)[0]
    return ":" in head


_SKIPPED_PARAMS = frozenset({"self", "cls", "*", "/", "this"})


def type_hint_rules(rows: Iterable[SymbolRow], min_samples: int) -> list[Rule]:
    """Python and TypeScript: how many functions annotate their parameters and return type."""
    rows = _rows(rows)
    by_language: dict[str, list[tuple[SymbolRow, int, int, bool]]] = defaultdict(list)
    for row in rows:
        language = language_of(row)
        if language not in ("python", "typescript") or row.kind not in ("function", "method"):
            continue
        split = split_params(row.signature or "", row.name)
        if split is None:
            continue
        params, rest = split
        params = [
            p
            for p in params
            if p.split(":")[0].split("=")[0].strip().lstrip("*") not in _SKIPPED_PARAMS
        ]
        annotated = sum(_annotated(p) for p in params)
        if language == "python":
            returns = "->" in rest
        else:
            returns = rest.lstrip().startswith(":") or row.name == "constructor"
        by_language[language].append((row, len(params), annotated, returns))
    rules = []
    for language, items in sorted(by_language.items()):
        if len(items) < min_samples:
            continue
        full = [row for row, n, a, r in items if a == n and (r or row.name == "__init__")]
        full_ids = {id(row) for row in full}
        n_params = sum(n for _, n, _, _ in items)
        n_annotated = sum(a for _, _, a, _ in items)
        n_returns = sum(r for _, _, _, r in items)
        share = ratio(len(full), len(items))
        if share >= 0.75:
            statement, coverage = (
                f"{display(language)} functions annotate every parameter and the return type",
                "most",
            )
        elif share <= 0.25:
            statement, coverage = (
                f"{display(language)} functions are mostly not type-annotated",
                "rare",
            )
        else:
            statement, coverage = f"{display(language)} functions are partly type-annotated", "some"
        rules.append(
            Rule(
                "type hints",
                language,
                statement,
                share,
                Evidence(
                    len(full),
                    len(items),
                    sample([f"`{r.name}`" for r in full]),
                    sample([_where(r) for r, _n, _a, _ret in items if id(r) not in full_ids]),
                    detail=(
                        f"parameters annotated: {n_annotated} of {n_params} ({percent(ratio(n_annotated, n_params))}); "
                        f"return types: {n_returns} of {len(items)} ({percent(ratio(n_returns, len(items)))})"
                    ),
                ),
                "type-hints",
                value=coverage,
            )
        )
    return rules
