"""The install recipes in the README and docs install this project, at a tag that exists."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from codemem import __version__

ROOT = Path(__file__).resolve().parents[2]
RECIPES = [
    ROOT / "README.md",
    *sorted((ROOT / "docs").glob("*.md")),
    ROOT / ".pre-commit-hooks.yaml",
]
DISTRIBUTION = "codemem-cli"


def pip_installs() -> list[tuple[str, list[str]]]:
    """Every `pip install ...` command in the recipes, as (file, arguments)."""
    found = []
    for path in RECIPES:
        for line in path.read_text(encoding="utf-8").splitlines():
            for match in re.finditer(r"pip install (.*?)(?:&&|$)", line):
                args = shlex.split(match.group(1).split("#")[0])
                found.append((path.name, args))
    return found


def test_the_distribution_name_and_version_have_one_source():
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")  # no tomllib on 3.10
    assert re.findall(r'^name = "(.*)"$', pyproject, re.M) == [DISTRIBUTION]
    assert re.findall(r"^dynamic = (.*)$", pyproject, re.M) == ['["version"]']
    assert re.findall(r'^codemem = "(.*)"$', pyproject, re.M) == [
        "codemem.__main__:run"
    ]  # Ctrl-C-safe start


def test_every_pip_install_names_this_project():
    installs = pip_installs()
    assert len(installs) >= 6
    for name, args in installs:
        requirements = [arg for arg in args if not arg.startswith("-")]
        assert requirements, (name, args)
        for requirement in requirements:
            local = requirement == "." or requirement.startswith(".[")
            assert local or requirement.startswith(
                f"{DISTRIBUTION} @ git+https://github.com/<owner>/codemem@v"
            ), (name, args)
            if not local:
                assert requirement.endswith(f"@v{__version__}"), (name, args)


def test_every_pre_commit_rev_is_this_version():
    revs = [
        (path.name, rev)
        for path in RECIPES
        for rev in re.findall(r"^\s*#?\s*rev:\s*(\S+)", path.read_text(encoding="utf-8"), re.M)
    ]
    assert {name for name, _ in revs} == {"README.md", ".pre-commit-hooks.yaml"}
    assert all(rev == f"v{__version__}" for _, rev in revs), revs
