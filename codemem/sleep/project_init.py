"""The model-written project summary: a marked region at the top of `blocks/project.md`.

    <!-- codemem:project-summary:start -->
    ## Project summary
    ...what the project is, its parts, how to build and test it...
    <!-- codemem:project-summary:end -->

`codemem init --llm` (or `sleep.init_llm: true`) writes it from the README, the manifests, the
CI files, codemem's own extractive overview and the top of the repo map (as Letta Code's
`/init` does). Later digest passes that bring commits keep it true: the model gets the current
summary and the new commits and answers with the updated text, or UNCHANGED. The region is
written through `MemoryWriter` (compare-and-swap under the block's lock); text outside it is
never changed. Without a model there is no such region: the extractive overview stands alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from codemem.agent.messages import Message
from codemem.code import CodeIndex
from codemem.config import Config
from codemem.conventions import (
    RegionError,
    RepoFiles,
    find_region,
    region_body,
    region_budget,
    with_region,
    wrap,
)
from codemem.errors import UsageError
from codemem.infra import clean_text, redact_text, utc_now
from codemem.sleep import project
from codemem.sleep.llm import SleepModel, open_model
from codemem.sleep.writer import Change, MemoryWriter
from codemem.workspace import Workspace

if TYPE_CHECKING:
    from codemem.agent.providers import Provider
    from codemem.memory import Block
    from codemem.sleep.digest_file import CommitDigest

REGION = "project-summary"
HEADER = (
    "## Project summary\n"
    "_Written by a model from the README, manifests, CI files and repo map; kept current by "
    "`codemem digest`. Write your own notes outside this region._"
)
UNCHANGED = "UNCHANGED"
MANIFESTS = (
    "pyproject.toml",
    "setup.cfg",
    "setup.py",
    "package.json",
    "Cargo.toml",
    "go.mod",
    "pom.xml",
    "build.gradle",
    "build.gradle.kts",
    "Gemfile",
    "composer.json",
    "CMakeLists.txt",
    "Makefile",
    "justfile",
    "tox.ini",
    "noxfile.py",
)
README_CHARS, MANIFEST_CHARS, CI_CHARS, CI_FILES, MAP_TOKENS = 6_000, 3_000, 2_000, 3, 1_000
ANSWER_TOKENS = 1_500
COMMITS_CHARS = 8_000

WRITE_SYSTEM = """\
You write the project summary at the top of the `project` memory block of a software
repository: what a new teammate, or a coding agent starting a task, should know first. You
get the repository's README, manifests and CI files, an overview codemem extracted from them,
and a repo map (the most referenced files and their definitions).

Write Markdown, at most {max_chars} characters, without a heading (one is added): one or two
sentences on what the project is and what it is for; then short bullet points on the main
parts of the code and where they live (paths in backticks); the exact commands to install,
build, test and lint it, as the files give them; and anything unusual a newcomer must know.
State only what the sources show. Answer with the summary only."""

REFRESH_SYSTEM = """\
You keep the project summary at the top of a repository's `project` memory block true as the
code changes. You get the current summary and the commits made since it was last checked
(with the new text of any README, manifest or CI file they changed).

If the summary is still accurate, answer exactly {unchanged}. Otherwise answer with the whole
updated summary in the same form, at most {max_chars} characters and without a heading:
change only what the commits make wrong or incomplete, and do not rewrite it for style."""


@dataclass
class Source:
    """One input of the summary: a file (cut to a bound) or codemem's own overview or map."""

    name: str
    text: str

    def render(self) -> str:
        fence = "```"
        while fence in self.text:
            fence += "`"
        return f"### {self.name}\n{fence}\n{self.text.rstrip()}\n{fence}"


def _cut(text: str, limit: int) -> str:
    return (
        text
        if len(text) <= limit
        else text[:limit].rstrip() + f"\n[... {len(text) - limit:,} more characters]"
    )


