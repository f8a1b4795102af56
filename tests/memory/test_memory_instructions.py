"""Instruction files in and out: import into blocks, export into a marked region, init."""

from __future__ import annotations

import pytest
from memory_helpers import read_block

from codemem.errors import PathOutsideRepository
from codemem.memory import Archive, MemoryStore, initialize_memory
from codemem.memory.instructions import (
    REGION_BEGIN,
    REGION_END,
    export_instructions,
    import_instructions,
    split_sections,
)
from codemem.workspace import Workspace
from tests.helpers import AWS_KEY

PROJECT = """\
---
description: What this project is, its architecture, and how to build, test and run it.
limit: 8000
read_only: false
---
<!-- imported from CLAUDE.md § Shop (a4ab01fae287) -->
# Shop

A small web shop: a Flask API in `shop/` and a React front end in `web/`.

<!-- imported from CLAUDE.md § Build and test (01861f22ac03) -->
## Build and test

- `make install` sets up the virtualenv.
- `make test` runs pytest; `make lint` runs ruff.

```sh
# a comment inside a fence is not a heading
make test
```

<!-- imported from AGENTS.md § Architecture (1d3f8d03c691) -->
## Architecture

The API talks to Postgres through SQLAlchemy; migrations live in `migrations/`.
"""

CONVENTIONS = """\
---
description: Conventions this codebase follows; kept current by the sleep-time pass.
limit: 6000
read_only: false
---
<!-- imported from CLAUDE.md § Code style (2a41efc7c478) -->
## Code style

- Type hints on every public function.
- Prefer dataclasses to dicts for values.

<!-- imported from AGENTS.md § Naming rules (ba48110cfbb7) -->
## Naming rules

Modules are snake_case; React components are PascalCase.

<!-- imported from CONVENTIONS.md (ebc335cad56a) -->
Commit messages use the imperative mood ("Add cart endpoint").

<!-- imported from .cursorrules (8f53ef10d5da) -->
Never edit generated files under `web/build/`.

<!-- imported from .github/copilot-instructions.md (924cd13f170f) -->
Answer in English; keep functions under 50 lines.

<!-- imported from .cursor/rules/testing.mdc § How tests are written (1014f0d4d6ec) -->
Tests use pytest fixtures from `tests/conftest.py`; no unittest classes.
"""


@pytest.fixture
def shop(repo_factory, monkeypatch) -> Workspace:
    monkeypatch.setenv("CODEMEM_USER", "Alice")
    return Workspace(repo_factory("memory/instructions"))


def test_initialize_memory_creates_the_layout_and_imports(shop):
    created = initialize_memory(shop)
    assert [p.relative_to(shop.root).as_posix() for p in created] == [
        ".codemem/config.yml",
        ".codemem/.gitignore",
        ".codemem/.gitattributes",
        ".codemem/blocks/project.md",
        ".codemem/blocks/conventions.md",
        ".codemem/blocks/users/alice.md",
    ]
    assert (shop.dir / ".gitignore").read_text() == "local/\n"
    assert not (shop.dir / "state.json").exists()  # no committed bookkeeping
    assert (shop.dir / "config.yml").read_text().startswith("# codemem project settings")
    assert read_block(shop, "project") == PROJECT
    assert read_block(shop, "conventions") == CONVENTIONS
    assert read_block(shop, "users/alice") == (
        "---\ndescription: Preferences and working style of alice; shown only when they are "
        "the active user.\nlimit: 4000\nread_only: false\nowner: alice\n---\n"
    )


def test_initialize_memory_twice_creates_nothing(shop):
    initialize_memory(shop)
    before = {
        p: p.read_bytes() for p in shop.dir.rglob("*") if p.is_file() and "local" not in p.parts
    }
    assert initialize_memory(shop) == []
    after = {
        p: p.read_bytes() for p in shop.dir.rglob("*") if p.is_file() and "local" not in p.parts
    }
    assert after == before


def test_the_config_file_is_valid(shop):
    from codemem.config import load_config

    initialize_memory(shop)
    assert load_config(shop.config_file).model is None


def test_import_never_imports_a_part_twice(shop):
    initialize_memory(shop)
    store = MemoryStore(shop)
    parts = import_instructions(store, Archive(shop))
    assert {part.status for part in parts} == {"skipped"}
    assert len(parts) == 9
    # a new section in a file already imported comes in, alone
    with (shop.root / "AGENTS.md").open("a") as fh:
        fh.write("\n## Deployment\n\nDeploys go through staging.\n")
    parts = import_instructions(store, Archive(shop))
    assert [(p.source, p.heading, p.target, p.status) for p in parts if p.status != "skipped"] == [
        ("AGENTS.md", "Deployment", "project", "imported")
    ]
    assert read_block(shop, "project").endswith(
        "\n\n<!-- imported from AGENTS.md § Deployment (0e6cd0991b91) -->\n## Deployment\n\nDeploys go through staging.\n"
    )


