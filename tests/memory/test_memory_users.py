"""Whose `users/<slug>` block is whose: two teammates never share one by accident, and a block
written before owners were recorded keeps its user and its text."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
import time
import unicodedata
from pathlib import Path

import pytest
from memory_helpers import cli_ok, read_block, run_cli

from codemem.memory import MemoryStore, user_slug
from codemem.workspace import Workspace
from tests.helpers import git

HEADER = "---\ndescription: Preferences of {name}.\nlimit: 4000\nread_only: false\n{owner}---\n"


def sha(identity: str) -> str:
    """The 8 hex digits a hashed slug ends with."""
    return hashlib.sha256(identity.encode()).hexdigest()[:8]


def header(name: str, owner: str | None = None) -> str:
    return HEADER.format(name=name, owner=f"owner: {owner}\n" if owner else "")


def active(root: Path) -> str:
    """The label `codemem memory list` marks as the user's own."""
    lines = cli_ok(root, "memory", "list").stdout.splitlines()
    return " ".join(line.split()[0] for line in lines if line.endswith("(you)"))


def owner_of(root: Path, label: str) -> object:
    shown = json.loads(cli_ok(root, "memory", "show", label, "--json").stdout)
    text = Path(shown["path"]).read_text(encoding="utf-8")
    lines = [line for line in text.split("---\n")[1].splitlines() if line.startswith("owner:")]
    return lines[0].removeprefix("owner: ") if lines else None


@pytest.fixture
def team(repo_factory) -> Path:
    """A repository with `.codemem/` set up, for whoever `git config user.email` names."""
    root = repo_factory()
    git(root, "config", "user.email", "alice@a.com")
    cli_ok(root, "init", "--no-index")
    return root


def test_two_people_whose_emails_share_a_name_get_a_block_each(team):
    assert active(team) == "users/alice-a-com"
    cli_ok(team, "remember", "--block", "users/alice-a-com", "Prefers tabs.")
    git(team, "config", "user.email", "alice@b.org")
    assert active(team) == ""  # not the other Alice's block
    cli_ok(team, "init", "--no-index")
    assert active(team) == "users/alice-b-org"
    assert read_block(Workspace(team), "users/alice-b-org").endswith("owner: alice@b.org\n---\n")
    context = cli_ok(team, "memory", "show").stdout
    assert 'label="users/alice-b-org"' in context and "Prefers tabs." not in context
    git(team, "config", "user.email", "Alice@A.com")  # an address's case is no other person
    assert active(team) == "users/alice-a-com"
    assert owner_of(team, "users/alice-a-com") == "alice@a.com"
    assert "Prefers tabs." in cli_ok(team, "memory", "show").stdout


@pytest.mark.parametrize(
    ("emails", "labels"),
    [
        # `zoe-x-org` is zoe@x.org's: a name spelled otherwise takes its own hashed one
        (
            ["zoë@x.org", "zoé@x.org"],
            [f"users/zoe-{sha('zoë@x.org')}", f"users/zoe-{sha('zoé@x.org')}"],
        ),
        (
            ["李@x.org", "王@x.org"],
            [f"users/xn-7qv-{sha('李@x.org')}", f"users/xn-qby-{sha('王@x.org')}"],
        ),
        (
            ["søren@x.org", "straße@x.org"],
            [f"users/soren-{sha('søren@x.org')}", f"users/strasse-{sha('straße@x.org')}"],
        ),
    ],
)
def test_names_beyond_ascii_get_readable_blocks_of_their_own(repo_factory, emails, labels):
    root = repo_factory()
    cli_ok(root, "init", "--no-index")  # as dev@example.com
    for email, label in zip(emails, labels, strict=True):
        git(root, "config", "user.email", email)
        cli_ok(root, "init", "--no-index")
        assert (active(root), owner_of(root, label)) == (label, email)
    assert sorted(p.name for p in (root / ".codemem/blocks/users").iterdir()) == sorted(
        [f"{label[6:]}.md" for label in labels] + ["dev-example-com.md"]
    )


def test_codemem_user_wins_and_two_names_alike_still_get_two_blocks(team, monkeypatch):
    for typed in ("Zoë", unicodedata.normalize("NFD", "Zoë")):  # one name however it is typed
        monkeypatch.setenv("CODEMEM_USER", typed)
        cli_ok(team, "init", "--no-index")
        assert active(team) == f"users/zoe-{sha('zoë')}"  # 'zoe' is no name only Zoë gives
    monkeypatch.setenv("CODEMEM_USER", "Zoé")
    cli_ok(team, "init", "--no-index")
    hashed = f"users/zoe-{sha('zoé')}"
    assert (active(team), owner_of(team, hashed)) == (hashed, "zoé")
    monkeypatch.setenv("CODEMEM_USER", "zoe")  # a plain name is its own slug
    cli_ok(team, "init", "--no-index")
    assert (active(team), owner_of(team, "users/zoe")) == ("users/zoe", "zoe")
    monkeypatch.setenv("CODEMEM_USER", "alice@a.com")  # as that address, whatever git says
    git(team, "config", "user.email", "bob@b.org")
    assert active(team) == "users/alice-a-com"


