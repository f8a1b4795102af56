"""Candidate generators that name files: the paths, traceback frames and modules a query
mentions (`path_matches`), the file names its words spell (`stem_matches`), and the code a
documentation page among the best full-text files is named after (`doc_subjects`).

They read the indexed paths through two small lookups, `PathLookup` and `NameLookup` (the
manifest is both; `PathList` and `NameIndex` hold a list in memory for tests and recorded
benchmarks), never the whole list. `codemem.code.search` fuses them with the other stages
(`codemem.code.stages`).
"""

from __future__ import annotations

import itertools
import posixpath
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from typing import Protocol

from codemem.code.files import is_test_path
from codemem.code.manifest_packing import file_stem, module_name, package_name
from codemem.code.query import IDENT_RE, STOP_WORDS, AnalyzedQuery, Frame
from codemem.code.stages import Candidate, is_short
from codemem.code.text import file_name_words, light_stem

# File names as query words (`stem_matches`): a name more files share says nothing.
MAX_STEM_FILES = 3
# Documentation pages among the best full-text files speak for the code named like them.
DOC_PAGES = 5  # how many of the best files of each full-text list are looked at
DOC_PAGE_SUFFIXES = (".md", ".mdx", ".markdown", ".rst")
PACKAGE_FILES = frozenset(
    {"mod.rs", "__init__.py", "index.ts", "index.tsx", "index.js", "index.jsx", "init.lua"}
)
# Traceback frames (see `weigh_frames`): the innermost project frame counts 1.
BOUNDARY_FRAME_WEIGHT = 0.5
CHAIN_FRAME_WEIGHT = 0.2
FOREIGN_FRAME_WEIGHT = 0.2


def _suffix_score(mention: list[str], path: list[str]) -> int:
    n = 0
    for a, b in zip(reversed(mention), reversed(path), strict=False):
        if a != b:
            break
        n += 1
    return n


def _best_suffix(mention: str, split_paths: list[tuple[str, list[str]]]) -> tuple[int, list[str]]:
    """The indexed paths sharing the longest suffix of components with a mentioned path."""
    if mention.startswith("<"):  # <stdin>, <string>: not a file
        return 0, []
    parts = posixpath.normpath(mention.replace("\\", "/")).lstrip("./").split("/")
    best = 0
    matched: list[str] = []
    for path, pparts in split_paths:
        n = _suffix_score(parts, pparts)
        if n > best:
            best, matched = n, [path]
        elif n == best and n:
            matched.append(path)
    return best, matched


def weigh_frames(frames: list[Frame], names: NameLookup) -> None:
    """How much each traceback frame says about where the fault is (sets `Frame.weight`).

    A frame is the project's when its path is one indexed file (`site-packages/pkg/mod.py`
    → `src/pkg/mod.py`); others are library or user-script frames. The innermost project
    frame is where the failure surfaced and weighs most; a project frame next to a foreign
    one (the entry point the user called, or the call into a library) comes next; the rest
    of the chain is a candidate, much less.
    """
    if not frames:
        return
    ours: dict[str, bool] = {}
    for frame in frames:
        if frame.path not in ours:  # a frame can only match a file of the same name
            same = names.with_name(frame.path.replace("\\", "/").rsplit("/", 1)[-1])
            best, matched = _best_suffix(frame.path, [(p, p.split("/")) for p in same])
            ours[frame.path] = bool(matched) and (best >= 2 or len(matched) == 1)
    chain = sorted(frames, key=lambda f: f.depth)  # innermost first
    own = [n for n, f in enumerate(chain) if ours[f.path]]
    for n, frame in enumerate(chain):
        if not ours[frame.path]:
            frame.weight = FOREIGN_FRAME_WEIGHT
        elif n == own[0]:
            frame.weight = 1.0
        elif any(0 <= m < len(chain) and not ours[chain[m].path] for m in (n - 1, n + 1)):
            frame.weight = BOUNDARY_FRAME_WEIGHT
        else:
            frame.weight = CHAIN_FRAME_WEIGHT


