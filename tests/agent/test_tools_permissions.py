"""The permission policy: rules, modes, chained commands, the prompter, --yes, config errors."""

from __future__ import annotations

import pytest
import yaml

from codemem.agent.tools import PermissionPolicy, Request, ToolContext, build_tools
from codemem.config import PermissionsConfig, load_config
from codemem.errors import ConfigError, PermissionDenied


def edit(path: str) -> Request:
    return Request("edit_file", path, f"edit {path}", "diff")


def run(command: str) -> Request:
    return Request("run_command", command, f"run: {command}", command)


def policy(**config) -> PermissionPolicy:
    return PermissionPolicy(PermissionsConfig(**config))


class Answers:
    """A prompter that gives canned answers and records what it was asked."""

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.asked: list[str] = []

    def approve(self, request: Request) -> str:
        self.asked.append(request.summary)
        return self.answers.pop(0)


def test_rules_decide_before_the_mode():
    p = policy(
        mode="ask",
        allow=["run_command:pytest*", "edit_file:src/**"],
        deny=["edit_file:src/secret*"],
    )
    assert p.decide(run("pytest -q tests/")) == "allow"
    assert p.decide(run("pytest")) == "allow"
    assert p.decide(run("rm -rf build")) == "ask"
    assert p.decide(edit("src/app/main.py")) == "allow"
    assert p.decide(edit("src/secret.py")) == "deny"
    assert p.decide(edit("docs/index.md")) == "ask"
    assert policy(mode="allow").decide(edit("x.py")) == "allow"
    assert policy(mode="deny").decide(edit("x.py")) == "deny"


def test_chained_commands_need_every_part_allowed():
    p = policy(
        allow=["run_command:pytest*", "run_command:ruff check*"], deny=["run_command:git push*"]
    )
    assert p.decide(run("pytest -q && ruff check .")) == "allow"
    assert p.decide(run("pytest -q; rm -rf /")) == "ask"
    assert p.decide(run("pytest -q | tee out.txt")) == "ask"
    assert p.decide(run("pytest $(echo -q)")) == "ask"
    assert p.decide(run("pytest `echo -q`")) == "ask"
    assert p.decide(run("ruff check . && git push origin main")) == "deny"


def test_tool_globs_and_bare_tool_rules():
    p = policy(mode="deny", allow=["*_file:docs/**", "run_command"])
    assert p.decide(edit("docs/a.md")) == "allow"
    assert p.decide(Request("write_file", "docs/b.md", "create docs/b.md")) == "allow"
    assert p.decide(edit("src/a.py")) == "deny"
    assert p.decide(run("anything at all")) == "allow"


def test_messages_for_the_model():
    with pytest.raises(PermissionDenied) as denied:
        policy(deny=["run_command:git push*"]).check(run("git push"))
    assert (
        str(denied.value)
        == "permission denied (run: git push): the permissions.deny rule 'run_command:git push*' forbids it"
    )
    with pytest.raises(PermissionDenied) as denied:
        policy(mode="deny").check(edit("a.py"))
    assert str(denied.value) == (
        "permission denied (edit a.py): permissions.mode is deny and no permissions.allow rule "
        "matches; do without it or ask the user to allow it"
    )
    with pytest.raises(PermissionDenied) as denied:
        policy().check(run("make test"))
    assert str(denied.value) == (
        "permission denied (run: make test): it needs approval and no one can be asked here; the "
        "user can re-run with --yes or add 'run_command:make*' to permissions.allow"
    )


def test_assume_yes_answers_questions_but_not_deny_rules():
    p = PermissionPolicy(PermissionsConfig(deny=["edit_file:*.lock"]), assume_yes=True)
    p.check(edit("a.py"))
    with pytest.raises(PermissionDenied):
        p.check(edit("poetry.lock"))


def test_prompter_yes_no_always():
    answers = Answers("yes", "no", "always")
    p = PermissionPolicy(prompter=answers)
    p.check(edit("a.py"))
    with pytest.raises(PermissionDenied, match=r"the user declined; ask them what to do instead"):
        p.check(edit("b.py"))
    p.check(run("make test"))  # always: this exact command from now on
    p.check(run("make test"))
    assert answers.asked == ["edit a.py", "edit b.py", "run: make test"]
    with pytest.raises(IndexError):  # a different command is asked about again
        p.check(run("make lint"))


