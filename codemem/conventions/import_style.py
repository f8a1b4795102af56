"""Conventions read from the import statements: Python's from/relative/__future__ imports,
ES modules or require(), wildcard imports in Java.

Pure functions over `{path: (language, text)}` (a deterministic sample of the indexed code
files).
"""

from __future__ import annotations

import re

from codemem.code import is_test_path
from codemem.conventions.code_style import display
from codemem.conventions.rules import Evidence, Rule, ratio, sample
from codemem.conventions.source_style import Sources, by_language

_PY_FROM = re.compile(r"^\s*from\s+(\.*)([\w.]*)\s+import\s+(.+)$")
_PY_IMPORT = re.compile(r"^\s*import\s+[\w.]+")
_FUTURE = re.compile(r"^from __future__ import .*\bannotations\b", re.M)
_ESM = re.compile(
    r"^\s*(?:import\s[^;]*?from\s+(['\"])|import\s+(['\"])|export\s[^;]*?from\s+(['\"]))", re.M
)
_CJS = re.compile(r"\brequire\(\s*['\"]")
_JAVA_IMPORT = re.compile(r"^\s*import\s+(?:static\s+)?([\w.]+?)(\.\*)?\s*;", re.M)


def import_rules(sources: Sources, min_samples: int) -> list[Rule]:
    """Import habits: Python's from/relative/__future__, ES modules or require(), wildcards."""
    files = by_language(sources)
    return (
        _python_imports(files.get("python", []), min_samples)
        + _js_imports("javascript", files.get("javascript", []), min_samples)
        + _js_imports("typescript", files.get("typescript", []), min_samples)
        + _java_imports(files.get("java", []), min_samples)
    )


def _habit(
    language: str,
    kind: str,
    total: int,
    first: tuple[str, str, list[str]],
    second: tuple[str, str, list[str]],
) -> Rule:
    """The rule for whichever of two habits more of `total` follow (the first on a tie).

    Each habit is (value, statement, where it is followed); where the other one is followed
    are the rule's exceptions.
    """
    (value, statement, follow), (_, _, others) = (
        (first, second) if len(first[2]) >= len(second[2]) else (second, first)
    )
    return Rule(
        "imports",
        language,
        statement,
        ratio(len(follow), total),
        Evidence(len(follow), total, exceptions=sample(others)),
        kind,
        value=value,
    )


def first_party(paths: list[str]) -> set[str]:
    """The project's own top-level Python packages and modules (`src/flask/app.py`: `flask`)."""
    names = set()
    for path in paths:
        parts = path.split("/")
        if parts[0] in ("src", "lib", "python") and len(parts) > 1:
            parts = parts[1:]
        names.add(parts[0].removesuffix(".py"))
    return names


def _python_imports(files: list[tuple[str, list[str]]], min_samples: int) -> list[Rule]:
    froms: list[tuple[str, str]] = []
    relative: list[str] = []
    absolute: list[str] = []  # first-party imports by absolute path, outside the tests
    own = first_party([path for path, _ in files if not is_test_path(path)])
    plain = 0
    future: list[str] = []
    modules = 0
    for path, lines in files:
        if not any(line.strip() for line in lines):
            continue
        modules += 1
        if _FUTURE.search("\n".join(lines[:60])):
            future.append(path)
        for line in lines:
            match = _PY_FROM.match(line)
            if match and match.group(2) != "__future__":
                froms.append((path, line.strip()))
                # Tests cannot import their package relatively: only the package's own code
                # shows whether first-party imports are relative or absolute.
                if is_test_path(path):
                    continue
                if match.group(1):
                    relative.append(f"{path}: `{line.strip()}`")
                elif match.group(2).split(".")[0] in own:
                    absolute.append(f"{path}: `{line.strip()}`")
            elif _PY_IMPORT.match(line):
                plain += 1
                if not is_test_path(path) and line.split()[1].split(".")[0] in own:
                    absolute.append(f"{path}: `{line.strip()}`")
    rules = []
    total = len(froms) + plain
    if total >= min_samples:
        share = ratio(len(froms), total)
        statement = (
            "Python imports name what they use (`from module import name`)"
            if share >= 0.5
            else "Python imports whole modules (`import module`)"
        )
        rules.append(
            Rule(
                "imports",
                "python",
                statement,
                max(share, 1 - share),
                Evidence(
                    max(len(froms), plain),
                    total,
                    detail=f"from-imports: {len(froms)}, plain imports: {plain}",
                ),
                "import-form",
                value="from" if share >= 0.5 else "module",
            )
        )
    first = len(relative) + len(absolute)
    if first >= min_samples:
        rules.append(
            _habit(
                "python",
                "import-paths",
                first,
                (
                    "absolute",
                    "Python imports are absolute, not relative (`from .x import y`)",
                    absolute,
                ),
                (
                    "relative",
                    "Python imports within the package are relative (`from .x import y`)",
                    relative,
                ),
            )
        )
    if modules >= min_samples and ratio(len(future), modules) >= 0.5:
        rules.append(
            Rule(
                "imports",
                "python",
                "Python modules start with `from __future__ import annotations`",
                ratio(len(future), modules),
                Evidence(len(future), modules),
                "future-import",
                value="annotations",
            )
        )
    return rules


def _js_imports(language: str, files: list[tuple[str, list[str]]], min_samples: int) -> list[Rule]:
    esm_files, cjs_files, single, double = [], [], 0, 0
    for path, lines in files:
        text = "\n".join(lines)
        found = _ESM.findall(text)
        if found:
            esm_files.append(path)
            for groups in found:
                quote = next(q for q in groups if q)
                single += quote == "'"
                double += quote == '"'
        if _CJS.search(text):
            cjs_files.append(path)
    rules = []
    total = len(set(esm_files) | set(cjs_files))
    if total >= min_samples:
        rules.append(
            _habit(
                language,
                "module-system",
                total,
                (
                    "ES modules",
                    f"{display(language)} uses ES modules (import/export), not require()",
                    esm_files,
                ),
                ("CommonJS", f"{display(language)} uses CommonJS require()", cjs_files),
            )
        )
    quotes = single + double
    if quotes >= min_samples:
        kind, matched = ("single", single) if single >= double else ("double", double)
        rules.append(
            Rule(
                "imports",
                language,
                f"{display(language)} module paths are in {kind} quotes",
                ratio(matched, quotes),
                Evidence(matched, quotes),
                "import-quotes",
                value=kind,
            )
        )
    return rules


def _java_imports(files: list[tuple[str, list[str]]], min_samples: int) -> list[Rule]:
    imports = [
        (path, m.group(0).strip(), bool(m.group(2)))
        for path, lines in files
        for m in _JAVA_IMPORT.finditer("\n".join(lines))
    ]
    if len(imports) < min_samples:
        return []
    named = [i for i in imports if not i[2]]
    return [
        Rule(
            "imports",
            "java",
            "Java imports name each class (no wildcard imports)",
            ratio(len(named), len(imports)),
            Evidence(
                len(named),
                len(imports),
                exceptions=sample([f"{p}: `{s}`" for p, s, w in imports if w]),
            ),
            "wildcard-imports",
            value="none",
        )
    ]
