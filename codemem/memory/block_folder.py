"""The blocks folder as read: each file a `Block`, or one problem line naming it and the fix.

A block is `blocks/<label>.md`: YAML frontmatter (`description`, `limit` in characters,
`read_only`) and a body. The block's *value* is the body without the one newline that ends
the file, so the value `a\\nb` is stored as the body `a\\nb\\n` and the empty value as no body.
The label `personal` is the user's personal block in their home folder.

`BlockFolder.scan` lists every block and a problem line for each file that is none: a name
that is no label, a folder a clone committed as a file, frontmatter or text that does not
read. `conflicts` and `over_limit` name the blocks holding what no edit leaves (a merge's
conflict markers, a value past its limit). The edits are `MemoryStore`'s (`memory/blocks.py`).
"""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codemem.infra import printable
from codemem.memory import frontmatter
from codemem.memory.errors import BlockFormatError
from codemem.memory.files import folder_in_the_way, read_memory_file, read_own_file
from codemem.memory.folder_reads import FolderReads
from codemem.memory.labels import DEFAULT_LIMIT, LABEL_RE, default_limit
from codemem.memory.markers import CONFLICTED, has_conflict
from codemem.memory.users import PERSONAL_LABEL
from codemem.workspace import Workspace


@dataclass
class Block:
    """One core memory block."""

    label: str
    value: str = ""
    description: str = ""
    limit: int = DEFAULT_LIMIT
    read_only: bool = False
    path: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # unknown frontmatter keys, kept
    header: str = ""  # frontmatter as written; "" means write a fresh one
    # read from a file without frontmatter (a teammate's plain Markdown): written back without
    # one, so an edit changes only the text, and the limit follows codemem's default as before
    bare: bool = False

    @property
    def chars(self) -> int:
        return len(self.value)

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "description": self.description,
            "chars": self.chars,
            "limit": self.limit,
            "read_only": self.read_only,
            "value": self.value,
            "path": str(self.path) if self.path else None,
        }

    def to_text(self) -> str:
        """The file content for this block."""
        body = frontmatter.value_to_body(self.value)
        if self.bare and not frontmatter.opens_header(body):  # else read back as frontmatter
            return body
        header = self.header or frontmatter.dump(
            {"description": self.description, "limit": self.limit, "read_only": self.read_only}
            | self.extra
        )
        return header + body


def parse_block(label: str, text: str, source: str) -> Block:
    """A block from its file text; `BlockFormatError` (naming file and line) if it is broken."""
    doc = frontmatter.split(text, source)
    meta = dict(doc.meta)
    description = doc.as_text("description") if meta.pop("description", "") != "" else ""
    limit = meta.pop("limit", default_limit(label))
    read_only = meta.pop("read_only", False)
    if description is None:
        description = ""
    if not isinstance(description, str):
        raise doc.error("description", "description must be text")
    if isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0:
        raise doc.error("limit", f"limit must be a positive number of characters, not {limit!r}")
    if not isinstance(read_only, bool):
        raise doc.error("read_only", f"read_only must be true or false, not {read_only!r}")
    return Block(
        label=label,
        value=frontmatter.body_to_value(doc.body),
        description=description,
        limit=limit,
        read_only=read_only,
        extra=meta,
        header=doc.header,
        bare=not doc.header,
    )


