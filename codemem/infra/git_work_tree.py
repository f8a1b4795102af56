"""`core.worktree` of a repository's git config, read from the file's bytes where they are
plain enough, so finding the repository costs no git process in the usual case.

`codemem.workspace.find_repo_root` refuses a `.git` whose config names another work tree (a
dotfiles repository made so): git would answer every command for that folder's files.
"""

from __future__ import annotations

import re
from pathlib import Path

from codemem.errors import CodememError, GitError, RepositoryRefused
from codemem.infra.files import read_regular_bytes
from codemem.infra.git import run_git

_CONFIG_BYTES = 1 << 20  # a larger config is not read here (git's commands read it)
_SECTION = re.compile(rb'\[\s*([A-Za-z0-9.-]+)\s*(?:"[^"\\]*"\s*)?\]\s*(?:[#;].*)?')
_SUBSECTION = re.compile(rb"\[[^]]*\"")
_ENTRY = re.compile(rb"([A-Za-z][A-Za-z0-9-]*)\s*(?:=\s*(.*))?")


def git_config_bytes(git_folder: Path) -> bytes | None:
    """The bytes of `git_folder`'s `config` (None: `git_folder` is a `.git` file, a linked
    worktree's, or it has no config codemem can read as a plain file)."""
    try:
        return read_regular_bytes(git_folder / "config", _CONFIG_BYTES)
    except (OSError, CodememError):
        return None


def configured_work_tree(config_file: Path, config: bytes) -> str | None:
    """`core.worktree` of the git config file `config_file`, whose bytes are `config`: read
    from them (`work_tree_setting`), or, where they are not plain enough to read so, by git
    from the file alone, from `/` (git in the repository cannot even read it). None: not set,
    or set so that git's own commands say what is wrong."""
    plain, value = work_tree_setting(config)
    return value if plain else _asked_work_tree(config_file)


def work_tree_setting(config: bytes) -> tuple[bool, str | None]:
    """`core.worktree` in the bytes of a git config file, as `git config --file F --get`
    reads it (the last one set wins), when the file is plain enough to read without git:
    `(True, value)`, or `(True, None)` for none set; `(False, None)` for a file that is not
    (a quoted or escaped value, a continued line, a line git would refuse), which git reads."""
    value: str | None = None
    in_core = False
    for raw in config.removeprefix(b"\xef\xbb\xbf").split(b"\n"):
        line = raw.rstrip(b"\r").strip()
        if line.endswith(b"\\"):  # continued on the next line
            return False, None
        if not line or line[:1] in (b"#", b";"):
            continue
        if line.startswith(b"["):
            section = _SECTION.fullmatch(line)
            if section is None:
                return False, None
            in_core = section[1].lower() == b"core" and _SUBSECTION.match(line) is None
            continue
        entry = _ENTRY.fullmatch(line)
        if entry is None:
            return False, None
        if not in_core or entry[1].lower() != b"worktree":
            continue
        given = None if entry[2] is None else entry[2].strip()
        if given is None or any(char in given for char in b'"\\#;\t\v\f'):  # git's to read
            return False, None
        value = given.decode("utf-8", "surrogateescape")
    return True, value


def _asked_work_tree(config: Path) -> str | None:
    """`core.worktree` as git reads it from the file `config` alone (None: not set, or set
    so that git's own commands say what is wrong)."""
    try:
        found = run_git(Path("/"), "config", "--file", str(config), "--get", "core.worktree")
    except RepositoryRefused:
        raise
    except GitError:  # not set (exit 1), or not readable: git's own commands say what is wrong
        return None
    return found.decode("utf-8", "surrogateescape").rstrip("\n")
