"""The static checks on staged changes of the shop fixture, with exact findings."""

from __future__ import annotations

from review_helpers import CAMEL_FUNCTION, append, brief, review, stage, write

from codemem.config import load_config
from codemem.review.checks import CHECKS, run_checks
from codemem.review.context import ReviewContext
from codemem.review.diff import Target, read_changes
from codemem.workspace import Workspace
from tests.helpers import git


def test_a_clean_change_has_no_findings(shop):
    append(
        shop,
        "shop/prices.py",
        '\n\ndef add_prices(a: Price, b: Price) -> Price:\n    """The sum of two prices."""\n'
        "    return Price(a.cents + b.cents)\n",
    )
    append(
        shop,
        "tests/test_cart.py",
        "\n\ndef test_add_prices():\n    from shop.prices import add_prices\n"
        "    assert add_prices(Price(1), Price(2)) == Price(3)\n",
    )
    stage(shop)
    result = review(shop)
    assert result.findings == []
    assert result.files == ["shop/prices.py", "tests/test_cart.py"]


def test_a_name_against_a_strong_learned_convention_is_an_error(shop):
    append(shop, "shop/prices.py", CAMEL_FUNCTION)
    append(shop, "tests/test_cart.py", "\n# applyDiscount is covered elsewhere\n")
    stage(shop)
    [finding] = review(shop).findings
    assert (finding.file, finding.line, finding.severity, finding.rule) == (
        "shop/prices.py",
        28,
        "error",
        "naming/python/function",
    )
    assert finding.message == (
        "`applyDiscount` is camelCase; Python functions here are named in snake_case (almost all, ≥95%)"
    )
    assert finding.suggestion == "rename it to `apply_discount`"
    assert finding.confidence == 0.95  # the band of 34 of 35: almost all


def test_a_weaker_convention_gives_a_warning_and_classes_are_checked_too(shop):
    append(
        shop,
        "shop/cart.py",
        '\n\nclass saved_cart(Cart):\n    """A cart kept for later."""\n\n'
        '    def restoreItems(self) -> None:\n        """Put the items back."""\n',
    )
    append(shop, "tests/test_cart.py", "\n# saved_cart restoreItems\n")
    stage(shop)
    assert brief(review(shop)) == [
        ("shop/cart.py", 29, "error", "naming/python/class"),
        ("shop/cart.py", 32, "warning", "naming/python/method"),
    ]


def test_missing_docstring_and_missing_test_on_new_public_code(shop):
    append(
        shop,
        "shop/prices.py",
        "\n\ndef double_price(price: Price) -> Price:\n    return Price(price.cents * 2)\n"
        "\n\ndef _private_helper(price):\n    return price\n",
    )
    stage(shop)
    result = review(shop)
    assert [(f.line, f.severity, f.rule, f.message) for f in result.findings] == [
        (
            28,
            "warning",
            "docstrings/python",
            "public function `double_price` has no docstring; Python public definitions here have one (most, ≥80%)",
        ),
        (
            28,
            "warning",
            "tests/python",
            "no test mentions the new public function `double_price`; this project tests its Python code",
        ),
    ]


def test_a_test_in_the_tree_or_in_the_change_counts(shop):
    append(
        shop,
        "shop/prices.py",
        '\n\ndef double_price(price: Price) -> Price:\n    """Twice the price."""\n'
        "    return Price(price.cents * 2)\n",
    )
    stage(shop, {"tests/test_prices.py": "from shop.prices import double_price\n"})
    assert review(shop).findings == []
    git(shop, "commit", "-q", "-m", "double")
    append(
        shop,
        "shop/prices.py",
        '\n\ndef triple_price(price: Price) -> Price:\n    """Three times."""\n'
        "    return Price(price.cents * 3)\n",
    )
    write(shop, {"tests/test_prices.py": "from shop.prices import double_price, triple_price\n"})
    git(
        shop, "add", "shop/prices.py"
    )  # the test mentioning it is not staged: the staged tree lacks it
    assert brief(review(shop)) == [("shop/prices.py", 33, "warning", "tests/python")]
    git(shop, "add", "tests/test_prices.py")
    assert review(shop).findings == []


def test_changing_an_existing_definition_does_not_make_it_new(shop):
    append(
        shop,
        "shop/prices.py",
        "\n\ndef legacyTotal(prices):\n    return sum(p.cents for p in prices)\n",
    )
    git(shop, "add", "-A")
    git(shop, "commit", "-q", "-m", "legacy")
    text = (shop / "shop/prices.py").read_text()
    stage(
        shop,
        {
            "shop/prices.py": text.replace(
                "def legacyTotal(prices):", "def legacyTotal(prices, start=0):"
            ).replace(
                "return sum(p.cents for p in prices)", "return start + sum(p.cents for p in prices)"
            )
        },
    )
    assert review(shop).findings == []


