"""What `codemem watch` sees of the `merge=codemem` driver at work: nothing but git's own files."""

from __future__ import annotations

import re

from test_watch_inotify_limits import changes, tree  # noqa: F401 (fixture)

from codemem.conventions import merge_files
from codemem.workspace import Workspace


def test_the_merge_drivers_temporaries_are_not_seen_by_the_daemon(tree):  # noqa: F811
    # Git hands the driver `.merge_file_XXXXXX` files at the top of the work tree. The driver
    # wrote its result through a temporary beside OURS: the daemon's watcher saw `#<inode>`
    # (the unnamed file) and `..merge_file_XXXXXX.<hex>.tmp`, each an index run mid-merge.
    root, bouncer, observer = tree
    Workspace(root).ensure_local()
    base, ours, theirs = (root / f".merge_file_{name}" for name in ("Ab12Cd", "Ef34Gh", "Ij56Kl"))
    base.write_text("# Notes\n\n- one\n")
    ours.write_text("# Notes\n\n- one\n- two\n")
    theirs.write_text("# Notes\n\n- one\n- three\n")
    observer.start()
    assert merge_files(base, ours, theirs, ".codemem/notes.md") == 0
    assert ours.read_text() == "# Notes\n\n- one\n- three\n- two\n"
    (root / "after.py").write_text("x = 1\n")  # inotify reports in order: the merge's came first
    seen = changes(bouncer, "after.py")
    odd = sorted(p for p in seen if p != "after.py" and not re.fullmatch(r"\.merge_file_\w{6}", p))
    assert odd == []
    assert list(Workspace(root).swap_dir.iterdir()) == []
