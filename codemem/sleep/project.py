"""Learning the project without a model: a marked overview region in `blocks/project.md`
plus a bounded "Recent changes" region.

The overview says what can be known for certain from the repository itself: the README's
own description, the languages and their sizes, the most referenced files (the top of the
repo map), entry points, and the build, test and lint commands found in manifests and CI
files. It is rebuilt on every pass, so it stays true as the code changes, and it says
nothing that moves with every commit (no counts: a language's share of the code is a band,
see `codemem.conventions.stable`), so the block changes only when what it says changes; what
does not fit the block goes to an archival note.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field

from codemem.code import (
    CodeIndex,
    display_name,
    is_code,
    is_test_path,
    language_family,
    language_for_path,
    read_repo_file,
)
from codemem.config import Config
from codemem.conventions import (
    RepoFiles,
    band_of,
    find_region,
    fit,
    region_budget,
    with_region,
)
from codemem.infra import clean_text, code_span, printable
from codemem.sleep.manifests import Command, EntryPoint, find_commands, find_entry_points
from codemem.workspace import Workspace

LABEL = "project"
REGION, RECENT = "project", "recent"
NOTE_TAGS = ["project", "learned"]
HEADER = (
    "## Project overview\n"
    "_Learned from the repository's own files by `codemem digest`; this region is rewritten on "
    "every pass, so write your own notes outside it._"
)
README_NAMES = ("README.md", "README.rst", "README.txt", "README", "readme.md", "Readme.md")
MAX_DESCRIPTION = 600
MAX_LANGUAGES = 8
DEFS_PER_FILE = 5
_LIST_ITEM = re.compile(r"([-*+]|\d+[.)])\s")
_BADGE = re.compile(r"^\s*(\[!\[|!\[|<(p|img|a|div|h\d|br|picture|source)\b|</|\[.*\]:\s)", re.I)


def safe(text: str) -> str:
    """Text that cannot open or close a marked region."""
    return text.replace("<!--", "< !--").replace("-->", "-- >")


def readme_description(files: RepoFiles) -> tuple[str, str | None]:
    """The README's first paragraphs of prose (title, badges and HTML skipped), and its path."""
    path = files.find(*README_NAMES)
    text = files.text(path) or ""
    paragraphs: list[str] = []
    current: list[str] = []
    in_fence = False
    started = False
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith(("```", "~~~")):
            in_fence = not in_fence
            continue
        setext = bool(current) and re.fullmatch(r"[=\-~^]{3,}", stripped or "x") is not None
        if in_fence or _BADGE.match(line):
            continue
        if setext:
            current.pop()  # the underlined line is the heading's text
        if setext or stripped.startswith("#"):
            if current:
                paragraphs.append(" ".join(current))
                current = []
            if started and paragraphs:
                break
            started = True
            continue
        if not stripped:
            if current:
                paragraphs.append(" ".join(current))
                current = []
            continue
        if _LIST_ITEM.match(stripped) and (paragraphs or current):
            break  # a list after the description ends it
        current.append(stripped)
    if current:
        paragraphs.append(" ".join(current))
    if paragraphs and paragraphs[-1].endswith(":"):  # it announced the list left out
        last = paragraphs.pop()
        end = max(last.rfind(". "), last.rfind("! "), last.rfind("? "))
        if end > 0:
            paragraphs.append(last[: end + 1])
    out = ""
    for paragraph in paragraphs:
        candidate = f"{out}\n\n{paragraph}" if out else paragraph
        if len(candidate) > MAX_DESCRIPTION:
            if not out:
                cut = paragraph[:MAX_DESCRIPTION]
                end = max(cut.rfind(". "), cut.rfind("! "), cut.rfind("? "))
                out = cut[: end + 1] if end > 0 else cut.rstrip() + "…"
            break
        out = candidate
    return clean_text(out), path


@dataclass
class Overview:
    """What the project region shows, section by section."""

    description: str = ""
    readme: str | None = None
    languages: list[str] = field(default_factory=list)
    key_files: list[str] = field(default_factory=list)
    entry_points: list[EntryPoint] = field(default_factory=list)
    commands: dict[str, list[Command]] = field(default_factory=dict)

    def items(self) -> list[tuple[str, str]]:
        """(section, line) pairs in priority order, which is also the order shown."""
        out = [
            ("Commands", f"- {c.category}: {code_span(c.command)} ({c.source})")
            for cs in self.commands.values()
            for c in cs
        ]
        out += [
            ("Entry points", f"- {code_span(e.name)} → {code_span(e.target)} ({e.source})")
            for e in self.entry_points
        ]
        out += [("Languages", line) for line in self.languages]
        out += [("Key files (most referenced first)", line) for line in self.key_files]
        return out

    def render(self, count: int | None = None, note: str = "") -> str:
        lines = [HEADER]
        if self.description:
            quoted = "\n".join(f"> {line}".rstrip() for line in self.description.split("\n"))
            lines.append(f"\n{quoted}\n_(quoted from {self.readme})_")
        section = None
        for title, line in self.items()[:count]:
            if title != section:
                lines.append(f"\n### {title}")
                section = title
            lines.append(line)
        if note:
            lines.append(f"\n{note}")
        return "\n".join(lines)


