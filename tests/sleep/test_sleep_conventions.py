"""The conventions miner on fixture repositories in several languages, with exact rules."""

from __future__ import annotations

import os
import signal

import pytest
from sleep_helpers import config

from codemem.code import CodeIndex, SymbolRow
from codemem.conventions import (
    CommitMessage,
    RepoFiles,
    gather_facts,
    mine_conventions,
    name_styles,
    render_rule,
    stable_rules,
)
from codemem.conventions.code_style import naming_rules
from codemem.conventions.commit_style import commit_rules
from codemem.conventions.tooling import configured_line_limits, tool_rules
from codemem.workspace import Workspace


def mined(repo) -> list[tuple[str | None, str]]:
    ws = Workspace(repo)
    cfg = config(min_samples=3)
    CodeIndex(ws, cfg).refresh()
    rules = mine_conventions(gather_facts(ws, cfg, cfg.sleep), 3)
    return [(rule.language, render_rule(rule)) for rule in rules if rule.topic != "commits"]


def test_python_project(repo_factory):
    assert mined(repo_factory("sleep/pyshop")) == [
        (
            "python",
            "- Python classes are named in PascalCase (all; e.g. `LineItem`, `ReceiptError`)",
        ),
        (
            "python",
            "- Python functions are named in snake_case (all; e.g. `empty_cart`, `format_price`, `parse_price`)",
        ),
        ("python", "- Python methods are named in snake_case (all; e.g. `add_item`)"),
        (
            "python",
            "- Python public functions, classes and methods have docstrings (most, ≥80%; e.g. `LineItem`, `Cart`, `add_item`; exceptions: `legacy_discount` (shop/prices.py))",
        ),
        (
            "python",
            "- Python: docstrings that describe parameters use Google style sections (Args:, Returns:) (all; e.g. `add_item`, `total`, `format_price`)",
        ),
        (
            "python",
            "- Python functions annotate every parameter and the return type (most, ≥80%; e.g. `add_item`, `total`, `describe`; exceptions: `legacy_discount` (shop/prices.py))",
        ),
        (
            "python",
            "- Python tests use pytest (plain test functions and fixtures) (all; e.g. tests/test_cart.py, tests/test_prices.py, tests/test_receipts.py; from pyproject.toml [tool.pytest.ini_options], tests/conftest.py)",
        ),
        (
            "python",
            "- Python tests live in a top-level tests/ folder (all; e.g. tests/test_cart.py, tests/test_prices.py, tests/test_receipts.py)",
        ),
        (
            "python",
            "- Python test files are named test_*.py (all; e.g. tests/test_cart.py, tests/test_prices.py, tests/test_receipts.py)",
        ),
        (
            "python",
            "- Python imports are sorted by ruff's isort rules (I) (from pyproject.toml [tool.ruff])",
        ),
        (
            "python",
            "- Python is linted with ruff (line-length = 88; target-version = py311; select = E, F, I; from pyproject.toml [tool.ruff], .github/workflows/ci.yml, Makefile)",
        ),
        ("python", "- Python imports name what they use (`from module import name`) (many, ≥60%)"),
        ("python", "- Python imports are absolute, not relative (`from .x import y`) (all)"),
        (
            "python",
            "- Python modules start with `from __future__ import annotations` (about half, ≥40%)",
        ),
        (
            "python",
            "- Python lines stay within 88 characters (configured in pyproject.toml ruff line-length) (almost all, ≥95%; exceptions: shop/receipts.py (98 chars))",
        ),
        ("python", "- Python code is indented with 4 spaces (all)"),
        ("python", "- Python code has few comments"),
    ]


def test_typescript_project(repo_factory):
    assert mined(repo_factory("sleep/webapp")) == [
        (
            "typescript",
            "- TypeScript functions are named in camelCase (all; e.g. `runCli`, `libraryVersion`, `formatPrice`)",
        ),
        (
            "typescript",
            "- TypeScript methods are named in camelCase (all; e.g. `addItem`, `totalCents`, `describeTotal`)",
        ),
        (
            "typescript",
            "- TypeScript public definitions have doc comments (all; e.g. `LineItem`, `CartStore`, `addItem`)",
        ),
        (
            "typescript",
            "- TypeScript: doc comments that describe parameters use @param / @returns tags (all; e.g. `addItem`, `formatPrice`, `parsePrice`)",
        ),
        (
            "typescript",
            "- TypeScript functions annotate every parameter and the return type (all; e.g. `addItem`, `totalCents`, `describeTotal`)",
        ),
        ("typescript", "- TypeScript tests run with vitest (from package.json)"),
        (
            "typescript",
            "- TypeScript tests live in a top-level test/ folder (all; e.g. test/cart.test.ts, test/cli.test.ts, test/money.test.ts)",
        ),
        (
            "typescript",
            "- TypeScript test files are named *.test.ts (all; e.g. test/cart.test.ts, test/cli.test.ts, test/money.test.ts)",
        ),
        (
            "typescript",
            "- TypeScript is formatted with Prettier (printWidth = 100; semi = false; singleQuote = true; from .prettierrc, package.json)",
        ),
        ("typescript", "- TypeScript is linted with ESLint (from eslint.config.js, package.json)"),
        ("typescript", "- TypeScript compiles in strict mode (strict: true) (from tsconfig.json)"),
        ("typescript", "- TypeScript uses ES modules (import/export), not require() (all)"),
        ("typescript", "- TypeScript module paths are in single quotes (all)"),
        (
            "typescript",
            "- TypeScript lines stay within 100 characters (configured in .prettierrc printWidth) (all)",
        ),
        ("typescript", "- TypeScript code is indented with 2 spaces (all)"),
        ("typescript", "- TypeScript code is well commented"),
        ("typescript", "- TypeScript comments are /* */ block comments (all)"),
    ]


