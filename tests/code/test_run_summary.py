"""What an index run says it did: the counts and the files it names (the watch daemon's log)."""

from __future__ import annotations

from codemem.code.manifest import Manifest
from codemem.workspace import Workspace
from tests.code.test_indexer import index


def test_a_merge_temporary_listed_once_is_not_counted_removed_when_it_goes(repo_factory):
    # The watch daemon's log during a merge of memory: "indexed 0 added, 1 changed, 3 removed
    # (.merge_file_RFm4iR, .merge_file_amU2KO, .merge_file_gtqhaX, ...)": git's temporaries,
    # listed as untracked while the merge driver ran and recorded as skipped, had no rows; the
    # names were the paths the watcher saw, not what the run did.
    repo = repo_factory("shop")
    index(repo)
    temporary = repo / ".merge_file_RFm4iR"
    temporary.write_text("---\nlabel: team\n---\nmain fact\n")
    during = index(repo)
    entry = Manifest.load(Workspace(repo).index_dir).files[".merge_file_RFm4iR"]
    assert entry.status != "indexed"  # recorded, skipped: no rows
    assert (during.added, during.changed, during.removed, during.paths) == (0, 0, 0, [])
    temporary.unlink()
    cart = repo / "shop" / "cart.py"
    cart.write_text(cart.read_text() + "\n\ndef checkout(cart):\n    return cart.total()\n")
    (repo / "shop" / "payments.py").unlink()
    after = index(repo)
    assert (after.added, after.changed, after.removed) == (0, 1, 1)
    assert after.paths == ["shop/cart.py", "shop/payments.py"]
