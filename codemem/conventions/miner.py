"""The conventions miner: static, deterministic rules learned from the index, the tool
settings and git history, kept in a marked region of `blocks/conventions.md`.

`gather_facts` reads what the miners need (symbol rows, a deterministic sample of the
source text, configuration files, recent commit messages); `mine_conventions` is a pure
function from those facts (and the previous records) to sorted, stable `Rule`s (bands, no
counts, examples kept while they hold: see `stable.py`), the records the digest stores in
`.codemem/conventions.json` (see `records.py`); `ConventionsRegion` renders them to fit the
room the block has left, and hands back the full text (every rule, with its examples) for
an archival note whenever something had to be left out of the block.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from codemem.code import CodeIndex, SymbolRow, is_code, language_family, read_repo_file
from codemem.config import Config, SleepConfig
from codemem.conventions.code_style import display, docstring_rules, naming_rules, type_hint_rules
from codemem.conventions.commit_style import CommitMessage, commit_rules
from codemem.conventions.regions import fit
from codemem.conventions.repo_files import RepoFiles
from codemem.conventions.rules import BANDS_BY_KEY, TOPICS, Rule
from codemem.conventions.source_style import (
    Sources,
    comment_rules,
    import_rules,
    indentation_rules,
    line_length_rules,
)
from codemem.conventions.stable import stable_rules
from codemem.conventions.testsuite import framework_rules, layout_rules
from codemem.conventions.tooling import configured_line_limits, tool_rules
from codemem.infra import git_text
from codemem.workspace import Workspace

LABEL = REGION = "conventions"
NOTE_TAGS = ["conventions", "learned"]
HEADER = (
    "## Learned conventions\n"
    "_Mined from the code, tool settings and git history by `codemem digest`; this region is "
    "rewritten on every pass, so add your own conventions outside it._"
)


# Folders whose code is not the project's own: documentation, examples, benchmarks, vendored
# and generated code, test fixtures. Its habits are not the project's conventions.
NOT_OWN_DIRS = frozenset({
    "docs", "doc", "examples", "example", "samples", "sample", "demo", "demos", "benchmark", "benchmarks",
    "bench", "vendor", "vendored", "third_party", "third-party", "thirdparty", "external", "extern",
    "node_modules", "dist", "build", "generated", "gen", "testdata", "fixtures", "__fixtures__",
})
GENERATED_NAME = re.compile(r".*(_pb2(_grpc)?\.py|\.pb\.go|\.min\.js|\.generated\.\w+|_generated\.\w+)$")


def own_code(path: str) -> bool:
    """Whether a path is the project's own code: not docs, examples, benchmarks, vendored or
    generated code, nor a test fixture (test files themselves are the project's own)."""
    parts = path.lower().split("/")
    return not any(part in NOT_OWN_DIRS for part in parts[:-1]) and not GENERATED_NAME.match(parts[-1])


@dataclass
class CodeFacts:
    """Everything the miners read, gathered once."""

    files: RepoFiles
    symbols: list[SymbolRow] = field(default_factory=list)
    code_paths: dict[str, str] = field(default_factory=dict)  # path -> language family
    sources: Sources = field(default_factory=dict)  # a deterministic sample of code files
    commits: list[CommitMessage] = field(default_factory=list)


def read_commit_messages(ws: Workspace, limit: int) -> list[CommitMessage]:
    """The newest `limit` non-merge commit messages of HEAD."""
    if limit <= 0:
        return []
    # 128: no commits yet (or no repository): no messages.
    out = git_text(ws.root, "log", "--no-merges", f"--max-count={limit}", "--format=%s%x1f%b%x1e", "HEAD", ok=(0, 128))
    messages = []
    for record in out.split("\x1e"):
        record = record.strip("\n")
        if record:
            subject, _, body = record.partition("\x1f")
            messages.append(CommitMessage(subject.strip(), bool(body.strip())))
    return messages


def gather_facts(ws: Workspace, config: Config, settings: SleepConfig, files: RepoFiles | None = None) -> CodeFacts:
    """Read the index, a sample of the code, the configuration files and recent commits."""
    facts = CodeFacts(files or RepoFiles(ws.root))
    index = CodeIndex(ws, config)
    for path, language in index.indexed_languages().items():
        if is_code(language) and own_code(path):
            facts.code_paths[path] = language_family(language)
    if facts.code_paths:
        facts.symbols = [row for row in index.symbols() if row.path in facts.code_paths]
    paths = sorted(facts.code_paths)
    step = max(1, math.ceil(len(paths) / settings.max_scan_files))
    for path in paths[::step]:
        data, _ = read_repo_file(ws.root, path, config.index.max_file_bytes)
        if data is not None:
            facts.sources[path] = (facts.code_paths[path], data.decode("utf-8", "replace").replace("\r\n", "\n"))
    facts.commits = read_commit_messages(ws, settings.commit_history)
    return facts


def _sort_key(rule: Rule) -> tuple:
    # A stable sort: within a topic and language the miners' own order is kept.
    return (TOPICS.index(rule.topic), rule.language or "~")


def mine_conventions(facts: CodeFacts, min_samples: int = 5, previous: list[Rule] | None = None) -> list[Rule]:
    """Every rule the facts support, in priority order (topic, then language), in the stable
    form that is stored, keeping the examples of the `previous` records that still hold."""
    languages = set(facts.code_paths.values())
    texts = {path: text for path, (_lang, text) in facts.sources.items()}
    rules = [
        *naming_rules(facts.symbols, min_samples),
        *docstring_rules(facts.symbols, min_samples),
        *type_hint_rules(facts.symbols, min_samples),
        *framework_rules(facts.files, facts.code_paths, texts),
        *layout_rules(facts.code_paths, min_samples),
        *tool_rules(facts.files, languages),
        *import_rules(facts.sources, min_samples),
        *line_length_rules(facts.sources, configured_line_limits(facts.files), min_samples),
        *indentation_rules(facts.sources, min_samples),
        *comment_rules(facts.sources, min_samples),
        *commit_rules(facts.commits, min_samples),
    ]
    return stable_rules(sorted(rules, key=_sort_key), previous)


def render_rule(rule: Rule, examples: bool = True) -> str:
    """One Markdown list item: the statement, then its evidence."""
    ev = rule.evidence
    parts = []
    if rule.band in BANDS_BY_KEY:
        parts.append(BANDS_BY_KEY[rule.band].label)
    if ev.detail:
        parts.append(ev.detail)
    if examples and ev.examples:
        parts.append("e.g. " + ", ".join(ev.examples))
    if examples and ev.exceptions:
        parts.append("exceptions: " + ", ".join(ev.exceptions))
    if ev.sources:
        parts.append("from " + ", ".join(ev.sources))
    return f"- {rule.statement}" + (f" ({'; '.join(parts)})" if parts else "")


def render_conventions(rules: list[Rule], examples: bool = True, note: str = "") -> str:
    """The rules grouped by language (repository-wide ones last), with a header."""
    groups: dict[str | None, list[Rule]] = {}
    for rule in rules:
        groups.setdefault(rule.language, []).append(rule)
    order = sorted(groups, key=lambda lang: (lang is None, display(lang)))
    lines = [HEADER]
    if not rules:
        lines.append("\nNothing learned yet: the index or the history is too small.")
    for language in order:
        lines.append(f"\n### {display(language)}")
        lines += [render_rule(rule, examples) for rule in sorted(groups[language], key=_sort_key)]
    if note:
        lines.append(f"\n{note}")
    return "\n".join(lines)


class ConventionsRegion:
    """Renders the rules within a budget; `overflow` is the full text when something was cut."""

    def __init__(self, rules: list[Rule]) -> None:
        self.rules = rules
        self.full = render_conventions(rules)
        self.overflow: str | None = None
        self.built = False  # whether the block was read and the region rendered
        self.kept = len(rules)

    def __call__(self, budget: int) -> str:
        self.built = True
        self.overflow, self.kept = None, len(self.rules)
        if len(self.full) <= budget:
            return self.full
        self.overflow = "Learned conventions of this repository, every rule with its evidence.\n\n" + self.full
        compact = render_conventions(
            self.rules, examples=False,
            note="_Examples and exceptions for each rule are in archival memory (tag `conventions`)._",
        )
        if len(compact) <= budget:
            return compact

        def top(n: int) -> str:
            note = (f"_{len(self.rules) - n} more rules, and the examples behind every rule, are in "
                    "archival memory (tag `conventions`)._")
            return render_conventions(self.rules[:n], examples=False, note=note)

        text, self.kept = fit(top, len(self.rules), budget)
        return text
