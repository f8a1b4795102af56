"""The permission policy for tools that change things: `edit_file`, `write_file`, `run_command`.

Config (`permissions:` in .codemem/config.yml or the user's config):

    permissions:
      mode: ask            # what happens to a call no rule covers: ask | allow | deny
      allow: ["run_command:pytest*", "edit_file:src/**", "write_file:src/**"]
      deny: ["run_command:git push*", "write_file:*.lock"]

A rule is `TOOL` or `TOOL:PATTERN`; TOOL may use `*` (`*_file:docs/**` covers both file
tools). For the file tools PATTERN is a gitignore-style glob over the repository-relative
path (`**/` spans folders; a bare name matches anywhere). For `run_command` it is a glob over
the command (`*` matches anything): a command chained with `;`, `&&`, `||`, `|` or `&` is
allowed only if every part is allowed, denied if any part is denied, and a command with `$(`
or backticks is never matched by an allow rule.

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

from codemem.code import matches_any
from codemem.config import PermissionMode, PermissionsConfig, parse_rule
from codemem.errors import PermissionDenied

Answer = Literal["yes", "no", "always"]
_CHAIN = re.compile(r"&&|\|\||[;|&\n]")
_SUBSHELL = re.compile(r"\$\(|`")


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

    def matches(self, request: Request, part: str | None = None) -> bool:
        if not fnmatch.fnmatchcase(request.tool, self.tool):
            return False
        if self.pattern is None:
            return True
        target = request.target if part is None else part
        if request.tool == "run_command":
            return fnmatch.fnmatchcase(target, self.pattern)
        return matches_any(target, [self.pattern])


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


def command_parts(command: str) -> list[str]:
    """The simple commands of a shell command line (split at ; && || | & and newlines)."""
    return [part.strip() for part in _CHAIN.split(command) if part.strip()]


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
            return next((rule for rule in rules if rule.matches(request)), None)
        parts = command_parts(request.target) or [request.target]
        if every_part:  # allow: every part must be allowed, and no command substitution
            if _SUBSHELL.search(request.target):
                return None
            found = [next((r for r in rules if r.matches(request, part)), None) for part in parts]
            return found[0] if all(found) else None
        for part in [request.target, *parts]:  # deny: the whole line or any part
            rule = next((r for r in rules if r.matches(request, part)), None)
            if rule:
                return rule
        return None

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
                "permissions.allow rule matches; do without it or ask the user to allow it"
            )
        if self.assume_yes:
            return
        if self.prompter is None:
            raise PermissionDenied(
                f"permission denied ({request.summary}): it needs approval and no one can be asked "
                f"here; the user can re-run with --yes or add '{suggest_rule(request)}' to "
                "permissions.allow"
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
