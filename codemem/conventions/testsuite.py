"""Conventions of the test suite: framework, where tests live and how test files are named."""

from __future__ import annotations

import re
from collections import Counter, defaultdict

from codemem.code import is_test_path
from codemem.conventions.code_style import display
from codemem.conventions.repo_files import RepoFiles, dig
from codemem.conventions.rules import Evidence, Rule, ratio, sample
from codemem.conventions.tool_scan import ToolScan

TEST_DIRS = ("tests", "test", "spec", "specs", "__tests__", "testing")
JS_FRAMEWORKS = ("vitest", "jest", "mocha", "jasmine", "ava", "@playwright/test", "cypress")
# language -> [(pattern on the file name, how it is described)]
NAMING: dict[str, list[tuple[str, str | None]]] = {
    "python": [
        (r"test_.*\.py$", "test_*.py"),
        (r".*_test\.py$", "*_test.py"),
        (r"conftest\.py$", None),
    ],
    "javascript": [(r".*\.test\.[mc]?jsx?$", "*.test.js"), (r".*\.spec\.[mc]?jsx?$", "*.spec.js")],
    "typescript": [(r".*\.test\.tsx?$", "*.test.ts"), (r".*\.spec\.tsx?$", "*.spec.ts")],
    "java": [
        (r".*Test\.java$", "*Test.java"),
        (r".*Tests\.java$", "*Tests.java"),
        (r"Test.*\.java$", "Test*.java"),
    ],
    "csharp": [(r".*Tests?\.cs$", "*Tests.cs")],
    "ruby": [
        (r".*_spec\.rb$", "*_spec.rb"),
        (r".*_test\.rb$", "*_test.rb"),
        (r"test_.*\.rb$", "test_*.rb"),
    ],
    "php": [(r".*Test\.php$", "*Test.php")],
    "go": [(r".*_test\.go$", "*_test.go")],
}


def _location(path: str) -> str:
    parts = path.split("/")
    if parts[0] in TEST_DIRS and len(parts) > 1:
        return f"live in a top-level {parts[0]}/ folder"
    for part in parts[:-1]:
        if part in TEST_DIRS:
            return f"live in {part}/ folders inside the source tree"
    return "live next to the code they test"


def layout_rules(code_paths: dict[str, str], min_samples: int) -> list[Rule]:
    """Per language: where test files live and how they are named."""
    tests: dict[str, list[str]] = defaultdict(list)
    for path in sorted(code_paths):
        if is_test_path(path):
            tests[code_paths[path]].append(path)
    rules = []
    for language, paths in sorted(tests.items()):
        named = [p for p in paths if not p.endswith("conftest.py")]
        if len(named) < min_samples:
            continue
        places = Counter(_location(p) for p in named)
        place, count = max(places.items(), key=lambda item: (item[1], item[0]))
        rules.append(
            Rule(
                "tests",
                language,
                f"{display(language)} tests {place}",
                ratio(count, len(named)),
                Evidence(
                    count,
                    len(named),
                    sample([p for p in named if _location(p) == place]),
                    sample([p for p in named if _location(p) != place]),
                ),
                "test-location",
                value=place.removeprefix("live "),
            )
        )
        patterns = NAMING.get(language, [])
        kinds: dict[str, list[str]] = defaultdict(list)
        for path in named:
            name = path.rsplit("/", 1)[-1]
            kind = next((label for pattern, label in patterns if re.match(pattern, name)), None)
            if kind:
                kinds[kind].append(path)
        if kinds:
            kind, following = max(kinds.items(), key=lambda item: (len(item[1]), item[0]))
            rules.append(
                Rule(
                    "tests",
                    language,
                    f"{display(language)} test files are named {kind}",
                    ratio(len(following), len(named)),
                    Evidence(
                        len(following),
                        len(named),
                        sample(following),
                        sample([p for p in named if p not in following]),
                    ),
                    "test-file-names",
                    value=kind,
                )
            )
    return rules


_PYTEST_USE = re.compile(r"^\s*(import pytest|from pytest\b|@pytest\.)", re.M)
_UNITTEST_USE = re.compile(r"\bunittest\.TestCase\b|\(TestCase\)")