class PathLookup(Protocol):
    """The indexed files a query can name, looked up by name (the manifest is one)."""

    def with_stem(self, stem: str) -> list[str]:
        """Indexed files whose `file_stem` is `stem`, in path order."""
        ...

    def with_module_part(self, last: str) -> list[tuple[str, str]]:
        """(dotted name, path) of indexed files whose dotted name ends in `last`, in path
        order (a package's `__init__` file also under its package's name, after its own)."""
        ...


def path_matches(paths: PathLookup, query: AnalyzedQuery) -> list[Candidate]:
    """Files the query names: paths and traceback frames, module names, file stems.

    A mention matches the indexed paths sharing its longest suffix of components
    (`/venv/lib/site-packages/pkg/mod.py` → `src/pkg/mod.py`). A traceback frame's file
    counts as much as its frame (`weigh_frames`): the innermost project frame most. Only the
    files that share a name with a mention are looked at, never the whole list.
    """
    scores: dict[str, float] = defaultdict(float)
    lines: dict[str, int] = {}
    frame_weight: dict[str, float] = {}
    for frame in query.frames:
        frame_weight[frame.path] = max(frame_weight.get(frame.path, 0.0), frame.weight)
    for mention, line in query.paths:
        name = posixpath.normpath(mention.replace("\\", "/")).lstrip("./").rsplit("/", 1)[-1]
        same = paths.with_stem(file_stem(name))  # a shared suffix ends in the file's name
        best, matched = _best_suffix(mention, [(p, p.split("/")) for p in same])
        weight = frame_weight.get(mention, 1.0)
        for path in matched[:5]:
            scores[path] += best * weight / len(matched)
            if line:
                lines.setdefault(path, line)
    for dotted in query.dotted:
        modules: dict[str, list[str]] = {}
        for key, path in paths.with_module_part(dotted.rsplit(".", 1)[-1]):
            modules.setdefault(key, []).append(path)
        for key, hits in modules.items():
            if key == dotted or key.endswith("." + dotted):
                for path in hits:
                    scores[path] += 1.0 / len(hits)
    # A code name that is also a file name (`L031` → rules/L031.py); prose words are not.
    for word in dict.fromkeys(w.lower() for w in query.identifiers):  # in order: ties stay put
        if word in STOP_WORDS or len(word) <= 2:
            continue
        hits = paths.with_stem(word)
        if hits and len(hits) <= 3:
            for path in hits:
                scores[path] += 0.5 / len(hits)
    ranked = sorted(scores.items(), key=lambda kv: -kv[1])
    return [
        Candidate(path=p, score=s, start_line=lines.get(p, 0), end_line=lines.get(p, 0))
        for p, s in ranked
    ]


class PathList:
    """A `PathLookup` over a list of paths held in memory (tests, recorded benchmarks)."""

    def __init__(self, paths: list[str]) -> None:
        self._stems: defaultdict[str, list[str]] = defaultdict(list)
        self._modules: defaultdict[str, list[tuple[str, str]]] = defaultdict(list)
        for path in sorted(paths):
            self._stems[file_stem(path)].append(path)
            module = module_name(path)
            self._modules[module.rsplit(".", 1)[-1]].append((module, path))
            package = package_name(path)
            if package is not None:
                self._modules[package.rsplit(".", 1)[-1]].append((package, path))

    def with_stem(self, stem: str) -> list[str]:
        return list(self._stems.get(stem, []))

    def with_module_part(self, last: str) -> list[tuple[str, str]]:
        return list(self._modules.get(last, []))


class NameLookup(Protocol):
    """The indexed files by file name and by the words of their names (the manifest is one;
    the words are `file_name_words`, computed when a file is indexed)."""

    def with_name(self, name: str) -> list[str]:
        """Indexed files called `name` (the last component of their path), in path order."""
        ...

    def with_name_words(self, words: Iterable[str]) -> dict[str, list[tuple[str, int]]]:
        """word → (file, how many words its name has) of the indexed files whose name holds
        one of `words`, in path order; words no name holds are left out."""
        ...


