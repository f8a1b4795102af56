"""Conventions read from tool configuration: formatters, linters and their settings.

`tool_rules` gathers the tools once (`ToolScan`) and asks each language's miner
(`python_tools`, `js_tools`, and `other_tools` here for the rest) plus the editor and
pre-commit settings; `configured_line_limits` is the line limit each tool sets. Rules from
configuration hold by definition, so their `share` is None; their evidence names the files
they were read from. Pure functions over `RepoFiles`.
"""

from __future__ import annotations

from codemem.conventions.code_style import display
from codemem.conventions.js_tools import PRETTIER_FILES, js_tools
from codemem.conventions.python_tools import python_tools
from codemem.conventions.repo_files import RepoFiles, dig
from codemem.conventions.rules import Evidence, Rule
from codemem.conventions.tool_scan import (
    ToolScan,
    flake8_config,
    ruff_config,
    tool_rule,
    tool_settings,
)


def other_tools(scan: ToolScan, languages: set[str]) -> list[Rule]:
    """The tools of the other languages: Rust, Go, C/C++, Ruby, PHP."""
    files = scan.files
    rules = []
    rustfmt = files.find("rustfmt.toml", ".rustfmt.toml")
    runs = scan.run_in(r"cargo fmt|rustfmt")
    if rustfmt or runs:
        rules.append(
            tool_rule(
                "rustfmt",
                "formatting",
                "rust",
                "Rust is formatted with rustfmt",
                [*([rustfmt] if rustfmt else []), *runs],
                tool_settings(files.toml(rustfmt), ("max_width", "edition", "tab_spaces")),
            )
        )
    runs = scan.run_in(r"cargo clippy")
    if files.find("clippy.toml", ".clippy.toml") or runs:
        rules.append(
            tool_rule(
                "clippy",
                "linting",
                "rust",
                "Rust is linted with clippy",
                [*filter(None, [files.find("clippy.toml", ".clippy.toml")]), *runs],
            )
        )
    golangci = files.find(".golangci.yml", ".golangci.yaml", ".golangci.toml")
    if golangci or scan.run_in(r"golangci-lint"):
        enabled = (
            dig(files.yaml(golangci), "linters", "enable")
            if golangci and not golangci.endswith(".toml")
            else None
        )
        rules.append(
            tool_rule(
                "golangci-lint",
                "linting",
                "go",
                "Go is linted with golangci-lint",
                [golangci or "", *scan.run_in(r"golangci-lint")],
                tool_settings(
                    {"enable": enabled if isinstance(enabled, list) else None}, ("enable",)
                ),
            )
        )
    runs = scan.run_in(r"\bgofmt\b|\bgoimports\b|\bgofumpt\b")
    if "go" in languages and runs:
        rules.append(tool_rule("gofmt", "formatting", "go", "Go is formatted with gofmt", runs))
    clang = files.find(".clang-format", "_clang-format")
    if clang:
        data = files.yaml(clang)
        for language in sorted({"c", "cpp"} & languages) or ["cpp"]:
            rules.append(
                tool_rule(
                    "clang-format",
                    "formatting",
                    language,
                    f"{display(language)} is formatted with clang-format",
                    [clang],
                    tool_settings(
                        data if isinstance(data, dict) else {},
                        ("BasedOnStyle", "ColumnLimit", "IndentWidth", "UseTab"),
                    ),
                )
            )
    if files.find(".clang-tidy"):
        rules.append(
            tool_rule(
                "clang-tidy",
                "linting",
                "cpp" if "cpp" in languages else "c",
                "C/C++ is checked with clang-tidy",
                [files.find(".clang-tidy") or ""],
            )
        )
    rubocop = files.find(".rubocop.yml")
    if rubocop:
        rules.append(
            tool_rule(
                "RuboCop", "linting", "ruby", "Ruby is linted and formatted with RuboCop", [rubocop]
            )
        )
    php_cs = files.find(
        ".php-cs-fixer.php", ".php-cs-fixer.dist.php", "phpcs.xml", "phpcs.xml.dist"
    )
    if php_cs:
        rules.append(
            tool_rule(
                ("PHP-CS-Fixer" if "fixer" in php_cs else "PHP_CodeSniffer"),
                "formatting",
                "php",
                "PHP style is enforced by "
                + ("PHP-CS-Fixer" if "fixer" in php_cs else "PHP_CodeSniffer"),
                [php_cs],
            )
        )
    return rules


