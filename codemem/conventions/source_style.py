"""Conventions read from the source text: line length, indentation, comments, imports.

Pure functions over `{path: (language, text)}` (a deterministic sample of the indexed code
files) and, for line length, the limits configured in the repository's tool settings.
"""

from __future__ import annotations

import re
from collections import defaultdict

from codemem.code import is_test_path
from codemem.conventions.code_style import display
from codemem.conventions.rules import Evidence, Rule, ratio, sample

Sources = dict[str, tuple[str, str]]  # path -> (language family, text)
STANDARD_LIMITS = (79, 80, 88, 90, 100, 110, 120, 132, 140, 150, 160, 180, 200)
WITHIN = 0.995  # share of lines that must fit a limit for it to be the observed one
HASH_COMMENTS = frozenset({"python", "ruby"})


def _by_language(sources: Sources) -> dict[str, list[tuple[str, list[str]]]]:
    out: dict[str, list[tuple[str, list[str]]]] = defaultdict(list)
    for path in sorted(sources):
        language, text = sources[path]
        out[language].append((path, text.split("\n")))
    return out


def line_length_rules(
    sources: Sources, configured: dict[str, tuple[int, str]], min_samples: int
) -> list[Rule]:
    """Per language: the line length the code keeps to (the configured one, when there is one)."""
    rules = []
    for language, files in sorted(_by_language(sources).items()):
        if len(files) < min_samples:
            continue
        lengths = [
            (len(line.expandtabs(4)), path, n)
            for path, lines in files
            for n, line in enumerate(lines, 1)
            if line.strip()
        ]
        if not lengths:
            continue
        longest = max(length for length, _, _ in lengths)
        if language in configured:
            limit, source = configured[language]
            where = f" (configured in {source})"
        else:
            fitting = [
                limit
                for limit in STANDARD_LIMITS
                if sum(length <= limit for length, _, _ in lengths) >= WITHIN * len(lengths)
            ]
            if not fitting:
                continue
            limit, where = fitting[0], ""
        within = sum(length <= limit for length, _, _ in lengths)
        over = sorted(
            (item for item in lengths if item[0] > limit), key=lambda i: (-i[0], i[1], i[2])
        )
        rules.append(
            Rule(
                "line length",
                language,
                f"{display(language)} lines stay within {limit} characters{where}",
                ratio(within, len(lengths)),
                Evidence(
                    within,
                    len(lengths),
                    (),
                    sample([f"{p} ({length} chars)" for length, p, _n in over]),
                    detail=f"longest line: {longest} characters",
                ),
                "line-length",
                value=str(limit),
            )
        )
    return rules


def indentation_rules(sources: Sources, min_samples: int) -> list[Rule]:
    """Per language: tabs or how many spaces per level."""
    rules = []
    for language, files in sorted(_by_language(sources).items()):
        if len(files) < min_samples:
            continue
        tabs, spaces = 0, []
        for _path, lines in files:
            for line in lines:
                stripped = line.lstrip(" \t")
                if not stripped or stripped.startswith("*") or stripped == line:
                    continue  # blank, a block comment's continuation, or not indented
                indent = line[: len(line) - len(stripped)]
                if indent.startswith("\t"):
                    tabs += 1
                elif "\t" not in indent:
                    spaces.append(len(indent))
        total = tabs + len(spaces)
        if total < min_samples:
            continue
        if tabs >= len(spaces):
            rules.append(
                Rule(
                    "indentation",
                    language,
                    f"{display(language)} code is indented with tabs",
                    ratio(tabs, total),
                    Evidence(tabs, total),
                    "indentation",
                    value="tabs",
                )
            )
            continue
        for unit in (8, 4, 3, 2):
            fits = sum(width % unit == 0 for width in spaces)
            if fits >= 0.9 * len(spaces):
                break
        rules.append(
            Rule(
                "indentation",
                language,
                f"{display(language)} code is indented with {unit} spaces",
                ratio(fits, total),
                Evidence(fits, total, detail=f"tab-indented lines: {tabs}"),
                "indentation",
                value=f"{unit} spaces",
            )
        )
    return rules


