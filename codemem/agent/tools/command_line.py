"""Reading a shell command line as the permission policy needs it: its simple commands
(`command_parts`), their plain words (`command_words`: quotes, assignments and wrappers such
as `sudo -u bob` or `timeout 10` dropped), every spelling a deny rule is tried on
(`spellings`), and how a command writes files (`file_writes`).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

# `&` and `|` that belong to a redirection (`2>&1`, `&>`, `>|`) do not split a command.
_CHAIN = re.compile(r"&&|\|\||(?<![>&])&(?![>&])|(?<!>)\||[;\n]")
# Command substitution, and process substitution (`<(...)`, `>(...)`: bash runs them, and
# /bin/sh is bash on Fedora and Arch): a command inside is never matched by an allow rule.
SUBSTITUTION = re.compile(r"\$\(|`|[<>]\(")
_QUOTED = re.compile(r"""'[^']*'|"(?:[^"\\]|\\.)*"|\\.""", re.DOTALL)
_REDIRECT = re.compile(r"(?:\d+|&)?>>?[|&]?\s*(?P<target>[^\s;&|<>]*)")
REDIRECT = ">"
# Options that name a file to write, for any program (`--output x` or `--output=x`).
_WRITE_OPTIONS = {
    "--output",
    "--output-file",
    "--output-dir",
    "--output-directory",
    "--output-document",
    "--out",
    "--outfile",
    "--out-file",
    "--log-file",
    "--logfile",
    "--junitxml",
    "--junit-xml",
    "--resultlog",
    "--report-log",
    "--in-place",
    "--basetemp",  # pytest empties and removes that folder first
}
# Short options that write, per program: `-o` of git format-patch and git archive, curl's
# `-o`/`-O`, wget's `-O`/`-o`, sort's `-o`, sed's and perl's `-i` (alone, with a value
# attached, or among other flags).
_WRITE_FLAGS = {"git": "o", "curl": "oO", "wget": "oO", "sort": "o", "sed": "i", "perl": "i"}


@dataclass(frozen=True)
class _Wrapper:
    """A program that runs the command after it: its options that take an argument (short
    letters, `-u bob` or `-ubob`; long names, `--user bob` or `--user=bob`), those whose
    argument is itself a command line (`env -S LINE`), and how many operands come before
    the command (timeout's duration)."""

    short: str = ""
    long: frozenset[str] = frozenset()
    line: frozenset[str] = frozenset()
    operands: int = 0


_WRAPPERS = {
    "sudo": _Wrapper(
        "aCcDgpRrTtUu",  # not -h: its host is only ever attached (`-hhost`)
        frozenset(
            "--chdir --chroot --close-from --command-timeout --group --host --login-class"
            " --other-user --prompt --role --type --user".split()
        ),
    ),
    "doas": _Wrapper("aCu"),
    "env": _Wrapper(
        "CPSu",
        frozenset({"--chdir", "--split-string", "--unset"}),
        line=frozenset({"-S", "--split-string"}),
    ),
    "command": _Wrapper(),
    "builtin": _Wrapper(),
    "exec": _Wrapper("a"),
    "nice": _Wrapper("n", frozenset({"--adjustment"})),
    "nohup": _Wrapper(),
    "chronic": _Wrapper(),
    "setsid": _Wrapper(),
    "busybox": _Wrapper(),
    "time": _Wrapper("fo", frozenset({"--format", "--output"})),
    "timeout": _Wrapper("ks", frozenset({"--kill-after", "--signal"}), operands=1),
    "ionice": _Wrapper("cnPpu", frozenset({"--class", "--classdata", "--pgid", "--pid", "--uid"})),
    "stdbuf": _Wrapper("eio", frozenset({"--error", "--input", "--output"})),
    "xargs": _Wrapper(  # not -e, -i, -l: their argument is only ever attached
        "adEILnPs",
        frozenset(
            "--arg-file --delimiter --max-args --max-chars --max-procs --process-slot-var".split()
        ),
    ),
}
# git's own options before its command, and those of them that take an argument.
_GIT_VALUED = {"-C", "-c", "--attr-source", "--config-env", "--git-dir", "--namespace"}
_GIT_VALUED |= {"--super-prefix", "--work-tree"}
_SHELLS = {"sh", "bash", "dash", "zsh", "ksh"}
_SHELL_C = re.compile(r"-[a-z]*c[a-z]*")
# Words that open a group or a condition: the command after them runs (`{ git push; }`,
# `then git push`, `! git push`).
_OPENERS = {"!", "{", "(", "if", "then", "else", "elif", "do", "while", "until"}
# The command line in `$(...)`, backticks, `<(...)` or `>(...)` (the innermost, if nested).
_INNER = re.compile(r"\$\(([^()]*)\)|`([^`]*)`|[<>]\(([^()]*)\)")


def command_parts(command: str) -> list[str]:
    """The simple commands of a shell command line (split at ; && || | & and newlines)."""
    return [part.strip() for part in _CHAIN.split(command) if part.strip()]


