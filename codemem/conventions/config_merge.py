"""`config.yml` merged key by key: the merge driver's way for a config whose lines conflict.

Two teammates who set different keys of one section (`index.batch_files` and
`index.max_file_bytes`, two keys under `agent:`) change neighbouring lines, which git's line
merge takes for a conflict. Here the three versions are read with ruamel.yaml's round trip
and merged as mappings: a key one side changed takes that side's value, a key only one side
added is kept where that side put it (after the key it follows there), a key one side removed
and the other left alone is removed, and sections are merged key by key. The file is our side
as written (comments, order, quotes), with theirs's values and comments where theirs changed
them. A key both sides changed to different values (or one changed and the other removed) is
a clash: `KeyMerge` then holds three texts that differ only in the clashing keys, for a line
merge to put each between conflict markers in its place.

`merge_by_key` answers None, and the caller falls back to git's line merge, whenever it
cannot merge without losing or changing what someone wrote: a side that does not parse, or
is not a mapping; a side ruamel.yaml (YAML 1.2) reads otherwise than the settings' loader
(PyYAML, YAML 1.1: `yes`, `010`); a key whose comment both sides changed differently; a merged
text that does not read back as the merged values.
"""

from __future__ import annotations

import copy
import io
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from codemem.config.yaml_edit import yaml_indents
from codemem.conventions.three_way import CLASH, pick
from codemem.infra import load_yaml
from codemem.memory import same_frontmatter_value as same

_MISSING: Any = object()
# what building a document's values can raise besides a YAML error (merge.py's list)
_BUILD_ERRORS = (ValueError, TypeError, AttributeError, OverflowError, RecursionError)


class _CannotMerge(Exception):
    """A case `merge_by_key` leaves to git's line merge."""


@dataclass
class KeyMerge:
    """The config merged key by key: `resolved` holds our value for every clashing key, and
    `at_base`/`at_theirs` the ancestor's and their value for them (the same text when there
    is no clash)."""

    resolved: str
    at_base: str
    at_theirs: str
    clashes: list[tuple[str, ...]] = field(default_factory=list)


def merge_by_key(base: str, ours: str, theirs: str) -> KeyMerge | None:
    """Merge three versions of a YAML config key by key; None where only a line merge will do."""
    # Imported here: only a config.yml whose lines conflict is read with ruamel.yaml.
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap

    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096  # long values stay on their line
    yaml.indent(**yaml_indents(ours))
    try:
        docs = [_load(yaml, text) for text in (base, ours, theirs)]
    except _CannotMerge:
        return None
    was, mine, other = docs
    if was is None:
        was = CommentedMap()
    if not all(isinstance(doc, CommentedMap) for doc in (was, mine, other)):
        return None
    tails = [_detach_tails(doc, (), {}) for doc in (was, mine, other)]
    resolved = copy.deepcopy(mine)
    clashes: list[tuple[str, ...]] = []
    try:
        _merge_map(was, mine, other, resolved, (), clashes)
        merged_tails = _merge_tails(*tails)
        variants = [resolved]
        for side, changed_from in ((was, None), (other, was)):
            variant = copy.deepcopy(resolved)
            for path in clashes:
                _set(variant, path, side, changed_from)
            variants.append(variant)
        texts = [_dump(yaml, _attach_tails(doc, merged_tails)) for doc in variants]
    except _CannotMerge:
        return None
    if not (
        _keeps_comments(base, ours, theirs, texts[0]) and _keeps_lines(base, ours, theirs, texts[0])
    ):
        return None
    return KeyMerge(texts[0], texts[1], texts[2], clashes)


def _load(yaml: Any, text: str) -> Any:
    """The round-trip document of `text`, checked to mean what the settings' loader reads."""
    import yaml as pyyaml
    from ruamel.yaml import YAMLError

    try:
        doc = yaml.load(text)
        meant = load_yaml(text, unique_keys=True) if text.strip() else None
    except (YAMLError, pyyaml.YAMLError, *_BUILD_ERRORS):
        raise _CannotMerge from None
    if not same(_plain(doc), meant):
        raise _CannotMerge
    return doc


def _dump(yaml: Any, doc: Any) -> str:
    """`doc` written out, checked to read back (by the settings' loader) as its values."""
    import yaml as pyyaml

    out = io.StringIO()
    yaml.dump(doc, out)
    text = out.getvalue()
    try:
        read = load_yaml(text, unique_keys=True)
    except (pyyaml.YAMLError, *_BUILD_ERRORS):  # a dump that does not read back: never the merge
        raise _CannotMerge from None
    if not same(read, _plain(doc)):
        raise _CannotMerge
    return text