def test_go_project(repo_factory):
    assert mined(repo_factory("sleep/gosvc")) == [
        (
            "go",
            "- Go functions are named in mixedCaps (camelCase or PascalCase) (all; e.g. `FormatCents`, `parseID`, `ValidID`)",
        ),
        (
            "go",
            "- Go methods are named in mixedCaps (camelCase or PascalCase) (all; e.g. `ServeHTTP`)",
        ),
        (
            "go",
            "- Go public definitions have doc comments (most, ≥80%; e.g. `FormatCents`, `ValidID`, `Order`; exceptions: `ServeHTTP` (internal/store/orders.go))",
        ),
        (
            "go",
            "- Go doc comments start with the name they document (all; e.g. `FormatCents`, `ValidID`, `Order`)",
        ),
        (
            "go",
            "- Go tests use the standard testing package with testify assertions (e.g. cmd/api/main_test.go, internal/store/format_test.go, internal/store/orders_test.go; from go.mod)",
        ),
        (
            "go",
            "- Go tests live next to the code they test (all; e.g. cmd/api/main_test.go, internal/store/format_test.go, internal/store/orders_test.go)",
        ),
        (
            "go",
            "- Go test files are named *_test.go (all; e.g. cmd/api/main_test.go, internal/store/format_test.go, internal/store/orders_test.go)",
        ),
        (
            "go",
            "- Go is linted with golangci-lint (enable = errcheck, govet, staticcheck; from .golangci.yml)",
        ),
        ("go", "- Go lines stay within 79 characters (all)"),
        ("go", "- Go code is indented with tabs (all)"),
        ("go", "- Go code has some comments"),
        ("go", "- Go comments are // line comments (all)"),
    ]


def test_mining_is_deterministic(repo_factory):
    repo = repo_factory("sleep/pyshop")
    assert mined(repo) == mined(repo)


@pytest.mark.parametrize(
    ("name", "styles"),
    [
        ("total", {"snake_case", "camelCase", "mixedCaps"}),
        ("add_item", {"snake_case"}),
        ("_private_helper", {"snake_case"}),
        ("addItem", {"camelCase", "mixedCaps"}),
        ("CartStore", {"PascalCase", "mixedCaps"}),
        ("HTTP", {"PascalCase", "UPPER_CASE", "mixedCaps"}),
        ("MAX_SIZE", {"UPPER_CASE"}),
        ("get_HTTP", set()),
    ],
)
def test_name_styles(name, styles):
    assert name_styles(name) == styles


def row(name, kind="function", path="a.py", line=1, language="python", is_test=False):
    return SymbolRow(path, language, name, name, kind, line, line, "", "", None, is_test)


def test_naming_reports_exceptions_with_their_file():
    rows = [
        row(n, line=i)
        for i, n in enumerate(["load_file", "save_file", "close", "getValue", "run_all"], 1)
    ]
    rows.append(row("test_thing", line=9, is_test=True))  # tests are left out
    [rule] = naming_rules(rows, min_samples=5)
    assert (rule.statement, rule.share) == ("Python functions are named in snake_case", 0.8)
    assert rule.evidence.examples == ("`load_file`", "`save_file`", "`run_all`")
    assert rule.evidence.exceptions == ("`getValue` (a.py)",)  # no line number: it moves


def test_one_word_names_follow_the_language_default():
    rows = [
        row(n, kind="method", language="javascript", path="a.js", line=i)
        for i, n in enumerate(["add", "total", "clear", "size", "reset"], 1)
    ]
    [rule] = naming_rules(rows, min_samples=5)
    assert rule.statement == "JavaScript methods are named in camelCase"