@pytest.mark.parametrize(
    "emails",
    [
        ("alice@b.org", "alice@a.com"),
        ("a.b@x.com", "a-b@x.com"),  # one slug, a-b-x-com, when spelled readably
        ("bob@my-company.com", "bob@my.company.com"),
        ("zoë@x.org", "zoe@x.org"),
    ],
)
def test_two_people_whose_names_slug_alike_start_on_two_branches_and_merge_cleanly(team, emails):
    ws = Workspace(team)
    for path in (ws.blocks_dir / "users").iterdir():  # the users/ blocks are made on branches
        path.unlink()
    git(team, "add", "-A")
    git(team, "commit", "-q", "-m", "memory")
    for branch, email, text in (("other", emails[0], "Tabs."), ("main", emails[1], "Spaces.")):
        git(team, "checkout", "-q", *(["-b"] if branch == "other" else []), branch)
        git(team, "config", "user.email", email)
        store = MemoryStore(ws)  # each one's first command makes their block, on their branch
        store.append(store.user_label, text)
        git(team, "add", "-A")
        git(team, "commit", "-q", "-m", f"{email} prefers {text}")
    merged = git(team, "merge", "-q", "--no-edit", "other", check=False)
    assert merged.returncode == 0, merged.stdout + merged.stderr
    for email, text in ((emails[1], "Spaces."), (emails[0], "Tabs.")):
        git(team, "config", "user.email", email)
        store = MemoryStore(ws)
        assert (store.get(store.user_label).value, owner_of(team, store.user_label)) == (
            text,
            email,
        )


def test_a_block_written_before_owners_keeps_its_user_and_is_not_rewritten(repo_factory):
    root = repo_factory()
    ws = Workspace(root)
    users = ws.blocks_dir / "users"
    users.mkdir(parents=True)
    (users / "alice.md").write_text(header("alice") + "Prefers tabs.\n", encoding="utf-8")
    (users / "zo.md").write_text(header("zo") + "Likes rust.\n", encoding="utf-8")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "memory from an older codemem")
    git(root, "config", "user.email", "alice@a.com")
    assert active(root) == "users/alice"
    cli_ok(root, "remember", "--block", "users/alice", "Short answers.")
    assert read_block(ws, "users/alice") == header("alice") + "Prefers tabs.\nShort answers.\n"
    git(root, "config", "user.email", "zoë@x.org")  # the old slug dropped the ë: still hers
    assert active(root) == "users/zo"
    assert MemoryStore(ws).ensure_user_block().value == "Likes rust."  # type: ignore[union-attr]
    assert not (users / "zoe.md").exists()
    changed = git(root, "status", "--porcelain", "--", ".codemem/blocks").stdout
    assert changed == " M .codemem/blocks/users/alice.md\n"
    # an unowned block is never someone's whose old slug differed: 'zoe' was no Zoë's
    (users / "zoe.md").write_text(header("zoe"), encoding="utf-8")
    (users / "zo.md").unlink()
    assert user_slug(root) == f"zoe-{sha('zoë@x.org')}"


def test_new_block_names_are_one_per_identity_and_old_ones_stay_their_owners():
    from codemem.memory.users import new_slugs, spelled_slug

    people = [
        "a.b@x.com", "a-b@x.com", "a_b@x.com", "ab@x.com", "a@b.x.com", "a@b-x.com", "a-b-x-com",
        "a-b", "a_b", "a.b", "ab", "a.b@x", "a@b.x", "a_b-x", "a.b-x@y.z", "a.b@x-y.z", "bob@x.co.uk", "bob@x-co.uk", "zoe@x.org", "zoë@x.org",
        "x@y.deadbeef", "x-y", f"x@y.{sha('x-y')}", "ann_", "_ann", "ann",
    ]  # fmt: skip
    first = [new_slugs(person)[0] for person in people]
    assert len(set(first)) == len(set(people))
    spelled = ("ab@x.com", "ann_lee", "bob@x.co.uk", "a.b@x.com", "a-b@x.com", "a_b@x.com")
    assert [spelled_slug(p) for p in spelled] == [
        "ab-x-com",
        "ann_lee",
        "bob-x-co-uk",
        "a_b-x-com",
        None,
        None,
    ]