def editorconfig_rules(files: RepoFiles) -> list[Rule]:
    """One rule per .editorconfig section that sets something."""
    path = files.find(".editorconfig")
    if path is None:
        return []
    rules = []
    keys = (
        "indent_style",
        "indent_size",
        "max_line_length",
        "end_of_line",
        "charset",
        "insert_final_newline",
        "trim_trailing_whitespace",
    )
    for section, values in files.ini(path).items():
        detail = tool_settings(values, keys)
        if detail:
            rules.append(
                Rule(
                    "formatting",
                    None,
                    f"EditorConfig for [{section}]: {detail}",
                    None,
                    Evidence(sources=(path,)),
                    "editorconfig",
                    section,
                    detail,
                )
            )
    return rules


def precommit_rules(scan: ToolScan) -> list[Rule]:
    """The hooks pre-commit runs, as one rule."""
    if not scan.precommit:
        return []
    path = scan.files.find(".pre-commit-config.yaml") or ".pre-commit-config.yaml"
    hooks = ", ".join(dict.fromkeys(scan.precommit))
    return [
        Rule(
            "linting",
            None,
            f"pre-commit runs: {hooks}",
            None,
            Evidence(sources=(path,)),
            "pre-commit",
            value=hooks,
        )
    ]


def tool_rules(files: RepoFiles, languages: set[str]) -> list[Rule]:
    """Formatter, linter, type checker and editor settings found in the repository."""
    scan = ToolScan(files)
    rules = []
    if "python" in languages or files.pyproject:
        rules += python_tools(scan)
    if languages & {"javascript", "typescript"} or files.package_json:
        rules += js_tools(scan)
    rules += other_tools(scan, languages)
    rules += editorconfig_rules(files)
    rules += precommit_rules(scan)
    return rules


def configured_line_limits(files: RepoFiles) -> dict[str, tuple[int, str]]:
    """language -> (line limit, where it is set), from the tools' settings."""
    out: dict[str, tuple[int, str]] = {}
    py = files.pyproject
    pyproject = files.find("pyproject.toml") or "pyproject.toml"
    ruff_file, ruff = ruff_config(files)
    black = dig(py, "tool", "black")
    flake8_file, flake8 = flake8_config(files)
    if isinstance(ruff, dict) and isinstance(ruff.get("line-length"), int):
        out["python"] = (ruff["line-length"], f"{ruff_file or pyproject} ruff line-length")
    elif isinstance(black, dict):
        out["python"] = (int(black.get("line-length", 88)), f"{pyproject} black line-length")
    elif flake8_file and str(flake8.get("max-line-length", "")).isdigit():
        out["python"] = (int(flake8["max-line-length"]), f"{flake8_file} flake8 max-line-length")
    prettier_file = files.find(*PRETTIER_FILES)
    prettier = files.package_json.get("prettier")
    if prettier_file and prettier_file.endswith((".json", ".prettierrc")):
        prettier = files.json(prettier_file)
    elif prettier_file and prettier_file.endswith((".yaml", ".yml")):
        prettier = files.yaml(prettier_file)
    if isinstance(prettier, dict) and isinstance(prettier.get("printWidth"), int):
        for language in ("javascript", "typescript"):
            out[language] = (
                prettier["printWidth"],
                f"{prettier_file or 'package.json'} printWidth",
            )
    rustfmt = files.find("rustfmt.toml", ".rustfmt.toml")
    if rustfmt:
        out["rust"] = (int(files.toml(rustfmt).get("max_width", 100)), f"{rustfmt} max_width")
    clang = files.find(".clang-format")
    data = files.yaml(clang) if clang else None
    if (
        isinstance(data, dict)
        and isinstance(data.get("ColumnLimit"), int)
        and data["ColumnLimit"] > 0
    ):
        for language in ("c", "cpp"):
            out[language] = (data["ColumnLimit"], f"{clang} ColumnLimit")
    return out
