"""`.codemem/conventions.json` written by a teammate's newer codemem, then read and digested
by this one: fields it does not know are kept where their rule is unchanged, and a file of a
higher format version is named in one line and left as it is, never written back older."""

from __future__ import annotations

import json
import logging

from sleep_helpers import commit, config, digest, init, snapshot

from codemem.conventions import read_records, records_damage, records_path
from codemem.conventions.merge import Merged, merge_memory_file
from codemem.review.diff import Target
from codemem.review.engine import ReviewOptions, run_review
from tests.helpers import make_repo


def digested(tmp_path):
    repo = make_repo(tmp_path / "shop", "sleep/pyshop", commit=False)
    commit(repo, "Add the shop package", "2025-03-01T10:00:00+00:00")
    ws = init(repo)
    digest(ws)
    return ws


def as_newer(ws, version: int) -> bytes:
    """The records as a newer codemem would write them: each rule and its evidence with a
    field this one does not know, a top-level one, and `version`."""
    data = json.loads(records_path(ws).read_text())
    data["version"] = version
    data["miner"] = {"build": 7}
    for rule in data["rules"]:
        rule["confidence"] = 0.93
        rule["evidence"]["weights"] = [1, 2]
    text = json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    records_path(ws).write_text(text)
    return text.encode()


def test_fields_a_newer_codemem_added_are_kept_while_their_rules_hold(tmp_path):
    # Before: every digest of this version dropped them (and the newer one wrote them back):
    # the committed file changed on each pass, whichever teammate ran it, with no rule changed.
    ws = digested(tmp_path)
    newer = as_newer(ws, 2)
    assert len(read_records(ws) or []) > 1  # read, past the fields it does not know
    commit(ws.root, "Add a helper", "2025-03-02T10:00:00+00:00", {"shop/extra.py": "X = 1\n"})
    digest(ws)
    assert records_path(ws).read_bytes() == newer


def test_a_changed_rule_drops_the_fields_it_had_and_the_others_keep_theirs(tmp_path):
    ws = digested(tmp_path)
    as_newer(ws, 2)
    data = json.loads(records_path(ws).read_text())
    data["rules"][0]["statement"] = "a statement the miner no longer makes"
    records_path(ws).write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    digest(ws)
    rules = json.loads(records_path(ws).read_text())["rules"]
    assert ["confidence" in rule for rule in rules] == [False] + [True] * (len(rules) - 1)
    assert json.loads(records_path(ws).read_text())["miner"] == {"build": 7}


def test_records_of_a_newer_format_are_named_left_alone_and_never_written_older(tmp_path, caplog):
    # Before: called unreadable ("delete it"), and the next digest wrote them back as version
    # 2, dropping what the newer codemem had learned, with the conventions region beside them.
    ws = digested(tmp_path)
    newer = as_newer(ws, 3)
    before = snapshot(ws)
    problem = (
        "written by a newer codemem (format version 3; this one reads up to 2): left as it "
        "is; upgrade codemem to use it"
    )
    assert records_damage(ws) == f".codemem/conventions.json: {problem}"
    commit(ws.root, "Add a helper", "2025-03-02T10:00:00+00:00", {"shop/extra.py": "X = 1\n"})
    assert digest(ws).warnings == []  # named once, in the log below
    assert records_path(ws).read_bytes() == newer
    after = snapshot(ws)
    assert {name: after[name] for name in before} == before  # the conventions block too
    (ws.root / "shop" / "extra.py").write_text("X = 2\n")
    commit_free = run_review(ws, config(), ReviewOptions(Target("worktree")))
    assert commit_free.warnings == []
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == [
        f"{records_path(ws)}: {problem}; the learned conventions are not checked"
    ]


def test_the_merge_driver_keeps_the_records_a_newer_codemem_wrote_from_either_side():
    # Before: our side was kept whatever it was, so a teammate on an older codemem merging a
    # pull replaced the newer format's records by its own older ones.
    old = json.dumps({"version": 2, "rules": []}) + "\n"
    new = json.dumps({"version": 3, "rules": [], "miner": {}}) + "\n"
    base = json.dumps({"version": 2, "rules": [{"topic": "naming"}]}) + "\n"
    path = ".codemem/conventions.json"
    assert merge_memory_file(base, old, new, path) == Merged(new)
    assert merge_memory_file(base, new, old, path) == Merged(new)
    other = json.dumps({"version": 2, "rules": [{"topic": "tests"}]}) + "\n"
    assert merge_memory_file(base, old, other, path) == Merged(old)
    assert merge_memory_file(base, "not json", other, path) == Merged(other)
