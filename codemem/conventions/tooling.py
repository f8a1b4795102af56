"""Conventions read from tool configuration: formatters, linters and their settings.

Rules from configuration hold by definition, so their `share` is None; their evidence names
the files they were read from. Pure functions over `RepoFiles`.
"""

from __future__ import annotations

import re
from typing import Any

from codemem.conventions.code_style import display
from codemem.conventions.repo_files import RepoFiles, dig
from codemem.conventions.rules import Evidence, Rule

PRETTIER_FILES = (
    ".prettierrc",
    ".prettierrc.json",
    ".prettierrc.yaml",
    ".prettierrc.yml",
    ".prettierrc.json5",
    ".prettierrc.js",
    ".prettierrc.cjs",
    ".prettierrc.mjs",
    ".prettierrc.toml",
    "prettier.config.js",
    "prettier.config.cjs",
    "prettier.config.mjs",
)
ESLINT_FILES = (
    "eslint.config.js",
    "eslint.config.mjs",
    "eslint.config.cjs",
    "eslint.config.ts",
    ".eslintrc",
    ".eslintrc.json",
    ".eslintrc.js",
    ".eslintrc.cjs",
    ".eslintrc.yaml",
    ".eslintrc.yml",
)
PRETTIER_KEYS = ("printWidth", "tabWidth", "useTabs", "semi", "singleQuote", "trailingComma")
SCRIPT_SOURCES = (
    "Makefile",
    "makefile",
    "GNUmakefile",
    "tox.ini",
    "noxfile.py",
    ".gitlab-ci.yml",
    ".pre-commit-config.yaml",
    "justfile",
    "Justfile",
)


def _settings(data: dict[str, Any], keys: tuple[str, ...]) -> str:
    parts = []
    for key in keys:
        value = data.get(key)
        if value is None:
            continue
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        elif isinstance(value, bool):
            value = str(value).lower()
        parts.append(f"{key} = {value}")
    return "; ".join(parts)


class ToolScan:
    """Where each tool is configured or run, gathered once."""

    def __init__(self, files: RepoFiles) -> None:
        self.files = files
        self.scripts: dict[str, str] = {}  # path -> text of files that run commands
        for path in [*files.workflows, *(p for p in (files.find(n) for n in SCRIPT_SOURCES) if p)]:
            self.scripts[path] = files.text(path) or ""
        package_scripts = files.package_json.get("scripts")
        if isinstance(package_scripts, dict):
            package = files.find("package.json") or "package.json"
            self.scripts[package] = "\n".join(
                f"{k}: {v}" for k, v in sorted(package_scripts.items())
            )
        self.precommit = self._precommit_hooks()

    def _precommit_hooks(self) -> list[str]:
        data = self.files.yaml(self.files.find(".pre-commit-config.yaml"))
        hooks: list[str] = []
        for repo in (data or {}).get("repos", []) if isinstance(data, dict) else []:
            for hook in repo.get("hooks", []) if isinstance(repo, dict) else []:
                if isinstance(hook, dict) and hook.get("id"):
                    hooks.append(str(hook["id"]))
        return hooks

    def run_in(self, pattern: str) -> list[str]:
        """Files whose commands match `pattern` (a regular expression)."""
        regex = re.compile(pattern)
        return sorted(path for path, text in self.scripts.items() if regex.search(text))

    def package_deps(self) -> dict[str, str]:
        deps: dict[str, str] = {}
        for key in ("dependencies", "devDependencies", "peerDependencies"):
            value = self.files.package_json.get(key)
            if isinstance(value, dict):
                deps.update({str(k): str(v) for k, v in value.items()})
        return deps


def _rule(
    tool: str,
    topic: str,
    language: str | None,
    statement: str,
    sources: list[str],
    detail: str = "",
) -> Rule:
    """A rule that `tool` (a formatter, linter or checker) is used."""
    evidence = Evidence(sources=tuple(dict.fromkeys(s for s in sources if s)), detail=detail)
    return Rule(topic, language, statement, None, evidence, "tool", value=tool)


