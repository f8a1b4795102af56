"""The work tree as one index run sees it: listed once, hashed only where git cannot vouch.

`WorkTree.read` runs the run's one `git ls-files` (`codemem.code.files.read_listing`),
hashes the few files git cannot vouch for (changed in the work tree, unmerged, untracked) and
digests the whole listing. When the digest is the one the manifest recorded, nothing changed
and no other entry is even parsed (a no-op run on 78,000 files).

When something did change, the last complete run's entries (`save_listing`, kept beside the
manifest) tell which: `touched_since` compares the two listings as sets of raw entries, and
the run reads only those paths' manifest rows (one changed file in the Linux kernel: about
60 rows, where every one of 78,000 took 0.6 s to read and compare). Without that record
(the first run, a damaged file, a run that stopped mid-way), `ids` judges every entry.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from codemem.code.attributes import attributes_key, is_attributes_entry, read_marks
from codemem.code.files import (
    GENERATED_NAMES,
    MISSING,
    NO_MARKS,
    SECRET_NAMES,
    VENDOR_DIRS,
    Marks,
    git_blob_id,
    parse_listing,
    path_skip_reason,
    read_listing,
    read_repo_file,
    unvouched,
)
from codemem.code.files import entry_path as _entry_path
from codemem.errors import FileTooLarge, NotARegularFile
from codemem.infra import atomic_file, attributes_stamp, make_folder, read_regular_bytes

if TYPE_CHECKING:
    from codemem.code.manifest_rows import FileEntry
    from codemem.config import IndexConfig

log = logging.getLogger("codemem")

# The rules that decide a file from its path: when they change, so does every digest, and
# the files the manifest knows are judged again.
RULES = hashlib.sha1(
    repr((1, sorted(VENDOR_DIRS), GENERATED_NAMES.pattern, SECRET_NAMES.pattern)).encode()
).hexdigest()[:16]

FileId = tuple[str | None, str | None]  # (content id, skip reason)
FileIds = dict[str, FileId]  # path -> its id
# The reasons a file's name alone gives that its git attributes may undo; and, with None, those
# of a hashed file that its attributes may change.
_MARKED_REASONS = ("vendored", "generated")
_PATH_REASONS = (None, *_MARKED_REASONS)
Touched = dict[str, list[bytes]]  # path -> its entries in a listing (`touched_since`)
# A tracked entry (in git's index, changed or not, unmerged) under `.codemem/local/`.
_TRACKED_LOCAL = re.compile(rb"(?:^|\0)[HSM] [^\t\0]*\t(\.codemem/local/[^\0]*)")
# The last complete run's listing, beside its manifest (`save_listing`): a derived file, read
# only when its digest is the manifest's and its checksum holds, so a damaged one costs the
# run its shortcut, never a wrong plan.
LISTING_FILE = "listing.bin"
MAX_LISTING_BYTES = 1 << 29  # about 100 bytes a file: a listing of 5 million files
LISTING_FORMAT = b"codemem-listing 1"
# A submodule: a tracked entry of mode 160000 (a commit of another repository).
_SUBMODULE = re.compile(rb"(?:^|\0)[HS] 160000 [0-9a-f]+ 0\t([^\0]*)")


@dataclass(frozen=True, slots=True)
class ListingSettings:
    """The settings that decide which files a listing offers and which are read."""

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    max_file_bytes: int = 1_000_000
    rules: str = RULES

    @classmethod
    def of(cls, settings: IndexConfig) -> ListingSettings:
        return cls(tuple(settings.include), tuple(settings.exclude), settings.max_file_bytes)

    def to_json(self) -> str:
        return json.dumps([list(self.include), list(self.exclude), self.max_file_bytes, self.rules])

    @classmethod
    def from_json(cls, text: str) -> ListingSettings | None:
        """The settings `to_json` wrote, or None when `text` is not such a record."""
        try:
            include, exclude, max_file_bytes, rules = json.loads(text)
            return cls(
                tuple(map(str, include)), tuple(map(str, exclude)), int(max_file_bytes), str(rules)
            )
        except (ValueError, TypeError):
            return None


@dataclass
class WorkTree:
    """One listing of the work tree: `digest` to compare with the manifest's, `ids` to plan."""

    root: Path
    settings: ListingSettings
    entries: list[bytes]  # read_listing's raw entries
    hashed: FileIds  # the files git cannot vouch for, with their ids
    digest: str
    info: tuple[int, ...] | None = None  # the stamp of the git directory's `info/attributes`
    # The git attributes of the paths asked so far (`marks`): those with any, and all asked.
    _marks: dict[str, Marks] = field(default_factory=dict, repr=False)
    _asked: set[str] = field(default_factory=set, repr=False)
    _attributes: str | None = field(default=None, repr=False)

    @classmethod
    def read(cls, root: Path, settings: ListingSettings, saved: Collection[str] = ()) -> WorkTree:
        """List the work tree (one `git ls-files`) and hash what git cannot vouch for, and
        `saved`: files known to have been written since (`codemem watch` saw them), which
        git vouches for by their size and mtime alone where `core.checkStat=minimal` (a
        same-size rewrite given its old mtime back: `touch -d`, `cp -p`, `rsync -t`)."""
        entries = read_listing(root, settings.include)
        info = attributes_stamp(root)  # the `.gitattributes` files' ids are in the listing
        hashed = _hash_files(root, settings, unvouched(entries), entries, info)
        tree = cls(root, settings, entries, hashed, "", info)
        tree._list_as_changed(_misvouched(root, settings, entries, saved) if saved else {})
        return tree

    def recheck(self, before: list[bytes]) -> None:
        """Read again the files a run listed as changed where git vouches for the same blob
        now (`before`: that run's entries): a save `read` found git vouching for wrongly stays
        listed as changed while its content differs, so the save that puts git's blob back
        is seen too (git's stat data, unchanged, would not tell)."""
        listed = set(self.entries)
        again = [b"H" + e[1:] for e in before if e[:1] == b"C" and e not in listed]
        again = [entry for entry in again if entry in listed]
        if again:
            paths = [_entry_path(e).decode("utf-8", "surrogateescape") for e in again]
            self._list_as_changed(_misvouched(self.root, self.settings, again, paths))

    def _list_as_changed(self, misvouched: dict[bytes, tuple[str, FileId]]) -> None:
        """List `misvouched` files as changed (`C`, with their ids), and digest the listing."""
        self.entries += [b"C" + entry[1:] for entry in misvouched]
        self.hashed.update(misvouched.values())
        self._attributes = None  # a `.gitattributes` may be among them
        digest = hashlib.sha1(
            repr((self.settings, sorted(self.hashed.items()), self.info)).encode(
                "utf-8", "surrogateescape"
            )
        )
        digest.update(b"\0".join(self.entries))
        self.digest = digest.hexdigest()

    @property
    def attributes(self) -> str:
        """The key of what decides the files' git attributes (`attributes_key`; "": the
        repository has no attributes file, so no file has any)."""
        if self._attributes is None:
            ids = ((path, cid) for path, (cid, _reason) in self.hashed.items())
            self._attributes = attributes_key(self.root, self.entries, ids, self.info)
        return self._attributes

    def marks(self, paths: Iterable[str]) -> dict[str, Marks]:
        """The git attributes of those of `paths` that have any (one `git check-attr` for the
        paths not asked before, none when the repository has no attributes file)."""
        if not self.attributes:
            return {}
        wanted = list(dict.fromkeys(paths))
        new = [path for path in wanted if path not in self._asked]
        if new:
            self._marks.update(read_marks(self.root, new))
            self._asked.update(new)
        return {path: self._marks[path] for path in wanted if path in self._marks}

    def not_generated(self, paths: Iterable[str]) -> frozenset[str]:
        """Those of `paths` the repository says are not generated (`linguist-generated=false`):
        their content is never judged generated or minified."""
        return frozenset(p for p, m in self.marks(paths).items() if m.generated is False)

    def submodules(self) -> list[str]:
        """The submodules git lists here (repositories of their own: none of their files is a
        candidate), read from the listing, no git run."""
        text = b"\0".join(self.entries)
        if b" 160000 " not in text:
            return []
        return [p.decode("utf-8", "surrogateescape") for p in _SUBMODULE.findall(text)]

    def tracked_local(self) -> int:
        """How many files under `.codemem/local/` git tracks (each clone's own: see
        `codemem.workspace.UNTRACK_LOCAL`), read from the listing, no git run."""
        text = b"\0".join(self.entries)
        if b"\t.codemem/local/" not in text:
            return 0
        return len(set(_TRACKED_LOCAL.findall(text)))

    def touched_since(self, before: list[bytes], also: Iterable[str] = ()) -> Touched:
        """The paths whose entries differ between `before` (the listing of the run the
        manifest completed, under these settings) and this one, the paths whose content git
        cannot vouch for in either (their ids are read from the work tree, not listed), and
        `also`, each with its entries in this listing (none: gone). Every other path is listed
        as it was then: its manifest row still holds.

        The entries are found among those that changed and those git cannot vouch for (a C
        entry repeats the fields of its path's H or S one, which is then looked up); the
        listing is read again only for paths that have none there (gone, or changed back).
        """
        old, new = set(before), set(self.entries)
        # An unvouched entry of `before` is either gone (a change) or still listed (unvouched
        # now): `before` is not read a second time for them.
        fresh = unvouched(self.entries)
        changed = old.symmetric_difference(new)
        changed.update(fresh)
        touched: dict[bytes, list[bytes]] = {_entry_path(entry): [] for entry in changed if entry}
        touched.update((path.encode("utf-8", "surrogateescape"), []) for path in also)
        touched.pop(b"", None)
        listed = new.difference(old)
        listed.update(fresh)
        for entry in fresh:
            if entry[:1] == b"C":
                listed.update(e for tag in (b"H", b"S") if (e := tag + entry[1:]) in new)
        listed.discard(b"")
        for entry in listed:
            touched[_entry_path(entry)].append(entry)
        unsure = {path for path, entries in touched.items() if not entries}
        if unsure:  # gone, or listed as before (changed back, `also`): only the listing tells
            for entry in self.entries:
                if entry and (path := _entry_path(entry)) in unsure:
                    touched[path].append(entry)
        return {path.decode("utf-8", "surrogateescape"): es for path, es in touched.items()}

    def ids(
        self, known: Mapping[str, FileEntry] | None = None, only: Touched | None = None
    ) -> FileIds:
        """path -> (content id, skip reason decided from the path or from reading the file)
        of every candidate file, in path order (a changed file deleted from the work tree but
        not from git's index is left out); with `only` (`touched_since`), of those paths alone.

        A file `known` (the manifest's rows, recorded under these same settings) at the same
        content id is not judged again: its reason is given as None, and its row holds what
        the same rules decided.
        """
        entries = self.entries
        if only is not None:
            entries = [entry for listed in only.values() for entry in listed]
        out: FileIds = {}
        judged: list[str] = []  # their attributes may change what their names decided
        hashed: list[str] = []  # ...and these were hashed before any was read
        for path, (cid, _tracked) in parse_listing(entries, self.settings.exclude).items():
            if cid is None:
                if path in self.hashed:
                    out[path] = self.hashed[path]
                    if out[path][1] in _PATH_REASONS:
                        judged.append(path)
                        hashed.append(path)
            elif known is not None and (entry := known.get(path)) and entry.content_id == cid:
                out[path] = (cid, None)
            else:
                out[path] = (cid, path_skip_reason(path))
                judged.append(path)
        # Asked of every path here, not only those judged: the caller asks which are not
        # generated (`not_generated`) next, which then costs no second `git check-attr`.
        marks = self.marks(out)
        for path in (*hashed, *(path for path in judged if path in marks)):
            out[path] = (out[path][0], path_skip_reason(path, marks.get(path, NO_MARKS)))
        return out