def test_nested_functions_are_named_but_need_no_docstring_or_test(shop):
    append(
        shop,
        "shop/cart.py",
        '\n\ndef cart_summary(cart: Cart) -> str:\n    """One line about the cart."""\n\n'
        "    def formatLine(name):\n        return name\n\n    def __repr__():\n        return ''\n\n"
        "    return str(cart.item_count())\n",
    )
    append(shop, "tests/test_cart.py", "\n# cart_summary\n")
    stage(shop)
    assert brief(review(shop)) == [("shop/cart.py", 32, "error", "naming/python/function")]


def test_javascript_naming_and_leftovers(shop):
    append(
        shop,
        "web/app.js",
        "\n/** Debug helper. */\nexport function dump_items(items) {\n  console.log(items);\n"
        "  debugger;\n  return items;\n}\n",
    )
    stage(shop)
    assert brief(review(shop)) == [
        ("web/app.js", 14, "error", "naming/javascript/function"),
        ("web/app.js", 15, "warning", "leftovers/console-log"),
        ("web/app.js", 16, "error", "leftovers/debugger"),
    ]


def test_never_and_avoid_rules_from_conventions_md(shop):
    append(shop, "shop/cart.py", "\nprint(empty_cart())  # TODO remove\n")
    stage(shop, {"scripts/demo.py": 'print("demo")\n', "docs/notes.md": "TODO: write docs\n"})
    result = review(shop)
    assert [
        (f.file, f.line, f.severity, f.rule, f.message, f.suggestion) for f in result.findings
    ] == [
        (
            "shop/cart.py",
            28,
            "error",
            "conventions/never-print",
            "`print(`: the conventions say never (.codemem/blocks/conventions.md:23)",
            "log through `logging.getLogger(__name__)`",
        ),
        (
            "shop/cart.py",
            28,
            "warning",
            "conventions/avoid-todo",
            "/\\bTODO\\b/: the conventions say avoid (.codemem/blocks/conventions.md:24)",
            "",
        ),
    ]


def test_conflict_markers_but_not_a_markdown_underline(shop):
    stage(
        shop,
        {
            "shop/merge.py": "<<<<<<< HEAD\nA = 1\n=======\nA = 2\n>>>>>>> feature\n",
            "docs/title.md": "Title\n=======\n",
        },
    )
    assert brief(review(shop)) == [
        ("shop/merge.py", 1, "error", "conflicts/marker"),
        ("shop/merge.py", 3, "error", "conflicts/marker"),
        ("shop/merge.py", 5, "error", "conflicts/marker"),
    ]


def test_python_and_rust_leftovers_but_not_commented_out_ones(shop):
    stage(
        shop,
        {
            "shop/debugging.py": "import pdb\n\nX = 1\nbreakpoint()\n# breakpoint()\nfrom IPython import embed\n",  # codemem: ignore
            "native/lib.rs": "fn f(x: i32) -> i32 {\n    dbg!(x)\n}\n",
        },
    )
    assert brief(review(shop)) == [
        ("native/lib.rs", 2, "error", "leftovers/dbg"),
        ("shop/debugging.py", 1, "error", "leftovers/pdb"),
        ("shop/debugging.py", 4, "error", "leftovers/breakpoint"),
        ("shop/debugging.py", 6, "error", "leftovers/pdb"),
    ]


def test_large_binaries(shop):
    stage(
        shop,
        {"assets/big.bin": b"\0" * (600 * 1024), "assets/icon.png": b"\x89PNG\r\n\x1a\n\0\0\0"},
    )
    [finding] = review(shop).findings
    assert (finding.file, finding.line, finding.severity, finding.rule) == (
        "assets/big.bin",
        None,
        "warning",
        "binaries/large-file",
    )
    assert finding.message == "binary file of 600 KB (over review.max_binary_kb = 500)"


def test_codemem_ignore_comments(shop):
    append(
        shop,
        "shop/cart.py",
        "\nprint(1)  # codemem: ignore\nprint(2)  # codemem: ignore[conventions/never-print]\n"
        "breakpoint()  # codemem: ignore[naming]\n",
    )  # codemem: ignore
    stage(shop)
    assert brief(review(shop)) == [("shop/cart.py", 30, "error", "leftovers/breakpoint")]