def test_always_for_edits_covers_every_file():
    answers = Answers("always")
    p = PermissionPolicy(prompter=answers)
    p.check(edit("a.py"))
    p.check(Request("write_file", "b/c.py", "create b/c.py"))
    assert answers.asked == ["edit a.py"]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"mode": "sometimes"}, "permissions.mode: Input should be 'ask', 'allow' or 'deny'"),
        (
            {"allow": ["read_file:*"]},
            "permissions.allow: rule 'read_file:*' names no tool that asks permission (edit_file, write_file, run_command)",
        ),
        (
            {"deny": ["run_command:"]},
            "permissions.deny: invalid rule 'run_command:': write TOOL or TOOL:PATTERN, like run_command:pytest*",
        ),
        ({"ask": []}, "permissions.ask: unknown key (`codemem config example` shows every key)"),
    ],
)
def test_config_errors(tmp_path, raw, message):
    project = tmp_path / "config.yml"
    project.write_text(yaml.safe_dump({"permissions": raw}))
    with pytest.raises(ConfigError) as error:
        load_config(project)
    assert str(error.value) == f"{project}: {message}"


def test_tools_consult_the_policy(ws, config):
    answers = Answers("no")
    ctx = ToolContext(ws, config, PermissionPolicy(prompter=answers))
    tools = build_tools(ctx)
    before = (ws.root / "shop/cart.py").read_text()
    result = tools.call(
        "edit_file", {"path": "shop/cart.py", "old_string": "def total", "new_string": "def sum"}
    )
    assert (result.content, result.is_error) == (
        "edit_file: permission denied (edit shop/cart.py): the user declined; ask them what to do instead",
        True,
    )
    assert (ws.root / "shop/cart.py").read_text() == before
    assert answers.asked == ["edit shop/cart.py"]


@pytest.mark.parametrize(
    "command",
    [
        "pytest > ~/.bashrc",
        "pytest -q >> ~/.bashrc",
        "pytest 2> ~/.bashrc",
        "pytest &> ~/.bashrc",
        "pytest >| out.txt",
        "pytest >&out.txt",
        "pytest -q | tee ~/.bashrc",
        "pytest --junitxml=/tmp/x.xml",
        "pytest --log-file ~/.bashrc",
        "git log --output=/home/me/.bashrc",
        "git log --output /home/me/.bashrc",
        "git log -o out",
        "git format-patch -o/tmp/patches HEAD~1",
        "cat <<< 'echo pwned' > ~/.bashrc",
        "FOO=1 tee ~/.bashrc",
        "sed -i 's/ask/allow/' .codemem/config.yml",
        "sed -ni.bak p x",
        "sed --in-place=.bak p x",
        "perl -pi -e 's/a/b/' x",
        "nice -n 5 sed -i s/a/b/ x",  # the program is sed, not 5
        "sudo -u bob tee /etc/hosts",
    ],
)
def test_allow_rules_never_cover_a_command_that_writes_files(command):
    p = policy(
        mode="ask",
        allow=[
            "run_command:pytest*",
            "run_command:git log*",
            "run_command:cat*",
            "run_command:git format-patch*",
            "run_command:tee x",
            "run_command:sed*",
            "run_command:perl*",
        ],
    )
    assert p.decide(run(command)) == "ask"
    assert policy(mode="deny", allow=["run_command:*"]).decide(run(command)) == "deny"
    assert policy(mode="deny", allow=["run_command"]).decide(run(command)) == "deny"


@pytest.mark.parametrize(
    "command",
    [
        "pytest -q 2>&1",
        "pytest -q 2>&1 | tail -5",
        "pytest -q > /dev/null 2>&1",
        "pytest -q &>/dev/null",
        "pytest -k 'a > b'",
        'git log --grep ">"',
        "git log --oneline -n 5",
        "git log -p 1>&2",
        "sed -n 1,5p pyproject.toml",
        "perl -ne 'print if /x/' setup.py",
    ],
)
def test_commands_that_write_nothing_are_still_allowed(command):
    p = policy(
        mode="deny",
        allow=[
            "run_command:pytest*",
            "run_command:git log*",
            "run_command:tail*",
            "run_command:sed*",
            "run_command:perl*",
        ],
    )
    assert p.decide(run(command)) == "allow"