class BlockFolder:
    """The block files of one workspace, plus the user's personal block at `personal_path`, as
    read (`MemoryStore` adds the edits)."""

    def __init__(self, ws: Workspace, personal_path: Path) -> None:
        self.ws = ws
        self.personal_path = personal_path

    def path_for(self, label: str) -> Path:
        """The file of the block `label`."""
        if label == PERSONAL_LABEL:
            return self.personal_path
        return self.ws.blocks_dir / f"{label}.md"

    def _source(self, path: Path) -> str:
        """The file's name for messages: one line, no terminal codes (a clone names the files)."""
        try:
            return printable(path.relative_to(self.ws.root).as_posix())
        except ValueError:
            return printable(str(path))

    def scan(self) -> tuple[list[Block], list[BlockFormatError]]:
        """Every readable block (sorted by label) and one error per unreadable file."""
        blocks: list[Block] = []
        problems: list[BlockFormatError] = []
        found: list[tuple[str, Path]] = []
        for folder in (self.ws.blocks_dir, self.ws.blocks_dir / "users"):
            if in_the_way := folder_in_the_way(self.ws, folder):
                problems.append(in_the_way)
                break
        if self.ws.blocks_dir.is_dir():
            for path in sorted(self.ws.blocks_dir.rglob("*.md")):
                label = path.relative_to(self.ws.blocks_dir).with_suffix("").as_posix()
                if label == PERSONAL_LABEL or not LABEL_RE.fullmatch(label):
                    problems.append(self._bad_label(label, path))
                    continue
                found.append((label, path))
        if os.path.lexists(self.personal_path):  # a folder there is a problem line
            found.append((PERSONAL_LABEL, self.personal_path))
        with FolderReads(self.ws) as reads:  # each folder resolved and held once, not per file
            for label, path in sorted(found):
                try:
                    blocks.append(self._read(label, path, reads))
                except BlockFormatError as exc:
                    problems.append(exc)
                except FileNotFoundError:
                    continue  # deleted while scanning
        return blocks, problems

    def _bad_label(self, label: str, path: Path) -> BlockFormatError:
        """Why a file under blocks/ is not a block, and the fix. A teammate's `Project.md`
        (or `café.md` written in another Unicode form) beside the block it was meant to be is
        merged into that block, never renamed over it."""
        # two names that look alike (NFC and NFD) are told apart by their code points
        shown = printable(label) if label.isascii() else label.encode("unicode_escape").decode()
        folded = unicodedata.normalize("NFKD", label).encode("ascii", "ignore").decode().lower()
        target = self.ws.blocks_dir / f"{folded}.md"
        if folded not in (label, PERSONAL_LABEL) and LABEL_RE.fullmatch(folded):
            try:  # a case-insensitive file system has one file under both names
                beside = target.is_file() and not target.samefile(path)
            except OSError:
                beside = False
            if beside:
                return BlockFormatError(
                    f"{self._source(path)}: '{shown}' cannot be a block label, and the block "
                    f"'{folded}' exists: move this file's text into {self._source(target)} and "
                    "delete this file (renamed, it would replace that block)"
                )
        return BlockFormatError(
            f"{self._source(path)}: '{shown}' cannot be a block label: rename the file "
            "to lower-case words, digits, '-' and '_' ('personal' is reserved)"
        )

    def _text(self, label: str, path: Path, reads: FolderReads | None = None) -> str | None:
        """The file's text; a link or a path out of the repository reads as missing (and warns)."""
        if label == PERSONAL_LABEL:  # the user's own file in their home folder
            return read_own_file(self.ws, path)
        return read_memory_file(self.ws, path) if reads is None else reads.read(path)

    def _read(self, label: str, path: Path, reads: FolderReads | None = None) -> Block:
        text = self._text(label, path, reads)
        if text is None:
            raise FileNotFoundError(path)
        block = parse_block(label, text, self._source(path))
        block.path = path
        return block

    def conflicts(self, blocks: Iterable[Block]) -> list[str]:
        """One line per block of `blocks` holding git's conflict markers, naming its file and
        the fix (`codemem status`, `memory list` and `memory show` print them)."""
        return [
            f"{self._source(block.path or self.path_for(block.label))}: {CONFLICTED}: resolve "
            "them in that file, keeping what each side should still say (an edit that keeps "
            "them is refused)"
            for block in blocks
            if has_conflict(block.value)
        ]

    def over_limit(self, blocks: Iterable[Block]) -> list[str]:
        """One line per shared block of `blocks` past its limit: edits never put it there, a
        merge of two teammates' additions (or a hand edit) can (`codemem status` lists them)."""
        return [
            f"{self._source(block.path)}: {block.chars:,} / {block.limit:,} characters, over its "
            "limit (two teammates' additions merged?): shorten it or move detail to archival "
            "memory, since no edit that leaves it over is saved"
            for block in blocks
            if block.chars > block.limit
            and block.path is not None
            and block.label != PERSONAL_LABEL
        ]