def _misvouched(
    root: Path, settings: ListingSettings, entries: list[bytes], saved: Collection[str]
) -> dict[bytes, tuple[str, FileId]]:
    """The H entries of the `saved` files whose content does not have the blob id git vouches
    for (git judged them unchanged by a stat that missed the save), each with the file's path
    and id."""
    wanted = {path.encode("utf-8", "surrogateescape") for path in saved}
    changed = {_entry_path(entry) for entry in entries if entry[:1] == b"C"}
    out: dict[bytes, tuple[str, FileId]] = {}
    for entry in entries:
        raw = _entry_path(entry)
        if entry[:1] != b"H" or raw not in wanted or raw in changed:
            continue
        for path, (cid, _tracked) in parse_listing([entry], settings.exclude).items():
            if path_skip_reason(path) is not None:
                continue
            data, _reason = read_repo_file(root, path, settings.max_file_bytes)
            if data is not None and (actual := git_blob_id(data)) != cid:
                out[entry] = (path, (actual, None))
    return out


def save_listing(index_dir: Path, tree: WorkTree) -> None:
    """Keep `tree`'s entries in `index_dir` for the next run's `touched_since` (used only once
    the manifest there records `tree.digest`: a run that stops before it completes leaves a
    record of a listing no manifest names)."""
    payload = b"\0".join(tree.entries)
    checksum = hashlib.sha1(payload).hexdigest()
    head = b"%s %s %s\n" % (LISTING_FORMAT, tree.digest.encode(), checksum.encode())
    try:
        make_folder(index_dir)  # a rebuild's folder, before its rows
        with atomic_file(index_dir / LISTING_FILE, durable=False) as handle:
            handle.write(head)
            handle.write(payload)
    except OSError as exc:  # a full disk: the next run compares every row, as without it
        log.debug("the listing was not kept: %s", exc)