def _languages(index: CodeIndex, indexed: dict[str, str]) -> list[str]:
    lines: dict[str, int] = defaultdict(int)
    counts: dict[str, int] = defaultdict(int)
    try:
        rows = [(f.language, f.lines) for f in index.file_facts()]
    except Exception:  # the table is an index over the files: fall back to the manifest
        rows = [(language, 0) for language in indexed.values()]
    for language, line_count in rows:
        if is_code(language):
            name = display_name(language_family(language))
            counts[name] += 1
            lines[name] += line_count or 0
    order = sorted(counts, key=lambda name: (-lines[name], -counts[name], name))
    total = sum(lines.values())
    out = [
        f"- {name}: {band_of(lines[name] / total).words} of the code" if total else f"- {name}"
        for name in order[:MAX_LANGUAGES]
    ]
    if len(order) > MAX_LANGUAGES:
        out.append(f"- and {len(order) - MAX_LANGUAGES} more")
    return out


def _key_files(index: CodeIndex, limit: int) -> list[str]:
    if limit <= 0:
        return []
    try:
        ranks = index.file_ranks()
    except Exception:  # the repo map is optional here
        return []
    # Files nobody references all share the lowest rank: they are not key files (and a new
    # file would otherwise join the list in every clone that adds one, and conflict).
    floor = min(ranks.values(), default=0.0) * (1 + 1e-6)
    ranked = sorted(
        (
            path
            for path in ranks
            if ranks[path] > floor
            and is_code(language_for_path(path))
            and not is_test_path(path)
            and index.definitions(path)
        ),
        key=lambda path: (-round(ranks[path], 12), path),
    )
    out = []
    for path in ranked[:limit]:
        names = list(
            dict.fromkeys(
                d.name
                for d in index.definitions(path)
                if d.name == d.qualname
                and not d.name.startswith("_")
                and d.kind not in ("variable", "constant", "field")
            )
        )[:DEFS_PER_FILE]
        out.append(
            f"- `{printable(path)}`" + (": " + ", ".join(safe(n) for n in names) if names else "")
        )
    return out


def _go_main_files(ws: Workspace, indexed: dict[str, str], max_bytes: int) -> list[str]:
    out = []
    for path, language in indexed.items():
        if language == "go" and not path.endswith("_test.go"):
            data, _ = read_repo_file(ws.root, path, max_bytes)
            if (
                data
                and re.search(rb"^package main\b", data, re.M)
                and re.search(rb"^func main\(\)", data, re.M)
            ):
                out.append(path)
    return out


def learn_overview(
    ws: Workspace, config: Config, key_files: int, files: RepoFiles | None = None
) -> Overview:
    """Everything the project region shows, read from the repository and its index."""
    files = files or RepoFiles(ws.root)
    index = CodeIndex(ws, config)
    indexed = index.indexed_languages()
    description, readme = readme_description(files)
    return Overview(
        description=description,
        readme=readme,
        languages=_languages(index, indexed) if indexed else [],
        key_files=_key_files(index, key_files),
        entry_points=find_entry_points(
            files, _go_main_files(ws, indexed, config.index.max_file_bytes)
        ),
        commands=find_commands(files),
    )


class OverviewRegion:
    """Renders the overview within a budget; `overflow` is the full text when lines were cut."""

    def __init__(self, overview: Overview) -> None:
        self.overview = overview
        self.full = overview.render()
        self.overflow: str | None = None
        self.built = False  # whether the block was read and the region rendered

    def __call__(self, budget: int) -> str:
        self.built = True
        self.overflow = None
        total = len(self.overview.items())
        if len(self.full) <= budget:
            return self.full

        def top(n: int) -> str:
            note = (
                f"_{total - n} more lines of this overview are in archival memory (tag `project`)._"
            )
            return self.overview.render(n, note)

        text, _kept = fit(top, total, budget)
        self.overflow = "Project overview of this repository, in full.\n\n" + self.full
        return text


def project_value(value: str, limit: int, region: OverviewRegion) -> str:
    """The block's new value: the overview region rewritten.

    The Recent changes region older versions kept here is removed: a list that moved with
    every commit made two clones' project.md conflict; the digests hold the history.
    """
    span = find_region(value, RECENT, LABEL)
    if span is not None:
        before, after = value[: span[0]].rstrip("\n"), value[span[1] :].lstrip("\n")
        value = f"{before}\n\n{after}" if before and after else before or after
    budget = region_budget(value, REGION, limit, LABEL)
    return with_region(value, REGION, region(budget), LABEL)
