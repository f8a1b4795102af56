"""An index built under older skip rules drops, on its next run, the files they now skip."""

from __future__ import annotations

import sqlite3

from codemem.code import extract
from codemem.code.files import content_skip_reason
from codemem.code.manifest import MANIFEST_NAME, Manifest
from codemem.workspace import Workspace
from tests.code.test_indexer import index
from tests.helpers import git

POINTER = (
    "version https://git-lfs.github.com/spec/v1\n"
    "oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\n"
    "size 12345\n"
)


def test_a_pointer_an_older_codemem_indexed_is_dropped_by_the_next_run(repo_factory, monkeypatch):
    # Upgraded to the codemem that skips Git LFS pointers, an index kept the pointer it held
    # (its id and size answering searches) until the file changed or the index was rebuilt.
    repo = repo_factory("shop")
    (repo / "design.psd").write_text(POINTER)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "Add the design")
    with monkeypatch.context() as older:  # the rules before LFS pointers were skipped
        older.setattr(
            extract,
            "content_skip_reason",
            lambda data: None if data == POINTER.encode() else content_skip_reason(data),
        )
        index(repo)
    index_dir = Workspace(repo).index_dir
    with sqlite3.connect(index_dir / MANIFEST_NAME) as db:  # an older codemem records none
        db.execute("DELETE FROM meta WHERE key = 'skip_rules'")
    db.close()
    assert Manifest.load(index_dir).files["design.psd"].status == "indexed"
    summary = index(repo)
    assert not summary.up_to_date and summary.skipped == {"lfs_pointer": 1}
    assert Manifest.load(index_dir).files["design.psd"].status == "lfs_pointer"
    assert index(repo).up_to_date  # checked once: the next run reads no file