def source_paths(files: RepoFiles) -> list[tuple[str, int]]:
    """(path, character bound) of the README, manifests and CI files, in that order."""
    readme = files.find(*project.README_NAMES)
    out = [(readme, README_CHARS)] if readme else []
    out += [(path, MANIFEST_CHARS) for name in MANIFESTS if (path := files.find(name))]
    ci = [*files.workflows, *filter(None, [files.find(".gitlab-ci.yml", ".circleci/config.yml")])]
    return out + [(path, CI_CHARS) for path in ci[:CI_FILES]]


def gather_sources(ws: Workspace, config: Config, files: RepoFiles | None = None) -> list[Source]:
    """What the model reads: README, manifests, CI files, the extractive overview, the map."""
    files = files or RepoFiles(ws.root)
    sources = [
        Source(path, _cut(redact_text(text), limit))
        for path, limit in source_paths(files)
        if (text := files.text(path))
    ]
    overview = project.learn_overview(ws, config, config.sleep.project_map_files, files)
    sources.append(Source("codemem's extracted overview", overview.render()))
    try:
        repo_map = CodeIndex(ws, config).repo_map(MAP_TOKENS)
    except Exception:  # the map is optional: an unindexed repository still gets a summary
        repo_map = None
    if repo_map is not None and repo_map.text:
        sources.append(Source("repo map (most referenced files first)", repo_map.text))
    return sources


def clean_answer(text: str) -> str:
    """The model's Markdown without an enclosing fence, a heading of its own or region markers."""
    text = text.strip()
    fenced = re.fullmatch(r"```[\w-]*\n(.*?)\n```", text, re.S)
    if fenced:
        text = fenced.group(1).strip()
    text = re.sub(r"\A#{1,6} *project summary *\n+", "", text, flags=re.I)
    return clean_text(text).strip()


def _fit(text: str, limit: int) -> str:
    """`text` cut at the last line end within `limit` characters."""
    if len(text) <= limit:
        return text
    cut = text[:limit]
    end = cut.rfind("\n")
    return (cut[:end] if end > 0 else cut).rstrip()


def current_summary(value: str) -> str | None:
    """The summary text in the block's region (without the header), or None."""
    body = region_body(value, REGION, project.LABEL)
    if body is None:
        return None
    return body.removeprefix(HEADER).strip()


def _write(writer: MemoryWriter, summary: str, max_chars: int, detail: str) -> bool:
    """Put `summary` into the region (created at the top of the block when missing)."""

    def change(block: Block) -> str | None:
        value = block.value
        if find_region(value, REGION, project.LABEL) is None:
            value = wrap(REGION, "") + ("\n\n" + value if value else "")
        room = min(
            max_chars, region_budget(value, REGION, block.limit, project.LABEL) - len(HEADER) - 2
        )
        text = _fit(summary, room)
        if len(text) < len(summary):
            writer.warnings.append(
                f"the project summary was cut to {room:,} characters to fit {project.LABEL}"
            )
        return with_region(value, REGION, f"{HEADER}\n\n{text}", project.LABEL)

    return writer.edit_block(project.LABEL, change, detail)


def write_project_summary(
    ws: Workspace, config: Config, model: SleepModel, *, dry_run: bool = False
) -> tuple[list[Change], list[str]]:
    """Ask the model for the summary and write it (`codemem init --llm`).

    Returns the writes made (or, with `dry_run`, that would be made) and warnings; a model
    failure is a warning, never an error.
    """
    writer = MemoryWriter(ws, dry_run=dry_run, clock=utc_now)
    max_chars = model.settings.project_summary_chars
    sources = gather_sources(ws, config)
    prompt = f"Repository `{ws.root.name}`.\n\n" + "\n\n".join(s.render() for s in sources)
    try:
        response = model.provider.complete(
            WRITE_SYSTEM.format(max_chars=f"{max_chars:,}"),
            [Message.user(prompt)],
            max_tokens=ANSWER_TOKENS,
        )
    except Exception as exc:  # a model failure is a warning, never an error
        model.failed("project summary (not written)", exc)
        return [], model.warnings + writer.warnings
    summary = clean_answer(response.message.content)
    if summary:
        _write(writer, summary, max_chars, "project summary")
    else:
        model.warnings.append("project summary: the model gave an empty answer; nothing written")
    return writer.changes, model.warnings + writer.warnings