def test_import_dry_run_changes_nothing(shop):
    store = MemoryStore(shop, user="alice")
    parts = import_instructions(store, Archive(shop), dry_run=True)
    assert [(p.source, p.target, p.status) for p in parts][:2] == [
        ("CLAUDE.md", "project", "imported"),
        ("CLAUDE.md", "project", "imported"),
    ]
    assert not shop.blocks_dir.exists()


def test_parts_too_big_for_a_block_go_to_the_archive(shop):
    store = MemoryStore(shop, user="alice")
    store.create("project", "Project.", limit=150)
    parts = import_instructions(store, Archive(shop))
    assert [(p.heading, p.target, p.status) for p in parts][:4] == [
        ("Shop", "project", "imported"),
        ("Build and test", "archive", "archived"),
        ("Code style", "conventions", "imported"),
        ("Architecture", "archive", "archived"),
    ]
    notes = Archive(shop).notes()
    assert [(n.tags, n.source) for n in notes] == [
        (["imported", "instructions"], "CLAUDE.md"),
        (["imported", "instructions"], "AGENTS.md"),
    ]
    assert notes[0].content.startswith("## Build and test\n\n- `make install`")
    again = import_instructions(store, Archive(shop))
    assert [p.status for p in again] == ["skipped"] * 9
    assert len(Archive(shop).notes()) == 2


def test_split_sections_ignores_headings_in_fences_and_bare_titles():
    text = "# Title\n\n## One\nbody one\n```\n# not a heading\n```\n## Empty\n\n## Two\nbody two\n"
    assert split_sections(text) == [
        ("One", "## One\nbody one\n```\n# not a heading\n```"),
        ("Two", "## Two\nbody two"),
    ]


REGION = (
    REGION_BEGIN + "\n## project\n\nA shop.\n\n## conventions\n\nUse ruff.\n" + REGION_END + "\n"
)


@pytest.fixture
def small(repo_factory) -> MemoryStore:
    store = MemoryStore(Workspace(repo_factory()), user="alice")
    store.create("project", "Project.", value="A shop.")
    store.create("conventions", "Conventions.", value="Use ruff.\n")
    store.create("users/alice", "Alice.", value="Private preferences.")
    store.create("empty", "Nothing yet.")
    return store


def test_export_appends_a_region_and_leaves_the_rest(small):
    path = small.ws.root / "CLAUDE.md"
    path.write_text("# Notes for Claude\n\nBe brief.\n")
    assert export_instructions(small, "claude-md") == (path, True)
    assert path.read_text() == "# Notes for Claude\n\nBe brief.\n\n" + REGION


def test_export_again_with_no_change_changes_nothing(small):
    path, _ = export_instructions(small, "agents-md")
    assert path == small.ws.root / "AGENTS.md"
    assert path.read_text() == REGION
    mtime = path.stat().st_mtime_ns
    assert export_instructions(small, "agents-md") == (path, False)
    assert path.stat().st_mtime_ns == mtime


def test_export_replaces_only_the_region(small):
    path = small.ws.root / "AGENTS.md"
    path.write_text("intro\n\n" + REGION + "\n## Kept\n\nhand-written\n")
    small.rethink("project", "A bigger shop.")
    assert export_instructions(small, "agents-md") == (path, True)
    assert path.read_text() == (
        "intro\n\n" + REGION.replace("A shop.", "A bigger shop.") + "\n## Kept\n\nhand-written\n"
    )


def test_export_then_import_round_trips_without_duplicates(shop):
    original = (shop.root / "CLAUDE.md").read_text()
    initialize_memory(shop)
    store = MemoryStore(shop)
    before = {label: read_block(shop, label) for label in ("project", "conventions")}
    for fmt in ("claude-md", "agents-md"):
        assert export_instructions(store, fmt)[1] is True
    parts = import_instructions(store, Archive(shop))
    assert {p.status for p in parts} == {"skipped"}
    assert {label: read_block(shop, label) for label in ("project", "conventions")} == before
    claude = (shop.root / "CLAUDE.md").read_text()
    # What came from CLAUDE.md is in it once; the region brings only what came from elsewhere.
    assert claude.startswith(
        original
        + "\n"
        + REGION_BEGIN
        + "\n## project\n\n<!-- imported from AGENTS.md § Architecture"
    )
    assert "imported from CLAUDE.md" not in claude
    assert claude.count("- `make install` sets up the virtualenv.") == 1
    assert claude.count("- Type hints on every public function.") == 1
    assert claude.count(REGION_BEGIN) == 1
    agents = (shop.root / "AGENTS.md").read_text()
    assert "imported from AGENTS.md" not in agents
    assert agents.count("The API talks to Postgres through SQLAlchemy") == 1
    assert agents.count("- `make install` sets up the virtualenv.") == 1
    assert export_instructions(store, "claude-md")[1] is False
    assert import_instructions(store, Archive(shop)) == parts  # and round again: nothing new
    assert (shop.root / "CLAUDE.md").read_text() == claude


