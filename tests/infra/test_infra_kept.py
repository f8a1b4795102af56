"""The ledger of saves kept outside a swap folder (`kept-elsewhere`): bounded by the saves
that are still there, and never the cause of a save going unlisted."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from codemem.infra import KeptSave, kept_saves
from codemem.infra.kept import LEDGER, record_kept


def a_kept_save(folder: Path, name: str) -> Path:
    """A `.kept` save of `name` as a killed write leaves it beside the file."""
    folder.mkdir(parents=True, exist_ok=True)
    kept = folder / f".{name}.0123456789abcdef.0123456789abcdef.0123456789abcdef.1a2b.tmp.kept"
    kept.write_text(f"a save of {name}\n")
    return kept


def ledger_paths(swaps: Path) -> list[str]:
    return [os.fsdecode(raw) for raw in (swaps / LEDGER).read_bytes().split(b"\0") if raw]


def test_the_ledger_keeps_only_the_saves_still_there_and_lists_a_new_one(tmp_path):
    # It only grew: every save recorded stayed in it once deleted, and past the megabyte
    # `kept_saves` reads, a save kept since was never listed by `codemem status`.
    swaps, work = tmp_path / "swaps", tmp_path / "mnt" / "src"
    swaps.mkdir()
    deleted = [a_kept_save(work, f"old{n}.py") for n in range(3)]
    for kept in deleted:
        record_kept(swaps, kept)
        kept.unlink()  # looked at and deleted by the person
    stale = f"{work}/.gone.py.0123456789abcdef.0123456789abcdef.0123456789abcdef.1a2b.tmp.kept"
    with (swaps / LEDGER).open("ab") as ledger:  # what an older codemem left: years of records
        ledger.write((stale.encode() + b"\0") * (2 * 1024 * 1024 // len(stale)))
    still = a_kept_save(work, "still.py")
    unmounted = (
        tmp_path
        / "unmounted"
        / "lib"
        / ".x.py.0123456789abcdef.0123456789abcdef.0123456789abcdef.1a2b.tmp.kept"
    )
    with (swaps / LEDGER).open("ab") as ledger:
        ledger.write(os.fsencode(still) + b"\0" + os.fsencode(unmounted) + b"\0")
    new = a_kept_save(work, "app.py")
    record_kept(swaps, new)
    assert kept_saves(swaps) == [
        KeptSave(still, "still.py", removing=False),
        KeptSave(new, "app.py", removing=False),
    ]
    # a save whose folder is not there now (not mounted) stays recorded; no save was touched
    assert ledger_paths(swaps) == [str(still), str(unmounted), str(new)]
    assert sorted(p.name for p in work.iterdir()) == sorted([still.name, new.name])


def test_saves_recorded_at_once_are_all_listed(tmp_path):
    swaps, work = tmp_path / "swaps", tmp_path / "mnt"
    swaps.mkdir()
    saves = [a_kept_save(work, f"f{n}.py") for n in range(16)]
    threads = [threading.Thread(target=record_kept, args=(swaps, kept)) for kept in saves]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(ledger_paths(swaps)) == sorted(str(kept) for kept in saves)
    assert sorted(k.path for k in kept_saves(swaps)) == sorted(saves)
