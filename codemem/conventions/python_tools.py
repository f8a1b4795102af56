"""The Python tools a repository uses: ruff, black, isort, flake8, mypy, pyright, pylint.

Rules from configuration hold by definition, so their `share` is None; their evidence names
the files they were read from.
"""

from __future__ import annotations

from typing import Any

from codemem.conventions.repo_files import dig
from codemem.conventions.rules import Rule
from codemem.conventions.tool_scan import (
    ToolScan,
    flake8_config,
    ruff_config,
    tool_rule,
    tool_settings,
)


def python_tools(scan: ToolScan) -> list[Rule]:
    """The Python formatters, linters and type checkers configured or run."""
    files, py = scan.files, scan.files.pyproject
    pyproject = files.find("pyproject.toml") or "pyproject.toml"
    rules = []
    ruff_file, ruff = ruff_config(files)
    ruff_source = ruff_file or f"{pyproject} [tool.ruff]"
    if isinstance(ruff, dict):
        lint_table = ruff.get("lint")
        lint: dict[str, Any] = lint_table if isinstance(lint_table, dict) else ruff
        select = lint.get("select") or lint.get("extend-select")
        detail = tool_settings(
            {
                "line-length": ruff.get("line-length"),
                "target-version": ruff.get("target-version"),
                "select": select,
                "ignore": lint.get("ignore"),
            },
            ("line-length", "target-version", "select", "ignore"),
        )
        rules.append(
            tool_rule(
                "ruff",
                "linting",
                "python",
                "Python is linted with ruff",
                [ruff_source, *scan.run_in(r"\bruff\b")],
                detail,
            )
        )
        if isinstance(select, list) and any(
            str(code) == "I" or str(code).startswith("I0") for code in select
        ):
            rules.append(
                tool_rule(
                    "ruff isort",
                    "formatting",
                    "python",
                    "Python imports are sorted by ruff's isort rules (I)",
                    [ruff_source],
                )
            )
    formats = scan.run_in(r"\bruff format\b|ruff-format")
    if isinstance(ruff, dict) and (
        isinstance(ruff.get("format"), dict) or formats or "ruff-format" in scan.precommit
    ):
        rules.append(
            tool_rule(
                "ruff format",
                "formatting",
                "python",
                "Python is formatted with ruff format",
                [ruff_source, *formats],
                tool_settings(ruff.get("format") or {}, ("quote-style", "indent-style")),
            )
        )
    black = dig(py, "tool", "black")
    black_runs = scan.run_in(r"\bblack\b")
    if isinstance(black, dict) or "black" in scan.precommit:
        sources = [f"{pyproject} [tool.black]"] if isinstance(black, dict) else []
        rules.append(
            tool_rule(
                "black",
                "formatting",
                "python",
                "Python is formatted with black",
                [*sources, *black_runs],
                tool_settings(black or {}, ("line-length", "target-version")),
            )
        )
    isort = (
        dig(py, "tool", "isort")
        or files.ini(files.find("setup.cfg")).get("isort")
        or files.find(".isort.cfg")
    )
    if isort:
        rules.append(
            tool_rule(
                "isort",
                "formatting",
                "python",
                "Python imports are sorted with isort",
                [
                    f"{pyproject} [tool.isort]"
                    if dig(py, "tool", "isort")
                    else (files.find(".isort.cfg") or "setup.cfg")
                ],
                tool_settings(isort if isinstance(isort, dict) else {}, ("profile", "line_length")),
            )
        )
    flake8_file, flake8 = flake8_config(files)
    if flake8_file:
        rules.append(
            tool_rule(
                "flake8",
                "linting",
                "python",
                "Python is linted with flake8",
                [flake8_file, *scan.run_in(r"\bflake8\b")],
                tool_settings(flake8, ("max-line-length", "select", "extend-ignore", "ignore")),
            )
        )
    mypy = dig(py, "tool", "mypy")
    mypy_file = files.find("mypy.ini", ".mypy.ini")
    if isinstance(mypy, dict) or mypy_file:
        strict = isinstance(mypy, dict) and mypy.get("strict") is True
        rules.append(
            tool_rule(
                ("mypy strict" if strict else "mypy"),
                "linting",
                "python",
                "Python is type-checked with mypy" + (" in strict mode" if strict else ""),
                [mypy_file or f"{pyproject} [tool.mypy]", *scan.run_in(r"\bmypy\b")],
            )
        )
    if dig(py, "tool", "pyright") is not None or files.find("pyrightconfig.json"):
        rules.append(
            tool_rule(
                "pyright",
                "linting",
                "python",
                "Python is type-checked with pyright",
                [files.find("pyrightconfig.json") or f"{pyproject} [tool.pyright]"],
            )
        )
    if dig(py, "tool", "pylint") is not None or files.find(".pylintrc", "pylintrc"):
        rules.append(
            tool_rule(
                "pylint",
                "linting",
                "python",
                "Python is linted with pylint",
                [files.find(".pylintrc", "pylintrc") or f"{pyproject} [tool.pylint]"],
            )
        )
    return rules
