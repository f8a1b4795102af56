"""`codemem merge-file`: git's merge driver for the files under .codemem/."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("merge-file")
@click.argument("base", type=click.Path(readable=False, path_type=Path))  # see merge_files
@click.argument("ours", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("theirs", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("path")
def merge_file_command(base: Path, ours: Path, theirs: Path, path: str) -> None:
    """Merge a .codemem/ file as git's merge driver: BASE OURS THEIRS PATH (%O %A %B %P).

    Learned regions and derived files keep our side (the next digest derives them again),
    lists both sides appended to are united, frontmatter and config.yml are merged key by
    key; conflict markers are left only where two people wrote different text in one place
    (set one key to two values), and then the exit code is 1. A missing or unreadable BASE means the file has no common ancestor
    (both sides added it); OURS and THEIRS must exist. `codemem init`, and any codemem
    command in a clone that lacks it, registers the driver: `git config merge.codemem.driver "<python> -P -m codemem merge-file
    %O %A %B %P"`, with `.codemem/.gitattributes` naming the files.
    """
    from codemem.conventions import merge_files  # on first use: start-up stays light

    if merge_files(base, ours, theirs, path):
        raise SystemExit(1)
