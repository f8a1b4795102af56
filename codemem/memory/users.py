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
block is the first that is theirs of:

1. the slug the codemem before owners gave them (accents dropped, `Zoë` -> `zo`), then
   `users/<slug>`, `users/<slug>-<email domain>` and `users/<slug>-<8 hex digits of the
   identity's sha256>`;
2. any other `users/` block whose owner names them (one renamed by hand or by `memory mv`,
   which writes the user in as the owner of a block that was theirs by its name alone).

A block whose owner names them is theirs; a block with no owner (written before owners were
recorded) is theirs only where the old rule put them (the old slug, or `users/<slug>` for a
plain ASCII name), and is never rewritten to add one: from its file alone codemem cannot tell
which of two people who shared it wrote it, and a read must not change a committed file.
Adding `owner:` to it by hand settles that. A block that cannot be read stops the search there,
as before, so its error is what the user sees.

When none is theirs, their block is created under the first free name of the one it spells
and the hashed one. The spelled name is one no other identity spells (`spelled_slug`): `users/<name>-<domain>`
for an email whose name and domain are lower-case words between dots, a dot of the name
written `_` and one of the domain `-` (`alice@a.com` -> `users/alice-a-com`,
`carol.ng@example.com` -> `users/carol_ng-example-com`); `users/<name>` for a plain name
(`bob`, `ann_lee`); any other identity (`a-b@x.com`, `zoë@x.org`, which spelled so would
take `a.b@x.com`'s or `zoe@x.org`'s name) goes under the hashed one (`users/a-b-1a2b3c4d`). A new block's name comes
from the whole identity, never from which blocks exist, and no two identities' names are one:
two teammates whose names slug alike who each start on their own branch create two files, and
the branches merge without a conflict (under `users/alice` both, each with their own `owner:`,
they would not). A block made under a name an older codemem gave (`users/zoe-x-org` for
`zoë@x.org`) keeps it: it is found by its owner. When every
name is someone else's, a one-line error says what to do. The block is created on first use (`MemoryStore.ensure_user_block`, called wherever a prompt or tool names it), so a
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
from codemem.memory.labels import LABEL_RE, MAX_LABEL_CHARS
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
    """The slugs `identity`'s block may have, in the order they are looked at (step 1 but the
    old slug): `<slug>`, `<slug>-<domain>` for an email, `<slug>-<hash>`."""
    name, _, domain = identity.partition("@")
    base = name_slug(name)
    tried = [base]
    if domain and name_slug(domain):
        tried.append(f"{base}-{name_slug(domain)}")
    tried.append(f"{base}-{hashlib.sha256(identity.encode()).hexdigest()[:8]}")
    return list(dict.fromkeys(tried))


def new_slugs(identity: str) -> list[str]:
    """Where a new block for `identity` may go, in order: names that only it gives (see the
    module's docstring), so that no other person's new block takes the same one on a branch:
    the name it spells (`spelled_slug`), if it spells one, then the hashed one."""
    hashed = slug_candidates(identity)[-1]
    spelled = spelled_slug(identity)
    return [spelled, hashed] if spelled else [hashed]


def block_slugs(identity: str) -> set[str]:
    """Every slug a block of `identity`'s is created or found under (the old slug,
    `slug_candidates`, `new_slugs`)."""
    legacy = old_slugify(_name_part(identity))
    return {*([legacy] if legacy else []), *slug_candidates(identity), *new_slugs(identity)}


_PLAIN = re.compile(r"[a-z0-9][a-z0-9_]*")  # a login name that is its own slug, no `-` in it
_WORDS = re.compile(r"[a-z0-9]+(?:\.[a-z0-9]+)*")  # an email's name or domain: words and dots
_HASHED_END = re.compile(r"[0-9a-f]{8}")


def spelled_slug(identity: str) -> str | None:
    """The readable slug no other identity spells, or None when `identity` has none.

    A plain name (`bob`, `ann_lee`) is its own slug, with no `-` in it. An email whose name and
    domain are words between dots (`carol.ng@example.com`) is `<name, '_' for '.'>-<domain,
    '-' for '.'>` (`carol_ng-example-com`): its first `-` is the `@`, every other a dot of the
    domain, every `_` a dot of the name, so the slug spells the identity back. Any other
    (`a-b@x.com`, `a_b@x.com`, `zoë@x.org`) has none: readably spelled, it would be another's
    (`a.b@x.com`'s, `zoe@x.org`'s). A hashed slug (`<slug>-<8 hex>`) ends as no spelled one
    does (a domain ending in 8 hex digits spells none).
    """
    name, at, domain = identity.partition("@")
    if not at:
        slug = name if _PLAIN.fullmatch(name) else ""
    elif _WORDS.fullmatch(name) and _WORDS.fullmatch(domain) and "." in domain:
        slug = f"{name.replace('.', '_')}-{domain.replace('.', '-')}"
        if _HASHED_END.fullmatch(domain.rsplit(".", 1)[1]):
            slug = ""
    else:
        slug = ""
    if not slug or len(name) > MAX_SLUG_CHARS or len(user_label(slug)) > MAX_LABEL_CHARS:
        return None
    return slug


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


def _renamed(ws: Workspace, identity: str, skip: list[str]) -> str | None:
    """The slug of a `users/` block outside `skip` whose owner names `identity` (step 2)."""
    folder = ws.blocks_dir / "users"
    try:
        names = sorted(entry.name for entry in os.scandir(folder) if entry.name.endswith(".md"))
    except OSError:  # no users/ folder yet, or not a folder: nothing renamed there
        return None
    for name in names:
        slug = name[: -len(".md")]
        if slug not in skip and LABEL_RE.fullmatch(f"users/{slug}"):
            found = _block_owners(ws, slug)
            if isinstance(found, list) and identity in found:
                return slug
    return None


def find_user_slug(ws: Workspace, identity: str) -> str:
    """The slug of `identity`'s block (see the module's docstring); `default` for no identity.

    `MemoryEditError` when they have none and every name a new one may take is another
    person's block.
    """
    if not identity:
        return "default"
    legacy = old_slugify(_name_part(identity))
    tried = list(dict.fromkeys([*([legacy] if legacy else []), *slug_candidates(identity)]))
    for slug in tried:
        found = _block_owners(ws, slug)
        if found is _UNREADABLE or (found is not _MISSING and _theirs(found, identity, slug)):
            return slug
    renamed = _renamed(ws, identity, tried)
    if renamed is not None:
        return renamed
    fresh = new_slugs(identity)
    for slug in fresh:
        # theirs too: another of their processes may have made it since the look above,
        # and a second block of their own would split what they remember in two
        found = _block_owners(ws, slug)
        if found is _MISSING or (found is not _UNREADABLE and _theirs(found, identity, slug)):
            return slug
    taken = ", ".join(f"users/{slug}" for slug in fresh)
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