def test_exclude_and_severity_overrides(shop):
    append(shop, "shop/prices.py", CAMEL_FUNCTION + "\nprint(1)\n")
    stage(shop, {"vendor/lib.py": "breakpoint()\n"})  # codemem: ignore
    config = load_config(
        None,
        flags={
            "review": {
                "exclude": ["vendor/**"],
                "severity": {
                    "naming": "info",
                    "tests": "off",
                    "conventions/never-print": "warning",
                },
            }
        },
    )
    assert brief(review(shop, config=config)) == [
        ("shop/prices.py", 28, "info", "naming/python/function"),
        ("shop/prices.py", 32, "warning", "conventions/never-print"),
    ]


def test_a_repository_without_memory_still_gets_the_generic_checks(repo_factory):
    repo = repo_factory()
    stage(repo, {"app.py": "def getThing():\n    breakpoint()\n"})  # codemem: ignore
    assert brief(review(repo)) == [("app.py", 2, "error", "leftovers/breakpoint")]


def test_a_failing_check_is_a_warning_and_the_others_still_run(shop):
    stage(shop, {"shop/x.py": "breakpoint()\n"})  # codemem: ignore
    ws = Workspace(shop)
    config = load_config(None)
    ctx = ReviewContext(ws, config, config.review, read_changes(shop, Target("staged"), 1_000_000))

    def broken(_ctx):
        raise RuntimeError("boom")

    findings, warnings = run_checks(ctx, (("broken", broken), *CHECKS))
    assert [f.rule for f in findings] == ["leftovers/breakpoint"]
    assert warnings == ["the broken check failed and was skipped: RuntimeError: boom"]


def test_require_and_prefer_rules(shop):
    append(
        shop,
        ".codemem/blocks/conventions.md",
        "- require: type hints on public functions in `shop/**` — annotate it\n"
        "- require: docstrings on public methods in `shop/**`\n"
        "- prefer: tests for public classes except `shop/internal/**`\n",
    )
    git(shop, "commit", "-q", "-am", "rules")
    append(
        shop,
        "shop/cart.py",
        "\n\ndef cart_total(cart, tax: float = 0.2):\n    return 0\n\n\n"
        "class Wishlist:\n    def share(self) -> str:\n        return ''\n",
    )
    stage(shop, {"shop/internal/cache.py": "class Cache:\n    pass\n"})
    result = review(shop)
    assert [(f.file, f.line, f.severity, f.rule, f.message) for f in result.findings] == [
        (
            "shop/cart.py",
            29,
            "error",
            "conventions/require-type-hints-functions",
            "public function `cart_total` lacks type hints for cart, return (required by .codemem/blocks/conventions.md:25)",
        ),
        (
            "shop/cart.py",
            29,
            "warning",
            "docstrings/python",
            "public function `cart_total` has no docstring; Python public definitions here have one (most, ≥80%)",
        ),
        (
            "shop/cart.py",
            29,
            "warning",
            "tests/python",
            "no test mentions the new public function `cart_total`; this project tests its Python code",
        ),
        (
            "shop/cart.py",
            33,
            "warning",
            "conventions/prefer-tests-classes",
            "no test mentions the new public class `Wishlist` (required by .codemem/blocks/conventions.md:27)",
        ),
        (
            "shop/cart.py",
            33,
            "warning",
            "docstrings/python",
            "public class `Wishlist` has no docstring; Python public definitions here have one (most, ≥80%)",
        ),
        (
            "shop/cart.py",
            34,
            "error",
            "conventions/require-docstrings-methods",
            "public method `share` has no docstring (required by .codemem/blocks/conventions.md:26)",
        ),
        (
            "shop/cart.py",
            34,
            "warning",
            "tests/python",
            "no test mentions the new public method `share`; this project tests its Python code",
        ),
        (
            "shop/internal/cache.py",
            1,
            "warning",
            "docstrings/python",
            "public class `Cache` has no docstring; Python public definitions here have one (most, ≥80%)",
        ),
    ]


def test_a_family_of_names_after_types_is_its_own_convention(shop):
    methods = "".join(
        f"    def _print_{name}(self, x):\n        return str(x)\n\n"
        for name in ("Int", "Float", "Str", "List", "Dict")
    )
    stage(
        shop,
        {"shop/printer.py": f'"""Printing."""\n\n\nclass Printer:\n    """Prints."""\n\n{methods}'},
    )
    git(shop, "commit", "-q", "-m", "printer")
    append(
        shop,
        "shop/printer.py",
        "    def _print_Cart(self, cart):\n        return str(cart)\n\n"
        "    def _dump_Cart(self, cart):\n        return repr(cart)\n",
    )
    stage(shop)
    assert brief(review(shop)) == [
        ("shop/printer.py", 25, "warning", "naming/python/method")
    ]  # _dump_Cart