def _plain(value: Any) -> Any:
    """`value` as plain Python values (ruamel.yaml's commented and scalar types dropped)."""
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    for kind in (bool, int, float, str):
        if isinstance(value, kind):
            return kind(value)
    return value


def _merge_map(
    was: Any, mine: Any, other: Any, out: Any, path: tuple[str, ...], clashes: list
) -> None:
    """Merge the mappings `mine` and `other` (ancestor `was`) into `out`, a copy of `mine`."""
    from ruamel.yaml.comments import CommentedMap

    _merge_comment(was, mine, other, out)
    for key in [*mine, *(k for k in other if k not in mine)]:
        a, b, o = (m.get(key, _MISSING) for m in (mine, other, was))
        if isinstance(a, CommentedMap) and isinstance(b, CommentedMap):
            sub = o if isinstance(o, CommentedMap) else CommentedMap() if o is _MISSING else None
            if sub is not None:
                _merge_map(sub, a, b, out[key], (*path, key), clashes)
                _merge_key_comment(was, mine, other, out, key)
                continue
        pa, pb, po = (_plain(v) if v is not _MISSING else _MISSING for v in (a, b, o))
        picked = pick(po, pa, pb, _same)
        if picked is CLASH:
            clashes.append((*path, key))
            continue  # `out` keeps ours (or lacks the key, as ours does)
        value = a if picked is pa else b
        if value is _MISSING:
            out.pop(key, None)
        elif value is b and b is not a:
            _put(out, other, key, copy.deepcopy(b))
        if value is not _MISSING:
            _merge_key_comment(was, mine, other, out, key)


def _same(one: Any, other: Any) -> bool:
    if one is _MISSING or other is _MISSING:
        return one is other
    return same(one, other)


def _put(out: Any, source: Any, key: Any, value: Any) -> None:
    """Set `out[key]`; a key `out` lacks goes after the key it follows in `source` and the keys
    `source` lacks that come next in `out` (before the key it precedes in `source`, when it
    comes first there; else last)."""
    if key in out:
        out[key] = value
        return
    keys, placed = list(source), list(out)
    before = [k for k in keys[: keys.index(key)] if k in out]
    after = [k for k in keys[keys.index(key) + 1 :] if k in out]
    at = placed.index(before[-1]) + 1 if before else placed.index(after[0]) if after else len(out)
    while before and at < len(placed) and placed[at] not in source:  # after what ours added
        at += 1
    out.insert(at, key, value)


def _comment_text(entry: Any) -> Any:
    """What a ruamel.yaml comment entry says (its tokens' texts), comparable across files."""
    if entry is None:
        return None
    if isinstance(entry, list):
        return [_comment_text(x) for x in entry]
    return getattr(entry, "value", entry)


def _entry(mapping: Any, key: Any) -> Any:
    """The comment entry of `key` in a round-trip mapping (None: no such key, or no mapping)."""
    from ruamel.yaml.comments import CommentedMap

    if not isinstance(mapping, CommentedMap) or key not in mapping:
        return None
    return mapping.ca.items.get(key)


def _merge_key_comment(was: Any, mine: Any, other: Any, out: Any, key: Any) -> None:
    """The comment after `key` (its end of line, the comment lines up to the next key): ours,
    or theirs where only theirs changed it; both changed differently: left to a line merge."""
    entries = [_entry(m, key) for m in (was, mine, other)]
    w, a, b = map(_comment_text, entries)
    if a == b or b == w:
        return
    if a != w and key in mine:
        raise _CannotMerge
    if entries[2] is None:
        out.ca.items.pop(key, None)
        return
    taken = out.ca.items[key] = copy.deepcopy(entries[2])
    kept = entries[1][2] if entries[1] is not None and len(entries[1]) > 2 else None
    ours_value = key in mine and same(_plain(out[key]), _plain(mine[key]))
    if kept is not None and len(taken) > 2 and taken[2] is not None and ours_value:
        taken[2].column = kept.column  # their comment where ours was, after our value


def _merge_comment(was: Any, mine: Any, other: Any, out: Any) -> None:
    """The comment before a mapping's first key (at the top, the file's header), merged as a
    key's is."""
    w, a, b = (_comment_text(m.ca.comment) if m is not None else None for m in (was, mine, other))
    if a == b or b == w:
        return
    if a != w:
        raise _CannotMerge
    out.ca.comment = copy.deepcopy(other.ca.comment)


