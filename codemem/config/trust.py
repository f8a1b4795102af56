"""The settings a repository's own config may hold only once you trust them.

A committed `.codemem/config.yml` arrives with the code, from anyone who can push to the
repository. It may tune how codemem works on that code (the index, search, the map, the
review's rules, the agent's step and time limits). Until you say so it may not decide where
your credentials and your code are sent, what the agent may do without asking, or that
codemem spends your money unattended or past your limits, indexes files so large that one
takes gigabytes of memory, or lets your secrets through the review: those settings
(`withheld_settings`) are left out of the project layer, with one warning per run, until
`codemem config trust` records their fingerprint in your own folder (`trusted.json`). A pull
that changes any of them changes the fingerprint, and they are withheld again until you look
(as direnv does with `.envrc`). Your own config file, the environment and the flags are
yours: nothing there is withheld.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from codemem.config.home import make_user_dir

TRUST_FILE = "trusted.json"
TRUST_FORMAT = 1

# Where a request goes and which credential it carries. A provider entry that sets any of
# these is withheld whole: what is left of it (a model name, a timeout) means nothing alone.
# (`type` alone only picks which official service and its usual key.)
PROVIDER_KEYS = ("base_url", "api_key_env", "api_key", "headers")
# Where the index sends code for embeddings, with which key; and the embeddings that need
# none of that: every other kind sends each indexed chunk to a paid service with your key
# (ollama's default server is your own machine, model2vec runs in the process).
INDEX_KEYS = ("embeddings_base_url", "embeddings_api_key_env")
LOCAL_EMBEDDINGS = frozenset({"", "none", "ollama", "model2vec"})
# The largest file a clone may have indexed: indexing one file holds all its rows at once,
# up to some 85 bytes of memory per byte of source (a 78 MB file of small functions took
# 6.6 GB), so a 2 GB file (a few MB in git) that a committed `max_file_bytes` let in took
# more memory than the machine has.
PROJECT_MAX_FILE_BYTES = 8 * 2**20

log = logging.getLogger("codemem.config")
_warned: set[tuple[str, str]] = set()  # (project file, fingerprint): one warning per run


def withheld_paths(data: Mapping[str, Any]) -> dict[tuple[str, ...], Any]:
    """The settings of a project layer that need your trust, by path of keys: provider entries
    that choose an endpoint, a credential or headers; embeddings from a paid service (every
    index then sends code there) and where embeddings are sent; a file size limit above
    `PROJECT_MAX_FILE_BYTES` (one such file takes gigabytes to index); what turns the secret
    scan down or off (a secret rule's level below error, files the review skips), which would
    let your own keys through your commit hook; permissions that let the agent act without
    asking; the model in the pre-commit hook or the unattended `watch`;
    spending limits and the prices they count with; the secret variables the agent's
    commands may inherit."""
    found: dict[tuple[str, ...], Any] = {}
    providers = data.get("providers")
    if isinstance(providers, Mapping):
        for name, entry in providers.items():
            if isinstance(entry, Mapping) and any(key in entry for key in PROVIDER_KEYS):
                found["providers", name] = entry
    index = _section(data, "index")
    if "embeddings" in index and _scheme(index["embeddings"]) not in LOCAL_EMBEDDINGS:
        found["index", "embeddings"] = index["embeddings"]
    for key in INDEX_KEYS:
        if key in index:
            found["index", key] = index[key]
    if _number(index.get("max_file_bytes")) > PROJECT_MAX_FILE_BYTES:  # your memory
        found["index", "max_file_bytes"] = index["max_file_bytes"]
    if _section(data, "agent").get("command_env_keep"):  # your secrets, into its commands
        found["agent", "command_env_keep"] = data["agent"]["command_env_keep"]
    review = _section(data, "review")  # the scan that stops your secrets in the hook
    severity = review.get("severity")
    if isinstance(severity, Mapping):
        for key, level in severity.items():
            if _names_secrets(str(key)) and level != "error":
                found["review", "severity", key] = level
    if review.get("exclude"):  # the secret scan skips an excluded file too
        found["review", "exclude"] = review["exclude"]
    permissions = _section(data, "permissions")
    if permissions.get("allow"):
        found["permissions", "allow"] = permissions["allow"]
    if permissions.get("mode", "ask") not in ("ask", "deny"):
        found["permissions", "mode"] = permissions["mode"]
    for section, key in (("review", "hook_llm"), ("sleep", "watch_llm")):
        if _section(data, section).get(key, False) is not False:  # `1` and `yes` are true too
            found[section, key] = data[section][key]
    # What the spending limits count: the limits themselves (yours lie below the project's)
    # and the prices they count with.
    for section in ("agent", "sleep"):
        if "max_cost" in _section(data, section):
            found[section, "max_cost"] = data[section]["max_cost"]
    models = _section(data, "agent").get("models")
    if isinstance(models, Mapping):
        for name, entry in models.items():
            if isinstance(entry, Mapping) and any(key.endswith("_price") for key in entry):
                found["agent", "models", name] = entry
    return found


def _names_secrets(key: str) -> bool:
    """Whether a `review.severity` key sets the level of a rule of the secret scan (a rule id
    or a prefix of one, as `review.findings.configured_level` matches them)."""
    return key.rstrip("/") == "secrets" or key.startswith("secrets/")


def _number(value: Any) -> float:
    """`value` as the settings would read it as a number (`5e9`, `"5000000000"`), else 0."""
    if isinstance(value, bool):
        return 0
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0


def _scheme(embeddings: Any) -> str:
    """`openai` of ` OpenAI/text-embedding-3-small`, as the index reads it."""
    return str(embeddings).strip().partition("/")[0].lower()


def withheld_settings(data: Mapping[str, Any]) -> dict[str, Any]:
    """`withheld_paths` by dotted key, as they are shown and fingerprinted."""
    return _dotted(withheld_paths(data))


def _dotted(paths: Mapping[tuple[str, ...], Any]) -> dict[str, Any]:
    return {".".join(map(str, path)): value for path, value in paths.items()}


def _section(data: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = data.get(name)
    return value if isinstance(value, Mapping) else {}


def fingerprint(withheld: Mapping[str, Any]) -> str:
    """What trusting these settings records: a digest of their keys and values."""
    text = json.dumps(withheld, sort_keys=True, default=repr, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


def without(data: Mapping[str, Any], paths: Iterable[tuple[str, ...]]) -> dict[str, Any]:
    """A copy of `data` without the settings at `paths` (a section they empty goes too)."""
    out = copy.deepcopy(dict(data))
    for path in paths:
        levels = [out]
        for part in path[:-1]:
            levels.append(levels[-1][part])
        del levels[-1][path[-1]]
        for level, part in zip(reversed(levels[:-1]), reversed(path[:-1]), strict=True):
            if level[part]:  # `providers: {}` and the like are not left behind
                break
            del level[part]
    return out


def trust_path(user_dir: Path) -> Path:
    return user_dir / TRUST_FILE


def read_trusted(user_dir: Path) -> dict[str, str]:
    """Each trusted project file's fingerprint. A missing, unreadable or damaged file trusts
    nothing: it is only ever rewritten whole (`record_trust`), and trusting again mends it."""
    try:
        data = json.loads(trust_path(user_dir).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return {}
    projects = data.get("projects") if isinstance(data, dict) else None
    if not isinstance(projects, dict):
        return {}
    return {str(k): v for k, v in projects.items() if isinstance(v, str)}


def project_key(project_file: Path) -> str:
    """A project file's name in the trust file: its resolved absolute path."""
    return str(project_file.expanduser().resolve())


class WithheldLayer(dict[str, Any]):
    """A project layer without the settings it may not choose yet, which remembers the layer
    as written (`as_written`): those settings are checked like the rest, so a mistake in
    them is reported, naming the file, whether or not they are trusted."""

    def __init__(self, applied: dict[str, Any], written: dict[str, Any]) -> None:
        super().__init__(applied)
        self.written = written


def as_written(data: dict[str, Any]) -> dict[str, Any]:
    """A layer as its file has it (`WithheldLayer`), whatever applies of it."""
    return data.written if isinstance(data, WithheldLayer) else data


def trusted_part(project_file: Path, data: dict[str, Any], user_dir: Path) -> dict[str, Any]:
    """The project layer as it applies: `data` whole when nothing in it needs trust or you
    trusted exactly these settings, else a `WithheldLayer` without them (warning once per
    run)."""
    paths = withheld_paths(data)
    if not paths:
        return data
    withheld = _dotted(paths)
    digest = fingerprint(withheld)
    key = project_key(project_file)
    if read_trusted(user_dir).get(key) == digest:
        return data
    if (key, digest) not in _warned:
        _warned.add((key, digest))
        log.warning(
            "%s sets %s: ignored until you trust them (`codemem config show` lists them; "
            "`codemem config trust` accepts them)",
            project_file,
            ", ".join(withheld),
        )
    return WithheldLayer(without(data, paths), data)


def record_trust(project_file: Path, withheld: Mapping[str, Any] | None, user_dir: Path) -> None:
    """Trust these settings of `project_file` (None: withdraw its trust), in the trust file,
    rewritten whole and atomically under a lock (two runs at once each keep their entry)."""
    from codemem.infra import FileLock, atomic_write  # only when trust changes

    path = trust_path(user_dir)
    make_user_dir(user_dir)
    with FileLock(user_dir / (TRUST_FILE + ".lock")):
        projects = read_trusted(user_dir)
        key = project_key(project_file)
        if withheld is None:
            projects.pop(key, None)
        else:
            projects[key] = fingerprint(withheld)
        text = json.dumps({"format": TRUST_FORMAT, "projects": projects}, indent=1, sort_keys=True)
        atomic_write(path, text + "\n", 0o600)
