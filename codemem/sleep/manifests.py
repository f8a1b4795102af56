"""Entry points and build, test and lint commands, as the repository's own files state them.

Read from pyproject.toml, package.json, Cargo.toml, go.mod, Makefile targets and CI
workflows (GitHub Actions, GitLab CI). Commands found in a file are preferred to commands
implied by a tool's presence; each one names where it came from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from codemem.conventions import RepoFiles, dig

CATEGORIES = ("install", "build", "test", "lint", "format", "typecheck", "run")
MAX_PER_CATEGORY = 3
_MAKE_TARGET = re.compile(r"^([A-Za-z][A-Za-z0-9_.-]*)\s*:(?!=)", re.M)
_TARGET_CATEGORY = {
    "install": "install",
    "setup": "install",
    "deps": "install",
    "build": "build",
    "compile": "build",
    "all": "build",
    "dist": "build",
    "test": "test",
    "tests": "test",
    "check": "test",
    "unit": "test",
    "coverage": "test",
    "lint": "lint",
    "vet": "lint",
    "fmt": "format",
    "format": "format",
    "prettier": "format",
    "typecheck": "typecheck",
    "type-check": "typecheck",
    "types": "typecheck",
    "mypy": "typecheck",
    "run": "run",
    "start": "run",
    "dev": "run",
    "serve": "run",
}
# The first pattern a command line matches decides its category.
_COMMAND_CATEGORY = (
    ("typecheck", r"\bmypy\b|\bpyright\b|\btsc\b.*--noEmit|\bnpm run (typecheck|type-check)\b"),
    (
        "format",
        r"\bblack\b|\bruff format\b|\bprettier\b|\bgofmt\b|\bcargo fmt\b|\bclang-format\b|\bnpm run (format|fmt)\b",
    ),
    (
        "lint",
        r"\bruff( check)?\b|\bflake8\b|\bpylint\b|\beslint\b|\bclippy\b|\bgolangci-lint\b|\bgo vet\b"
        r"|\brubocop\b|\bpre-commit run\b|\bnpm run lint\b|\bmake lint\b",
    ),
    (
        "test",
        r"\bpytest\b|\bgo test\b|\bcargo test\b|\bnpm (run )?test\b|\byarn test\b|\bpnpm (run )?test\b"
        r"|\bjest\b|\bvitest\b|\btox\b|\bnox\b|\bctest\b|\bmvn\b.*\btest\b|\bgradlew?\b.*\btest\b|\brspec\b"
        r"|\bphpunit\b|\bmake (test|check)\b|\bpython -m unittest\b|\bdotnet test\b",
    ),
    (
        "build",
        r"\bcargo build\b|\bgo build\b|\bnpm run build\b|\byarn build\b|\bpython -m build\b|\bmvn\b.*\bpackage\b"
        r"|\bgradlew?\b.*\bbuild\b|\bcmake --build\b|\bmake\b\s*$|\bmake build\b|\bdotnet build\b|\bhatch build\b",
    ),
    (
        "install",
        r"\bpip install\b|\bnpm (ci|install)\b|\byarn install\b|\bpnpm install\b|\bpoetry install\b"
        r"|\buv sync\b|\bbundle install\b|\bgo mod download\b",
    ),
)


@dataclass(frozen=True)
class Command:
    """A command to build, test, lint... the project, and where it was found."""

    category: str
    command: str
    source: str


@dataclass(frozen=True)
class EntryPoint:
    """A way into the program: a console script, a binary, a main package."""

    name: str
    target: str
    source: str


def _package_runner(files: RepoFiles) -> str:
    if files.find("pnpm-lock.yaml"):
        return "pnpm"
    if files.find("yarn.lock"):
        return "yarn"
    if files.find("bun.lockb", "bun.lock"):
        return "bun"
    return "npm"


def _from_package_json(files: RepoFiles) -> list[Command]:
    scripts = files.package_json.get("scripts")
    if not isinstance(scripts, dict):
        return []
    runner = _package_runner(files)
    source = files.find("package.json") or "package.json"
    out = []
    for name in sorted(scripts):
        category = _TARGET_CATEGORY.get(name) or _TARGET_CATEGORY.get(name.split(":")[0])
        if category:
            command = f"{runner} test" if name == "test" else f"{runner} run {name}"
            out.append(Command(category, command, f"{source} scripts.{name}"))
    return out


def _from_makefile(files: RepoFiles) -> list[Command]:
    path = files.find("Makefile", "makefile", "GNUmakefile")
    text = files.text(path) or ""
    out = []
    for target in dict.fromkeys(_MAKE_TARGET.findall(text)):
        category = _TARGET_CATEGORY.get(target)
        if category:
            out.append(Command(category, f"make {target}", f"{path}"))
    return out


def _run_lines(data: object) -> list[str]:
    """Every `run:` (Actions) and `script:` (GitLab) command line in a CI file, in order."""
    found: list[str] = []
    if isinstance(data, dict):
        for key, value in data.items():
            if key in ("run", "script", "before_script") and isinstance(value, (str, list)):
                for item in value if isinstance(value, list) else [value]:
                    if isinstance(item, str):
                        found += [line.strip() for line in item.splitlines() if line.strip()]
            else:
                found += _run_lines(value)
    elif isinstance(data, list):
        for item in data:
            found += _run_lines(item)
    return found


def categorize(line: str) -> str | None:
    for category, pattern in _COMMAND_CATEGORY:
        if re.search(pattern, line):
            return category
    return None


def _from_ci(files: RepoFiles) -> list[Command]:
    out = []
    for path in [*files.workflows, *filter(None, [files.find(".gitlab-ci.yml")])]:
        for line in _run_lines(files.yaml(path)):
            category = categorize(line)
            if category and len(line) <= 160 and not line.startswith(("echo ", "#")):
                out.append(Command(category, line, path))
    return out


def _implied(files: RepoFiles) -> list[Command]:
    out = []
    py = files.pyproject
    pyproject = files.find("pyproject.toml")
    if pyproject:
        if "build-system" in py:
            out.append(Command("install", "pip install -e .", f"{pyproject} [build-system]"))
        if dig(py, "tool", "pytest") is not None:
            out.append(Command("test", "pytest", f"{pyproject} [tool.pytest.ini_options]"))
        if dig(py, "tool", "ruff") is not None:
            out.append(Command("lint", "ruff check .", f"{pyproject} [tool.ruff]"))
        if dig(py, "tool", "black") is not None:
            out.append(Command("format", "black .", f"{pyproject} [tool.black]"))
        if dig(py, "tool", "mypy") is not None:
            out.append(Command("typecheck", "mypy .", f"{pyproject} [tool.mypy]"))
    cargo = files.find("Cargo.toml")
    if cargo:
        out += [Command("build", "cargo build", cargo), Command("test", "cargo test", cargo)]
    gomod = files.find("go.mod")
    if gomod:
        out += [
            Command("build", "go build ./...", gomod),
            Command("test", "go test ./...", gomod),
            Command("lint", "go vet ./...", gomod),
        ]
    return out


def find_commands(files: RepoFiles) -> dict[str, list[Command]]:
    """category -> commands (at most a few each), explicit ones first, duplicates dropped."""
    out: dict[str, list[Command]] = {}
    seen: set[str] = set()
    for command in [
        *_from_makefile(files),
        *_from_package_json(files),
        *_from_ci(files),
        *_implied(files),
    ]:
        if command.command in seen:
            continue
        seen.add(command.command)
        bucket = out.setdefault(command.category, [])
        if len(bucket) < MAX_PER_CATEGORY:
            bucket.append(command)
    return {category: out[category] for category in CATEGORIES if category in out}


def find_entry_points(files: RepoFiles, go_main_files: list[str]) -> list[EntryPoint]:
    """Console scripts, binaries and main packages declared or found in the repository."""
    out: list[EntryPoint] = []
    pyproject = files.find("pyproject.toml")
    scripts = dig(files.pyproject, "project", "scripts") or dig(
        files.pyproject, "tool", "poetry", "scripts"
    )
    if isinstance(scripts, dict):
        out += [
            EntryPoint(name, str(target), f"{pyproject} scripts")
            for name, target in sorted(scripts.items())
        ]
    for path in files.paths:
        if path.endswith("/__main__.py") and path.count("/") <= 2:
            module = path[: -len("/__main__.py")].split("/")[-1]
            out.append(EntryPoint(f"python -m {module}", path, path))
    package = files.package_json
    source = files.find("package.json") or "package.json"
    bins = package.get("bin")
    if isinstance(bins, str):
        out.append(EntryPoint(str(package.get("name") or "bin"), bins, f"{source} bin"))
    elif isinstance(bins, dict):
        out += [
            EntryPoint(name, str(target), f"{source} bin") for name, target in sorted(bins.items())
        ]
    if isinstance(package.get("main"), str):
        out.append(EntryPoint("main module", package["main"], f"{source} main"))
    cargo = files.find("Cargo.toml")
    if cargo:
        name = dig(files.cargo, "package", "name") or "crate"
        bins = files.cargo.get("bin")
        if isinstance(bins, list):
            out += [
                EntryPoint(
                    str(b.get("name")), str(b.get("path", f"src/bin/{b.get('name')}.rs")), cargo
                )
                for b in bins
                if isinstance(b, dict) and b.get("name")
            ]
        elif files.find("src/main.rs"):
            out.append(EntryPoint(str(name), "src/main.rs", cargo))
        if files.find("src/lib.rs"):
            out.append(EntryPoint(f"{name} (library)", "src/lib.rs", cargo))
    for path in go_main_files:
        folder = path.rsplit("/", 1)[0] if "/" in path else "."
        out.append(EntryPoint(f"go run ./{folder}" if folder != "." else "go run .", path, path))
    return out
