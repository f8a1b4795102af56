"""The line end git checks a text file out with, for a file codemem is about to create.

A clone on Windows (`core.autocrlf=true`), or a repository whose `.gitattributes` says
`* text=auto eol=crlf`, holds its text files with CRLF in the work tree. A file written there
with LF makes `git add` warn that "LF will be replaced by CRLF", or, with `core.safecrlf=true`,
refuse to add it at all (`digest --push` included). So a new memory file is written with the
line end git would give it on checkout; an existing one keeps its own (`line_ends`).

The decision is git's own (`convert.c`: `convert_attrs`, `output_eol`), from the path's `text`,
`eol` and legacy `crlf` attributes and the clone's `core.autocrlf` and `core.eol`.
"""

from __future__ import annotations

from pathlib import Path

from codemem.infra.git import run_git

CRLF, LF = "\r\n", "\n"
# `text` (or the legacy `crlf`) as git reads it: set, unset (binary), `input` or `auto`
_TEXT, _BINARY, _INPUT, _AUTO, _UNDEFINED = "text", "binary", "input", "auto", ""


def checkout_line_ends(root: Path, path: str) -> str:
    """`\\r\\n` when git would check out the text file `path` (relative to `root`) with CRLF
    line ends, else `\\n`: one `git check-attr` and one `git config`, neither running any
    program."""
    attrs = _attributes(root, path)
    action = _action(attrs.get("text", "unspecified"))
    if action == _UNDEFINED:
        action = _action(attrs.get("crlf", "unspecified"))
    if action == _BINARY:
        return LF  # written as it is: codemem's own text, LF
    eol = attrs.get("eol")
    if eol in ("lf", "crlf"):  # whatever `text` says (but binary); alone, it makes it text
        return CRLF if eol == "crlf" else LF
    config = _line_end_config(root)
    autocrlf = config.get("core.autocrlf", "false").lower()
    if action == _INPUT:
        return LF
    if action in (_TEXT, _AUTO):
        if autocrlf in ("true", "yes", "on", "1"):
            return CRLF
        if autocrlf == "input":
            return LF
        return CRLF if config.get("core.eol", "").lower() == "crlf" else LF
    # no attribute: `core.autocrlf=true` treats every file as `text=auto` with CRLF
    return CRLF if autocrlf in ("true", "yes", "on", "1") else LF


def _action(value: str) -> str:
    """A `text` or `crlf` attribute's value as git's `git_path_check_crlf` reads it."""
    return {"set": _TEXT, "unset": _BINARY, "input": _INPUT, "auto": _AUTO}.get(value, _UNDEFINED)


def _attributes(root: Path, path: str) -> dict[str, str]:
    out = run_git(root, "check-attr", "-z", "text", "eol", "crlf", "--", path)
    fields = out.split(b"\0")
    return {
        fields[at + 1].decode("utf-8", "replace"): fields[at + 2].decode("utf-8", "replace")
        for at in range(0, len(fields) - 2, 3)
    }


def _line_end_config(root: Path) -> dict[str, str]:
    """`core.autocrlf` and `core.eol` as this clone's git reads them (the last value wins)."""
    out = run_git(root, "config", "-z", "--get-regexp", r"^core\.(autocrlf|eol)$", ok=(0, 1))
    config: dict[str, str] = {}
    for entry in out.split(b"\0"):
        key, _, value = entry.decode("utf-8", "replace").partition("\n")
        if key:
            config[key.lower()] = value or "true"  # a bare `autocrlf` key is true
    return config
