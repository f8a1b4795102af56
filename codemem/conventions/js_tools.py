"""The JavaScript and TypeScript tools a repository uses: Prettier, ESLint, Biome, strict tsc.

Rules from configuration hold by definition, so their `share` is None; their evidence names
the files they were read from.
"""

from __future__ import annotations

from codemem.conventions.code_style import display
from codemem.conventions.repo_files import dig
from codemem.conventions.rules import Rule
from codemem.conventions.tool_scan import ToolScan, tool_rule, tool_settings

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


def js_tools(scan: ToolScan) -> list[Rule]:
    """The JavaScript/TypeScript formatters and linters configured or depended on."""
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
            tool_rule(
                "Prettier",
                "formatting",
                language,
                f"{display(language)} is formatted with Prettier",
                sources,
                tool_settings(
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
            tool_rule(
                "ESLint",
                "linting",
                language,
                f"{display(language)} is linted with ESLint",
                [eslint_file or package_path, *scan.run_in(r"\beslint\b")],
                tool_settings(
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
            tool_rule(
                "Biome",
                "formatting",
                language,
                f"{display(language)} is formatted and linted with Biome",
                [biome],
                tool_settings(
                    config.get("formatter") or {}, ("indentStyle", "indentWidth", "lineWidth")
                ),
            )
        )
    tsconfig = files.find("tsconfig.json")
    if tsconfig and dig(files.json(tsconfig), "compilerOptions", "strict") is True:
        rules.append(
            tool_rule(
                "tsc strict",
                "linting",
                "typescript",
                "TypeScript compiles in strict mode (strict: true)",
                [tsconfig],
            )
        )
    return rules