class NameIndex:
    """A `NameLookup` over a list of paths held in memory (tests, recorded benchmarks)."""

    def __init__(self, paths: list[str]) -> None:
        self._files: defaultdict[str, list[tuple[str, int]]] = defaultdict(list)
        self._by_name: defaultdict[str, list[str]] = defaultdict(list)
        for path in sorted(paths):
            name = path.rsplit("/", 1)[-1]
            self._by_name[name].append(path)
            keys, count = file_name_words(name)
            for key in keys:
                self._files[key].append((path, count))

    def with_name(self, name: str) -> list[str]:
        return list(self._by_name.get(name, []))

    def with_name_words(self, words: Iterable[str]) -> dict[str, list[tuple[str, int]]]:
        return {w: list(self._files[w]) for w in dict.fromkeys(words) if w in self._files}


def _stem_forms(word: str) -> list[str]:
    """A query word's light stem and the other forms the word of a file name may have. When a
    suffix was cut: `throttling` → `throttl`, `throttle`; `stripping` → `stripp`, `strip`. A
    name's word that doubled its last letter before the suffix cut from it: `format` →
    `formatt` (`formatter`). The agent noun, which keeps its suffix: `validates` →
    `validator`, and back, `validator` → `validat`, `validate`. The verb of a noun in -ion:
    `composition` → `compose`, `creation` → `create`, `extraction` → `extract`. Only the first
    form some file name holds is looked up, so these come after the word's own forms."""
    stem = light_stem(word)
    forms = [stem]
    if stem != word:
        forms.append(stem + "e")
        if len(stem) > 4 and stem[-1] == stem[-2] and stem[-1] not in "aeiosl":
            forms.append(stem[:-1])
    vowels = "aeiou"
    ends_cvc = len(stem) >= 3 and stem[-3] not in vowels and stem[-2] in vowels
    if ends_cvc and stem[-1] not in vowels + "wxys":
        forms.append(stem + stem[-1])
    if word.endswith("or") and len(word) > 5:
        forms += [word[:-2], word[:-2] + "e"]
    else:
        base = stem[:-1] if stem.endswith("e") else stem
        if len(base) >= 4:
            forms.append(base + "or")
    if word.endswith("ition") and len(word) > 7:
        forms.append(word[:-5] + "e")
    if word.endswith("ation") and len(word) > 7:
        forms += [word[:-5] + "ate", word[:-5] + "e", word[:-5]]
    elif word.endswith("ion") and len(word) > 6:
        forms += [word[:-3], word[:-3] + "e"]
    return list(dict.fromkeys(forms))


def stem_matches(names: NameLookup, query: AnalyzedQuery) -> list[Candidate]:
    """Files whose name is made of words of a short query, compared after light stemming:
    `state.lua` for "plugin state", `lock.lua` for "the lockfile", `HashCodeBuilder.java` for
    "hash code builder". A word shared by many file names says nothing; a file counts by the
    share of its name's words the query holds.

    Two more ways a query names a file: two of its words in a row may be one word of the name
    (`threadpool.c` for "thread pool"), and a name the query spells whole counts even when
    each of its words is common (`ArrayUtils.java` for "array utility operations", where
    `array` and `util` each name many files)."""
    if not is_short(query):
        return []
    words = [w.lower() for w in IDENT_RE.findall(query.text)]
    # in query order, so that ties rank the same every run
    forms = {
        light_stem(w): _stem_forms(w)
        for w in dict.fromkeys(words)
        if w not in STOP_WORDS and len(w) >= 3 and w.isalpha()
    }
    keys = list(forms)
    joined = _joined_words(words)
    # A word no file name holds may still begin one (`lockfile` → `lock`): its prefixes too.
    prefixes = [k[:n] for k in keys for n in range(len(k) - 1, 3, -1)]
    looked_up = [f for fs in (*forms.values(), *joined.values()) for f in fs]
    files = names.with_name_words([*looked_up, *prefixes])
    scores: dict[str, float] = defaultdict(float)
    matched: dict[str, int] = defaultdict(int)
    name_words: dict[str, int] = {}
    spelled: dict[str, set[str]] = defaultdict(set)  # file -> the query's keys its name holds

    def count(hits: list[tuple[str, int]], words_matched: int) -> None:
        if 0 < len(hits) <= MAX_STEM_FILES:
            for path, size in hits:
                scores[path] += 1.0 / len(hits)
                matched[path] += words_matched
                name_words[path] = size

    for key in keys:
        hits = next((files[f] for f in forms[key] if f in files), None) or next(
            (files[key[:n]] for n in range(len(key) - 1, 3, -1) if key[:n] in files), []
        )
        count(hits, 1)
        for path, size in hits:
            spelled[path].add(key)
            name_words.setdefault(path, size)
    for key in joined:
        count(next((files[f] for f in joined[key] if f in files), []), 2)
    for path in scores:
        scores[path] *= min(1.0, matched[path] / name_words[path])
    whole = [
        path
        for path, found in spelled.items()
        if 2 <= name_words[path] <= len(found) and matched[path] < name_words[path]
    ]
    if 0 < len(whole) <= MAX_STEM_FILES:
        for path in whole:
            scores[path] = max(scores.get(path, 0.0), 1.0 / len(whole))
    ranked = sorted(scores.items(), key=lambda kv: -kv[1])
    return [Candidate(path=p, score=s) for p, s in ranked]


