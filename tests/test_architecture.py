"""The house rules of docs/architecture.md, checked on every run.

The layer order is written once, here: a module may import only from its own layer or the
layers below it, and outside a package that has a face (`codemem.code`, `codemem.memory`,
`codemem.infra`, `codemem.conventions`) only the face itself is imported, never a submodule.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "codemem"

# Lowest first. Each entry is a layer: the module prefixes that belong to it.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("infra", ("codemem.errors", "codemem.infra")),
    ("base", ("codemem.config", "codemem.workspace", "codemem.merge_driver")),
    ("code", ("codemem.code",)),
    ("memory", ("codemem.memory",)),
    ("conventions", ("codemem.conventions",)),
    ("agent", ("codemem.agent",)),
    ("sleep", ("codemem.sleep",)),
    ("review", ("codemem.review",)),
    ("daemon", ("codemem.daemon",)),
    ("mcp", ("codemem.mcp",)),
    ("cli", ("codemem.cli", "codemem.__main__")),
)
ROOT = "codemem"  # the package itself holds only the version: below everything

FACES = ("codemem.infra", "codemem.code", "codemem.memory", "codemem.conventions")

# Only the code index's storage module may talk to LanceDB.
LANCEDB_MODULE = "codemem.code.store"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def layer_of(module: str) -> int:
    """The index in LAYERS of the most specific prefix that owns `module`."""
    if module == ROOT:
        return 0
    best, best_len = -1, -1
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            owns = module == prefix or module.startswith(prefix + ".")
            if owns and len(prefix) > best_len:
                best, best_len = index, len(prefix)
    return best


def imports(path: Path) -> list[tuple[int, str]]:
    """Every absolute module a file imports, at any depth (function-level imports count)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[tuple[int, str]] = []
    package = (
        module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    )
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.append((node.lineno, base))
            # `from codemem.code import index` names a submodule through its package.
            found.extend((node.lineno, f"{base}.{alias.name}") for alias in node.names)
    return found


SOURCES = sorted(PACKAGE.rglob("*.py"))


def test_the_layers_cover_every_module():
    assert [module_name(p) for p in SOURCES if layer_of(module_name(p)) < 0] == []


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: module_name(p))
def test_no_module_imports_a_higher_layer(path: Path):
    own = layer_of(module_name(path))
    upward = [
        f"{module_name(path)}:{line} imports {target} ({LAYERS[layer_of(target)][0]} is above {LAYERS[own][0]})"
        for line, target in imports(path)
        if target.startswith("codemem") and layer_of(target) > own
    ]
    assert upward == []


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: module_name(p))
def test_packages_are_reached_through_their_face(path: Path):
    here = module_name(path)
    behind = [
        f"{here}:{line} imports {target}"
        for line, target in imports(path)
        for face in FACES
        if target.startswith(face + ".")
        and not (here == face or here.startswith(face + "."))
        and _is_module(target)
    ]
    assert behind == []


def _is_module(name: str) -> bool:
    """Whether `name` is a module or package of codemem (not a name imported from one)."""
    relative = Path(*name.split("."))
    return (PACKAGE.parent / relative).with_suffix(".py").exists() or (
        PACKAGE.parent / relative
    ).is_dir()


def test_only_the_store_imports_lancedb():
    users = sorted(
        module_name(path)
        for path in SOURCES
        if any(t == "lancedb" or t.startswith("lancedb.") for _, t in imports(path))
    )
    assert users == [LANCEDB_MODULE]
