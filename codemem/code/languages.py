"""The language registry: which files we index, with which grammar and tag query.

Adding a code language is one grammar wheel plus one query file: a `Grammar` entry below
names the wheel's module, its loader function, the file extensions and (when not just
`queries/<name>.scm`) the query files, which are concatenated: C++ reuses c.scm, JSX
patterns live in jsx.scm. A grammar whose wheel is missing or does not load makes
`get_parser` return None, and the parser then chunks the file as plain text: never a crash.
The capture conventions of the queries are described at the top of queries/python.scm.
"""

from __future__ import annotations

import importlib
import logging
import re
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # tree-sitter loads with the first grammar: a search reads only the tables
    from tree_sitter import Language, Parser, Query

log = logging.getLogger("codemem")

QUERIES_DIR = Path(__file__).resolve().parent / "queries"
ERROR_PATTERNS = "(ERROR) @error (MISSING) @missing"  # what counts as a syntax error
_local = threading.local()


@dataclass(frozen=True, slots=True)
class Grammar:
    """How to parse one code language."""

    name: str
    module: str  # the grammar wheel's import name
    loader: str  # function in `module` returning the language pointer
    extensions: tuple[str, ...]
    queries: tuple[str, ...] = ()  # files under queries/, joined; default ("<name>.scm",)
    filenames: tuple[str, ...] = ()  # well-known names without a telling extension
    comments: str = "c"  # comment style for doc comments: "c" (// /* */), "hash" (#), "php"
    display: str = ""  # the name people read ("C++"); default: `name`
    family: str = (
        ""  # the language conventions are learned for ("tsx" is TypeScript); default: `name`
    )


GRAMMARS: tuple[Grammar, ...] = (
    Grammar(
        "python",
        "tree_sitter_python",
        "language",
        (".py", ".pyi", ".pyw"),
        filenames=("SConstruct", "SConscript"),
        comments="hash",
        display="Python",
    ),
    Grammar(
        "javascript",
        "tree_sitter_javascript",
        "language",
        (".js", ".mjs", ".cjs", ".jsx"),
        ("javascript.scm", "jsx.scm"),
        display="JavaScript",
    ),
    Grammar(
        "typescript",
        "tree_sitter_typescript",
        "language_typescript",
        (".ts", ".mts", ".cts"),
        display="TypeScript",
    ),
    Grammar(
        "tsx",
        "tree_sitter_typescript",
        "language_tsx",
        (".tsx",),
        ("typescript.scm", "jsx.scm"),
        display="TSX",
        family="typescript",
    ),
    Grammar("go", "tree_sitter_go", "language", (".go",), display="Go"),
    Grammar("rust", "tree_sitter_rust", "language", (".rs",), display="Rust"),
    Grammar("java", "tree_sitter_java", "language", (".java",), display="Java"),
    Grammar("c", "tree_sitter_c", "language", (".c",), ("c.scm", "c_types.scm"), display="C"),
    Grammar(
        "cpp",
        "tree_sitter_cpp",
        "language",
        (".cc", ".cpp", ".cxx", ".c++", ".hpp", ".hh", ".hxx", ".h++", ".ipp", ".inl", ".tpp"),
        ("c.scm", "cpp_types.scm", "cpp.scm"),
        display="C++",
    ),
    Grammar("csharp", "tree_sitter_c_sharp", "language", (".cs",), display="C#"),
    Grammar(
        "ruby",
        "tree_sitter_ruby",
        "language",
        (".rb", ".rake", ".gemspec", ".ru"),
        filenames=("Rakefile", "Gemfile", "Guardfile", "Vagrantfile", "Podfile"),
        comments="hash",
        display="Ruby",
    ),
    Grammar(
        "php", "tree_sitter_php", "language_php", (".php", ".phtml"), comments="php", display="PHP"
    ),
)
_GRAMMAR_BY_NAME = {g.name: g for g in GRAMMARS}
CODE_LANGUAGES = frozenset(_GRAMMAR_BY_NAME)