def _commit_lines(items: list[CommitDigest]) -> str:
    lines = []
    for item in items:
        c = item.commit
        files = ", ".join(f.path for f in c.files[:12]) + (", ..." if len(c.files) > 12 else "")
        line = f"- {c.date} {c.short} {redact_text(c.subject)}" + (
            f" (files: {files})" if files else ""
        )
        if item.summary:
            line += f"\n  {item.summary}"
        lines.append(line)
    return _cut("\n".join(lines), COMMITS_CHARS)


def refresh_project_summary(
    ws: Workspace,
    config: Config,
    model: SleepModel,
    writer: MemoryWriter,
    items: list[CommitDigest],
) -> str | None:
    """Keep an existing summary true for the pass's commits: "updated", "unchanged" or None
    (no summary region, or the model failed)."""
    block = writer.read_block(project.LABEL)
    try:
        summary = current_summary(block.value) if block is not None else None
    except RegionError:
        return None
    if summary is None or not items:
        return None
    files = RepoFiles(ws.root)
    touched = {f.path for item in items for f in item.commit.files}
    changed = [
        Source(path, _cut(text, limit))
        for path, limit in source_paths(files)
        if path in touched and (text := files.text(path))
    ]
    prompt = "\n\n".join(
        filter(
            None,
            [
                f"Current summary:\n<summary>\n{summary}\n</summary>",
                f"Commits since it was checked (oldest first):\n{_commit_lines(items)}",
                "\n\n".join(s.render() for s in changed),
            ],
        )
    )
    max_chars = model.settings.project_summary_chars
    system = REFRESH_SYSTEM.format(unchanged=UNCHANGED, max_chars=f"{max_chars:,}")
    try:
        response = model.provider.complete(system, [Message.user(prompt)], max_tokens=ANSWER_TOKENS)
    except Exception as exc:  # a model failure is a warning, never an error
        model.failed("project summary (left as it was)", exc)
        return None
    answer = clean_answer(response.message.content)
    if not answer or answer.strip(". ") == UNCHANGED or answer == summary:
        return "unchanged"
    _write(writer, answer, max_chars, "project summary")
    return "updated"


def refresh_project(
    ws: Workspace,
    config: Config,
    model: SleepModel,
    writer: MemoryWriter,
    items: list[CommitDigest],
) -> None:
    """The digest's step: keep the model-written project summary true for the pass's commits
    (before the extractive overview is sized, so the overview fits around it)."""
    if items and model.can_call():
        model.report.project_summary = refresh_project_summary(ws, config, model, writer, items)


def has_project_summary(ws: Workspace) -> bool:
    """Whether `blocks/project.md` has the model-written region."""
    writer = MemoryWriter(ws, dry_run=True, clock=utc_now)
    block = writer.read_block(project.LABEL)
    try:
        return block is not None and find_region(block.value, REGION, project.LABEL) is not None
    except RegionError:
        return True  # broken markers: leave the block alone


def open_init_model(
    ws: Workspace, config: Config, *, explicit: bool, provider: Provider | None = None
) -> tuple[SleepModel | None, list[str]]:
    """The model for `codemem init`'s summary: None (with warnings) when it should not run.

    `explicit` (`--llm`) runs it whatever `sleep.init_llm` and `sleep.llm` say, and a missing
    model or key is an error. From config alone (`sleep.init_llm: true`) it runs only while
    there is no summary yet (so a second `codemem init` changes nothing), and a missing model
    or key is a warning.
    """
    settings = config.sleep
    if not explicit and not (settings.init_llm and settings.llm and not has_project_summary(ws)):
        return None, []
    settings = settings.model_copy(update={"llm": True})
    model, warnings = open_model(
        config,
        settings,
        provider=provider,
        required=explicit,
        hint="drop --llm",
        fallback="no project summary was written",
    )
    if model is None and not warnings:
        message = (
            "no model configured for the project summary: set model: in .codemem/config.yml, "
            "CODEMEM_MODEL or sleep.model"
        )
        if explicit:
            raise UsageError(message + " (or drop --llm)")
        warnings = [message + " (sleep.init_llm is true)"]
    return model, warnings
