"""Who is at the keyboard: the active user's identity, their block `users/<slug>`, and the
personal block.

The *identity* is `CODEMEM_USER` if set (it wins), else `git config user.email`, else the login
name, compared in NFC and lower case. Its *slug* is the name part (an email's local part)
made readable and safe for a file name: accents stripped (`Zoë` -> `zoe`), a few letters
spelled out (`ß` -> `ss`, `ø` -> `o`), anything else one `-` (`alice.smith@example.com` ->
`alice-smith`); a name with no Latin letter is spelled in punycode (`李` -> `xn-7qv`).

Two people can have one slug (`alice@a.com` and `alice@b.org`; `Zoë` and `Zoé`), so the block
says whose it is: a user block codemem creates records `owner: <identity>` in its frontmatter
(a list of identities is allowed, for one person with several addresses). The active user's
block is the first of these that is theirs:

1. the slug the codemem before owners gave them (accents dropped, `Zoë` -> `zo`), if that
   block exists and has no owner or names them: their block from before keeps its name;
2. `users/<slug>`;
3. `users/<slug>-<email domain>` (`users/alice-b-org`), for an email;
4. `users/<slug>-<8 hex digits of the identity's sha256>`.

A missing block is theirs (it is created with their identity as owner); a block whose owner
names them is theirs; a block with no owner (written before owners were recorded) is theirs
only where the old rule put them (step 1, or step 2 for a plain ASCII name), and is never
rewritten to add one: from its file alone codemem cannot tell which of two people who shared
it wrote it, and a read must not change a committed file. Adding `owner:` to it by hand
settles that. A block that cannot be read stops the search there, as before, so its error is
what the user sees; when every step is someone else's, a one-line error says what to do. The
block is created on
first use (`MemoryStore.ensure_user_block`, called wherever a prompt or tool names it), so a
teammate who clones a repository with `.codemem/` committed has theirs without running
`codemem init`.

A personal block, `personal.md` in the user's codemem home folder (`~/.config/codemem/`,
`CODEMEM_HOME` overrides), follows a person across repositories.
"""

from __future__ import annotations

import getpass
import hashlib
import os
import re
import unicodedata
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from codemem.config import user_config_dir
from codemem.infra import git_config
from codemem.memory import frontmatter
from codemem.memory.errors import BlockFormatError, MemoryEditError
from codemem.memory.files import read_memory_file
from codemem.workspace import Workspace