def _joined_words(words: list[str]) -> dict[str, list[str]]:
    """Two words of the query in a row, written as one (`thread pool` → `threadpool`), none
    a stop word: light stem → the forms a file name's word may have."""
    out: dict[str, list[str]] = {}
    for first, second in itertools.pairwise(words):
        if first in STOP_WORDS or second in STOP_WORDS or not (first + second).isalpha():
            continue
        out.setdefault(light_stem(first + second), _stem_forms(first + second))
    return out


def package_files(names: NameLookup) -> dict[str, list[str]]:
    """Folder name → the package files it names: `extract` → `src/extract/mod.rs`."""
    found = names.with_name_words(["init", "mod", "index"])
    by_folder: dict[str, list[str]] = defaultdict(list)
    for word in ("init", "mod", "index"):
        for path, _ in found.get(word, []):
            parts = path.split("/")
            if parts[-1] in PACKAGE_FILES and len(parts) > 1:
                by_folder[parts[-2].lower()].append(path)
    return dict(by_folder)


def doc_subjects(
    names: NameLookup,
    query: AnalyzedQuery,
    best: list[str],
    packages: Callable[[], Mapping[str, list[str]]] | None = None,
) -> list[Candidate]:
    """Code that a documentation page among `best` (the best full-text files) is named after:
    `docs/extract.md` → `src/extract/mod.rs` (a package's own file is named by its folder,
    `packages` gives them: by default `package_files`), `docs/routing.rst` → `routing.py`.
    The page explains that code (a Rust crate includes such pages as its modules'
    documentation), and pages rank below code, so a query the page answers points at the
    code instead. Short queries only, as `stem_matches`; a name more than `MAX_STEM_FILES`
    files share says nothing."""
    pages = [p for p in dict.fromkeys(best) if p.lower().endswith(DOC_PAGE_SUFFIXES)]
    if not pages or not is_short(query):
        return []
    subjects = [p.rsplit("/", 1)[-1].split(".", 1)[0].lower() for p in pages]
    found = names.with_name_words([light_stem(s) for s in subjects])
    folders = packages() if packages is not None else package_files(names)
    out: dict[str, float] = {}
    for subject in dict.fromkeys(subjects):
        named = [p for p, words in found.get(light_stem(subject), []) if words == 1]
        code = [
            p
            for p in dict.fromkeys(named + folders.get(subject, []))
            if not p.lower().endswith((*DOC_PAGE_SUFFIXES, ".txt")) and not is_test_path(p)
        ]
        if 0 < len(code) <= MAX_STEM_FILES:
            for path in code:
                out.setdefault(path, 1.0 / len(code))
    return [Candidate(path=p, score=s) for p, s in out.items()]