def _set(doc: Any, path: tuple[str, ...], source: Any, was: Any = None) -> None:
    """Set the clashing key at `path` in `doc` as `source` (a whole document) has it, removed
    where `source` lacks it; its comment too where `source` changed it from `was` (a comment
    no side changed, or one that moved to a key ours added after it, stays as ours has it)."""
    *parents, key = path
    target: Any = doc
    holder: Any = source
    before: Any = was
    for part in parents:
        target = target[part]
        holder = holder.get(part) if isinstance(holder, dict) else None
        before = before.get(part) if isinstance(before, dict) else None
    if not isinstance(holder, dict) or key not in holder:
        target.pop(key, None)
        return
    _put(target, holder, key, copy.deepcopy(holder[key]))
    if was is None:
        return
    entry, earlier = _entry(holder, key), _entry(before, key)
    if _comment_text(entry) == _comment_text(earlier):
        return
    if entry is None:
        target.ca.items.pop(key, None)
    else:
        target.ca.items[key] = copy.deepcopy(entry)


# The comment lines after a mapping's last value (blank lines, then comments, often about the
# next section) are held by ruamel.yaml on that last key: a key added after it would sit
# below them. They are the mapping's tail here, merged as a value of their own and put back
# after whatever key ends the merged mapping.


def _detach_tails(doc: Any, path: tuple[str, ...], tails: dict) -> dict:
    """Take the tail off each mapping in `doc` (changed in place): path -> (text, token)."""
    from ruamel.yaml.comments import CommentedMap

    for key, value in doc.items():
        if isinstance(value, CommentedMap):
            _detach_tails(value, (*path, key), tails)
    if not doc or isinstance(doc[last := list(doc)[-1]], CommentedMap):
        return tails  # empty, or a section ends it: the section's tail is the tail
    entry = doc.ca.items.get(last)
    token = entry[2] if entry is not None and len(entry) > 2 else None
    if token is None or "\n" not in token.value:
        return tails
    eol, _, rest = token.value.partition("\n")
    if rest:
        tails[path] = (rest, copy.deepcopy(token))
        if eol:
            token.value = eol + "\n"
        else:
            entry[2] = None
    return tails


def _merge_tails(was: dict, mine: dict, other: dict) -> dict:
    """Each mapping's tail: ours, or theirs where only theirs changed it."""
    merged = {}
    for path in [*mine, *(p for p in other if p not in mine)]:
        w, a, b = (tails.get(path, (None, None)) for tails in (was, mine, other))
        if a[0] == b[0] or b[0] == w[0]:
            chosen = a
        elif a[0] == w[0]:
            chosen = b
        else:
            raise _CannotMerge  # both wrote different lines there
        if chosen[0] is not None:
            merged[path] = chosen
    for path in was:  # a tail both left where it was, or ours moved: kept once, where ours has it
        if path not in merged and path in mine and path in other:
            merged[path] = mine[path]
    return merged


def _attach_tails(doc: Any, tails: dict) -> Any:
    """Put each tail back after the last value of its mapping (the deepest one that ends it)."""
    from ruamel.yaml.comments import CommentedMap

    for path, (text, token) in sorted(tails.items(), key=lambda item: -len(item[0])):
        holder = doc
        for part in path:
            holder = holder.get(part) if isinstance(holder, CommentedMap) else None
        if not isinstance(holder, CommentedMap):
            holder = doc  # the mapping is gone: its tail goes where the document ends
        while holder and isinstance(holder[list(holder)[-1]], CommentedMap):
            holder = holder[list(holder)[-1]]
        if not holder:
            raise _CannotMerge
        last = list(holder)[-1]
        entry: list[Any] = holder.ca.items.setdefault(last, [None, None, None, None])
        if entry[2] is None:
            fresh = copy.deepcopy(token)
            fresh.value = "\n" + text
            entry[2] = fresh
        else:
            entry[2].value += text
    return doc


def _keeps_comments(base: str, ours: str, theirs: str, merged: str) -> bool:
    """Whether `merged` holds each comment line as often as a three-way merge of the counts
    says (what either side added, less what either removed): none lost, none doubled."""
    counts = [Counter(_comment_lines(text)) for text in (base, ours, theirs, merged)]
    was, mine, other, got = counts
    return all(
        got[line] == max(mine[line] + other[line] - was[line], 0) for line in set().union(*counts)
    )


def _comment_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.lstrip().startswith("#")]


def _keeps_lines(base: str, ours: str, theirs: str, merged: str) -> bool:
    """Whether every line no side changed is in `merged` as written (ruamel.yaml writes some
    things its own way: a flow mapping, odd spacing; such a config is merged as lines)."""
    counts = [Counter(text.splitlines()) for text in (base, ours, theirs)]
    got = Counter(merged.splitlines())
    return all(got[line] >= min(c[line] for c in counts) for line in counts[0])