def _split(line: str) -> list[str]:
    try:
        return shlex.split(line)
    except ValueError:  # unbalanced quotes: the shell would refuse it; judge the plain words
        return line.split()


def _program(word: str) -> str:
    return word.rsplit("/", 1)[-1]


def _unwrapped(words: list[str]) -> list[str]:
    """The command a wrapper runs: `words` without the wrapper (`sudo`), its options and
    their arguments (`-u bob`), and its operands (`timeout 10`); `env -S LINE` runs LINE."""
    wrapper, words = _WRAPPERS[_program(words[0]).lower()], words[1:]
    while words and words[0].startswith("-"):  # `env -` too
        word, words = words[0], words[1:]
        if word == "--":
            break
        name, value = word, None
        if word.startswith("--"):
            name, eq, value = word.partition("=")
            if not eq:
                value = words.pop(0) if name in wrapper.long and words else None
        else:  # `-Eu bob`, `-ubob`, `-oL`, `-5`
            at = next((n for n, c in enumerate(word[1:], 1) if c in wrapper.short), None)
            if at is not None:
                name = f"-{word[at]}"
                value = word[at + 1 :] or (words.pop(0) if words else "")
        if value and name in wrapper.line:
            words = _split(value) + words
    return words[wrapper.operands :]


def command_words(part: str) -> list[str]:
    """The words of the simple command `part` as the shell would run it: quotes and escapes
    removed, leading `VAR=value` assignments, `{`, `(`, `!`, `then`... and wrappers (`sudo`,
    `env`, `timeout`, `xargs`... with their options, the options' arguments and their
    operands) dropped, and the program named without its folder (`/usr/bin/git` is `git`)."""
    words = _split(part)
    while words:
        if _program(words[0]).lower() in _WRAPPERS:
            words = _unwrapped(words)
        elif words[0] in _OPENERS:
            words = words[1:]
        elif words[0].startswith("("):  # `(git push)`
            words[0] = words[0][1:]
        elif "=" in words[0] and not words[0].startswith("-"):
            words = words[1:]  # `FOO=1 sudo git ...` runs git
        else:
            break
    if words:
        words[0] = _program(words[0])
    return words


def git_words(words: list[str]) -> list[str]:
    """The words of a git command without git's own options before its command:
    `git -C . -c k=v --no-pager push` is `git push`."""
    rest = words[1:]
    while rest and rest[0].startswith("-"):
        if rest.pop(0) in _GIT_VALUED and rest:
            rest.pop(0)
    return [words[0], *rest]


def spellings(command: str) -> list[str]:
    """Every form of `command` a deny rule is tried on: the whole line, each simple command,
    and each as its plain words (see `command_words`), the command lines that `sh -c`,
    `bash -c` and `eval` are given, and those in `$(...)`, backticks and `<(...)`, included."""
    forms = [command]
    for inner in _INNER.finditer(command):  # `echo $(git push)` runs git push
        forms += spellings("".join(filter(None, inner.groups())))
    for part in command_parts(command) or [command]:
        words = command_words(part)
        forms += [part, " ".join(words)]
        if words[:1] and words[0].lower() == "git":
            forms.append(" ".join(git_words(words)))
        if words[:1] == ["eval"]:
            forms += spellings(" ".join(words[1:]))
        elif words[:1] and words[0] in _SHELLS:  # `sh -c LINE`, `bash -lc LINE`
            flags = [n for n, w in enumerate(words[:-1]) if _SHELL_C.fullmatch(w)]
            if flags:
                forms += spellings(words[flags[0] + 1])
    return list(dict.fromkeys(form for form in forms if form))


def file_writes(part: str) -> list[str]:
    """How the simple command `part` writes files: `>` for a redirection, else the option or
    program (`--output`, `-o`, `tee`, `of=`); empty if it writes none (its program aside)."""
    writes: list[str] = []
    bare = _QUOTED.sub(lambda m: "_" * len(m[0]), part)  # quoted `>` is text, not a redirection
    for found in _REDIRECT.finditer(bare):
        target, op = found["target"], found[0]
        harmless = target == "/dev/null" or (">&" in op and (target.isdigit() or target == "-"))
        if not harmless:
            writes.append(REDIRECT)
            break
    words = command_words(part)
    if not words:
        return writes
    program, args = words[0], words[1:]
    if program == "tee":
        writes.append("tee")
    if program == "dd" and any(arg.startswith("of=") for arg in args):
        writes.append("of=")
    flags = (
        "" if args[:1] == ["grep"] else _WRITE_FLAGS.get(program, "")
    )  # git grep -o: --only-matching
    for arg in args:
        option = arg.split("=", 1)[0]
        if option in _WRITE_OPTIONS:
            writes.append(option)
        elif arg[:1] == "-" and arg[1:2] != "-":
            given = arg[1:2] if program == "git" else arg[1:]  # git: -o<dir>; others: -so file
            writes.extend(f"-{flag}" for flag in flags if flag in given)
    return list(dict.fromkeys(writes))