def test_a_block_an_older_codemem_named_readably_stays_its_owners(repo_factory):
    root = repo_factory()
    users = Workspace(root).blocks_dir / "users"
    users.mkdir(parents=True)
    (users / "zoe-x-org.md").write_text(header("zoe", "zoë@x.org") + "Likes rust.\n")
    git(root, "config", "user.email", "zoë@x.org")
    assert active(root) == "users/zoe-x-org"
    git(root, "config", "user.email", "zoe@x.org")  # the name now hers alone is taken: hashed
    assert user_slug(root) == f"zoe-{sha('zoe@x.org')}"


def test_a_renamed_user_block_stays_its_users(repo_factory):
    root = repo_factory()
    users = Workspace(root).blocks_dir / "users"
    users.mkdir(parents=True)
    (users / "zo.md").write_text(header("zo") + "Likes rust.\n", encoding="utf-8")
    (users / "al.md").write_text(header("al") + "Tabs.\n", encoding="utf-8")
    git(root, "config", "user.email", "zoë@x.org")
    assert active(root) == "users/zo"
    cli_ok(root, "memory", "mv", "users/zo", "users/zoe")  # the name the old slug cut short
    assert active(root) == "users/zoe"
    assert read_block(Workspace(root), "users/zoe") == (header("zo", "zoë@x.org") + "Likes rust.\n")
    cli_ok(root, "memory", "mv", "users/zoe", "users/zoe-rust")  # any name: its owner says whose
    assert active(root) == "users/zoe-rust"
    # a block with no owner that is someone else's would be nobody's under a new name
    result = run_cli(root, "memory", "mv", "users/al", "users/alice")
    assert (result.exit_code, result.output) == (
        2,
        "codemem: error: users/al names no owner, so as users/alice it would be nobody's block: "
        "add `owner: <their email>` to the frontmatter of .codemem/blocks/users/al.md first\n",
    )
    assert sorted(path.name for path in users.iterdir()) == ["al.md", "zoe-rust.md"]


def test_a_renamed_block_saved_with_windows_line_ends_changes_by_its_owner_line_only(
    repo_factory,
):
    root = repo_factory()
    users = Workspace(root).blocks_dir / "users"
    users.mkdir(parents=True)
    text = (header("zo") + "Likes rust.\n").replace("\n", "\r\n")
    (users / "zo.md").write_bytes(text.encode())
    git(root, "config", "user.email", "zoë@x.org")
    cli_ok(root, "memory", "mv", "users/zo", "users/zoe")
    assert (users / "zoe.md").read_bytes() == text.replace(
        "---\r\nLikes", "owner: zoë@x.org\r\n---\r\nLikes"
    ).encode()


def test_an_owner_list_names_one_person_with_several_addresses(team):
    path = Workspace(team).blocks_dir / "users/alice-a-com.md"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("owner: alice@a.com", "owner: [alice@a.com, Al@Home.net]"))
    git(team, "config", "user.email", "al@home.net")
    assert active(team) == "users/alice-a-com"  # named by its list, under any name
    git(team, "config", "user.email", "alice@home.net")
    assert user_slug(team) == "alice-home-net"
    path.write_text(text.replace("owner: alice@a.com", "owner: [alice@a.com, alice@home.net]"))
    assert user_slug(team) == "alice-a-com"


def test_a_block_another_process_gives_someone_else_meanwhile_is_left_to_them(team):
    ws = Workspace(team)
    git(team, "config", "user.email", "alice@b.org")
    late = MemoryStore(ws)  # finds 'alice-b-org' free
    assert late.user_label == "users/alice-b-org"
    theirs = header("alice", "mallory@m.net")  # a pull brings someone's block by that name
    (ws.blocks_dir / "users/alice-b-org.md").write_text(theirs, encoding="utf-8")
    block = late.ensure_user_block()
    assert block is not None
    hashed = f"users/alice-{sha('alice@b.org')}"
    assert (block.label, block.extra, late.user_label) == (
        hashed,
        {"owner": "alice@b.org"},
        hashed,
    )
    late.append(late.user_label, "Mine.")
    assert read_block(ws, "users/alice-b-org") == theirs