def framework_rules(
    files: RepoFiles, code_paths: dict[str, str], texts: dict[str, str]
) -> list[Rule]:
    """The test framework of each language, from configuration and the test files."""
    rules = []
    test_files = {p: code_paths[p] for p in code_paths if is_test_path(p)}
    python_tests = sorted(
        p for p, lang in test_files.items() if lang == "python" and not p.endswith("conftest.py")
    )
    if python_tests or dig(files.pyproject, "tool", "pytest"):
        rules += _python_framework(files, python_tests, texts)
    scan = ToolScan(files)
    deps = scan.package_deps()
    for framework in JS_FRAMEWORKS:
        if framework in deps:
            language = (
                "typescript"
                if "typescript" in deps or files.find("tsconfig.json")
                else "javascript"
            )
            sources = [
                files.find("package.json") or "package.json",
                *files.glob(f"{framework.split('/')[-1]}.config.*"),
            ]
            rules.append(
                Rule(
                    "tests",
                    language,
                    f"{display(language)} tests run with {framework}",
                    None,
                    Evidence(sources=tuple(dict.fromkeys(sources))),
                    "test-framework",
                    value=framework,
                )
            )
            break
    go_tests = sorted(p for p, lang in test_files.items() if lang == "go")
    if go_tests:
        gomod = files.text(files.find("go.mod")) or ""
        helper = " with testify assertions" if "github.com/stretchr/testify" in gomod else ""
        rules.append(
            Rule(
                "tests",
                "go",
                f"Go tests use the standard testing package{helper}",
                None,
                Evidence(
                    len(go_tests),
                    len(go_tests),
                    sample(go_tests),
                    sources=("go.mod",) if helper else (),
                ),
                "test-framework",
                value="testing" + (" + testify" if helper else ""),
            )
        )
    rust = sorted(p for p, lang in code_paths.items() if lang == "rust")
    inline = [p for p in rust if "#[cfg(test)]" in texts.get(p, "")]
    if inline:
        rules.append(
            Rule(
                "tests",
                "rust",
                "Rust unit tests sit in #[cfg(test)] modules next to the code",
                None,
                Evidence(len(inline), len(rust), sample(inline)),
                "test-location",
                value="#[cfg(test)] modules",
            )
        )
    java = [p for p, lang in test_files.items() if lang == "java"]
    junit5 = sorted(p for p in java if "org.junit.jupiter" in texts.get(p, ""))
    junit4 = sorted(p for p in java if "import org.junit.Test" in texts.get(p, ""))
    if junit5 or junit4:
        version, used = ("JUnit 5", junit5) if len(junit5) >= len(junit4) else ("JUnit 4", junit4)
        rules.append(
            Rule(
                "tests",
                "java",
                f"Java tests use {version}",
                ratio(len(used), len(java)),
                Evidence(len(used), len(java), sample(used)),
                "test-framework",
                value=version,
            )
        )
    gemfile = files.text(files.find("Gemfile")) or ""
    if files.find(".rspec") or re.search(r"['\"]rspec", gemfile):
        rules.append(
            Rule(
                "tests",
                "ruby",
                "Ruby tests use RSpec",
                None,
                Evidence(
                    sources=tuple(filter(None, [files.find(".rspec"), files.find("Gemfile")]))
                ),
                "test-framework",
                value="RSpec",
            )
        )
    phpunit = files.find("phpunit.xml", "phpunit.xml.dist")
    if phpunit:
        rules.append(
            Rule(
                "tests",
                "php",
                "PHP tests use PHPUnit",
                None,
                Evidence(sources=(phpunit,)),
                "test-framework",
                value="PHPUnit",
            )
        )
    return rules


def _python_framework(files: RepoFiles, tests: list[str], texts: dict[str, str]) -> list[Rule]:
    sources = []
    if dig(files.pyproject, "tool", "pytest") is not None:
        sources.append(f"{files.find('pyproject.toml')} [tool.pytest.ini_options]")
    for name, section in (
        ("pytest.ini", None),
        ("setup.cfg", "tool:pytest"),
        ("tox.ini", "pytest"),
    ):
        path = files.find(name)
        if path and (section is None or section in files.ini(path)):
            sources.append(path)
    sources += [p for p in files.paths if p.endswith("conftest.py")][:3]
    unittest_files = [p for p in tests if _UNITTEST_USE.search(texts.get(p, ""))]
    pytest_files = [p for p in tests if _PYTEST_USE.search(texts.get(p, ""))]
    if not sources and not pytest_files and unittest_files:
        return [
            Rule(
                "tests",
                "python",
                "Python tests use unittest (TestCase classes)",
                ratio(len(unittest_files), len(tests)),
                Evidence(len(unittest_files), len(tests), sample(unittest_files)),
                "test-framework",
                value="unittest",
            )
        ]
    if not sources and not pytest_files:
        return []
    plain = [p for p in tests if p not in unittest_files]
    return [
        Rule(
            "tests",
            "python",
            "Python tests use pytest (plain test functions and fixtures)",
            ratio(len(plain), len(tests)) if tests else None,
            Evidence(
                len(plain) if tests else None,
                len(tests) if tests else None,
                sample(plain),
                sample(unittest_files),
                tuple(sources),
                detail=f"test files importing pytest: {len(pytest_files)}",
            ),
            "test-framework",
            value="pytest",
        )
    ]