PERSONAL_LABEL = "personal"
OWNER_KEY = "owner"
MAX_SLUG_CHARS = 40  # `users/` + slug + `-` + domain stays within a label's 100 characters
# letters NFKD leaves whole, spelled as their readers spell them in ASCII
SPELLED = str.maketrans(
    {"ø": "o", "æ": "ae", "œ": "oe", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ı": "i", "ħ": "h"}
)


def slugify(text: str) -> str:
    """Lower-case ASCII letters, digits, `-` and `_`: accents stripped (`Zoë` -> `zoe`), any
    other run of characters one `-`; "" when no Latin letter or digit is left."""
    spelled = unicodedata.normalize("NFKD", text.strip().casefold().translate(SPELLED))
    return old_slugify("".join(char for char in spelled if not unicodedata.combining(char)))


def old_slugify(text: str) -> str:
    """The slug codemem gave before owners were recorded (every non-ASCII letter dropped):
    the name of a block written then."""
    slug = re.sub(r"[^a-z0-9_-]+", "-", text.strip().lower())
    return re.sub(r"-{2,}", "-", slug).strip("-_")


def name_slug(name: str) -> str:
    """`slugify(name)`, or for a name with no Latin letter its words in punycode (`xn-7qv`);
    at most `MAX_SLUG_CHARS`."""
    slug = slugify(name)
    if not slug:
        words = re.findall(r"[^\W\d_]+", unicodedata.normalize("NFC", name.lower()))
        code = slugify("-".join(word.encode("punycode").decode("ascii") for word in words))
        slug = f"xn-{code}" if code else ""
    return slug[:MAX_SLUG_CHARS].rstrip("-_")


def fold(identity: str) -> str:
    """An identity as compared: NFC (one form for `é`), lower case, no surrounding spaces."""
    return unicodedata.normalize("NFC", identity.strip()).lower()


def _name_part(identity: str) -> str:
    return identity.split("@", 1)[0]


def user_identity(root: Path, environ: Mapping[str, str] | None = None) -> str:
    """Who is at the keyboard (folded): `CODEMEM_USER`, else `git config user.email`, else the
    login name; each only if it gives a slug. "" when none does."""
    env = os.environ if environ is None else environ
    override = env.get("CODEMEM_USER")
    if override and name_slug(_name_part(override)):
        return fold(override)
    email = git_config(root, "user.email")
    if email and name_slug(_name_part(email)):
        return fold(email)
    try:
        login = getpass.getuser()
    except (KeyError, OSError):
        login = ""
    return fold(login) if name_slug(login) else ""


def owners(meta: Mapping[str, Any]) -> list[str] | None:
    """The folded identities a block's frontmatter names as its owner; None when it names none
    (a block written before owners were recorded)."""
    value = meta.get(OWNER_KEY)
    if value is None or value == "" or value == []:
        return None
    items = value if isinstance(value, list) else [value]
    return [fold(str(item)) for item in items if item is not None]  # `owner: 42` names "42"


def slug_candidates(identity: str) -> list[str]:
    """The slugs `identity` may have, in the order they are tried (steps 2 to 4)."""
    name, _, domain = identity.partition("@")
    base = name_slug(name)
    tried = [base]
    if domain and name_slug(domain):
        tried.append(f"{base}-{name_slug(domain)}")
    tried.append(f"{base}-{hashlib.sha256(identity.encode()).hexdigest()[:8]}")
    return list(dict.fromkeys(tried))


_MISSING, _UNREADABLE = object(), object()


def _block_owners(ws: Workspace, slug: str) -> object:
    """`_MISSING`, `_UNREADABLE`, None (no owner) or the list of owners of `users/<slug>`."""
    path = ws.blocks_dir / "users" / f"{slug}.md"
    if not os.path.lexists(path):
        return _MISSING
    try:
        text = read_memory_file(ws, path)
        if text is None:  # a link, a folder: refused (and named) when it is used
            return _UNREADABLE
        return owners(frontmatter.split(text, str(path)).meta)
    except (BlockFormatError, OSError):
        return _UNREADABLE


def owns(meta: Mapping[str, Any], identity: str, slug: str) -> bool:
    """Whether the block `users/<slug>` with frontmatter `meta` is `identity`'s."""
    return _theirs(owners(meta), identity, slug)


def _theirs(names: object, identity: str, slug: str) -> bool:
    """Whether a block `users/<slug>` whose owners are `names` (`_block_owners`) is
    `identity`'s: it names them, or it names nobody and the rule before owners put them there."""
    if names is None:
        return slug == old_slugify(_name_part(identity))
    return isinstance(names, list) and identity in names


def find_user_slug(ws: Workspace, identity: str) -> str:
    """The slug of `identity`'s block (see the module's docstring); `default` for no identity.

    `MemoryEditError` when every slug it may have is another person's block.
    """
    if not identity:
        return "default"
    legacy = old_slugify(_name_part(identity))
    tried = slug_candidates(identity)
    if legacy and legacy != tried[0]:
        found = _block_owners(ws, legacy)
        if found is _UNREADABLE or _theirs(found, identity, legacy):
            return legacy
    for slug in tried:
        found = _block_owners(ws, slug)
        if found is _MISSING or found is _UNREADABLE or _theirs(found, identity, slug):
            return slug
    taken = ", ".join(f"users/{slug}" for slug in tried)
    raise MemoryEditError(
        f"no block of your own for {identity}: {taken} belong to other people (their `owner:` "
        "says so); set CODEMEM_USER to another name, or add yours to the owner of your block"
    )


def user_slug(root: Path, environ: Mapping[str, str] | None = None) -> str:
    """The active user's slug (never empty: `default` when nothing names them)."""
    return find_user_slug(Workspace(root), user_identity(root, environ))


def user_label(slug: str) -> str:
    """The block label of a user's preferences."""
    return f"users/{slug}"


def personal_block_path(home: Path | None = None) -> Path:
    """Where the personal block lives (it may not exist)."""
    return (home or user_config_dir()) / f"{PERSONAL_LABEL}.md"
