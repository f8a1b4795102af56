"""The settings of a run that no layer changes, read without pydantic.

When no config file sets a key, no CODEMEM_ variable is set and no flag is given, validating
the layers can only give the built-in defaults, yet it loads pydantic's model machinery to
find them: the config classes and pydantic's plugin lookup, 25 ms of a cold `codemem index`
on a small repository (a twentieth), all of it before its parsers start. `codemem index` and
`codemem search` read two sections, `index:` and `search:`; their defaults are kept as data
(`codemem/data/defaults.json`) with the digest of the module that defines them, and are read
back only while that module is unchanged (the rule of `codemem.config.snapshot`): an outdated
file is never used, the layers are then validated as usual. `write_defaults` writes the file
(a test checks that it is current).
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, cast

from codemem.config.snapshot import sections_key

if TYPE_CHECKING:
    from codemem.config.schema import Config

DEFAULTS_FILE = Path(__file__).resolve().parent.parent / "data" / "defaults.json"
SECTIONS = ("index", "search")  # what the code index reads of the settings


class DefaultSection(SimpleNamespace):
    """One section's defaults as attributes; `model_dump` gives them as a model's does."""

    def model_dump(self) -> dict[str, Any]:
        return {name: list(v) if isinstance(v, list) else v for name, v in vars(self).items()}


def defaults_if_unset(layers: list[tuple[str, str, dict[str, Any]]]) -> Config | None:
    """The defaults of `index:` and `search:` when `layers` (`read_layers`) set nothing at
    all, else None (and None when the recorded defaults cannot stand in for the models').

    The result is read like a `Config`, but holds only those two sections: it is meant for
    the code index alone, which reads nothing else.
    """
    if any(data for _kind, _source, data in layers):
        return None
    try:
        with open(DEFAULTS_FILE, encoding="utf-8") as fh:
            data = json.load(fh)
        recorded, sections = data["sections"], [data[name] for name in SECTIONS]
    except (OSError, ValueError, TypeError, KeyError):
        return None
    if not recorded or recorded != sections_key():
        return None
    if not all(isinstance(s, dict) and all(str(k).isidentifier() for k in s) for s in sections):
        return None
    settings = SimpleNamespace(
        **{name: DefaultSection(**values) for name, values in zip(SECTIONS, sections, strict=True)}
    )
    return cast("Config", settings)  # duck-typed: the two sections the code index reads


def write_defaults(path: Path = DEFAULTS_FILE) -> None:
    """Write the defaults of `index:` and `search:` as the models give them, with the digest
    of the module that defines them."""
    from codemem.config.schema import Config  # pydantic: only to write the file

    config = Config()
    data = {
        "sections": sections_key(),
        **{name: getattr(config, name).model_dump() for name in SECTIONS},
    }
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