def python_tools(scan: ToolScan) -> list[Rule]:
    files, py = scan.files, scan.files.pyproject
    pyproject = files.find("pyproject.toml") or "pyproject.toml"
    rules = []
    ruff_file = files.find("ruff.toml", ".ruff.toml")
    ruff = files.toml(ruff_file) if ruff_file else dig(py, "tool", "ruff")
    ruff_source = ruff_file or f"{pyproject} [tool.ruff]"
    if isinstance(ruff, dict):
        lint_table = ruff.get("lint")
        lint: dict[str, Any] = lint_table if isinstance(lint_table, dict) else ruff
        select = lint.get("select") or lint.get("extend-select")
        detail = _settings(
            {
                "line-length": ruff.get("line-length"),
                "target-version": ruff.get("target-version"),
                "select": select,
                "ignore": lint.get("ignore"),
            },
            ("line-length", "target-version", "select", "ignore"),
        )
        rules.append(
            _rule(
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
                _rule(
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
            _rule(
                "ruff format",
                "formatting",
                "python",
                "Python is formatted with ruff format",
                [ruff_source, *formats],
                _settings(ruff.get("format") or {}, ("quote-style", "indent-style")),
            )
        )
    black = dig(py, "tool", "black")
    black_runs = scan.run_in(r"\bblack\b")
    if isinstance(black, dict) or "black" in scan.precommit:
        sources = [f"{pyproject} [tool.black]"] if isinstance(black, dict) else []
        rules.append(
            _rule(
                "black",
                "formatting",
                "python",
                "Python is formatted with black",
                [*sources, *black_runs],
                _settings(black or {}, ("line-length", "target-version")),
            )
        )
    isort = (
        dig(py, "tool", "isort")
        or files.ini(files.find("setup.cfg")).get("isort")
        or files.find(".isort.cfg")
    )
    if isort:
        rules.append(
            _rule(
                "isort",
                "formatting",
                "python",
                "Python imports are sorted with isort",
                [
                    f"{pyproject} [tool.isort]"
                    if dig(py, "tool", "isort")
                    else (files.find(".isort.cfg") or "setup.cfg")
                ],
                _settings(isort if isinstance(isort, dict) else {}, ("profile", "line_length")),
            )
        )
    flake8_file, flake8 = _flake8(files)
    if flake8_file:
        rules.append(
            _rule(
                "flake8",
                "linting",
                "python",
                "Python is linted with flake8",
                [flake8_file, *scan.run_in(r"\bflake8\b")],
                _settings(flake8, ("max-line-length", "select", "extend-ignore", "ignore")),
            )
        )
    mypy = dig(py, "tool", "mypy")
    mypy_file = files.find("mypy.ini", ".mypy.ini")
    if isinstance(mypy, dict) or mypy_file:
        strict = isinstance(mypy, dict) and mypy.get("strict") is True
        rules.append(
            _rule(
                ("mypy strict" if strict else "mypy"),
                "linting",
                "python",
                "Python is type-checked with mypy" + (" in strict mode" if strict else ""),
                [mypy_file or f"{pyproject} [tool.mypy]", *scan.run_in(r"\bmypy\b")],
            )
        )
    if dig(py, "tool", "pyright") is not None or files.find("pyrightconfig.json"):
        rules.append(
            _rule(
                "pyright",
                "linting",
                "python",
                "Python is type-checked with pyright",
                [files.find("pyrightconfig.json") or f"{pyproject} [tool.pyright]"],
            )
        )
    if dig(py, "tool", "pylint") is not None or files.find(".pylintrc", "pylintrc"):
        rules.append(
            _rule(
                "pylint",
                "linting",
                "python",
                "Python is linted with pylint",
                [files.find(".pylintrc", "pylintrc") or f"{pyproject} [tool.pylint]"],
            )
        )
    return rules


def _flake8(files: RepoFiles) -> tuple[str | None, dict[str, str]]:
    for name in (".flake8", "setup.cfg", "tox.ini"):
        path = files.find(name)
        section = files.ini(path).get("flake8") if path else None
        if section is not None:
            return path, section
    return None, {}


def js_tools(scan: ToolScan) -> list[Rule]:
    files, package = scan.files, scan.files.package_json
    deps = scan.package_deps()
    package_path = files.find("package.json") or "package.json"
    language = "typescript" if files.find("tsconfig.json") or "typescript" in deps else "javascript"
    rules = []
    prettier_file = files.find(*PRETTIER_FILES)
    prettier_config = package.get("prettier") if isinstance(package.get("prettier"), dict) else None
    if prettier_file or prettier_config is not None or "prettier" in deps:
        if prettier_config is None and prettier_file:
            prettier_config = (
                files.json(prettier_file)
                if not prettier_file.endswith((".yaml", ".yml"))
                else files.yaml(prettier_file)
            )
        sources = [prettier_file or package_path, *scan.run_in(r"\bprettier\b")]
        rules.append(
            _rule(
                "Prettier",
                "formatting",
                language,
                f"{display(language)} is formatted with Prettier",
                sources,
                _settings(
                    prettier_config if isinstance(prettier_config, dict) else {}, PRETTIER_KEYS
                ),
            )
        )
    eslint_file = files.find(*ESLINT_FILES)
    if eslint_file or "eslintConfig" in package or "eslint" in deps:
        config = (
            files.json(eslint_file)
            if eslint_file and eslint_file.endswith((".json", ".eslintrc"))
            else {}
        )
        if eslint_file and eslint_file.endswith((".yaml", ".yml")):
            config = files.yaml(eslint_file) or {}
        extends = config.get("extends") if isinstance(config, dict) else None
        rules.append(
            _rule(
                "ESLint",
                "linting",
                language,
                f"{display(language)} is linted with ESLint",
                [eslint_file or package_path, *scan.run_in(r"\beslint\b")],
                _settings(
                    {
                        "extends": extends
                        if isinstance(extends, list)
                        else ([extends] if extends else None)
                    },
                    ("extends",),
                ),
            )
        )
    biome = files.find("biome.json", "biome.jsonc")
    if biome:
        config = files.json(biome)
        rules.append(
            _rule(
                "Biome",
                "formatting",
                language,
                f"{display(language)} is formatted and linted with Biome",
                [biome],
                _settings(
                    config.get("formatter") or {}, ("indentStyle", "indentWidth", "lineWidth")
                ),
            )
        )
    tsconfig = files.find("tsconfig.json")
    if tsconfig and dig(files.json(tsconfig), "compilerOptions", "strict") is True:
        rules.append(
            _rule(
                "tsc strict",
                "linting",
                "typescript",
                "TypeScript compiles in strict mode (strict: true)",
                [tsconfig],
            )
        )
    return rules


def other_tools(scan: ToolScan, languages: set[str]) -> list[Rule]:
    files = scan.files
    rules = []
    rustfmt = files.find("rustfmt.toml", ".rustfmt.toml")
    runs = scan.run_in(r"cargo fmt|rustfmt")
    if rustfmt or runs:
        rules.append(
            _rule(
                "rustfmt",
                "formatting",
                "rust",
                "Rust is formatted with rustfmt",
                [*([rustfmt] if rustfmt else []), *runs],
                _settings(files.toml(rustfmt), ("max_width", "edition", "tab_spaces")),
            )
        )
    runs = scan.run_in(r"cargo clippy")
    if files.find("clippy.toml", ".clippy.toml") or runs:
        rules.append(
            _rule(
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
            _rule(
                "golangci-lint",
                "linting",
                "go",
                "Go is linted with golangci-lint",
                [golangci or "", *scan.run_in(r"golangci-lint")],
                _settings({"enable": enabled if isinstance(enabled, list) else None}, ("enable",)),
            )
        )
    runs = scan.run_in(r"\bgofmt\b|\bgoimports\b|\bgofumpt\b")
    if "go" in languages and runs:
        rules.append(_rule("gofmt", "formatting", "go", "Go is formatted with gofmt", runs))
    clang = files.find(".clang-format", "_clang-format")
    if clang:
        data = files.yaml(clang)
        for language in sorted({"c", "cpp"} & languages) or ["cpp"]:
            rules.append(
                _rule(
                    "clang-format",
                    "formatting",
                    language,
                    f"{display(language)} is formatted with clang-format",
                    [clang],
                    _settings(
                        data if isinstance(data, dict) else {},
                        ("BasedOnStyle", "ColumnLimit", "IndentWidth", "UseTab"),
                    ),
                )
            )
    if files.find(".clang-tidy"):
        rules.append(
            _rule(
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
            _rule(
                "RuboCop", "linting", "ruby", "Ruby is linted and formatted with RuboCop", [rubocop]
            )
        )
    php_cs = files.find(
        ".php-cs-fixer.php", ".php-cs-fixer.dist.php", "phpcs.xml", "phpcs.xml.dist"
    )
    if php_cs:
        rules.append(
            _rule(
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
        detail = _settings(values, keys)
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
    ruff_file = files.find("ruff.toml", ".ruff.toml")
    ruff = files.toml(ruff_file) if ruff_file else dig(py, "tool", "ruff")
    black = dig(py, "tool", "black")
    flake8_file, flake8 = _flake8(files)
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
