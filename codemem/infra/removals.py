"""Removals that never delete a save: a file moved aside, checked, then removed or put back.

`set_aside` and `remove_file` move a file away only if it still holds what the caller expects,
checking what they moved, so no save lands between check and move; what was moved is removed
only while it holds what was checked (`discards.discard`: an editor that saves in place can
write into it after the check, and that save is put back or kept). What a kill left set aside
in a folder is put back by `put_back_set_aside`, never over a file saved there since.
"""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from codemem.infra.discards import Held, discard
from codemem.infra.files import fsync_dir, read_regular_bytes
from codemem.infra.folders import files_at_top, make_folder
from codemem.infra.renames import rename_new
from codemem.infra.stalls import stall_for_tests

T = TypeVar("T")
# `<name>.<hex>.removing`, hidden (`.<name>…`) when set aside beside the file
_SET_ASIDE = re.compile(r"\.?(?P<name>[^.].*)\.[0-9a-f]{8}\.removing")


@dataclass(frozen=True)
class SetAside(Generic[T]):
    """A file moved aside by `set_aside`, and what its check returned: `remove` it for good, or
    `restore` it where it was."""

    path: Path
    aside: Path
    value: T
    held: Held  # what the check read: removed only while the file holds it

    def remove(self) -> None:
        """Remove the file, unless a save went into it since it was checked (an editor that
        had it open and saves in place): that is put back, or kept (`discards.discard`)."""
        discard(self.aside, self.held, self.path)
        with suppress(OSError):
            fsync_dir(self.path.parent)
            fsync_dir(self.aside.parent)

    def restore(self) -> None:
        _put_back(self.aside, self.path)


def set_aside(
    path: Path,
    check: Callable[[bytes], T],
    *,
    max_bytes: int | None = None,
    folder: Path | None = None,
) -> SetAside[T]:
    """Move `path` aside (one atomic rename, into `folder` as `<name>.<hex>.removing`, else
    beside it as a hidden file: `folder` on another file system is the same) if `check`
    accepts the bytes it held; else put it back and raise what `check` raised.

    Only what was moved is checked, so no save can land between the check and the move: an
    editor's save, which replaces the file by a rename (or writes a new one), lands either
    before the move (then it is what is checked) or after it (then it is a new file at `path`,
    which stays). When `check` raises (it refuses those bytes), or the moved file cannot be read
    (`NotARegularFile`, `FileTooLarge` over `max_bytes`), the file is put back as it was, unless
    a newer save took its place meanwhile: that one stays. `FileNotFoundError` when `path` does
    not exist.
    """
    name = f"{path.name}.{os.urandom(4).hex()}.removing"
    aside = path.parent / f".{name}" if folder is None else folder / name
    try:
        os.rename(path, aside)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        aside = path.parent / f".{name}"
        os.rename(path, aside)
    try:
        data = read_regular_bytes(aside, max_bytes)
        value = check(data)
    except BaseException:
        _put_back(aside, path)
        raise
    return SetAside(path, aside, value, Held.of(data))


def remove_file(
    path: Path,
    check: Callable[[bytes], T],
    *,
    max_bytes: int | None = None,
    folder: Path | None = None,
) -> T:
    """Remove `path` if `check` accepts the bytes it held (see `set_aside`); returns what
    `check` returned."""
    moved = set_aside(path, check, max_bytes=max_bytes, folder=folder)
    stall_for_tests("file-set-aside")  # a kill here leaves it aside: `put_back_set_aside`
    moved.remove()
    return moved.value


def remove_link(path: Path, target: str | None) -> bool:
    """Remove the link at `path` (never what it leads to) if it still leads to `target`: moved
    aside beside it first, then read, so a save that replaced the link (an editor writing a new
    file over it) cannot land between the check and the removal. False, and what was moved put
    back (never over a newer save), when it is no link to `target`; `FileNotFoundError` when
    nothing is at `path`. A kill meanwhile leaves it set aside beside itself as `set_aside`
    would, where `put_back_set_aside` (with `only`) finds it."""
    aside = path.parent / f".{path.name}.{os.urandom(4).hex()}.removing"
    os.rename(path, aside)
    try:
        now: str | None = os.readlink(aside)
    except OSError:  # no link
        now = None
    if target is None or now != target:
        _put_back(aside, path)
        return False
    os.unlink(aside)
    return True


def _put_back(aside: Path, path: Path) -> None:
    """Move `aside` back to `path`, never over a file saved at `path` since it was moved."""
    try:
        rename_new(aside, path)
    except FileExistsError:  # a save since the move replaced what was moved, as its rename would
        aside.unlink()


def set_aside_original(name: str) -> str | None:
    """The name of the file `set_aside` moved aside under `name`, or None for another file."""
    found = _SET_ASIDE.fullmatch(name)
    return found["name"] if found else None


def put_back_set_aside(
    folder: Path,
    into: Path,
    hold: Callable[[Path], AbstractContextManager[object]] | None = None,
    *,
    only: str | None = None,
) -> list[Path]:
    """Put back under `into` each file a kill left set aside in `folder` (`set_aside` into
    `folder`, or into its subfolder named as the file's folder under `into`; with `folder`
    `into` itself, those set aside beside their file, hidden, and the links `remove_link`
    moved so); returns the paths put back. The removal never finished, so the file is there
    to remove again. One whose name was taken meanwhile stays where it is, never over that
    file; but a link, which holds no one's text, is removed then (what it leads to is never
    touched): the removal asked for is done. `hold(path)`, if given, is held around each one
    (the file's lock: no removal of it runs meanwhile). With `only`, just the file of that
    name set aside at the top of `folder` (a folder holding other things, such as the user's
    codemem home).
    """
    back: list[Path] = []
    walk = os.walk(folder) if only is None else files_at_top(folder, links=True)
    for where, _, names in sorted(walk):  # no link followed
        for name in sorted(names):
            found = _SET_ASIDE.fullmatch(name)
            if found is None or only not in (None, found["name"]):
                continue
            path = into / Path(where).relative_to(folder) / found["name"]
            with hold(path) if hold else nullcontext(), suppress(OSError):  # else it waits
                make_folder(path.parent)
                if _settle_leftover(Path(where) / name, path):
                    back.append(path)
    return back


def _settle_leftover(aside: Path, path: Path) -> bool:
    """Move `aside` back to `path` (True), never over a file there; a link that finds its
    name taken is removed instead (False): it holds no save, and the dotfile it leads to
    stays as it is."""
    try:
        rename_new(aside, path)
    except FileExistsError:
        if not aside.is_symlink():
            raise
        aside.unlink()
        return False
    return True
