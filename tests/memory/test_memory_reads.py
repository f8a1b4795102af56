"""How much a read of memory does: each file's path looked at once, each file read once."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

from memory_helpers import write_block

import codemem.memory.files as files_module
from codemem.memory import read_memory_file

BLOCK = "---\ndescription: Facts.\nlimit: 500\nread_only: false\n---\nFacts.\n"


def test_a_memory_file_is_looked_at_once_per_read(ws, monkeypatch):
    # The check resolved the path (`confine`) and looked whether it exists, and the read
    # through the held folders resolved it once more: three looks where one does.
    write_block(ws, "facts", BLOCK)
    path = ws.blocks_dir / "facts.md"
    looks: list[str] = []
    real_confine, real_exists = files_module.confine, Path.exists

    def confine(root, rel, **kwargs):
        looks.append(f"confine {rel}")
        return real_confine(root, rel, **kwargs)

    def exists(self, *args, **kwargs):
        if self == path:
            looks.append("exists")
        return real_exists(self, *args, **kwargs)

    monkeypatch.setattr(files_module, "confine", confine)
    monkeypatch.setattr(Path, "exists", exists)
    assert read_memory_file(ws, path) == BLOCK
    assert looks == ["confine .codemem/blocks/facts.md"]


def test_a_block_is_read_once_to_be_deleted(ws, store, monkeypatch):
    # The delete read the block's bytes (for a block that cannot be read as text), then its
    # text: two reads where one does. The third open is the comparison of what was set aside.
    import codemem.infra.files as infra_files

    store.create("facts", "Facts.", value="Old.")
    opened: list[str] = []
    real = infra_files.open_regular

    def open_regular(path, **kwargs):
        name = re.sub(r"\.[0-9a-f]{8}\.removing$", ".<hex>.removing", Path(path).name)
        if name.startswith("facts"):  # not `local/.gitignore`
            opened.append(name)
        return real(path, **kwargs)

    monkeypatch.setattr(infra_files, "open_regular", open_regular)
    assert store.delete("facts").value == "Old."
    assert opened == ["facts.md", "facts.md.<hex>.removing"]
    assert not (ws.blocks_dir / "facts.md").exists()


def test_each_block_is_read_once_for_the_agent(ws, store, monkeypatch):
    # The agent's view read every block twice: once for the blocks, once for the problems.
    import codemem.infra.files as infra_files

    store.create("project", "The project.", value="A shop.")
    store.create("facts", "Facts.", value="Old.")
    opened: list[str] = []
    real = infra_files.open_regular

    def open_regular(path, **kwargs):
        if Path(path).suffix == ".md":
            opened.append(Path(path).name)
        return real(path, **kwargs)

    monkeypatch.setattr(infra_files, "open_regular", open_regular)
    assert "A shop." in store.render_blocks()
    assert sorted(opened) == ["facts.md", "project.md"]


def _many_blocks(ws, count: int) -> None:
    for number in range(count):
        write_block(
            ws, f"pkg-{number:04d}", BLOCK.removesuffix("Facts.\n") + f"Package {number}.\n"
        )


def test_listing_blocks_resolves_their_folder_once_not_each_file(ws, store, monkeypatch):
    # Each block's whole path was resolved three times and its folders opened from the root:
    # three quarters of `memory list` over 20,000 blocks once YAML was out of the way.
    _many_blocks(ws, 200)
    resolved: list[Path] = []
    real = Path.resolve

    def resolve(self, *args, **kwargs):
        resolved.append(self)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "resolve", resolve)
    blocks, problems = store.scan()
    assert problems == []
    assert [b.label for b in blocks][:2] == ["pkg-0000", "pkg-0001"] and len(blocks) == 200
    assert blocks[7].value == "Package 7." and blocks[7].description == "Facts."
    assert len(resolved) < 20  # a few for the folder, none per file


def test_listing_blocks_written_as_codemem_writes_them_runs_no_yaml_parser(ws, store, monkeypatch):
    # PyYAML took 60% of listing 20,000 blocks: the frontmatter codemem writes is read plainly.
    import codemem.memory.frontmatter as frontmatter_module

    store.create("project", "What it is, and how to build it (make).", value="A shop.")
    store.create("notes", "Has: a colon, so it is quoted", value="x")
    _many_blocks(ws, 50)
    write_block(ws, "odd", "---\n# a comment\ndescription: Odd.\nlimit: 0x40\n---\nOdd.\n")
    parsed: list[str] = []
    real = frontmatter_module.load_yaml

    def load_yaml(text, **kwargs):
        parsed.append(text)
        return real(text, **kwargs)

    monkeypatch.setattr(frontmatter_module, "load_yaml", load_yaml)
    blocks = {block.label: block for block in store.list()}
    assert len(parsed) == 1 and parsed[0].startswith("# a comment")  # the odd one, as before
    assert blocks["odd"].limit == 64
    assert blocks["notes"].description == "Has: a colon, so it is quoted"
    assert blocks["project"].description == "What it is, and how to build it (make)."
    assert (blocks["pkg-0003"].limit, blocks["pkg-0003"].read_only) == (500, False)


def test_frontmatter_read_plainly_is_what_yaml_reads(ws):
    # Every header the plain reading takes is read by YAML to the same values and types.
    import random

    values = [
        "yes", "On", "OFF", "Null", "~", "true", "True", "false", "0", "00", "012", "7",
        "1_000", "0x1F", "-1", "+1", "1.5", ".inf", "1e3", "2025-01-02", "a: b", "a #c", "a#c",
        " x", "x ", "Package, the (core) pkg.", "café", '"q"', '"a\\nb"', "'it''s'", "'x'",
        '"\t"', "[a, b]", "{a: 1}", "&a x", "*a", "!!int 3", "|", "> x", "a/b", "y", "n",
        "99999999999999999999", "- x", "x -", "%x", "@x", '""', "''", "a  b", "a\tb", "=",
        "<<", "1:20", "x: ", "'#'",
    ]  # fmt: skip
    keys = ["description", "limit", "read_only", "owner", "on", "yes", "_k", "Key", "1a", "null"]
    rng = random.Random(28)
    plain = 0
    for _ in range(20_000):
        lines = []
        for _ in range(rng.randint(0, 4)):
            value = rng.choice(values)
            if rng.random() < 0.3:
                value += rng.choice([" ", ",", "", "."]) + rng.choice(values)
            lines.append(f"{rng.choice(keys)}: {value}")
        plain += _read_plainly_as_yaml("".join(line + "\n" for line in lines))
    assert plain > 300  # headers the plain reading took, each checked


def test_listing_notes_written_as_codemem_writes_them_runs_no_yaml_parser(archive, ws, monkeypatch):
    # `Archive.scan` parsed each note's header twice (the values, then text only for its
    # tags): more than all 20,000 blocks cost in `status` with 2,000 notes. Now it reads the
    # header codemem writes plainly, as a block's.
    import yaml.composer

    for number in range(30):
        archive.insert(f"Decision {number}: keep the cache.", tags=["build", "on", "010"])
    (ws.archive_dir / "flags.md").write_text(  # YAML 1.1 reads these tags as true and 8
        "---\ncreated: 2024-12-24\ntags: [on, 010]\n---\nFlags.\n"
    )
    parsed: list[int] = []
    real = yaml.composer.Composer.compose_document

    def compose_document(self):
        parsed.append(1)
        return real(self)

    monkeypatch.setattr(yaml.composer.Composer, "compose_document", compose_document)
    notes, problems = archive.scan()
    assert problems == [] and len(notes) == 31
    assert {tuple(note.tags) for note in notes} == {("build", "on", "010"), ("on", "010")}
    assert len(parsed) == 2  # only the hand-written one: its date, and its tags as text


def test_a_notes_header_read_plainly_is_what_yaml_reads(ws):
    # A note's id, time and tags, read without the parser, are YAML's values of YAML's types.
    import random

    values = [
        "20250301-142233-1a2b3c4d", "20250301-142233-1A2B3C4D", "2025030-142233-1a2b3c4d",
        "20250301142233", "2025-03-01", "2025-03-01T14:22:33+00:00", "2025-03-01T14:22:33Z",
        "2025-03-01t14:22:33+00:00", "2025-03-01 14:22:33+00:00", "2025-03-01T14:22:33",
        "2025-03-01T14:22:33.5+05:30", "2025-03-01T14:22:33.123456-08:00",
        "2025-03-01T14:22:33.1234567+00:00", "2025-02-30T00:00:00+00:00",
        "2025-03-01T24:00:00+00:00", "2025-03-01T14:22:60+00:00", "2025-03-01T14:22:33+24:00",
        "2025-3-1T14:22:33+00:00", "[]", "[ ]", "[a]", "[a, b]", "[a,b]", "[ a ]", "[a, ]",
        "[on]", "[On, b]", "['on', b]", "[y, n]", "[null]", "[~]", "['']", "[-a]", "[a-b, c.d]",
        "[[a]]", "[a: b]", "[a b]", "['a, b']", "['a b', c]", "[' a']", "['it''s']", '["a"]',
        "['\t']", "[a#b]", "[a #b]", "[.inf]", "[1]", "['010']", "[a], [b]", "[a, [b]]",
        "[é]", "['é']", "[a_b, c_]", "pkg", "'x'",
    ]  # fmt: skip
    keys = ["id", "created", "tags", "source", "on", "_k"]
    rng = random.Random(28)
    plain = 0
    for _ in range(20_000):
        lines = [f"{rng.choice(keys)}: {rng.choice(values)}" for _ in range(rng.randint(1, 4))]
        plain += _read_plainly_as_yaml("".join(line + "\n" for line in lines))
    assert plain > 1_000  # headers the plain reading took, each checked


def _read_plainly_as_yaml(text: str) -> bool:
    """Whether the plain reading takes `text`; if it does, it must be YAML's reading: the same
    values of the same types, items and time offsets included."""
    from codemem.infra import load_yaml
    from codemem.memory.frontmatter import _plain

    got = _plain(text)
    if got is None:
        return False
    want = load_yaml(text, unique_keys=True) or {}
    assert got == want, text
    assert [type(v) for v in got.values()] == [type(v) for v in want.values()], text
    for one, other in zip(got.values(), want.values(), strict=True):
        if isinstance(one, list):
            assert [type(item) for item in one] == [type(item) for item in other], text
        if isinstance(one, datetime):
            assert one.utcoffset() == other.utcoffset(), text
    return True
