"""What every check reads, gathered lazily once per review: `ReviewContext`.

The expensive parts (tree-sitter parses of the changed files and of their old versions, the
conventions block, a `git grep` over the test files) are computed on first use, so a commit
that touches only Markdown never loads a grammar.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property

from codemem.code import (
    Symbol,
    is_code,
    is_test_path,
    language_family,
    language_for_path,
    matches_any,
)
from codemem.config import Config, ReviewConfig
from codemem.conventions import is_public
from codemem.infra import grep_exclusions, read_blobs, run_git
from codemem.review.conventions import Conventions, load_conventions
from codemem.review.diff import ChangedFile, ChangeSet
from codemem.workspace import Workspace

DEFINITION_KINDS = frozenset(
    {"function", "method", "class", "struct", "interface", "enum", "trait", "type"}
)
# Path patterns of test files (git pathspecs), as `is_test_path` recognizes them.
TEST_PATHSPECS = tuple(
    f":(glob){p}"
    for p in (
        "**/test/**",
        "**/tests/**",
        "**/testing/**",
        "**/spec/**",
        "**/specs/**",
        "**/__tests__/**",
        "**/test_*",
        "**/*_test.*",
        "**/*_tests.*",
        "**/*.test.*",
        "**/*.spec.*",
        "**/Test*",
        "**/*Test.*",
        "**/*Tests.*",
        "**/*_spec.rb",
        "**/conftest.py",
    )
)
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Definition:
    """A definition the change adds (its qualified name did not exist in the old file)."""

    file: ChangedFile
    language: str  # language family
    name: str
    qualname: str
    kind: str
    line: int
    signature: str
    docstring: str
    public: bool


class ReviewContext:
    """One review's inputs: the change, memory's conventions, the settings."""

    def __init__(
        self,
        ws: Workspace,
        config: Config,
        settings: ReviewConfig,
        changes: ChangeSet,
        conventions: Conventions | None = None,
    ) -> None:
        self.ws = ws
        self.config = config
        self.settings = settings
        self.changes = changes
        self._symbols: dict[str, list[Symbol]] = {}
        if conventions is not None:
            self.conventions = conventions

    @cached_property
    def conventions(self) -> Conventions:
        """Memory's conventions block, read on first use."""
        return load_conventions(self.ws)

    # -- files ----------------------------------------------------------------------------

    @cached_property
    def files(self) -> list[ChangedFile]:
        """The changed files the review looks at (without `review.exclude`)."""
        exclude = self.settings.exclude
        return [f for f in self.changes.files if not (exclude and matches_any(f.path, exclude))]

    def text_files(self) -> Iterator[ChangedFile]:
        """Files with readable text content."""
        return (f for f in self.files if f.data is not None)

    def source_files(self) -> Iterator[ChangedFile]:
        """Text files outside `.codemem/` (memory is not code)."""
        return (f for f in self.text_files() if not f.path.startswith(".codemem/"))

    def language(self, file: ChangedFile) -> str | None:
        """The file's language family (`tsx` counts as TypeScript), or its text kind."""
        language = language_for_path(file.path, file.data or None)
        return language_family(language) if language else None

    def code_files(self) -> Iterator[tuple[ChangedFile, str]]:
        """Source files in a language with a grammar, with that language's family."""
        for f in self.source_files():
            raw = language_for_path(f.path, f.data or None)
            if raw and is_code(raw):
                yield f, language_family(raw)

    # -- definitions ----------------------------------------------------------------------

    def symbols(self, file: ChangedFile) -> list[Symbol]:
        """The definitions in the new version of a code file (parsed once per review)."""
        cache = self._symbols
        if file.path not in cache:
            from codemem.code import parse_file  # tree-sitter's parsers: loaded on first use

            index = self.config.index
            cache[file.path] = parse_file(
                file.path,
                file.data or b"",
                None,
                chunk_lines=index.chunk_lines,
                max_line_chars=index.max_line_chars,
            ).symbols
        return cache[file.path]

    def changed_symbols(self) -> list[tuple[ChangedFile, Symbol]]:
        """Functions and methods of non-test code whose body holds an added or changed line."""
        out = []
        for f, _language in self.code_files():
            if is_test_path(f.path) or not f.added:
                continue
            lines = sorted(f.added)
            for s in self.symbols(f):
                if s.kind in ("function", "method") and any(
                    s.start_line <= n <= s.end_line for n in lines
                ):
                    out.append((f, s))
        return out

    @cached_property
    def new_definitions(self) -> list[Definition]:
        """Definitions the change adds, in non-test code files, in file and line order."""
        pending: list[tuple[ChangedFile, str, list]] = []
        for f, language in self.code_files():
            if is_test_path(f.path) or not f.added:
                continue
            symbols = self.symbols(f)
            kinds = {s.qualname: s.kind for s in symbols}
            added = f.added
            candidates = [
                (s, kinds.get(s.parent or ""))
                for s in symbols
                if s.kind in DEFINITION_KINDS
                and (
                    f.whole
                    or any(
                        n in added
                        for n in range(s.start_line, min(s.end_line, s.start_line + 2) + 1)
                    )
                )
            ]
            if candidates:
                pending.append((f, language, candidates))
        old_names = self._old_qualnames([f for f, _, _ in pending if not f.whole and f.old_blob])
        out = []
        for f, language, candidates in pending:
            existing = old_names.get(f.path, set())
            for symbol, parent_kind in candidates:
                if symbol.qualname in existing:
                    continue
                out.append(
                    Definition(
                        f,
                        language,
                        symbol.name,
                        symbol.qualname,
                        symbol.kind,
                        symbol.start_line,
                        symbol.signature,
                        symbol.docstring,
                        is_public(symbol.name, language, symbol.signature, parent_kind),
                    )
                )
        return out

    def _old_qualnames(self, files: list[ChangedFile]) -> dict[str, set[str]]:
        if not files:
            return {}
        from codemem.code import parse_file  # tree-sitter's parsers: loaded on first use

        old = [(f, f.old_blob) for f in files if f.old_blob]  # the caller passes only these
        blobs = read_blobs(
            self.ws.root, [blob for _, blob in old], self.config.index.max_file_bytes
        )
        out = {}
        for f, blob in old:
            _size, data = blobs.get(blob, (0, None))
            if data is not None:
                out[f.path] = {s.qualname for s in parse_file(f.old_path or f.path, data).symbols}
        return out

    # -- the reviewed tree -----------------------------------------------------------------

    def _grep_tree(
        self, args: list[str], pathspecs: tuple[str, ...] = (), exact: bool = True
    ) -> str:
        """`git grep ARGS` over the tree being reviewed (index, revision or work tree).

        Not `exact`: staged changes are searched in the work tree, which differs from the
        index only by unstaged edits and reads three times faster than the index's blobs.
        """
        target = self.changes.target
        head = ["grep", "-I", "-h"]
        if target.kind == "staged" and exact:
            head.append("--cached")
        elif target.kind != "range":
            head.append("--untracked")
        tail = (
            [(target.rev_range or "").split("..")[-1].lstrip(".") or "HEAD"]
            if target.kind == "range"
            else []
        )
        if "--untracked" in head:  # the work tree: a 50 GB sparse file would be 50 GB read
            max_bytes = self.config.index.max_file_bytes
            pathspecs = (*pathspecs, *grep_exclusions(self.ws.root, pathspecs, max_bytes))
        out = run_git(self.ws.root, *head, *args, *tail, "--", *pathspecs, ok=(0, 1))
        return out.decode("utf-8", "replace")

    def names_with_prefix(
        self, prefixes: set[str], pathspecs: tuple[str, ...] = ()
    ) -> dict[str, set[str]]:
        """prefix -> the distinct words of the tree that start with it and then a capital.

        Families such as `_print_Integer` or `visit_FunctionDef` name a method after a class;
        when many exist, a new member follows the family's convention, not the language's.
        """
        if not prefixes:
            return {}
        args = ["-F"]
        for prefix in sorted(prefixes):
            args += ["-e", prefix]
        words = re.compile(
            r"\b(?:" + "|".join(re.escape(p) for p in sorted(prefixes)) + r")[A-Z]\w*"
        )
        found: dict[str, set[str]] = {p: set() for p in prefixes}
        for word in set(words.findall(self._grep_tree(args, pathspecs, exact=False))):
            for prefix in prefixes:
                if word.startswith(prefix):
                    found[prefix].add(word)
        return found

    # -- tests ----------------------------------------------------------------------------

    def mentioned_in_tests(self, names: set[str]) -> set[str]:
        """Which of `names` appear as words in a test file of the reviewed tree."""
        if not names:
            return set()
        found: set[str] = set()
        for f in self.text_files():
            if is_test_path(f.path):
                found |= names & set(_WORD.findall("\n".join(f.added.values())))
        rest = sorted(names - found)
        if rest:
            args = ["-o", "-w", "-F"]
            for name in rest:
                args += ["-e", name]
            found |= set(self._grep_tree(args, TEST_PATHSPECS).split()) & names
        return found