def test_too_few_samples_give_no_rule():
    assert naming_rules([row("a_b"), row("c_d")], min_samples=5) == []


def test_commit_message_style():
    messages = [
        CommitMessage(s, has_body=b)
        for s, b in [
            ("feat(cart): add checkout", True),
            ("fix: round VAT down", False),
            ("docs: explain receipts", False),
            ("feat: support coupons #12", True),
            ("Updated readme", False),
            ("Merge branch 'main'", False),
        ]
    ]
    rendered = [render_rule(rule) for rule in stable_rules(commit_rules(messages, min_samples=3))]
    assert rendered == [
        "- Commit subjects follow Conventional Commits (`type(scope): summary`) (most, ≥80%; e.g. `feat(cart): add checkout`, `fix: round VAT down`, `docs: explain receipts`; exceptions: `Updated readme`)",
        "- Commit subjects use the imperative mood (`Add x`, not `Added x`) (most, ≥80%; e.g. `feat(cart): add checkout`, `fix: round VAT down`, `docs: explain receipts`; exceptions: `Updated readme`)",
        "- Commit subjects do not end with a period (all)",
        "- Commit subjects are at most 72 characters (all)",
        "- Commits are usually a subject line only (many, ≥60%)",
    ]


def test_tool_settings_from_config_files(tmp_path):
    files = {
        "pyproject.toml": '[tool.black]\nline-length = 100\n\n[tool.isort]\nprofile = "black"\n\n[tool.mypy]\nstrict = true\n',
        "setup.cfg": "[flake8]\nmax-line-length = 100\nextend-ignore = E203\n",
        ".editorconfig": "root = true\n\n[*]\nindent_style = space\n\n[Makefile]\nindent_style = tab\n",
        ".pre-commit-config.yaml": "repos:\n  - repo: x\n    hooks:\n      - id: black\n      - id: flake8\n",
        ".clang-format": "BasedOnStyle: Google\nColumnLimit: 100\n",
        "rustfmt.toml": "max_width = 90\n",
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    repo = RepoFiles(tmp_path, paths=list(files))
    assert [render_rule(r) for r in tool_rules(repo, {"python", "cpp", "rust"})] == [
        "- Python is formatted with black (line-length = 100; from pyproject.toml [tool.black], .pre-commit-config.yaml)",
        "- Python imports are sorted with isort (profile = black; from pyproject.toml [tool.isort])",
        "- Python is linted with flake8 (max-line-length = 100; extend-ignore = E203; from setup.cfg, .pre-commit-config.yaml)",
        "- Python is type-checked with mypy in strict mode (from pyproject.toml [tool.mypy])",
        "- Rust is formatted with rustfmt (max_width = 90; from rustfmt.toml)",
        "- C++ is formatted with clang-format (BasedOnStyle = Google; ColumnLimit = 100; from .clang-format)",
        "- EditorConfig for [*]: indent_style = space (from .editorconfig)",
        "- EditorConfig for [Makefile]: indent_style = tab (from .editorconfig)",
        "- pre-commit runs: black, flake8 (from .pre-commit-config.yaml)",
    ]
    assert configured_line_limits(repo) == {
        "python": (100, "pyproject.toml black line-length"),
        "rust": (90, "rustfmt.toml max_width"),
        "c": (100, ".clang-format ColumnLimit"),
        "cpp": (100, ".clang-format ColumnLimit"),
    }


def test_config_files_that_parse_but_cannot_be_built_read_as_empty(tmp_path):
    """A cloned repository's tool configs may hold values no parser can build: each reads as
    empty (the miner's contract), where they used to stop the digest with an internal error."""
    deep = "[" * 5000 + "]" * 5000
    files = {
        ".pre-commit-config.yaml": "repos: 2025-02-30\n",
        ".prettierrc.yml": "printWidth: 1" + "0" * 5000 + "\n",
        "deep.yml": f"a: {deep}\n",
        "tsconfig.json": deep,
        "commented.json": "// x\n" + deep,
        "pyproject.toml": f"a = {deep}\n",
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    repo = RepoFiles(tmp_path, paths=list(files))
    assert [
        repo.yaml(name) for name in (".pre-commit-config.yaml", ".prettierrc.yml", "deep.yml")
    ] == [None] * 3
    assert [
        repo.json("tsconfig.json"),
        repo.json("commented.json"),
        repo.toml("pyproject.toml"),
    ] == [{}] * 3
    assert [rule.statement for rule in tool_rules(repo, {"python", "javascript"})] == [
        "TypeScript is formatted with Prettier"  # the file is there; its options read as none
    ]


def test_a_file_a_checkout_swapped_for_a_pipe_or_a_link_since_the_index_is_not_read(
    repo_factory,
):
    # The miner asks each indexed code file whether a tool generated it. A checkout after the
    # index may have made one a FIFO (the digest then waited for a writer forever) or a link
    # to /dev/zero: neither is opened as a file now.
    repo = repo_factory("sleep/pyshop")
    ws = Workspace(repo)
    cfg = config(min_samples=3)
    CodeIndex(ws, cfg).refresh()
    (repo / "shop" / "cart.py").unlink()
    os.mkfifo(repo / "shop" / "cart.py")
    (repo / "shop" / "prices.py").unlink()
    (repo / "shop" / "prices.py").symlink_to("/dev/zero")
    previous = signal.signal(signal.SIGALRM, _waited)
    signal.alarm(5)
    try:
        facts = gather_facts(ws, cfg, cfg.sleep)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert "shop/cart.py" in facts.code_paths  # indexed: the miner counts its symbols
    assert "shop/cart.py" not in facts.sources and "shop/prices.py" not in facts.sources


class Waited(Exception):  # not an OSError, which the code under test may catch
    """The code waited for a FIFO's writer."""


def _waited(signum, frame):
    raise Waited


def test_commit_messages_are_read_whole_whatever_marks_they_hold(tmp_path):
    from codemem.conventions.miner import read_commit_messages
    from tests.helpers import git, make_repo

    repo = make_repo(tmp_path / "r", commit=False)
    for message in ("fix: one \x1e two", "feat: a \x1f b\n\nbody \x1e here", "docs: plain"):
        (repo / "notes.txt").write_text(message)
        git(repo, "add", "notes.txt")
        git(repo, "commit", "-q", "-m", message)
    assert read_commit_messages(Workspace(repo), 10) == [
        CommitMessage("docs: plain", has_body=False),
        CommitMessage("feat: a \x1f b", has_body=True),
        CommitMessage("fix: one \x1e two", has_body=False),
    ]


def test_commit_messages_of_memory_and_bots_are_not_the_teams_style(tmp_path):
    from codemem.conventions.miner import read_commit_messages
    from tests.helpers import git, make_repo

    repo = make_repo(tmp_path / "r", commit=False)

    def commit(path: str, message: str, author: str = "Dev") -> None:
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(message + "\n")
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", message, env={"GIT_AUTHOR_NAME": author})

    commit("shop/cart.py", "add the cart")
    commit(".codemem/blocks/project.md", "Add codemem memory")
    commit("requirements.txt", "Bump requests from 2.31.0 to 2.32.0", "dependabot[bot]")
    commit("shop/prices.py", "fix rounding of prices")
    # what `codemem digest --ci --push` commits, again and again
    commit(".codemem/digests/x.md", "codemem: update memory [skip ci]")
    git(repo, "mv", ".codemem/digests/x.md", "shop/x.md")
    git(repo, "commit", "-q", "-m", "move a note out of memory")
    people = [
        CommitMessage("move a note out of memory"),
        CommitMessage("fix rounding of prices"),
        CommitMessage("add the cart"),
    ]
    assert read_commit_messages(Workspace(repo), 10) == people
    # the bot's commit takes a place in the first page of 3, the next page has the third
    assert read_commit_messages(Workspace(repo), 3) == people
    assert read_commit_messages(Workspace(repo), 2) == people[:2]


def test_a_shallow_clone_keeps_the_commit_style_the_records_hold(tmp_path):
    """CI checks out one commit (`fetch-depth: 1`): its digest must not drop the commit rules
    the team's records learned from the history that clone does not have."""
    import json

    from click.testing import CliRunner

    from codemem.cli import cli
    from tests.helpers import git, make_repo

    repo = make_repo(tmp_path / "team", "shop")
    for n in range(8):
        (repo / "shop" / f"part{n}.py").write_text(f"def part_{n}():\n    return {n}\n")
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", f"add part {n} of the shop")

    def codemem(where, *args: str) -> None:
        result = CliRunner().invoke(cli, ["--repo", str(where), *args], catch_exceptions=False)
        assert result.exit_code == 0, result.output

    codemem(repo, "init")
    codemem(repo, "digest")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "add the team's memory")
    records = (repo / ".codemem" / "conventions.json").read_bytes()
    topics = [rule["topic"] for rule in json.loads(records)["rules"]]
    assert "commits" in topics  # learned from the history

    ci = tmp_path / "ci"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{repo}", str(ci))
    git(ci, "config", "user.email", "ci@example.com")
    git(ci, "config", "user.name", "CI")
    (ci / "shop" / "part0.py").write_text("def part_0():\n    return 'zero'\n")
    git(ci, "commit", "-q", "-am", "return a name from part 0")
    codemem(ci, "digest", "--ci")
    assert (ci / ".codemem" / "conventions.json").read_bytes() == records
    assert git(ci, "status", "--porcelain", "--", ".codemem/blocks").stdout == ""
