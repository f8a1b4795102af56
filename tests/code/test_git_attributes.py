"""A repository's git attributes decide what the index skips, both ways: Linguist's
`linguist-generated` and `linguist-vendored` (and their `-`/`=false` forms), git's `binary`."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from codemem.cli import cli
from codemem.code import attributes
from codemem.code.attributes import read_marks
from codemem.code.files import Marks
from codemem.code.manifest import Manifest
from codemem.code.worktree import LISTING_FILE, ListingSettings, WorkTree
from codemem.workspace import Workspace
from tests.code.test_indexer import assert_equals_full_rebuild, index
from tests.helpers import git, make_repo

CODE = "def {name}():\n    return 1\n"
MINIFIED = "var a=1;" * 3_000  # one line of 24,000 characters


def write(repo: Path, files: dict[str, str | bytes]) -> None:
    for path, text in files.items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            (repo / path).write_bytes(text)
        else:
            (repo / path).write_text(text)


def statuses(repo: Path) -> dict[str, str]:
    return {p: e.status for p, e in Manifest.load(Workspace(repo).index_dir).files.items()}


# What git reads: nested files, an `[attr]` macro (only the top file may define one), `**`,
# later lines winning, an undecodable line, a line over git's 2,048 bytes (ignored by git).
TOP = (
    b"[attr]made linguist-generated\n"
    b"*.pb.txt made\n"
    b"gen/** linguist-generated\n"
    b"gen/keep.py -linguist-generated\n"
    b"vendor/own/** -linguist-vendored\n"
    b"third/** linguist-vendored\n"
    b"lib/**/*.js linguist-vendored=false\n"
    b"*.dat binary\n"
    b"*.raw -text -diff\n"
    b"*.crlf -text\n"
    b"both.py linguist-generated linguist-vendored=false\n"
    b"both.py !linguist-generated\n"
    b"caf\xe9\xff.py linguist-generated\n"
    b"*.py diff=python\n" + b"x" * 3_000 + b" linguist-generated\n"
)
NESTED = b"[attr]ignored linguist-generated\n*.py linguist-vendored\n*.txt ignored\n"
PATHS = [
    "a.pb.txt",
    "gen/api.py",
    "gen/keep.py",
    "vendor/own/x.py",
    "third/lib.py",
    "lib/a/b/c.js",
    "lib/c.js",
    "img.dat",
    "blob.raw",
    "win.crlf",
    "both.py",
    "sub/mod.py",
    "sub/note.txt",
    "info.py",
    "plain.py",
]


def test_marks_are_what_git_check_attr_says_path_by_path(tmp_path):
    repo = make_repo(tmp_path / "repo", commit=False)
    write(repo, {".gitattributes": TOP, "sub/.gitattributes": NESTED})
    (repo / ".git/info").mkdir(exist_ok=True)
    (repo / ".git/info/attributes").write_text("info.py linguist-generated\n")
    marks = read_marks(repo, PATHS)  # one git run for them all, paths need not exist
    assert marks == {
        "a.pb.txt": Marks(generated=True),
        "gen/api.py": Marks(generated=True),
        "gen/keep.py": Marks(generated=False),
        "vendor/own/x.py": Marks(vendored=False),
        "third/lib.py": Marks(vendored=True),
        "lib/a/b/c.js": Marks(vendored=False),
        "lib/c.js": Marks(vendored=False),  # `**/` is no folder too
        "img.dat": Marks(binary=True),
        "blob.raw": Marks(binary=True),
        "both.py": Marks(vendored=False),
        "sub/mod.py": Marks(vendored=True),
        "info.py": Marks(generated=True),
    }
    for path in PATHS:  # the batched answer is git's own, one path at a time
        said = {}
        for line in git(repo, "check-attr", "-a", "--", path).stdout.splitlines():
            name, value = line.split(": ")[1:]
            said[name] = value
        generated = said.get("linguist-generated")
        vendored = said.get("linguist-vendored")
        expected = Marks(
            generated=None if generated is None else generated not in ("unset", "false"),
            vendored=None if vendored is None else vendored not in ("unset", "false"),
            binary=said.get("text") == said.get("diff") == "unset",
        )
        assert marks.get(path, Marks()) == expected, path


def test_the_index_skips_and_keeps_what_the_attributes_say(tmp_path):
    repo = make_repo(tmp_path / "repo", commit=False)
    write(
        repo,
        {
            ".gitattributes": (
                "vendor/own/** -linguist-vendored\n"
                "third/** linguist-vendored\n"
                "gen/** linguist-generated\n"
                "src/handmade.py linguist-generated=false\n"
                "web/app.min.js -linguist-generated\n"
                "*.dat binary\n"
                ".env -linguist-generated -linguist-vendored\n"
                "vendor/both/** linguist-vendored=false linguist-generated\n"
            ),
            "vendor/own/client.py": CODE.format(name="own_client"),
            "vendor/other/lib.py": CODE.format(name="other_lib"),
            "third/lib.py": CODE.format(name="third_lib"),
            "gen/api.py": CODE.format(name="gen_api"),
            "src/handmade.py": "# @generated by hand, once\n" + CODE.format(name="handmade"),
            "src/made.py": "# @generated\n" + CODE.format(name="made"),
            "web/app.min.js": MINIFIED,
            "src/data.dat": CODE.format(name="data"),
            ".env": "API_KEY=supersecret\n",
            "vendor/both/x.py": CODE.format(name="both"),
            "src/main.py": CODE.format(name="main"),
        },
    )
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "files")
    summary = index(repo)
    assert statuses(repo) == {
        ".gitattributes": "indexed",
        ".env": "secret",  # whatever the attributes say
        "gen/api.py": "generated",
        "src/data.dat": "binary",
        "src/handmade.py": "indexed",  # its marker is not the repository's word
        "src/made.py": "generated",
        "src/main.py": "indexed",
        "third/lib.py": "vendored",
        "vendor/both/x.py": "generated",
        "vendor/other/lib.py": "vendored",
        "vendor/own/client.py": "indexed",  # first-party code under `vendor/`
        "web/app.min.js": "indexed",  # neither its name nor its one long line counts
    }
    assert summary.skipped == {"secret": 1, "generated": 3, "binary": 1, "vendored": 2}
    report = CliRunner().invoke(cli, ["--repo", str(repo), "status", "--json"])
    assert json.loads(report.stdout)["skipped"] == summary.skipped
    assert_equals_full_rebuild(repo, tmp_path)


def test_an_attributes_change_flips_files_on_the_next_incremental_run(tmp_path):
    repo = make_repo(tmp_path / "repo", commit=False)
    write(
        repo,
        {
            ".gitattributes": "vendor/own/** -linguist-vendored\nsrc/handmade.py -linguist-generated\n",
            "vendor/own/client.py": CODE.format(name="own_client"),
            "src/handmade.py": "# @generated\n" + CODE.format(name="handmade"),
            "src/main.py": CODE.format(name="main"),
            "src/data.dat": CODE.format(name="data"),
        },
    )
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "files")
    index(repo)
    indexed = dict.fromkeys(
        [
            ".gitattributes",
            "src/data.dat",
            "src/handmade.py",
            "src/main.py",
            "vendor/own/client.py",
        ],
        "indexed",
    )
    assert statuses(repo) == indexed
    # The marks go: the heuristics decide again, content included.
    (repo / ".gitattributes").write_text("src/main.py linguist-generated\n*.dat binary\n")
    summary = index(repo)
    assert (summary.full, summary.changed, summary.removed) == (False, 1, 0)
    assert statuses(repo) == {
        ".gitattributes": "indexed",
        "src/data.dat": "binary",
        "src/handmade.py": "generated",
        "src/main.py": "generated",
        "vendor/own/client.py": "vendored",
    }
    assert_equals_full_rebuild(repo, tmp_path)
    # A new file git cannot vouch for, under a folder the attributes keep.
    git(repo, "checkout", "-q", ".gitattributes")
    write(repo, {"vendor/own/new.py": CODE.format(name="own_new")})
    index(repo)
    assert statuses(repo) == {**indexed, "vendor/own/new.py": "indexed"}
    assert_equals_full_rebuild(repo, tmp_path)
    # `.git/info/attributes` counts too, though no listing holds it.
    (repo / ".git/info").mkdir(exist_ok=True)
    (repo / ".git/info/attributes").write_text("src/main.py linguist-vendored\n")
    assert (index(repo).up_to_date, statuses(repo)["src/main.py"]) == (False, "vendored")
    (repo / ".git/info/attributes").unlink()
    assert (index(repo).up_to_date, statuses(repo)["src/main.py"]) == (False, "indexed")
    assert index(repo).up_to_date


def test_git_is_asked_once_a_run_and_only_about_what_the_run_judges(tmp_path, monkeypatch):
    repo = make_repo(tmp_path / "repo", commit=False)
    write(repo, {f"src/m{i}.py": CODE.format(name=f"m{i}") for i in range(5)})
    write(repo, {".gitattributes": "*.py diff=python\n"})  # says nothing the index reads
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "files")
    asked: list[list[str]] = []
    real = attributes.read_marks

    def counted(root: Path, paths: list[str]) -> dict[str, Marks]:
        asked.append(sorted(paths))
        return real(root, paths)

    monkeypatch.setattr("codemem.code.worktree.read_marks", counted)
    index(repo)
    assert asked == []  # no attribute the index reads: git is not asked
    (repo / ".gitattributes").write_text("src/m0.py linguist-generated\n")
    git(repo, "commit", "-qam", "marks")
    index(repo)
    assert asked == [[".gitattributes", *[f"src/m{i}.py" for i in range(5)]]]
    assert statuses(repo)["src/m0.py"] == "generated"
    asked.clear()
    assert index(repo).up_to_date and asked == []
    (repo / "src/m1.py").write_text(CODE.format(name="changed"))
    index(repo)
    assert asked == [["src/m1.py"]]


def test_a_run_without_the_saved_listing_asks_git_once(tmp_path, monkeypatch):
    # With no listing kept from the last run (damaged, or the run stopped), the run judged the
    # changed files' attributes in one `git check-attr` and asked which of all the files are
    # not generated in a second.
    repo = make_repo(tmp_path / "repo", commit=False)
    write(repo, {f"src/m{i}.py": CODE.format(name=f"m{i}") for i in range(3)})
    write(repo, {".gitattributes": "src/m0.py linguist-generated=false\n"})
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "files")
    index(repo)
    (Workspace(repo).index_dir / LISTING_FILE).unlink()
    (repo / "src/m1.py").write_text(CODE.format(name="changed"))
    ran: list[tuple[str, ...]] = []
    run_git = attributes.run_git
    monkeypatch.setattr(
        attributes,
        "run_git",
        lambda root, *args, **kw: ran.append(args) or run_git(root, *args, **kw),
    )
    assert index(repo).changed == 1
    assert [args for args in ran if "check-attr" in args] == [attributes._CHECK_ATTR]
    assert Manifest.load(Workspace(repo).index_dir).not_generated == {"src/m0.py"}


# Runs a command in a mount namespace of its own where `/etc` (an overlay: the real one is
# untouched) holds a system attributes file marking every `.py` file vendored.
SYSTEM_ATTRIBUTES = (
    "mount --make-rprivate / && "
    'mount -t overlay overlay -o "lowerdir=/etc,upperdir=$1/upper,workdir=$1/work" /etc && '
    'printf "*.py linguist-vendored\\n" > /etc/gitattributes && shift && exec "$@"'
)


def with_system_attributes(scratch: Path, *command: str) -> subprocess.CompletedProcess:
    for name in ("upper", "work"):
        (scratch / name).mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        ["unshare", "-m", "sh", "-c", SYSTEM_ATTRIBUTES, "sh", str(scratch), *command],
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_system_attributes_file_is_not_honoured(tmp_path):
    # git's `check-attr` reads `/etc/gitattributes` (`core.attributesFile=/dev/null` leaves
    # only the user's file out): a machine's file vendored every `.py` file, unstamped, so
    # its removal went unseen, and a teammate's index said otherwise.
    repo = make_repo(tmp_path / "repo", commit=False)
    write(
        repo,
        {"src/app.py": CODE.format(name="app"), ".gitattributes": "gen/** linguist-generated\n"},
    )
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "files")
    probe = with_system_attributes(
        tmp_path / "probe", "git", "-C", str(repo), "check-attr", "linguist-vendored", "src/app.py"
    )
    if (
        shutil.which("unshare") is None
        or probe.stdout.strip() != "src/app.py: linguist-vendored: set"
    ):
        pytest.skip(f"no mount namespace with a system attributes file here: {probe.stderr}")
    run = with_system_attributes(
        tmp_path / "index", sys.executable, "-m", "codemem", "--repo", str(repo), "index"
    )
    assert run.returncode == 0, run.stderr
    assert statuses(repo)["src/app.py"] == "indexed"
    assert index(repo).up_to_date  # the same answer without the system file


def test_odd_attributes_files_never_stop_the_index(tmp_path):
    repo = make_repo(tmp_path / "repo", commit=False)
    huge = b"".join(b"pattern%d/** text\n" % i for i in range(80_000))  # 1.6 MB
    write(
        repo,
        {
            ".gitattributes": huge,
            "sub/.gitattributes": b"\xff\xfe\x00 not text\n**/deep/** linguist-generated\n",
            "sub/a/deep/x.py": CODE.format(name="deep"),
            "sub/ok.py": CODE.format(name="ok"),
        },
    )
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "files")
    index(repo)
    found = statuses(repo)
    assert (found["sub/a/deep/x.py"], found["sub/ok.py"]) == ("generated", "indexed")
    tree = WorkTree.read(repo, ListingSettings())
    assert tree.attributes  # too large to scan: left to git


def test_a_git_that_cannot_answer_leaves_the_heuristics(tmp_path, monkeypatch, caplog):
    repo = make_repo(tmp_path / "repo", commit=False)
    write(repo, {".gitattributes": "vendor/** -linguist-vendored\n", "vendor/x.py": "x = 1\n"})
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "files")
    monkeypatch.setattr(attributes, "_CHECK_ATTR", ("check-attr", "--no-such-option"))
    index(repo)
    assert statuses(repo)["vendor/x.py"] == "vendored"
    assert "git attributes not read" in caplog.text
