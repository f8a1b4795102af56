"""The user's own codemem folder ($CODEMEM_HOME, else ~/.config/codemem): where it is, and
making it for a write, with one line naming what is in the way when it cannot be made."""

from __future__ import annotations

import os
from pathlib import Path

from codemem.errors import ConfigError
from codemem.infra import make_folder, printable


def user_config_dir() -> Path:
    """The user's codemem folder: $CODEMEM_HOME, else ~/.config/codemem.

    A relative `CODEMEM_HOME` is refused (`ConfigError`): taken from the folder each command
    runs in, it would be another folder in each, inside the repository as untracked files. A
    relative `XDG_CONFIG_HOME` is ignored, as the XDG specification says.
    """
    home = os.environ.get("CODEMEM_HOME")
    if home:
        try:
            folder = Path(home).expanduser()
        except RuntimeError:  # ~name of no user
            folder = Path(home)
        if not folder.is_absolute():
            raise ConfigError(
                f"CODEMEM_HOME is a relative path ({printable(home)}), which each command would "
                "take from the folder it runs in: set it to an absolute path (or one starting "
                "with ~/)"
            )
        return folder
    base = os.environ.get("XDG_CONFIG_HOME", "")
    if not os.path.isabs(base):
        base = str(Path.home() / ".config")
    return Path(base) / "codemem"


def make_user_dir(folder: Path | None = None) -> Path:
    """`folder` (the user's codemem folder by default) made for a write, with the folders above
    it (0700: trust and the personal block are the user's alone); every writer there asks
    here first. `ConfigError` naming the folder and what is in the way when it cannot be made:
    a link to a folder that is gone (dotfiles on a drive not mounted), a file, no permission."""
    folder = folder or user_config_dir()
    try:
        return make_folder(folder, 0o700)
    except OSError as exc:
        setting = "CODEMEM_HOME" if os.environ.get("CODEMEM_HOME") else "XDG_CONFIG_HOME or HOME"
        raise ConfigError(
            f"cannot make codemem's folder {printable(str(folder))}: {_in_the_way(folder, exc)}; "
            f"make it by hand, or set {setting} to a folder you can write"
        ) from None


def _in_the_way(folder: Path, error: OSError) -> str:
    for above in (*reversed(folder.parents), folder):  # from the root down: the first one
        if os.path.islink(above) and not above.is_dir():
            target = printable(os.readlink(above))
            return f"{printable(str(above))} is a symbolic link to {target}, which is no folder"
        if os.path.lexists(above) and not above.is_dir():
            return f"{printable(str(above))} is a file, not a folder"
    where = f" ({printable(str(error.filename))})" if error.filename else ""
    return f"{error.strerror or error}{where}"
