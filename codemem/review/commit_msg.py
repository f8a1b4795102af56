"""The commit-msg hook: a commit message held against the learned commit-message conventions.

`commit_conventions` is the one reader of what the digest learned about commit messages: the
`commits` records of `.codemem/conventions.json`. `check_message` is pure and reads only the
records' `kind` and `value`. The hook script (`COMMIT_MSG`, on the template all codemem's
hooks share: `codemem.review.hook`) chains a commit-msg hook that is already there, honours
`SKIP=codemem`, and stops the commit only when the check wrote `findings` to
`$CODEMEM_HOOK_RESULT`: any failure of codemem itself warns and lets the commit through.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping

from codemem.conventions import CONVENTIONAL, ISSUE_REF, PAST, THIRD, VERBS, Rule, read_records
from codemem.infra import first_secret, secret_hint
from codemem.review.findings import configured_level
from codemem.review.hook import HookChange, HookScript, install_script, uninstall_script
from codemem.workspace import MEMORY_COMMIT_MESSAGE, Workspace

SUBJECT_LIMIT = 72

_SKIPPED = ("Merge ", 'Revert "', "fixup! ", "squash! ", "amend! ")

COMMIT_MSG = HookScript(
    name="commit-msg",
    marker="# codemem-commit-msg-hook v1",
    install="codemem hook install --commit-msg",
    about=(
        "# Installed by `codemem hook install --commit-msg`: checks the message against the learned\n"
        "# commit-message conventions. `codemem hook uninstall --commit-msg` removes it."
    ),
    command='hook check-message --hook "$message"',
    failed="the commit-message check failed (exit $status); committing anyway",
    temp_name="codemem-msg",
    setup="message=$1\n",
)


def commit_conventions(ws: Workspace) -> list[Rule]:
    """The commit-message rules the last digest learned (none before the first digest)."""
    return [rule for rule in read_records(ws) or [] if rule.topic == "commits"]


SCISSORS = "# ------------------------ >8 ------------------------"


def recorded_lines(message: str) -> list[tuple[int, str]]:
    """(line number, line) of each line of a commit message git will record: not its comment
    lines, nor what follows the scissors line (`git commit -v`'s diff)."""
    lines = []
    for number, line in enumerate(message.splitlines(), 1):
        if line.startswith(SCISSORS):
            break
        if not line.startswith("#"):
            lines.append((number, line))
    return lines


def subject_of(message: str) -> str | None:
    """The subject line of a commit message as git will record it (comments left out)."""
    for _, line in recorded_lines(message):
        if line.strip():
            return line.strip()
    return None


def message_secrets(
    message: str, min_entropy: float, severity: Mapping[str, str]
) -> list[tuple[str, str]]:
    """(level, line) per secret in what git will record of a message, the line naming its
    number and kind, never the secret; at the levels the staged review gives the same find
    (`review.severity` over the scan's own: a key is an error, a high-entropy string alone a
    warning), those turned off left out. A message is pushed with the commit, where no later
    commit takes it out."""
    found = []
    for number, line in recorded_lines(message):
        secret = first_secret(line, min_entropy)
        if secret is None:
            continue
        level = configured_level(secret.rule, secret.severity, severity)
        if level == "off":
            continue
        hint = "" if secret.rule == "secrets/private-key" else f" ({secret_hint(secret.value)})"
        found.append((level, f"line {number}: {secret.what}{hint}"))
    return found


def check_message(message: str, rules: list[Rule], min_share: float) -> list[str]:
    """The statements of the rules a message breaks, among those followed by `min_share` or more."""
    subject = subject_of(message)
    if subject is None or subject.startswith(_SKIPPED) or subject == MEMORY_COMMIT_MESSAGE:
        # git refuses an empty message itself; merges and fixups keep git's wording, and
        # `digest --push`'s memory commit codemem's
        return []
    conventional = CONVENTIONAL.match(subject)
    summary = subject[subject.index(": ") + 2 :] if conventional else subject
    word = summary.split()[0].lower().strip(":,") if summary.split() else ""
    moods: dict[str, Collection[str]] = {"imperative": VERBS, "past": PAST, "third person": THIRD}

    def in_no_other_mood(forms: Collection[str]) -> Callable[[], bool]:
        return lambda: not any(word in other for other in moods.values() if other is not forms)

    follows: dict[tuple[str, str], Callable[[], bool]] = {
        ("commit-format", "Conventional Commits"): lambda: bool(conventional),
        **{("commit-mood", mood): in_no_other_mood(forms) for mood, forms in moods.items()},
        ("commit-case", "capital"): lambda: not summary[:1].islower(),
        ("commit-case", "lower"): lambda: not summary[:1].isupper(),
        ("commit-period", "no"): lambda: not subject.endswith("."),
        ("commit-period", "yes"): lambda: subject.endswith("."),
        ("commit-length", str(SUBJECT_LIMIT)): lambda: len(subject) <= SUBJECT_LIMIT,
        ("commit-issue-refs", "yes"): lambda: bool(ISSUE_REF.search(subject)),
    }
    broken = []
    for rule in rules:
        check = follows.get((rule.kind, rule.value or ""))
        if check is None or (rule.share is not None and rule.share < min_share):
            continue  # a rule no message can break (`commit-body`), or one too weak to enforce
        if not check():
            broken.append(rule.statement)
    return broken


# -- installing the hook --------------------------------------------------------------------


def install_commit_msg_hook(
    ws: Workspace, *, force: bool = False, python: str | None = None
) -> HookChange:
    """Install (or refresh) the commit-msg hook, chaining a hook that is already there."""
    return install_script(ws, COMMIT_MSG, COMMIT_MSG.script(python), force=force)


def uninstall_commit_msg_hook(ws: Workspace) -> HookChange:
    """Remove the commit-msg hook and put back the hook it chained, if any."""
    return uninstall_script(ws, COMMIT_MSG)
