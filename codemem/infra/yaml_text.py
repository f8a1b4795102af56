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

from functools import cache
from typing import Any

MAX_EXPANDED = 100_000  # values a document may reach through its aliases


def load_yaml(text: str) -> Any:
    """`yaml.safe_load(text)`, but a document whose aliases expand past `MAX_EXPANDED` values,
    or hold themselves, raises `yaml.YAMLError` (a `ConstructorError` with the alias's place)."""
    loader = _loader_class()(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


@cache
def _loader_class() -> type:
    import yaml
    from yaml.constructor import ConstructorError
    from yaml.nodes import MappingNode, Node, SequenceNode

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

    def _children(node: Node) -> list[Node]:
        if isinstance(node, SequenceNode):
            return list(node.value)
        if isinstance(node, MappingNode):
            return [part for pair in node.value for part in pair]
        return []

    class BoundedLoader(yaml.SafeLoader):  # type: ignore[misc]  # PyYAML has no types here
        def compose_document(self) -> Node | None:
            node: Node | None = super().compose_document()
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

    return BoundedLoader