# Text kinds are chunked without a grammar (see text_chunking.py).
_TEXT_EXTENSIONS: dict[str, tuple[str, ...]] = {
    "markdown": (".md", ".markdown", ".mdx", ".mkd"),
    "rst": (".rst", ".rest"),
    "yaml": (".yml", ".yaml"),
    "toml": (".toml",),
    "json": (".json", ".jsonc", ".json5", ".ipynb"),
    "text": (
        ".txt",
        ".text",
        ".cfg",
        ".ini",
        ".conf",
        ".properties",
        ".env.example",
        ".editorconfig",
        ".sh",
        ".bash",
        ".zsh",
        ".fish",
        ".ps1",
        ".bat",
        ".cmd",
        ".cmake",
        ".mk",
        ".mak",
        ".in",
        ".am",
        ".ac",
        ".gradle",
        ".bazel",
        ".bzl",
        ".nix",
        ".sql",
        ".proto",
        ".graphql",
        ".gql",
        ".thrift",
        ".tf",
        ".hcl",
        ".kt",
        ".kts",
        ".swift",
        ".scala",
        ".sc",
        ".lua",
        ".pl",
        ".pm",
        ".r",
        ".jl",
        ".m",
        ".mm",
        ".dart",
        ".ex",
        ".exs",
        ".erl",
        ".hrl",
        ".hs",
        ".ml",
        ".mli",
        ".clj",
        ".cljs",
        ".el",
        ".vim",
        ".zig",
        ".nim",
        ".v",
        ".sv",
        ".vhd",
        ".f90",
        ".f",
        ".groovy",
        ".pyx",
        ".pxd",
        ".xml",
        ".xsd",
        ".xsl",
        ".html",
        ".htm",
        ".css",
        ".scss",
        ".sass",
        ".less",
        ".vue",
        ".svelte",
        ".astro",
        ".j2",
        ".jinja",
        ".tmpl",
        ".tpl",
        ".mustache",
        ".hbs",
        ".tex",
        ".bib",
        ".adoc",
        ".asciidoc",
        ".org",
        ".rdoc",
        ".pod",
        ".textile",
        ".dockerfile",
        ".containerfile",
        ".service",
        ".desktop",
        ".spec",
        ".patch",
        ".diff",
    ),
}
# Text kinds that are source code in a language we have no grammar for: ranked as code, not prose.
_SOURCE_TEXT_EXTENSIONS = frozenset(
    """.sh .bash .zsh .fish .ps1 .bat .cmd .cmake .gradle .bazel .bzl .nix .sql .proto .graphql .gql
    .thrift .tf .hcl .kt .kts .swift .scala .sc .lua .pl .pm .r .jl .m .mm .dart .ex .exs .erl .hrl
    .hs .ml .mli .clj .cljs .el .vim .zig .nim .v .sv .vhd .f90 .f .groovy .pyx .pxd .css .scss .sass
    .less .vue .svelte .astro""".split()
)
PROSE_KINDS = frozenset({"markdown", "rst", "yaml", "toml", "json"})
_TEXT_FILENAMES: dict[str, str] = {
    name.lower(): "text"
    for name in (
        "Makefile",
        "GNUmakefile",
        "makefile",
        "CMakeLists.txt",
        "Dockerfile",
        "Containerfile",
        "Jenkinsfile",
        "Procfile",
        "Brewfile",
        "Justfile",
        "Caddyfile",
        "BUILD",
        "WORKSPACE",
        "meson.build",
        "requirements.txt",
        "MANIFEST.in",
        "LICENSE",
        "COPYING",
        "NOTICE",
        "AUTHORS",
        "CONTRIBUTORS",
        "CHANGES",
        "CHANGELOG",
        "README",
        "INSTALL",
        "TODO",
        ".gitignore",
        ".gitattributes",
        ".dockerignore",
        ".editorconfig",
        ".npmrc",
        ".flake8",
        "setup.cfg",
        "tox.ini",
        "go.mod",
        "go.work",
    )
} | {"pipfile": "toml"}

_EXTENSION_MAP: dict[str, str] = {
    ext: kind for kind, exts in _TEXT_EXTENSIONS.items() for ext in exts
} | {ext: g.name for g in GRAMMARS for ext in g.extensions}
_FILENAME_MAP: dict[str, str] = _TEXT_FILENAMES | {
    name.lower(): g.name for g in GRAMMARS for name in g.filenames
}

