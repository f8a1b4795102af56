"""The permission policy for tools that change things: `edit_file`, `write_file`, `run_command`.

Config (`permissions:` in .codemem/config.yml or the user's config):

    permissions:
      mode: ask            # what happens to a call no rule covers: ask | allow | deny
      allow: ["run_command:pytest*", "edit_file:src/**", "write_file:src/**"]
      deny: ["run_command:git push*", "write_file:*.lock"]

A rule is `TOOL` or `TOOL:PATTERN`; TOOL may use `*` (`*_file:docs/**` covers both file
tools). For the file tools PATTERN is a gitignore-style glob over the repository-relative
path as resolved (`./x`, `a/../x` and a link inside the repository name the file they lead
to; `**/` spans folders; a bare name matches anywhere; a leading `./` or `/` is dropped). For
`run_command` it is a glob over the command (`*` matches anything): a command chained with
`;`, `&&`, `||`, `|` or `&` is allowed only if every part is allowed, denied if any part is
denied, and a command with `$(`, backticks or process substitution (`<(`, `>(`) is never
matched by an allow rule.

A deny rule ignores case (`SECRETS/key` is `secrets/key` on a case-insensitive disk) and is
tried on each command as written and as its plain words (`spellings`: quotes and escapes
removed, `VAR=value` dropped, wrappers dropped with their options and operands (`sudo -u bob`,
`timeout 10`, `nice -n 5`, `xargs -n 1`, `stdbuf -oL`, `env -u X`; `env -S LINE` runs LINE),
`/usr/bin/git` read as `git`, git's own options dropped (`git -C . --no-pager push` is `git
push`), what follows `{`, `(`, `!`, `then` or `do`, and the line given to `sh -c` or `eval`
or run in `$(...)`, backticks or `<(...)`), so `'git'  push` is `git push`. It is a
guard against the usual spellings, not a sandbox: a git alias, a script or Makefile target
that pushes, `python -c`, a variable (`$G push`) or a wrapper it does not know (`strace`,
`watch`, `flock`) still runs what no rule names. The strict setup is `mode: deny` (or `ask`)
with allow rules, which match the command exactly as written.

An allow rule never covers a command that writes files unless the rule spells that out:
`run_command:pytest*` allows `pytest -q` but not `pytest > ~/.bashrc`, and `run_command:git log*`
not `git log --output=x`. What counts as writing (see `file_writes`): an output redirection
(`>`, `>>`, `2>`, `&>`, `>|`, `>(...)`; not `2>&1` or `> /dev/null`), `tee`, `dd of=`, and
options that name an output file or edit in place (`--output`, `--output-file`, `--log-file`,
`--junitxml`, `--in-place`, pytest's `--basetemp`, which empties that folder..., `-o` for git, curl, wget and sort, `-i` for sed and perl). Spelling it out means the rule's pattern contains a `>`
for a redirection, or a word starting with the option (`--output*`) or `tee`.

Order: a deny rule refuses; else an allow rule (or an "always" answer this session) allows;
else `mode` decides. `ask` asks the person through the prompter (`codemem chat`); with no one
to ask (`codemem run`) it refuses unless `--yes` was given. Reading tools are never asked about;
read-only sessions (`codemem ask`) do not offer writing tools at all.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal, Protocol

from codemem.agent.tools.command_line import (
    REDIRECT,
    SUBSTITUTION,
    command_parts,
    file_writes,
    spellings,
)
from codemem.code import matches_any
from codemem.config import PermissionMode, PermissionsConfig, parse_rule
from codemem.errors import PermissionDenied

Answer = Literal["yes", "no", "always"]


@dataclass(frozen=True)
class Rule:
    """One allow or deny rule: a tool name glob and an optional target pattern."""

    tool: str
    pattern: str | None = None

    @classmethod
    def parse(cls, text: str) -> Rule:
        """The rule `TOOL` or `TOOL:PATTERN`; `ValueError` if it is malformed (see `parse_rule`)."""
        return cls(*parse_rule(text))

    def __str__(self) -> str:
        return self.tool if self.pattern is None else f"{self.tool}:{self.pattern}"

    def spells(self, writes: Iterable[str]) -> bool:
        """Whether the pattern itself names each of these ways of writing (see `file_writes`)."""
        words = (self.pattern or "").split()
        return all(
            REDIRECT in (self.pattern or "")
            if how == REDIRECT
            else any(word.startswith(how) for word in words)
            for how in writes
        )

    def matches(self, request: Request, part: str | None = None, fold: bool = False) -> bool:
        """Whether the rule covers the request (or `part` of its command); `fold` ignores case,
        as a deny rule does: `SECRETS/key` is `secrets/key` on a case-insensitive disk."""
        if not fnmatch.fnmatchcase(request.tool, self.tool):
            return False
        if self.pattern is None:
            return True
        target = request.target if part is None else part
        pattern = self.pattern
        if fold:
            target, pattern = target.lower(), pattern.lower()
        if request.tool == "run_command":
            return fnmatch.fnmatchcase(target, pattern)
        # `./secrets/**` and `/secrets/**` name the same files as `secrets/**`
        return matches_any(target, [pattern.removeprefix("./").lstrip("/") or pattern])


@dataclass
class Request:
    """A call that needs permission: which tool, on what, and what to show the person."""

    tool: str
    target: str  # the repository-relative path, or the command
    summary: str  # one line: "edit shop/cart.py", "run: pytest -q"
    detail: str = ""  # a diff, or the full command


class Prompter(Protocol):
    """Asks the person at the keyboard; `codemem chat` implements it."""

    def approve(self, request: Request) -> Answer:
        """yes (this once), no, or always (the same kind of call for the rest of the session)."""
        ...


@dataclass
class PermissionPolicy:
    """Decides each gated call; raises `PermissionDenied` with a message for the model."""

    config: PermissionsConfig = field(default_factory=PermissionsConfig)
    prompter: Prompter | None = None
    assume_yes: bool = False  # `codemem run --yes`: answer yes instead of asking
    session_rules: list[Rule] = field(default_factory=list)

    @property
    def allow_rules(self) -> list[Rule]:
        return [Rule.parse(text) for text in self.config.allow] + self.session_rules

    @property
    def deny_rules(self) -> list[Rule]:
        return [Rule.parse(text) for text in self.config.deny]

    def _matching(self, rules: Iterable[Rule], request: Request, every_part: bool) -> Rule | None:
        rules = list(rules)
        if request.tool != "run_command":
            return next(
                (rule for rule in rules if rule.matches(request, fold=not every_part)), None
            )
        parts = command_parts(request.target) or [request.target]
        if every_part:  # allow: every part must be allowed, and no command substitution
            if SUBSTITUTION.search(request.target):
                return None
            found = [
                next(
                    (r for r in rules if r.matches(request, part) and r.spells(file_writes(part))),
                    None,
                )
                for part in parts
            ]
            return found[0] if all(found) else None
        for form in spellings(request.target):  # deny: the whole line or any part, as spelled
            rule = next((r for r in rules if r.matches(request, form, fold=True)), None)
            if rule:
                return rule
        return None

    def _writes_note(self, request: Request) -> str:
        """Why an allow rule that matches the command did not allow it: it writes files."""
        if request.tool != "run_command":
            return ""
        unspelled: list[str] = []
        for part in command_parts(request.target):
            writes = file_writes(part)
            if writes and any(
                r.matches(request, part) and not r.spells(writes) for r in self.allow_rules
            ):
                unspelled += writes
        if not unspelled:
            return ""
        return (
            f" (it writes files with {', '.join(dict.fromkeys(unspelled))}: an allow rule covers "
            "that only if it spells it out)"
        )

    def decide(self, request: Request) -> PermissionMode:
        """`deny`, `allow` or `ask`, from the rules and the mode alone (nobody is asked)."""
        if self._matching(self.deny_rules, request, every_part=False):
            return "deny"
        if self._matching(self.allow_rules, request, every_part=True):
            return "allow"
        return self.config.mode

    def check(self, request: Request) -> None:
        """Return if the call may go ahead; else raise `PermissionDenied` saying why."""
        denied = self._matching(self.deny_rules, request, every_part=False)
        if denied:
            raise PermissionDenied(
                f"permission denied ({request.summary}): the permissions.deny rule '{denied}' forbids it"
            )
        decision = self.decide(request)
        if decision == "allow":
            return
        if decision == "deny":
            raise PermissionDenied(
                f"permission denied ({request.summary}): permissions.mode is deny and no "
                f"permissions.allow rule matches{self._writes_note(request)}; do without it or "
                "ask the user to allow it"
            )
        if self.assume_yes:
            return
        if self.prompter is None:
            raise PermissionDenied(
                f"permission denied ({request.summary}): it needs approval and no one can be asked "
                f"here{self._writes_note(request)}; the user can re-run with --yes or add "
                f"'{suggest_rule(request)}' to permissions.allow"
            )
        answer = self.prompter.approve(request)
        if answer == "always":
            self.session_rules.append(session_rule(request))
        elif answer != "yes":
            raise PermissionDenied(
                f"permission denied ({request.summary}): the user declined; ask them what to do instead"
            )


def suggest_rule(request: Request) -> str:
    """A rule that would allow this call: the command's first word, or the exact path."""
    if request.tool == "run_command":
        parts = command_parts(request.target)
        if any(file_writes(part) for part in parts):  # `make*` would not cover `make > log`
            return f"run_command:{glob_escape(request.target)}"
        first = parts[0].split()[0] if parts and parts[0].split() else request.target
        return f"run_command:{first}*"
    return f"{request.tool}:{request.target}"


def session_rule(request: Request) -> Rule:
    """What "always" allows for the rest of the session: file edits anywhere, or this command."""
    if request.tool == "run_command":
        return Rule("run_command", glob_escape(request.target))
    return Rule("*_file")


def glob_escape(text: str) -> str:
    """`text` as a glob that matches only itself."""
    return re.sub(r"([*?\[])", r"[\1]", text)
