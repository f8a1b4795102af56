"""One setting written into a committed YAML config in place: every other line as it was.

`codemem config set` edits `.codemem/config.yml` through ruamel.yaml's round trip, which keeps
comments, order and quotes, but writes the whole document its own way: a file indented by four
spaces came back indented by two, `~` as an empty value, `True` as `true`, a comment's spacing
and the `---` line changed, so one setting's diff rewrote the team's file. And ruamel.yaml reads
YAML 1.2, where the settings' loader (PyYAML) reads YAML 1.1: the text `on` or `no` it writes
bare comes back as a boolean, `1:20` as 80, so a value it was told to set as text read back as
something else and every later command refused the file.

So the document is written twice, before and after the change, with the indents the file uses;
the lines that differ between the two (the key's own, a new section's) are put in the place the
unchanged lines hold in the file as written; a text value the settings' loader would read
otherwise is quoted; and the result must read back, by the settings' loader, as the file's
values with that one key set, or it is not written.
"""

from __future__ import annotations

import io
from difflib import SequenceMatcher
from typing import Any

from codemem.errors import ConfigError
from codemem.infra import load_yaml, same_yaml_value


def set_in_text(text: str, key: str, value: Any) -> str | None:
    """`text` (a YAML mapping, `\\n` line ends) with the dotted `key` set to `value`, each
    other line as written; None when `text` is no mapping to edit (nothing but comments, say).
    `ConfigError` when no text reads back as that change alone."""
    # Imported here: only `config set` edits YAML in place.
    import yaml as pyyaml
    from ruamel.yaml import YAML, YAMLError
    from ruamel.yaml.comments import CommentedMap

    editor = YAML()
    editor.preserve_quotes = True
    editor.width = 4096  # long values stay on their line
    editor.indent(**yaml_indents(text))
    try:
        doc = editor.load(text)
        meant = load_yaml(text, unique_keys=True)
    except (YAMLError, pyyaml.YAMLError, ValueError, TypeError):  # the caller read it first
        return None
    if not isinstance(doc, CommentedMap) or not isinstance(meant, dict):
        return None
    before = _dumped(editor, doc)
    *parents, last = key.split(".")
    level, wanted = doc, meant
    for part in parents:
        if not isinstance(level.get(part), CommentedMap):
            level[part] = CommentedMap()
        if not isinstance(wanted.get(part), dict):
            wanted[part] = {}
        level, wanted = level[part], wanted[part]
    level[last] = _as_written(value)
    wanted[last] = value
    after = _dumped(editor, doc)
    lines = text if text.endswith("\n") or not text else text + "\n"
    for candidate in (_spliced(lines, before, after), after):
        if candidate is not None and _reads_as(candidate, meant):
            return candidate
    raise ConfigError(
        f"{key} not set: it could not be written so that the file reads back as that change "
        "alone; set it by editing the file"
    )


def yaml_indents(text: str) -> dict[str, int]:
    """The indents `text` is written with (a mapping's keys, a list's items and their dash),
    so that lines ruamel.yaml writes come out as the file's own."""
    from ruamel.yaml import YAMLError
    from ruamel.yaml.util import load_yaml_guess_indent

    mapping = next(
        (len(line) - len(line.lstrip(" ")) for line in text.splitlines() if _nested_key(line)), 2
    )
    try:
        _, sequence, offset = load_yaml_guess_indent(text)
    except (YAMLError, ValueError, TypeError, AttributeError, OverflowError, RecursionError):
        sequence, offset = None, None  # no guess: the text is parsed for real next
    if sequence is None or offset is None or sequence < offset + 2:
        sequence, offset = mapping, 0
    return {"mapping": mapping, "sequence": sequence, "offset": offset}


def _nested_key(line: str) -> bool:
    """Whether `line` is an indented mapping key (not a comment, not a list item)."""
    body = line.lstrip(" ")
    return body != line and bool(body) and body[0] not in "#-" and ":" in body


def _dumped(editor: Any, doc: Any) -> str:
    out = io.StringIO()
    editor.dump(doc, out)
    return out.getvalue()


def _as_written(value: Any) -> Any:
    """`value` with each text the settings' loader would read as something else written bare
    (`on`, `no`, `1:20`, `2025-01-02`) marked to be quoted."""
    from ruamel.yaml.scalarstring import SingleQuotedScalarString

    if isinstance(value, dict):
        return {_as_written(k): _as_written(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_written(item) for item in value]
    if isinstance(value, str) and "\n" not in value and not _reads_as(value, value):
        return SingleQuotedScalarString(value)
    return value


def _reads_as(text: str, meant: Any) -> bool:
    try:
        return same_yaml_value(load_yaml(text, unique_keys=True), meant)
    except Exception:  # noqa: BLE001 - any YAML or value error: it does not read back
        return False


def _spliced(text: str, before: str, after: str) -> str | None:
    """`text` with the lines that differ from `before` to `after` changed where `before`'s
    lines stand in `text`; None when some changed line has no place there."""
    old, new, mine = (part.splitlines(keepends=True) for part in (before, after, text))
    where = _places(old, mine)
    out: list[str] = []
    taken = 0
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        if i1 < i2:  # lines replaced or removed: each must have its place, all together
            if any(i not in where for i in range(i1, i2)):
                return None
            places = [where[i] for i in range(i1, i2)]
            if places != list(range(places[0], places[0] + len(places))):
                return None
            start, end = places[0], places[-1] + 1
        elif i1 - 1 in where:  # lines added: after the line they follow
            start = end = where[i1 - 1] + 1
        elif i1 in where:  # or before the one they precede
            start = end = where[i1]
        else:
            return None
        if start < taken:
            return None
        out += mine[taken:start] + new[j1:j2]
        taken = end
    return "".join(out + mine[taken:])


def _places(old: list[str], mine: list[str]) -> dict[int, int]:
    """Where each line of ruamel.yaml's writing (`old`) stands in the file as written (`mine`):
    a line written the same, or one ruamel.yaml spaced its own way among as many."""
    where: dict[int, int] = {}
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, old, mine, autojunk=False).get_opcodes():
        if tag == "equal" or (tag == "replace" and i2 - i1 == j2 - j1):
            where.update(zip(range(i1, i2), range(j1, j2), strict=True))
    return where
