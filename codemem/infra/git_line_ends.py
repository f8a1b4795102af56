"""The line end git checks a text file out with, for a file codemem is about to create.

A clone on Windows (`core.autocrlf=true`), or a repository whose `.gitattributes` says
`* text=auto eol=crlf`, holds its text files with CRLF in the work tree. A file written there
with LF makes `git add` warn that "LF will be replaced by CRLF", or, with `core.safecrlf=true`,
refuse to add it at all (`digest --push` included). So a new memory file is written with the
line end git would give it on checkout; an existing one keeps its own (`line_ends`).

The decision is git's own (`convert.c`: `convert_attrs`, `output_eol`), from the path's `text`,
`eol` and legacy `crlf` attributes and the clone's `core.autocrlf` and `core.eol`. A writer
making several files asks for them all at once (`checkout_line_ends_of`: one `git check-attr`),
and the config is kept per process while its files are unchanged (`config_stamp`, as
`git_guard` keeps what it reads), so a digest writing N notes runs no 2N git commands.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path

from codemem.infra.git import run_git
from codemem.infra.git_config_files import Stamp, asking_git, config_stamp

CRLF, LF = "\r\n", "\n"
# `text` (or the legacy `crlf`) as git reads it: set, unset (binary), `input` or `auto`
_TEXT, _BINARY, _INPUT, _AUTO, _UNDEFINED = "text", "binary", "input", "auto", ""


def checkout_line_ends(root: Path, path: str) -> str:
    """`\\r\\n` when git would check out the text file `path` (relative to `root`) with CRLF
    line ends, else `\\n` (`checkout_line_ends_of`, for one path)."""
    return checkout_line_ends_of(root, [path])[path]


def checkout_line_ends_of(root: Path, paths: Sequence[str]) -> dict[str, str]:
    """The line end git would check out each text file of `paths` (relative to `root`) with:
    one `git check-attr` for them all, and the clone's `core.autocrlf` and `core.eol` read once
    per process and version of its config files (`_line_end_config`); neither runs any
    program."""
    if not paths:
        return {}
    found = _attributes(root, paths)
    config: list[tuple[str, str]] = []  # asked only when an attribute does not decide

    def line_end_config() -> tuple[str, str]:
        if not config:
            config.append(_line_end_config_once(root))
        return config[0]

    return {path: _line_end(found.get(path, {}), line_end_config) for path in paths}


def _line_end(attrs: Mapping[str, str], line_end_config: Callable[[], tuple[str, str]]) -> str:
    """One file's line end, from its attributes and (`line_end_config`) the clone's
    `core.autocrlf` and `core.eol`."""
    action = _action(attrs.get("text", "unspecified"))
    if action == _UNDEFINED:
        action = _action(attrs.get("crlf", "unspecified"))
    if action == _BINARY:
        return LF  # written as it is: codemem's own text, LF
    eol = attrs.get("eol")
    if eol in ("lf", "crlf"):  # whatever `text` says (but binary); alone, it makes it text
        return CRLF if eol == "crlf" else LF
    autocrlf, core_eol = line_end_config()
    if action == _INPUT:
        return LF
    if action in (_TEXT, _AUTO):
        if autocrlf in ("true", "yes", "on", "1"):
            return CRLF
        if autocrlf == "input":
            return LF
        return CRLF if core_eol == "crlf" else LF
    # no attribute: `core.autocrlf=true` treats every file as `text=auto` with CRLF
    return CRLF if autocrlf in ("true", "yes", "on", "1") else LF


def _action(value: str) -> str:
    """A `text` or `crlf` attribute's value as git's `git_path_check_crlf` reads it."""
    return {"set": _TEXT, "unset": _BINARY, "input": _INPUT, "auto": _AUTO}.get(value, _UNDEFINED)


def _attributes(root: Path, paths: Sequence[str]) -> dict[str, dict[str, str]]:
    """Each path's `text`, `eol` and `crlf` attributes, from one `git check-attr --stdin`."""
    listed = b"".join(os.fsencode(path) + b"\0" for path in paths)
    out = run_git(root, "check-attr", "-z", "--stdin", "text", "eol", "crlf", input=listed)
    fields = [field.decode("utf-8", "surrogateescape") for field in out.split(b"\0")]
    found: dict[str, dict[str, str]] = {}
    for at in range(0, len(fields) - 2, 3):  # path, attribute, value
        found.setdefault(fields[at], {})[fields[at + 1]] = fields[at + 2]
    return found


def _line_end_config_once(root: Path) -> tuple[str, str]:
    """`_line_end_config` for the config as it is now, git asked once whichever threads want
    it."""
    stamp = config_stamp(root)
    given = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("GIT_CONFIG")))
    with asking_git():
        return _line_end_config(root, stamp, given)


@lru_cache(maxsize=16)
def _line_end_config(
    root: Path, stamp: tuple[tuple[str, Stamp], ...], given: tuple[tuple[str, str], ...]
) -> tuple[str, str]:
    """`core.autocrlf` and `core.eol` as this clone's git reads them (the last value wins),
    lowercased; asked once per process and version of the config files git reads there
    (`config_stamp`) and of the settings the environment gives it (`given`: `git -c`, a
    hook's)."""
    del stamp, given  # part of the cache's key only
    out = run_git(root, "config", "-z", "--get-regexp", r"^core\.(autocrlf|eol)$", ok=(0, 1))
    config: dict[str, str] = {}
    for entry in out.split(b"\0"):
        key, _, value = entry.decode("utf-8", "replace").partition("\n")
        if key:
            config[key.lower()] = value or "true"  # a bare `autocrlf` key is true
    return config.get("core.autocrlf", "false").lower(), config.get("core.eol", "").lower()
