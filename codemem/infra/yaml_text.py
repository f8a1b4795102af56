"""YAML read from files a repository brings: PyYAML's safe loader, with aliases bounded.

`yaml.safe_load` builds an alias once and shares it, so a "billion laughs" document (nine
aliases of nine aliases of ... of a list) loads in microseconds, and then hangs whatever walks
the result: a committed `.codemem/config.yml` of ten such lines stalled every command (the
settings are validated and flattened), the pre-commit hook included. `load_yaml` refuses a
document whose aliases would expand past `MAX_EXPANDED` values (or ten times its own, for a
large file that uses a few), and one whose alias holds itself, before anything is built.
PyYAML is imported on the first call (a tenth of start-up).
"""

from __future__ import annotations

import math
from functools import cache
from typing import Any

MAX_EXPANDED = 100_000  # values a document may reach through its aliases


def load_yaml(text: str, *, unique_keys: bool = False, first_line: int = 1) -> Any:
    """`yaml.safe_load(text)`, but a document whose aliases expand past `MAX_EXPANDED` values,
    or hold themselves, raises `yaml.YAMLError` (a `ConstructorError` with the alias's place).

    With `unique_keys` (codemem's own files: `config.yml`, a memory file's frontmatter), a key
    given twice in one mapping raises too (two keys that load as one value are one key given
    twice: `yes` and `true`, `1` and `01`), at its second place, naming the key (dotted from the
    top) and both lines, counted from `first_line` (the error's `duplicate_key` is that name):
    PyYAML keeps the last silently, so of two settings a person wrote, one would be dropped
    without a word.
    """
    loader = _loader_class()(text)
    loader.unique_keys, loader.first_line = unique_keys, first_line
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


@cache
def _loader_class() -> type:
    import yaml
    from yaml.constructor import ConstructorError
    from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

    def expanded(root: Node) -> tuple[int, int]:
        """(values reached through every alias, distinct values) under `root`."""
        sizes: dict[int, int] = {}
        on_path: set[int] = set()
        stack: list[tuple[Node, bool]] = [(root, False)]
        while stack:
            node, done = stack.pop()
            key = id(node)
            if done:
                on_path.discard(key)
                children = _children(node)
                sizes[key] = 1 + sum(sizes[id(child)] for child in children)
                continue
            if key in sizes:
                continue
            if key in on_path:
                raise ConstructorError(
                    None, None, "an alias that holds itself (codemem reads none)", node.start_mark
                )
            on_path.add(key)
            stack.append((node, True))
            stack.extend((child, False) for child in _children(node) if id(child) not in sizes)
        return sizes[id(root)], len(sizes)

    def loaded_key(loader: yaml.SafeLoader, key: ScalarNode) -> object:
        """What a scalar key loads as (`yes` and `true` as True, `01` and `1` as 1): two keys
        that load equal are one key of the mapping PyYAML builds (`1`, `1.0` and `true` too,
        as Python's dict has them); the key as written when its value does not construct."""
        build = loader.yaml_constructors.get(key.tag)
        try:
            return build(loader, key) if build is not None else (key.tag, key.value)
        except (yaml.YAMLError, ValueError, TypeError, OverflowError):
            return (key.tag, key.value)  # an error of its own, raised when it is built

    def check_unique_keys(loader: yaml.SafeLoader, root: Node, first_line: int) -> None:
        """Raise at the first key (in the file's order) a mapping under `root` holds twice:
        written twice, or written two ways that load as one value."""
        twice: list[Node] = []  # each key a mapping already held, with the one it repeats
        firsts: dict[int, Node] = {}  # by the repeat's id: the key it repeats
        names: dict[int, str] = {}  # by the repeat's id: its dotted name
        seen: set[int] = set()
        stack: list[tuple[Node, str]] = [(root, "")]
        while stack:
            node, where = stack.pop()
            if id(node) in seen:  # an alias's node, checked where it was defined
                continue
            seen.add(id(node))
            children: list[tuple[Node, str]] = []
            if isinstance(node, MappingNode):
                keys: dict[object, Node] = {}
                for key, value in node.value:
                    name = where
                    if isinstance(key, ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
                        name = f"{where}.{key.value}" if where else key.value
                        first = keys.setdefault(loaded_key(loader, key), key)
                        if first is not key:
                            twice.append(key)
                            firsts[id(key)], names[id(key)] = first, name
                    children.append((value, name))
            elif isinstance(node, SequenceNode):
                children = [(item, where) for item in node.value]
            stack.extend(reversed(children))
        if twice:
            key = min(twice, key=lambda k: k.start_mark.index)
            first = firsts[id(key)]
            one, two = (k.start_mark.line + first_line for k in (first, key))
            spelled = ""
            if first.value != key.value:
                spelled = f" ('{first.value}' and '{key.value}' read as one key)"
            error = ConstructorError(
                None,
                None,
                f"duplicate key '{names[id(key)]}' on lines {one} and {two}{spelled}: keep one of "
                "them (YAML would take the last silently)",
                key.start_mark,
            )
            error.duplicate_key = names[id(key)]  # for a caller that acts on it (the merge driver)
            raise error

    def _children(node: Node) -> list[Node]:
        if isinstance(node, SequenceNode):
            return list(node.value)
        if isinstance(node, MappingNode):
            return [part for pair in node.value for part in pair]
        return []

    class BoundedLoader(yaml.SafeLoader):  # type: ignore[misc]  # PyYAML has no types here
        def compose_document(self) -> Node | None:
            node: Node | None = super().compose_document()
            if node is not None and self.unique_keys:
                check_unique_keys(self, node, self.first_line)
            if node is not None and self.anchors_used:
                total, distinct = expanded(node)
                if total > max(MAX_EXPANDED, 10 * distinct):
                    raise ConstructorError(
                        None,
                        None,
                        f"its aliases expand to {total:,} values (codemem reads at most "
                        f"{MAX_EXPANDED:,})",
                        node.start_mark,
                    )
            return node

        def compose_node(self, parent: Node | None, index: Any) -> Node | None:
            if self.check_event(yaml.AliasEvent):
                self.anchors_used = True
            return super().compose_node(parent, index)

        anchors_used = False
        unique_keys = False
        first_line = 1

    return BoundedLoader


def same_yaml_value(one: Any, other: Any) -> bool:
    """Whether two YAML values mean the same: equal values of equal types (`1`, `1.0`
    and `true` are three values here, though Python's `==` takes them for one), `.nan` the
    same as `.nan`. The one notion of "unchanged" for every header edit, merge and
    `config set`."""
    if type(one) is not type(other):
        return False
    if isinstance(one, dict):
        return one.keys() == other.keys() and all(
            same_yaml_value(v, other[k]) for k, v in one.items()
        )
    if isinstance(one, (list, tuple)):
        return len(one) == len(other) and all(map(same_yaml_value, one, other))
    if isinstance(one, float) and math.isnan(one):
        return math.isnan(other)
    return bool(one == other)
