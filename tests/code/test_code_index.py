"""`CodeIndex`, the code index's face, end to end on a small real repository."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from codemem.code import CodeIndex, FileFacts, MapDefinition, SymbolRow
from codemem.config import load_config
from codemem.errors import UsageError
from codemem.workspace import Workspace
from tests.helpers import git

MONEY = '''class Money:
    """An amount in cents."""

    def add(self, other):
        return Money()


def parse_amount(text: str) -> Money:
    return Money()
'''
CART = """from shop.money import Money, parse_amount


def cart_total(items: list) -> Money:
    return parse_amount(items[0])
"""
TEST_CART = """from shop.cart import cart_total


def test_cart_total():
    assert cart_total(["1"])
"""
FULL_MAP = (
    "shop/money.py:\n"
    "   1│ class Money:\n"
    "   4│     def add(self, other):\n"
    "   8│ def parse_amount(text: str) -> Money:\n"
    "shop/cart.py:\n"
    "   4│ def cart_total(items: list) -> Money:\n"
    "tests/test_cart.py:\n"
    "   4│ def test_cart_total():\n"
)


@pytest.fixture
def shop(repo_factory):
    repo = repo_factory(commit=False)
    for path, text in {
        "shop/money.py": MONEY,
        "shop/cart.py": CART,
        "tests/test_cart.py": TEST_CART,
    }.items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "shop")
    return repo


def code_index(repo) -> CodeIndex:
    ws = Workspace(repo)
    return CodeIndex(ws, load_config(ws.config_file))


def hits(index: CodeIndex, query: str, level: str) -> list[tuple]:
    return [
        (h.path, h.start_line, h.end_line, h.symbol, h.kind)
        for h in index.search(query, k=3, level=level)
    ]


def test_before_the_first_refresh_there_is_nothing(shop):
    index = code_index(shop)
    assert index.exists() is False
    assert index.repo_map(1000) is None
    assert index.files_using({"Money"}) is None
    assert (index.indexed_languages(), index.file_ranks(), index.definitions("shop/money.py")) == (
        {},
        {},
        [],
    )
    with pytest.raises(UsageError, match="no index yet"):
        index.search("Money")
    assert index.status()["problems"] == [
        "no .codemem/ folder: run `codemem init` to create memory and config",
        "no index: run `codemem index`",
    ]


def test_refresh_then_search_at_each_level(shop):
    index = code_index(shop)
    summary = index.refresh()
    assert (summary.full, summary.added, summary.files, summary.symbols, summary.chunks) == (
        True,
        3,
        3,
        5,
        6,
    )
    assert index.exists() is True
    assert index.refresh().up_to_date is True
    assert hits(index, "parse_amount", "file") == [
        ("shop/money.py", 1, 9, None, "file"),
        ("shop/cart.py", 1, 5, None, "file"),
    ]
    assert hits(index, "parse_amount", "symbol") == [
        ("shop/money.py", 8, 9, "parse_amount", "function"),
        ("shop/money.py", 1, 5, "Money", "class"),
        ("shop/cart.py", 4, 5, "cart_total", "function"),
    ]
    [best, *_] = index.search("parse_amount", k=3, level="chunk")
    assert (best.path, best.start_line, best.end_line, best.symbol, best.language) == (
        "shop/money.py",
        8,
        9,
        "parse_amount",
        "python",
    )
    assert best.text == "def parse_amount(text: str) -> Money:\n    return Money()"
    with pytest.raises(UsageError, match="unknown level 'line'"):
        index.search("Money", level="line")


def test_repo_map_is_cached_and_follows_the_index(shop):
    index = code_index(shop)
    index.refresh()
    first = index.repo_map(1000)
    assert first.text == FULL_MAP
    assert index.repo_map(1000) is first  # the same budget and focus: not rendered again
    focused = index.repo_map(1000, ["cart_total"])
    assert focused.text.startswith("shop/cart.py:\n   4│ def cart_total(items: list) -> Money:\n")
    assert focused.unmatched == []
    assert index.repo_map(1000, ["nothing_like_this"]).unmatched == ["nothing_like_this"]

    (shop / "shop" / "cart.py").write_text(
        CART + "\n\ndef cart_count(items: list) -> int:\n    return len(items)\n"
    )
    index.refresh()
    assert "   8│ def cart_count(items: list) -> int:\n" in index.repo_map(1000).text
    assert sorted(index.file_ranks(), key=lambda p: -index.file_ranks()[p]) == [
        "shop/money.py",
        "shop/cart.py",
        "tests/test_cart.py",
    ]


def test_a_tag_store_an_older_codemem_wrote_is_rebuilt_in_full(shop):
    import pickle

    index = code_index(shop)
    index.refresh()
    tags = index.ws.index_dir / "tags.bin"
    tags.write_bytes(pickle.dumps(("codemem-tags", 3, 1, {}), 5))  # the format before columns
    (shop / "shop" / "cart.py").write_text(CART + "\n\nTAX = 1\n")
    summary = index.refresh()
    assert (summary.full, summary.added) == (True, 3)
    assert code_index(shop).repo_map(1000).text.startswith("shop/money.py:\n")


def test_symbols_file_facts_and_definitions(shop):
    index = code_index(shop)
    index.refresh()
    assert index.symbols() == [
        SymbolRow("shop/cart.py", "python", "cart_total", "cart_total", "function", 4, 5,
                  "def cart_total(items: list) -> Money:", "", None, False),
        SymbolRow("shop/money.py", "python", "Money", "Money", "class", 1, 5, "class Money:",
                  "An amount in cents.", None, False),
        SymbolRow("shop/money.py", "python", "add", "Money.add", "method", 4, 5, "def add(self, other):",
                  "", "Money", False),
        SymbolRow("shop/money.py", "python", "parse_amount", "parse_amount", "function", 8, 9,
                  "def parse_amount(text: str) -> Money:", "", None, False),
        SymbolRow("tests/test_cart.py", "python", "test_cart_total", "test_cart_total", "function", 4, 5,
                  "def test_cart_total():", "", None, True),
    ]  # fmt: skip
    assert index.file_facts() == [
        FileFacts("shop/cart.py", "python", 5, 1, 2, 0, False),
        FileFacts("shop/money.py", "python", 9, 3, 2, 0, False),
        FileFacts("tests/test_cart.py", "python", 5, 1, 2, 0, True),
    ]
    assert index.indexed_languages() == {
        "shop/cart.py": "python",
        "shop/money.py": "python",
        "tests/test_cart.py": "python",
    }
    assert index.definitions("shop/money.py") == [
        MapDefinition("Money", "Money", "class", 1, 5, "class Money:"),
        MapDefinition("add", "Money.add", "method", 4, 5, "def add(self, other):"),
        MapDefinition(
            "parse_amount",
            "parse_amount",
            "function",
            8,
            9,
            "def parse_amount(text: str) -> Money:",
        ),
    ]
    assert index.files_using({"parse_amount", "Money"}) == {
        "shop/cart.py": {"Money", "parse_amount"},
        "shop/money.py": {"Money"},
    }


def test_status_reports_the_index(shop):
    index = code_index(shop)
    index.refresh()
    report = index.status()
    assert (report["indexed"], report["problems"], report["freshness"]) == (
        True,
        [],
        {"stale_files": 0},
    )
    assert report["languages"] == {"python": {"files": 3, "symbols": 5, "chunks": 6}}
    assert (report["index"]["files"], report["index"]["symbols"], report["index"]["chunks"]) == (
        3,
        5,
        6,
    )


def test_the_map_needs_no_database_and_warm_up_loads_it(shop):
    code_index(shop).refresh()
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from codemem.code import CodeIndex\n"
        "from codemem.workspace import Workspace\n"
        f"index = CodeIndex(Workspace(Path({str(shop)!r})))\n"
        "loaded = lambda: [name in sys.modules for name in ('lancedb', 'pyarrow', 'pydantic')]\n"
        "print(len(index.repo_map(1000).items), loaded())\n"
        "CodeIndex.warm_up()\n"
        "print(loaded()[:2])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        env=dict(os.environ),
    )
    assert out.stdout == "3 [False, False, False]\n[True, True]\n"