def load_listing(index_dir: Path, digest: str) -> list[bytes] | None:
    """The entries `save_listing` kept for the listing `digest`; None when there are none,
    they belong to another listing, or the file is damaged."""
    if not digest:
        return None
    try:
        data = read_regular_bytes(index_dir / LISTING_FILE, MAX_LISTING_BYTES)
    except (OSError, FileTooLarge, NotARegularFile):
        return None
    head, _, payload = data.partition(b"\n")
    if head != b"%s %s %s" % (
        LISTING_FORMAT,
        digest.encode(),
        hashlib.sha1(payload).hexdigest().encode(),
    ):
        return None
    return payload.split(b"\0")


def _hash_files(
    root: Path,
    settings: ListingSettings,
    entries: list[bytes],
    listing: list[bytes],
    info: tuple[int, ...] | None,
) -> FileIds:
    """The ids of the listed files git cannot vouch for (`entries`, of `listing`), read from
    the work tree. Where the repository has git attributes (`info`: `info/attributes`), a file
    its name alone marks generated or vendored is hashed too: they may keep it."""
    out: FileIds = {}
    attributed: bool | None = None  # whether the repository has attributes, once asked
    for path, (cid, _tracked) in parse_listing(entries, settings.exclude).items():
        reason = path_skip_reason(path)
        if reason in _MARKED_REASONS:
            if attributed is None:
                attributed = info is not None or any(map(is_attributes_entry, listing))
            if attributed:
                reason = None  # judged with its attributes by `WorkTree.ids`
        if cid is None and reason is None:
            data, read_reason = read_repo_file(root, path, settings.max_file_bytes)
            if read_reason == MISSING:  # deleted in the work tree, not yet in git's index
                continue
            if data is None:
                reason = read_reason
            else:
                cid = git_blob_id(data)
        out[path] = (cid, reason)
    return out
