"""Conventions read from the source text: line length, indentation, comments.

Pure functions over `{path: (language, text)}` (a deterministic sample of the indexed code
files) and, for line length, the limits configured in the repository's tool settings.
"""

from __future__ import annotations

from collections import defaultdict

from codemem.conventions.code_style import display
from codemem.conventions.rules import Evidence, Rule, ratio, sample

Sources = dict[str, tuple[str, str]]  # path -> (language family, text)
STANDARD_LIMITS = (79, 80, 88, 90, 100, 110, 120, 132, 140, 150, 160, 180, 200)
WITHIN = 0.995  # share of lines that must fit a limit for it to be the observed one
HASH_COMMENTS = frozenset({"python", "ruby"})


def by_language(sources: Sources) -> dict[str, list[tuple[str, list[str]]]]:
    """language -> [(path, lines)], in path order."""
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
    for language, files in sorted(by_language(sources).items()):
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
    for language, files in sorted(by_language(sources).items()):
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
    for language, files in sorted(by_language(sources).items()):
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