def comment_rules(sources: Sources, min_samples: int) -> list[Rule]:
    """Per language: how much of the code is comments, and which comment style."""
    rules = []
    for language, files in sorted(_by_language(sources).items()):
        if len(files) < min_samples:
            continue
        nonblank = line_style = block_style = comments = 0
        in_block = False
        for _path, lines in files:
            for n, raw in enumerate(lines, 1):
                line = raw.strip()
                if not line:
                    continue
                nonblank += 1
                if language in HASH_COMMENTS:
                    if line.startswith("#") and not (n == 1 and line.startswith("#!")):
                        comments += 1
                    continue
                if in_block:
                    comments += 1
                    in_block = "*/" not in line
                elif line.startswith("//") or (
                    language == "php" and line.startswith("#") and not line.startswith("#[")
                ):
                    comments += 1
                    line_style += 1
                elif line.startswith("/*"):
                    comments += 1
                    block_style += 1
                    in_block = "*/" not in line[2:]
        if not nonblank:
            continue
        density = ratio(comments, nonblank)
        amount, level = (
            ("is well commented", "many")
            if density >= 0.15
            else ("has some comments", "some")
            if density >= 0.05
            else ("has few comments", "few")
        )
        # No share: the density is not how much of the code follows a rule; `level` says it.
        rules.append(
            Rule(
                "comments",
                language,
                f"{display(language)} code {amount}",
                None,
                Evidence(comments, nonblank),
                "comment-density",
                value=level,
            )
        )
        starts = line_style + block_style
        if starts >= min_samples:
            if line_style >= block_style:
                statement, matched, style = (
                    f"{display(language)} comments are // line comments",
                    line_style,
                    "//",
                )
            else:
                statement, matched, style = (
                    f"{display(language)} comments are /* */ block comments",
                    block_style,
                    "/* */",
                )
            rules.append(
                Rule(
                    "comments",
                    language,
                    statement,
                    ratio(matched, starts),
                    Evidence(matched, starts),
                    "comment-style",
                    value=style,
                )
            )
    return rules


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
    by_language = _by_language(sources)
    return (
        _python_imports(by_language.get("python", []), min_samples)
        + _js_imports("javascript", by_language.get("javascript", []), min_samples)
        + _js_imports("typescript", by_language.get("typescript", []), min_samples)
        + _java_imports(by_language.get("java", []), min_samples)
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
        share = ratio(len(absolute), first)
        if share >= 0.5:
            rules.append(
                Rule(
                    "imports",
                    "python",
                    "Python imports are absolute, not relative (`from .x import y`)",
                    share,
                    Evidence(len(absolute), first, exceptions=sample(relative)),
                    "import-paths",
                    value="absolute",
                )
            )
        else:
            rules.append(
                Rule(
                    "imports",
                    "python",
                    "Python imports within the package are relative (`from .x import y`)",
                    1 - share,
                    Evidence(len(relative), first, exceptions=sample(absolute)),
                    "import-paths",
                    value="relative",
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
        if len(esm_files) >= len(cjs_files):
            rules.append(
                Rule(
                    "imports",
                    language,
                    f"{display(language)} uses ES modules (import/export), not require()",
                    ratio(len(esm_files), total),
                    Evidence(len(esm_files), total, exceptions=sample(cjs_files)),
                    "module-system",
                    value="ES modules",
                )
            )
        else:
            rules.append(
                Rule(
                    "imports",
                    language,
                    f"{display(language)} uses CommonJS require()",
                    ratio(len(cjs_files), total),
                    Evidence(len(cjs_files), total, exceptions=sample(esm_files)),
                    "module-system",
                    value="CommonJS",
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