def test_a_rule_that_spells_the_write_out_allows_it():
    p = policy(
        mode="deny",
        allow=[
            "run_command:make > build.log",
            "run_command:git log --output=*",
            "run_command:pytest --junitxml=*",
            "run_command:git format-patch -o *",
            "run_command:tee build/*",
        ],
    )
    assert p.decide(run("make > build.log")) == "allow"
    assert p.decide(run("make > other.log")) == "deny"
    assert p.decide(run("git log --output=log.txt")) == "allow"
    assert p.decide(run("pytest --junitxml=report.xml")) == "allow"
    assert p.decide(run("git format-patch -o out HEAD~1")) == "allow"
    assert p.decide(run("make > build.log | tee build/out.txt")) == "allow"


def test_always_allows_exactly_the_writing_command_it_was_given():
    answers = Answers("always")
    p = PermissionPolicy(prompter=answers)
    p.check(run("pytest > out.txt"))
    p.check(run("pytest > out.txt"))
    assert answers.asked == ["run: pytest > out.txt"]


def test_the_refusal_says_the_command_writes_files():
    with pytest.raises(PermissionDenied) as denied:
        policy(mode="deny", allow=["run_command:pytest*"]).check(run("pytest > ~/.bashrc"))
    assert str(denied.value) == (
        "permission denied (run: pytest > ~/.bashrc): permissions.mode is deny and no "
        "permissions.allow rule matches (it writes files with >: an allow rule covers that only "
        "if it spells it out); do without it or ask the user to allow it"
    )
    with pytest.raises(PermissionDenied) as denied:
        policy(allow=["run_command:git log*"]).check(run("git log --output=x"))
    assert str(denied.value) == (
        "permission denied (run: git log --output=x): it needs approval and no one can be asked "
        "here (it writes files with --output: an allow rule covers that only if it spells it "
        "out); the user can re-run with --yes or add 'run_command:git log --output=x' to "
        "permissions.allow"
    )


# -- spellings a hostile repository may steer the model to ---------------------------------


@pytest.mark.parametrize(
    "command",
    [
        "pytest --co <(rm -rf ~/work)",  # bash (/bin/sh on Fedora, Arch) runs it
        "pytest --basetemp=/home/dev/other-project",  # pytest deletes that folder first
    ],
)
def test_an_allow_rule_never_covers_process_substitution_or_basetemp(command):
    assert policy(mode="ask", allow=["run_command:pytest*"]).decide(run(command)) == "ask"


@pytest.mark.parametrize(
    "command",
    [
        "git  push",
        "/usr/bin/git push",
        "'git' push",
        "g\\it push",
        "command git push",
        "env -i GIT_TRACE=1 git push",
        "FOO=1 git push --force",
        "GIT push",
        "sh -c 'git push origin main'",
        "bash -lc 'git push'",
        "eval git push",
        # wrappers, with the arguments of their options and their operands
        "sudo -u bob git push",
        "sudo -ubob -E git push",
        "sudo --user=bob --chdir /tmp git push",
        "/usr/bin/sudo git push",
        "doas -u bob git push",
        "timeout 10 git push",
        "timeout -s KILL -k 5 10s git push",
        "nice -n 5 git push",
        "nice -5 git push",
        "nohup git push",
        "chronic git push",
        "setsid git push",
        "time -f %e git push",
        "exec -a name git push",
        "xargs git push",
        "xargs -n 1 -P 4 git push",
        "xargs -I{} git push {}",
        "xargs -0 -a refs.txt git push origin",
        "stdbuf -oL git push",
        "stdbuf -o L -e 0 git push",
        "ionice -c3 git push",
        "ionice -c 2 -n 7 git push",
        "command -p git push",
        "env -u X git push",
        "env -C /tmp --unset X git push",
        "env -S 'git push'",
        "env -S'FOO=1 git push --force'",
        "env --split-string='git push'",
        "busybox sh -c 'git push'",
        "/bin/bash -c 'git push'",
        "nohup nice -n 5 timeout 10 sudo -u bob env -u X git push",
        # git's own options before the command
        "git -C . push",
        "git -c k=v push",
        "git --git-dir=.git push",
        "git --git-dir .git --work-tree . push",
        "git --namespace=ns push",
        "git --no-pager push",
        "git -P push",
        "git -p --paginate --bare --no-replace-objects --literal-pathspecs push",
        "git --exec-path=/usr/lib/git-core push",
        "git --config-env=user.name=NAME push",
        "git --config-env user.name=NAME push",
        "sudo -u bob git -C . -c k=v --no-pager push",
        "bash -c 'git -C . push'",
        "env - git push",
        # the shell's own grouping, conditions and substitutions
        "{ git push; }",
        "(git push)",
        "( cd sub && git push )",
        "if true; then git push; fi",
        "while :; do git push; done",
        "! git push",
        "echo $(git push)",
        'echo "$(git -C . push)"',
        "x=`git push`",
        "cat <(git push)",
    ],
)
def test_a_deny_rule_holds_however_the_command_is_spelled(command):
    p = policy(mode="allow", deny=["run_command:git push*"])
    assert p.decide(run(command)) == "deny"
    with pytest.raises(
        PermissionDenied, match="the permissions.deny rule 'run_command:git push\\*'"
    ):
        p.check(run(command))


