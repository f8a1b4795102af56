"""`codemem config`: settings in effect with their sources, get, set (validated), path, example."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import git

from codemem.cli import cli
from codemem.cli.config_cmd import example_text

ROOT = Path(__file__).resolve().parents[2]


def run(repo, *args, env=None):
    return CliRunner().invoke(cli, ["--repo", str(repo), *args], env=env, catch_exceptions=False)


@pytest.fixture
def repo(repo_factory, isolated_home):
    repo = repo_factory()
    (repo / ".codemem").mkdir()
    (repo / ".codemem" / "config.yml").write_text("# team settings\n\nsleep:\n  idle_minutes: 5\n")
    user = isolated_home / "codemem"
    user.mkdir()
    (user / "config.yml").write_text("search:\n  k: 12\n")
    return repo


def test_the_example_ships_in_the_package_and_the_root_copy_matches_it():
    assert example_text() == (ROOT / ".codemem.example.yml").read_text(encoding="utf-8")
    assert example_text().startswith("# codemem configuration: every key, with its default.\n")


def test_show_names_the_source_of_every_value(repo):
    result = run(repo, "config", "show", "--json", env={"CODEMEM_MAP__TOKENS": "2048"})
    shown = json.loads(result.stdout)
    assert shown["search.k"] == {"value": 12, "source": "user"}
    assert shown["sleep.idle_minutes"] == {"value": 5, "source": "project"}
    assert shown["map.tokens"] == {"value": 2048, "source": "environment"}
    assert shown["search.bm25"] == {"value": True, "source": "default"}
    text = run(repo, "config").stdout.splitlines()  # no subcommand: show
    assert [line.split() for line in text if line.startswith("search.k ")] == [
        ["search.k", "12", "(user)"]
    ]


def test_get_a_value_or_a_section(repo):
    assert run(repo, "config", "get", "search.k").stdout == "12\n"
    assert json.loads(run(repo, "config", "get", "sleep.idle_minutes", "--json").stdout) == {
        "key": "sleep.idle_minutes",
        "value": 5,
        "source": "project",
    }
    section = json.loads(run(repo, "config", "get", "sleep", "--json").stdout)
    assert section["sleep.idle_minutes"] == {"value": 5, "source": "project"}
    missing = run(repo, "config", "get", "search.kk")
    assert (missing.exit_code, missing.stderr) == (
        2,
        "codemem: error: no setting 'search.kk'; did you mean search.k?\n",
    )


def test_set_validates_then_writes_the_project_file(repo):
    config = repo / ".codemem" / "config.yml"
    done = run(repo, "config", "set", "search.k", "20")
    assert (done.exit_code, done.stdout) == (0, "Set search.k = 20 in .codemem/config.yml.\n")
    assert config.read_text() == "# team settings\n\nsleep:\n  idle_minutes: 5\nsearch:\n  k: 20\n"
    assert run(repo, "config", "get", "search.k").stdout == "20\n"
    bad = run(repo, "config", "set", "search.k", "many")
    assert bad.exit_code == 2
    assert bad.stderr == (
        f"codemem: error: search.k not set: {config}: search.k: Input should be a valid integer, "
        "unable to parse string as an integer\n"
    )
    typo = run(repo, "config", "set", "sleep.idle_minute", "3")
    assert typo.exit_code == 2 and "did you mean idle_minutes?" in typo.stderr
    assert config.read_text() == "# team settings\n\nsleep:\n  idle_minutes: 5\nsearch:\n  k: 20\n"


def test_a_newer_codemems_keys_are_ignored_kept_and_never_set(repo, caplog):
    # A teammate upgraded first and committed a key of the newer codemem: this one's commands
    # failed (exit 2) until everyone upgraded; `config set` of another key keeps it.
    config = repo / ".codemem" / "config.yml"
    newer = "# team settings\n\nsleep:\n  idle_minutes: 5\n  dream_depth: 3\nfuture: {on: yes}\n"
    config.write_text(newer)
    shown = run(repo, "config", "get", "sleep.idle_minutes")
    assert (shown.exit_code, shown.stdout) == (0, "5.0\n")
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == [
        f"{config}: sleep.dream_depth: unknown key, ignored: a newer codemem's setting? "
        "(`codemem config example` shows every key)",
        f"{config}: future: unknown key, ignored: a newer codemem's setting? "
        "(`codemem config example` shows every key)",
    ]
    assert run(repo, "config", "set", "sleep.idle_minutes", "7").exit_code == 0
    assert config.read_text() == newer.replace("idle_minutes: 5", "idle_minutes: 7")
    typo = run(repo, "config", "set", "sleep.dream_depth", "4")
    assert (typo.exit_code, typo.stderr.splitlines()[-1]) == (
        2,
        f"codemem: error: sleep.dream_depth not set: {config}: sleep.dream_depth: unknown key "
        "(`codemem config example` shows every key)",
    )
    assert config.read_text() == newer.replace("idle_minutes: 5", "idle_minutes: 7")


def test_set_changes_only_the_value_it_sets(repo):
    # The file is committed: `config set` rewrote it whole, dropping the team's comments
    # beside keys ("ticket #123", "reviewed by Ana"), reflowing lists and line ends.
    config = repo / ".codemem" / "config.yml"
    before = (
        "# team settings\r\n\r\nindex:\r\n"
        "  # generated protobufs drown the search (ticket #123)\r\n"
        "  exclude: [\"gen/**\", '*.pb.go']   # reviewed by Ana\r\n"
        "search:\r\n  k: 10  # enough for the agent\r\n"
    )
    config.write_bytes(before.encode())
    assert run(repo, "config", "set", "search.k", "12").exit_code == 0
    assert config.read_bytes().decode() == before.replace("k: 10 ", "k: 12 ")
    assert run(repo, "config", "set", "review.hook_timeout", "20").exit_code == 0
    assert config.read_bytes().decode() == (
        before.replace("k: 10 ", "k: 12 ") + "review:\r\n  hook_timeout: 20\r\n"
    )


def test_values_are_shown_without_terminal_codes(repo):
    # YAML writes ESC as `\e`: a committed config's value retitled the window, or erased the
    # line naming where it came from, as `config show` and `config get` printed it.
    (repo / ".codemem" / "config.yml").write_text(
        'model: "openai/x\\e]0;PWNED\\a\\e[2K"\nindex:\n  exclude: ["a\\u009b31m"]\n'
    )
    assert run(repo, "config", "get", "model").stdout == "openai/x\\x1b]0;PWNED\\x07\\x1b[2K\n"
    shown = run(repo, "config", "show").stdout
    assert "openai/x\\x1b]0;PWNED\\x07\\x1b[2K  (project)\n" in shown
    assert '["a\\x9b31m"]  (project)\n' in shown
    assert "\x1b" not in shown and "\x9b" not in shown
    assert run(repo, "config", "get", "index.exclude").stdout == '["a\\x9b31m"]\n'


def test_set_keeps_a_byte_order_mark(repo):
    # A file saved by Notepad starts with one; `config set` dropped it, changing line 1 too.
    config = repo / ".codemem" / "config.yml"
    config.write_bytes(b"\xef\xbb\xbf# team settings\r\nsearch:\r\n  k: 5\r\n")
    assert run(repo, "config", "set", "search.k", "6").exit_code == 0
    assert config.read_bytes() == b"\xef\xbb\xbf# team settings\r\nsearch:\r\n  k: 6\r\n"
    config.write_bytes(b"\xef\xbb\xbf# only comments\n")
    assert run(repo, "config", "set", "search.k", "7").exit_code == 0
    assert config.read_bytes() == b"\xef\xbb\xbf# only comments\n\nsearch:\n  k: 7\n"


def test_set_keeps_a_save_that_lands_while_it_edits(repo, monkeypatch):
    # Two `config set` at once (or an editor's save between the read and the write): the
    # one that wrote last wrote back the text it had read, losing the other's value.
    from ruamel.yaml import YAML

    config = repo / ".codemem" / "config.yml"
    dump = YAML.dump
    saves = ["# team settings\n\nsleep:\n  idle_minutes: 7\n"]

    def save_meanwhile(self, *args, **kwargs):
        if saves:
            config.write_text(saves.pop(), encoding="utf-8")
        return dump(self, *args, **kwargs)

    monkeypatch.setattr(YAML, "dump", save_meanwhile)
    done = run(repo, "config", "set", "search.k", "20")
    assert (done.exit_code, done.stdout) == (0, "Set search.k = 20 in .codemem/config.yml.\n")
    assert config.read_text() == "# team settings\n\nsleep:\n  idle_minutes: 7\nsearch:\n  k: 20\n"


def test_set_writes_nothing_while_a_merge_waits(repo):
    # The committed config is memory too: written mid-merge, it goes into the merge's commit.
    (repo / "app.py").write_text("x = 1\n", encoding="utf-8")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "app")
    git(repo, "checkout", "-q", "-b", "other")
    (repo / "app.py").write_text("x = 2\n", encoding="utf-8")
    git(repo, "commit", "-q", "-am", "two")
    git(repo, "checkout", "-q", "-")
    (repo / "app.py").write_text("x = 3\n", encoding="utf-8")
    git(repo, "commit", "-q", "-am", "three")
    git(repo, "merge", "other", check=False)
    config = repo / ".codemem" / "config.yml"
    before = config.read_bytes()
    result = run(repo, "config", "set", "search.k", "20")
    assert (result.exit_code, result.stderr) == (
        2,
        "codemem: error: .codemem/config.yml not written: git is in the middle of a merge (end "
        "it with `git commit` once it is resolved, or `git merge --abort`); try again once it "
        "ends (memory written now would go into that operation's commit)\n",
    )
    assert config.read_bytes() == before


def test_set_needs_codemem_init_first(repo_factory):
    result = run(repo_factory(), "config", "set", "search.k", "3")
    assert result.exit_code == 2 and result.stderr.endswith("run `codemem init` first\n")


def test_path_and_example(repo, isolated_home):
    paths = json.loads(run(repo, "config", "path", "--json").stdout)
    assert paths == {
        "user": {"path": str(isolated_home / "codemem" / "config.yml"), "exists": True},
        "project": {"path": str(repo / ".codemem" / "config.yml"), "exists": True},
    }
    assert run(repo, "config", "example").stdout == example_text()


def test_set_never_writes_over_a_save_made_while_it_ran(repo, monkeypatch):
    """The file was read, edited and renamed over: a save between the two was lost. Now the
    save is swapped back and the edit made again on it."""
    import codemem.infra.files as files_module

    config = repo / ".codemem" / "config.yml"
    theirs = "# team settings\n\nsleep:\n  idle_minutes: 7  # Dana\n"
    real_link = files_module._link_unnamed

    def save_before_the_rename(fd, prefix):
        if prefix.name.startswith(".config.yml"):
            config.write_text(theirs)
        return real_link(fd, prefix)

    monkeypatch.setattr(files_module, "_link_unnamed", save_before_the_rename)
    done = run(repo, "config", "set", "search.k", "20")
    assert (done.exit_code, done.stdout) == (0, "Set search.k = 20 in .codemem/config.yml.\n")
    assert config.read_text() == theirs + "search:\n  k: 20\n"


def test_set_keeps_every_other_line_as_the_team_wrote_it(repo):
    # ruamel.yaml's round trip wrote the whole file its own way: a file indented by four
    # spaces came back by two, `~` as nothing, `True` as `true`, a comment's spacing and the
    # `---` line changed: one setting's diff rewrote the committed file.
    config = repo / ".codemem" / "config.yml"
    before = (
        "---\n"
        "# team settings\n"
        "index:\n"
        "    exclude:\n"
        '        - "vendor/**"\n'
        "    max_file_bytes: 1000000\n"
        "review:\n"
        "    llm:   True\n"
        "    timeout: ~\n"
        "    severity:\n"
        "        naming: off   # too noisy here\n"
    )
    config.write_text(before)
    assert run(repo, "config", "set", "index.batch_files", "200").exit_code == 0
    after = before.replace("1000000\n", "1000000\n    batch_files: 200\n")
    assert config.read_text() == after
    assert run(repo, "config", "set", "review.severity.naming", "warning").exit_code == 0
    after = after.replace("naming: off   ", "naming: warning ")
    assert config.read_text() == after
    assert run(repo, "config", "set", "sleep.idle_minutes", "9").exit_code == 0
    assert config.read_text() == after + "sleep:\n    idle_minutes: 9\n"


@pytest.mark.parametrize("text", ["on", "no", "off", "1:20"])
def test_set_text_that_yaml_1_1_reads_otherwise_is_quoted(repo, text):
    # ruamel.yaml (YAML 1.2) wrote the text `on` bare; the settings' loader (YAML 1.1) read it
    # back as true, and every later command refused the file it had just been told was set.
    config = repo / ".codemem" / "config.yml"
    done = run(repo, "config", "set", "model", f"'{text}'")
    assert (done.exit_code, done.stdout) == (0, f"Set model = {text} in .codemem/config.yml.\n")
    assert config.read_text().endswith(f"model: '{text}'\n")
    assert (
        run(repo, "config", "get", "model").stdout,
        run(repo, "config", "get", "model").exit_code,
    ) == (
        f"{text}\n",
        0,
    )


def test_a_negative_value_gets_the_hint_to_put_a_double_dash_before_it(repo):
    result = run(repo, "config", "set", "agent.max_steps", "-5")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1] == (
        "To set a value that starts with '-', put -- before it: "
        "codemem config set agent.max_steps -- -5"
    )
    followed = run(repo, "config", "set", "agent.max_steps", "--", "-5")
    assert followed.exit_code == 2  # read as -5 now, and refused by the settings' own check
    assert "agent.max_steps not set: " in followed.stderr