RACER = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    from codemem.memory import MemoryStore
    from codemem.workspace import Workspace

    root, token, start = Path(sys.argv[1]), sys.argv[2], float(sys.argv[3])
    while time.time() < start:
        time.sleep(0.001)
    store = MemoryStore(Workspace(root))
    store.ensure_user_block()
    store.append(store.user_label, token)
    print(store.user_label)
    """
)


def test_processes_of_two_people_racing_for_one_slug_make_one_block_each(team):
    (Workspace(team).blocks_dir / "users/alice-a-com.md").unlink()
    start = f"{time.time() + 2.0}"
    people = ["alice@a.com", "alice@b.org"] * 3
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, str(team), f"<{n}>", start],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "CODEMEM_USER": person},
        )
        for n, person in enumerate(people)
    ]
    labels = [racer.communicate(timeout=120)[0].strip() for racer in racers]
    assert [racer.returncode for racer in racers] == [0] * len(people)
    mine = {
        person: {label for p, label in zip(people, labels, strict=True) if p == person}
        for person in people
    }
    assert len(mine["alice@a.com"]) == len(mine["alice@b.org"]) == 1
    assert mine["alice@a.com"] | mine["alice@b.org"] <= {
        "users/alice",
        "users/alice-a-com",
        "users/alice-b-org",
    }
    assert len(mine["alice@a.com"] | mine["alice@b.org"]) == 2
    store = MemoryStore(Workspace(team), user="reader")
    for person, (label,) in mine.items():
        block = store.get(label)
        assert block.extra == {"owner": person}
        tokens = sorted(f"<{n}>" for n, p in enumerate(people) if p == person)
        assert sorted(block.value.splitlines()) == tokens
    assert len(list((Workspace(team).blocks_dir / "users").iterdir())) == 2


def test_when_every_slug_is_someone_elses_one_line_says_what_to_do(team):
    git(team, "config", "user.email", "alice@b.org")
    hashed = hashlib.sha256(b"alice@b.org").hexdigest()[:8]
    users = Workspace(team).blocks_dir / "users"
    for slug in ("alice-b-org", f"alice-{hashed}"):
        (users / f"{slug}.md").write_text(header(slug, "mallory@m.net"), encoding="utf-8")
    result = run_cli(team, "memory", "list")
    assert (result.exit_code, result.output) == (
        2,
        f"codemem: error: no block of your own for alice@b.org: users/alice-b-org, "
        f"users/alice-{hashed} belong to other people (their `owner:` says so); set "
        "CODEMEM_USER to another name, or add yours to the owner of your block\n",
    )


def test_slugs_are_readable_ascii():
    from codemem.memory.users import name_slug, slugify

    assert [slugify(name) for name in ("Zoë", "José María", "Straße", "Øyvind", "Łukasz")] == [
        "zoe",
        "jose-maria",
        "strasse",
        "oyvind",
        "lukasz",
    ]
    assert [name_slug(name) for name in ("李", "李.明", "Иван", "alice.smith", "--")] == [
        "xn-7qv",
        "xn-7qv-2hv",
        "xn-80adrw",
        "alice-smith",
        "",
    ]
    assert len(name_slug("x" * 300)) == 40


def test_an_owner_is_added_as_one_line_the_rest_kept_byte_for_byte():
    from codemem.memory.frontmatter import add_key

    crlf = "---\r\ndescription: Zo.  # mine\r\n---\r\nLikes rust.\r\n"
    assert add_key(crlf, "owner", "zoë@x.org") == (
        "---\r\ndescription: Zo.  # mine\r\nowner: zoë@x.org\r\n---\r\nLikes rust.\r\n"
    )
    assert add_key("Likes rust.\n", "owner", "a: b") == "---\nowner: 'a: b'\n---\nLikes rust.\n"
    bom = "\ufeff---\ndescription: Zo.\n---\nLikes rust.\n"  # saved by Notepad
    assert add_key(bom, "owner", "z@x.org") == (
        "\ufeff---\ndescription: Zo.\nowner: z@x.org\n---\nLikes rust.\n"
    )


def test_a_block_of_theirs_made_meanwhile_by_their_other_process_is_the_one_found(
    team, monkeypatch
):
    """The look for a user's block and the choice of a new name are two reads of `users/`:
    one of their other processes may make the block between them. Found then as theirs, not
    passed over for a second, hashed block (seen once in the six-process race above)."""
    from codemem.memory import users

    ws = Workspace(team)
    mine = ws.blocks_dir / "users/alice-a-com.md"
    mine.unlink()
    (ws.blocks_dir / "users/alice.md").write_text(header("alice", "alice@b.org"), "utf-8")
    real_renamed = users._renamed

    def made_meanwhile(*args):
        mine.write_text(header("alice-a-com", "alice@a.com"), encoding="utf-8")
        return real_renamed(*args)

    monkeypatch.setattr(users, "_renamed", made_meanwhile)
    assert users.find_user_slug(ws, "alice@a.com") == "alice-a-com"