def test_an_instruction_file_linked_out_of_the_repository_is_not_imported(small, tmp_path, caplog):
    secret = tmp_path / "id_rsa"
    secret.write_text("# Key\n\nSECRET KEY\n")
    (small.ws.root / "CLAUDE.md").symlink_to(secret)
    (small.ws.root / "AGENTS.md").write_text("# Shop\n\n## Build\n\nRun make.\n")
    (small.ws.root / "CONVENTIONS.md").symlink_to(small.ws.root / "AGENTS.md")  # inside: read
    parts = import_instructions(small, Archive(small.ws))
    assert [(p.source, p.heading, p.status) for p in parts] == [
        ("AGENTS.md", "Build", "imported"),
        ("CONVENTIONS.md", "Build", "skipped"),
    ]
    assert "SECRET" not in small.render_blocks()
    assert [r.getMessage() for r in caplog.records] == [
        "skipped CLAUDE.md: it leads outside the repository; codemem reads memory only from "
        "regular files in the repository and never follows links"
    ]


def test_export_never_writes_through_a_link_out_of_the_repository(small, tmp_path):
    secret = tmp_path / "bashrc"
    secret.write_text("SECRET\n")
    (small.ws.root / "AGENTS.md").symlink_to(secret)
    with pytest.raises(PathOutsideRepository):
        export_instructions(small, "agents-md")
    assert secret.read_text() == "SECRET\n"
    assert (small.ws.root / "AGENTS.md").is_symlink()


def test_export_through_a_link_inside_the_repository_writes_its_target(small):
    agents = small.ws.root / "AGENTS.md"
    agents.write_text("# Agents\n")
    (small.ws.root / "CLAUDE.md").symlink_to(agents)
    assert export_instructions(small, "claude-md") == (agents, True)
    assert (small.ws.root / "CLAUDE.md").is_symlink()
    assert agents.read_text() == "# Agents\n\n" + REGION


def test_an_instruction_file_too_large_or_not_utf8_is_skipped_and_the_others_imported(
    small, caplog
):
    # The first `codemem chat`, `run` or `mcp` sets memory up and imports instruction files:
    # a CLAUDE.md a pull made a 50 GB sparse file (or a Latin-1 one) stopped it with exit 2,
    # after the blocks were made, so the next start skipped the import of every file.
    with (small.ws.root / "CLAUDE.md").open("wb") as claude:
        claude.truncate(50 << 30)
    (small.ws.root / "CONVENTIONS.md").write_bytes(b"# Style\n\n## Names\n\nCaf\xe9 style.\n")
    (small.ws.root / "AGENTS.md").write_text("# Shop\n\n## Build\n\nRun make.\n")
    parts = import_instructions(small, Archive(small.ws))
    assert [(p.source, p.heading, p.status) for p in parts] == [("AGENTS.md", "Build", "imported")]
    assert [r.getMessage() for r in caplog.records] == [
        "CLAUDE.md: larger than 4,194,304 bytes, too large for a memory file: shorten it, or "
        "restore it with `git checkout -- CLAUDE.md`; not imported",
        "CONVENTIONS.md: not UTF-8 text (invalid continuation byte at byte 22): re-save it as "
        "UTF-8, or restore it with `git checkout -- CONVENTIONS.md`; not imported",
    ]


def test_no_command_writes_over_a_codemem_gitignore_saved_while_it_sets_up(shop, monkeypatch):
    # Any command's `ensure_local` checked that `.codemem/.gitignore` was missing, then wrote
    # it: one a person (or a checkout) saved in between was truncated and rewritten.
    from pathlib import Path

    ignore = shop.dir / ".gitignore"
    theirs = "local/\n*.bak\n"
    real_mkdir = Path.mkdir

    def saved_meanwhile(self, *args, **kwargs):
        real_mkdir(self, *args, **kwargs)
        if self == shop.dir and not ignore.exists():
            ignore.write_text(theirs)

    monkeypatch.setattr(Path, "mkdir", saved_meanwhile)
    shop.ensure_local()  # what any command does first, `codemem init` included
    assert ignore.read_text() == theirs


def test_a_part_holding_a_secret_is_refused_and_the_others_come_in(shop, caplog):
    # a personal CLAUDE.md is often kept out of git; the blocks it goes into are committed
    (shop.root / "AGENTS.md").write_text(
        "## Deployment\n\nDeploys go through staging.\n\n"
        f"## Cloud\n\nThe deploy key is {AWS_KEY}.\n"
    )
    store = MemoryStore(shop, user="alice")
    planned = import_instructions(store, Archive(shop), dry_run=True)
    assert ("AGENTS.md", "Cloud", "refused") in [(p.source, p.heading, p.status) for p in planned]
    parts = import_instructions(store, Archive(shop))
    statuses = {(p.source, p.heading): p.status for p in parts}
    assert statuses[("AGENTS.md", "Cloud")] == "refused"
    assert statuses[("AGENTS.md", "Deployment")] == "imported"
    assert AWS_KEY not in "".join(path.read_text() for path in shop.blocks_dir.rglob("*.md"))
    assert "AGENTS.md § Cloud not imported: the text holds what looks like a secret" in caplog.text
    assert AWS_KEY not in caplog.text