# Standard headers only C++ includes (C's all end in `.h`).
_CPP_HEADERS = (
    b"iostream", b"string", b"vector", b"memory", b"map", b"algorithm", b"utility",
    b"functional", b"type_traits", b"cstdint", b"cstddef", b"cstdlib", b"cstring", b"cstdio",
)  # fmt: skip
# What only C++ writes in a header: a class (not C's `struct class`), a namespace block, a
# template, a qualified name, an access label, a virtual member, a standard header of its
# own. Sought in the code alone (`_CODE_ONLY`): the words of comments ("virtual address",
# kernel-doc's `struct::field`) and an inline assembler's `"r" :: "m"` made one in twenty of
# the Linux kernel's C headers C++.
_CPP_HINT = re.compile(
    rb"(?<!struct )(?<!union )\bclass\s+\w|\bnamespace\s*\{|\bnamespace\s+[\w:]+\s*(?:\{|=(?!=))|"
    rb"\busing\s+namespace\b|\btemplate\s*<|[\w>]::[~\w]|\b(?:public|private|protected):|"
    rb"\bvirtual\s+[~\w]|#include\s*<(?:" + b"|".join(_CPP_HEADERS) + rb")>"
)
# How much of a header is searched: its licence and overview comments can fill the first 4 KB.
_CPP_SNIFF_BYTES = 16384
# Texts one of which every match of _CPP_HINT holds: a C header's head without any is not
# searched with it (the pattern is tried at every character: ~130 µs a header, ~30 this way).
_CPP_WORDS = (
    b"::", b"class", b"namespace", b"template", b"public:", b"private:", b"protected:",
    b"virtual", *(name + b">" for name in _CPP_HEADERS),
)  # fmt: skip
# Comments, string and character literals and `#error` texts, blanked before a head is
# searched for C++.
_CODE_ONLY = re.compile(
    rb"/\*.*?(?:\*/|\Z)|//[^\n]*|\"(?:\\.|[^\"\\\n])*\"|'(?:\\.|[^'\\\n])*'|#\s*(?:error|warning)\b[^\n]*",
    re.DOTALL,
)
_SHEBANG = re.compile(rb"^#!\s*(?:/usr)?(?:/local)?/bin/(?:env\s+(?:-S\s+)?)?([\w.+-]+)")
_SHEBANG_LANGS = {
    "python": "python",
    "python3": "python",
    "python2": "python",
    "pypy3": "python",
    "node": "javascript",
    "nodejs": "javascript",
    "deno": "typescript",
    "ts-node": "typescript",
    "ruby": "ruby",
    "php": "php",
    "sh": "text",
    "bash": "text",
    "zsh": "text",
    "dash": "text",
    "ksh": "text",
    "fish": "text",
    "perl": "text",
    "lua": "text",
    "make": "text",
}


def language_for_path(path: str, head: bytes | None = None) -> str | None:
    """The language or text kind of a file, or None when we do not index it.

    Decided by well-known file names, then the extension (`.h` is C++ when `head`, the file's
    content or at least its first 16 KB, shows C++ constructs in its code, else C), then a
    shebang line in `head`.
    """
    lower = _file_name(path).lower()
    if lower in _FILENAME_MAP:
        return _FILENAME_MAP[lower]
    if lower.startswith(("dockerfile.", "containerfile.", "makefile.")):
        return "text"
    dot = lower.find(".", 1)
    while dot != -1:  # longest suffix first: ".env.example" before ".example"
        suffix = lower[dot:]
        if suffix in _EXTENSION_MAP:
            return _EXTENSION_MAP[suffix]
        if suffix == ".h":
            return "cpp" if head and _is_cpp(head) else "c"
        dot = lower.find(".", dot + 1)
    if head and head.startswith(b"#!"):
        match = _SHEBANG.match(head)
        if match:
            interpreter = match.group(1).decode("ascii", "replace")
            return _SHEBANG_LANGS.get(interpreter) or _SHEBANG_LANGS.get(
                interpreter.rstrip("0123456789.")
            )
    return None


def _file_name(path: str) -> str:
    """`PurePosixPath(path).name` with `\\` read as `/`, without making a path object for
    every file the index reads (but for a name such as `.` that one would drop)."""
    path = path.replace("\\", "/")
    name = path.rpartition("/")[2]
    return name if name not in ("", ".") else PurePosixPath(path).name