@pytest.mark.parametrize(
    "command",
    [
        "git log",
        "git -C . status",
        "git -c push.default=current status",  # an option's value is not the command
        "git --git-dir=push status",
        "echo git push",  # git is an argument here, not the program
        "sudo -u git status",
        "timeout 10 git pull",
        "xargs -I git echo git",
        "env -u git status",
        "echo '(git push)'",
        'git commit -m "fix (git push docs)"',
    ],
)
def test_a_deny_rule_does_not_catch_other_commands(command):
    assert policy(mode="allow", deny=["run_command:git push*"]).decide(run(command)) == "allow"


@pytest.mark.parametrize("command", ["git -C . push", "sudo -u bob git push", "timeout 5 pytest"])
def test_allow_rules_still_match_the_command_only_as_written(command):
    # Only deny rules are tried on the plain spellings: an allow rule is never looser.
    rules = ["run_command:git push*", "run_command:pytest*"]
    assert policy(mode="ask", allow=rules).decide(run(command)) == "ask"


@pytest.mark.parametrize("path", ["SECRETS/key.pem", "Secrets/key.pem", "secrets/KEY.pem"])
def test_a_deny_rule_on_paths_ignores_case(path):
    # On a case-insensitive disk (macOS, Windows) these are secrets/key.pem.
    p = policy(mode="allow", allow=["edit_file:src/**"], deny=["edit_file:secrets/**"])
    assert p.decide(edit(path)) == "deny"
    assert p.decide(edit("Src/app.py")) == "allow"  # the mode; an allow rule never folds case
    assert policy(mode="ask", allow=["edit_file:src/**"]).decide(edit("Src/app.py")) == "ask"


@pytest.mark.parametrize(
    "rule", ["edit_file:./secrets/**", "edit_file:/secrets/**", "edit_file:secrets/"]
)
def test_a_path_rule_written_with_a_leading_dot_slash_or_slash_still_matches(rule):
    assert policy(mode="allow", deny=[rule]).decide(edit("secrets/key.pem")) == "deny"


@pytest.mark.parametrize(
    ("path", "rel"),
    [("./secrets/key.pem", "secrets/key.pem"), ("shop//../secrets/key.pem", "secrets/key.pem")],
)
def test_file_tools_match_rules_on_the_resolved_path(ws, config, path, rel):
    (ws.root / "secrets").mkdir()
    (ws.root / "secrets/key.pem").write_text("k\n")
    (ws.root / "shop/alias").symlink_to(ws.root / "secrets")  # a link inside the repository
    p = policy(mode="allow", deny=["write_file:secrets/**"])
    tools = build_tools(ToolContext(ws, config, p))
    for spelled in (path, "shop/alias/key.pem"):
        result = tools.call("write_file", {"path": spelled, "content": "x\n"})
        assert (result.content, result.is_error) == (
            f"write_file: permission denied (overwrite {rel} (1 lines)): the permissions.deny "
            "rule 'write_file:secrets/**' forbids it",
            True,
        )
    assert (ws.root / "secrets/key.pem").read_text() == "k\n"