def _is_cpp(head: bytes) -> bool:
    head = head[:_CPP_SNIFF_BYTES]
    if not any(word in head for word in _CPP_WORDS):
        return False
    return _CPP_HINT.search(_CODE_ONLY.sub(b" ", head)) is not None


def is_prose(path: str, language: str | None) -> bool:
    """Documentation or configuration rather than source: Markdown, YAML, a `.txt`, a Makefile.

    A text file is source when its extension is a known grammar-less language, or when we do not
    know the extension at all (a `.jq` filter, a `.bats` suite, a script found by its shebang).
    """
    if language in _GRAMMAR_BY_NAME:
        return False
    if language != "text":
        return True
    name = PurePosixPath(path).name.lower()
    if name in _FILENAME_MAP:
        return True
    suffix = PurePosixPath(name).suffix
    return suffix not in _SOURCE_TEXT_EXTENSIONS and suffix in _EXTENSION_MAP


def is_code(language: str | None) -> bool:
    """True for languages parsed with a tree-sitter grammar (as opposed to text kinds)."""
    return language in _GRAMMAR_BY_NAME


def display_name(language: str) -> str:
    """The name people read (`cpp` → `C++`); a text kind or unknown name as it is."""
    entry = _GRAMMAR_BY_NAME.get(language)
    return (entry.display or entry.name) if entry else language


def language_family(language: str) -> str:
    """The language conventions are learned for: `tsx` → `typescript`, others themselves."""
    entry = _GRAMMAR_BY_NAME.get(language)
    return (entry.family or entry.name) if entry else language


def grammar(language: str) -> Grammar | None:
    """The registry entry of a code language."""
    return _GRAMMAR_BY_NAME.get(language)


@cache
def get_language(language: str) -> Language | None:
    """The tree-sitter Language, or None when the grammar wheel is missing or broken."""
    spec = _GRAMMAR_BY_NAME.get(language)
    if spec is None:
        return None
    from tree_sitter import Language  # the parsers' alone: kept out of a search's start-up

    try:
        module = importlib.import_module(spec.module)
        return Language(getattr(module, spec.loader)())
    except Exception as exc:  # missing wheel, ABI mismatch: index the files as text
        log.warning("tree-sitter grammar for %s unavailable (%s); indexing as text", language, exc)
        return None


def get_parser(language: str) -> Parser | None:
    """A parser for a code language, or None if its grammar is unavailable.

    Parsers are not thread-safe, so each thread gets its own (cached) instance.
    """
    parsers: dict[str, Parser | None] | None = getattr(_local, "parsers", None)
    if parsers is None:
        parsers = _local.parsers = {}
    if language not in parsers:
        from tree_sitter import Parser  # loaded by `get_language` already

        lang = get_language(language)
        parsers[language] = Parser(lang) if lang is not None else None
    return parsers[language]


@cache
def get_query(language: str, *, with_errors: bool = False) -> Query | None:
    """The compiled tag query of a code language, or None if missing or incompatible.

    `with_errors` adds the patterns `(ERROR) @error` and `(MISSING) @missing`: the one pass
    over a tree that has errors then also counts them.
    """
    from tree_sitter import Query  # loaded by `get_language` already

    lang = get_language(language)
    spec = _GRAMMAR_BY_NAME.get(language)
    if lang is None or spec is None:
        return None
    names = spec.queries or (f"{spec.name}.scm",)
    try:
        text = "\n".join((QUERIES_DIR / name).read_text(encoding="utf-8") for name in names)
        if with_errors:
            text += f"\n{ERROR_PATTERNS}\n"
        query: Query = Query(lang, text)  # annotated: on Python 3.10 the stub's `Self` is Any
        return query
    except Exception as exc:  # grammar version drift: still chunk the file, without symbols
        log.warning("tag query %s does not compile for %s: %s", "+".join(names), language, exc)
        return None


def clear_caches() -> None:
    """Forget loaded grammars, parsers and queries (for tests that swap them)."""
    get_language.cache_clear()
    get_query.cache_clear()
    _local.parsers = {}
