"""Ranking classes of issue #13: tracebacks, pasted error lines, the named API and its callees."""

from __future__ import annotations

from pathlib import Path

import pytest

from codemem.code.file_stages import NameIndex, PathList, path_matches, weigh_frames
from codemem.code.followup import called_names, callee_matches, message_matches
from codemem.code.indexer import refresh_index
from codemem.code.query import analyze_query, prose_text
from codemem.code.search import Searcher
from codemem.code.stages import Candidate
from codemem.config import load_config
from codemem.workspace import Workspace
from tests.helpers import make_repo

# A small linter: the CLI calls the linter, which calls the parser, which calls a helper
# that raises. Every file talks about linting and parsing; only the helper raises, in a
# function whose name (`_check`) is defined in several files.
PROJECT = {
    "src/tinylint/cli.py": '''
"""Command line entry point of tinylint: lint the files given, print each problem."""
from tinylint.linter import Linter


def main(argv):
    """Lint every path of argv and print what the linter found."""
    linter = Linter(dialect="ansi")
    for path in argv:
        for problem in linter.lint_path(path):
            print(problem)
    return 0


def _check(argv):
    return bool(argv)
''',
    "src/tinylint/linter.py": '''
"""The linter: parse a file, run each rule over the parsed tree, collect problems."""
from tinylint.parser import parse_string


class Linter:
    """Lints SQL text with the rules of one dialect."""

    def __init__(self, dialect):
        self.dialect = dialect

    def lint_path(self, path):
        """Lint one file: read it, parse it, run the rules."""
        with open(path) as handle:
            return self.lint_string(handle.read())

    def lint_string(self, sql):
        """Lint SQL text: parse the string, then check every rule on the tree."""
        tree = parse_string(sql, self.dialect)
        return [rule(tree) for rule in RULES]


RULES = []
''',
    "src/tinylint/parser.py": '''
"""Parsing SQL text into segments, matching each grammar sequence in turn."""
from tinylint.helpers import _check


def parse_string(sql, dialect):
    """Parse a whole SQL string: lex it, match the grammar, check nothing was lost."""
    tokens = sql.split()
    segments = [t for t in tokens if t != ";"]
    _check(tokens, segments)
    return segments
''',
    "src/tinylint/helpers.py": '''
"""Small helpers for the parser."""


def _check(tokens, segments):
    """Raise if matching lost any element of the sequence."""
    if len(tokens) != len(segments):
        raise RuntimeError(f"Dropped elements in sequence matching! {tokens!r} != {segments!r}")
    return True


def join_segments(segments):
    return " ".join(segments)
''',
    "src/tinylint/rules.py": '''
"""Lint rules: each rule looks at the parsed tree of a file and reports problems."""


def _check(tree):
    return all(segment.strip() for segment in tree)


def rule_keywords_upper(tree):
    """Keywords in a lint run should be upper case; parse results show them as written."""
    return [segment for segment in tree if segment.islower()]
''',
    "src/tinylint/config.py": '''
"""Reading settings files."""


def load_config(text):
    """Read `key = value` lines."""
    values = {}
    for line in text.splitlines():
        key, _, value = line.partition("=")
        if not key.strip():
            raise ValueError("configuration section name must not be empty or contain dots")
        values[key.strip()] = value.strip()
    return values
''',
    "src/tinylint/sections.py": '''
"""Configuration sections: a section name is a dotted name, an empty section name is the root.

A section of the configuration must name the rules it configures; the section list of a
project names every section of the configuration it loads.
"""


def split_section_name(name):
    """Split a dotted section name into its names; an empty section name has no names."""
    return [part for part in name.split(".") if part]


def section_name_is_empty(name):
    """True for the empty section name (the root section of the configuration)."""
    return not split_section_name(name)


def join_section_name(names):
    """Join names with dots into a section name; no names make the empty section name."""
    return ".".join(names)


def section_name_contains_dots(name):
    """A configuration section name must contain dots between its names, not at its ends."""
    return "." in name.strip(".")


class SectionName:
    """A configuration section name: must not be empty to name a rule, may contain dots."""

    def __init__(self, name):
        self.names = split_section_name(name)
''',
    "docs/configuration.md": """
# Configuration

Each section name of the configuration is a dotted path; a section name must be set.
An empty section name, or one that contains dots in the wrong place, is reported when the
configuration is loaded. The section name decides which rules run; see the section list.
""",
    "tests/test_linter.py": """
from tinylint.linter import Linter


def test_lint_string_parses_and_lints():
    assert Linter("ansi").lint_string("select 1") == []
""",
}

TRACEBACK_ISSUE = """Linting a file that ends with a double semicolon crashes the linter.

Running tinylint on a query with ";;" at the end:

Traceback (most recent call last):
  File "/home/me/.venv/bin/tinylint", line 8, in <module>
    sys.exit(main())
  File "/home/me/.venv/lib/python3.9/site-packages/click/core.py", line 1137, in __call__
    return self.main(*args, **kwargs)
  File "/home/me/.venv/lib/python3.9/site-packages/tinylint/cli.py", line 9, in main
    for problem in linter.lint_path(path):
  File "/home/me/.venv/lib/python3.9/site-packages/tinylint/linter.py", line 14, in lint_path
    return self.lint_string(handle.read())
  File "/home/me/.venv/lib/python3.9/site-packages/tinylint/linter.py", line 18, in lint_string
    tree = parse_string(sql, self.dialect)
  File "/home/me/.venv/lib/python3.9/site-packages/tinylint/parser.py", line 9, in parse_string
    _check(tokens, segments)
  File "/home/me/.venv/lib/python3.9/site-packages/tinylint/helpers.py", line 8, in _check
    raise RuntimeError(f"Dropped elements in sequence matching! {tokens!r} != {segments!r}")
RuntimeError: Dropped elements in sequence matching! ['select', '1;;'] != ['select']

I expected the linter to report a parse problem rather than crash.
"""

ERROR_ISSUE = """Loading the configuration of a project refuses a valid file. With a section list
that names every section of the configuration, loading stops at once:

ValueError: configuration section name must not be empty or contain dots

The section names are all set, so this looks wrong.
"""


@pytest.fixture(scope="module")
def tinylint(tmp_path_factory) -> Searcher:
    root = tmp_path_factory.mktemp("tinylint")
    for rel, text in PROJECT.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text.lstrip("\n"))
    make_repo(root)
    ws = Workspace(root)
    config = load_config(ws.config_file)
    refresh_index(ws, config)
    return Searcher(ws, config)


def _files(searcher: Searcher, text: str, **off: bool) -> list[str]:
    if off:
        config = searcher.config.model_copy(
            update={"search": searcher.config.search.model_copy(update=off)}
        )
        searcher = Searcher(searcher.ws, config)
    return [hit.path for hit in searcher.search(text, k=5, level="file")]


def test_the_innermost_project_frame_of_a_traceback_ranks_first(tinylint):
    files = _files(tinylint, TRACEBACK_ISSUE)
    assert files[0] == "src/tinylint/helpers.py"
    # Outer frames stay candidates.
    assert {"src/tinylint/parser.py", "src/tinylint/linter.py"} <= set(files)


def test_frames_weigh_by_depth_and_ownership():
    q = analyze_query(TRACEBACK_ISSUE)
    weigh_frames(q.frames, NameIndex(list(PROJECT)))
    weights = {(f.path.rsplit("/", 1)[-1], f.function): f.weight for f in q.frames}
    assert weights == {
        ("helpers.py", "_check"): 1.0,  # innermost project frame
        ("parser.py", "parse_string"): 0.2,
        ("linter.py", "lint_string"): 0.2,
        ("linter.py", "lint_path"): 0.2,
        ("cli.py", "main"): 0.5,  # called from outside the project
        ("core.py", "__call__"): 0.2,  # a library
        ("tinylint", "<module>"): 0.2,
    }
    ranked = [c.path for c in path_matches(PathList(list(PROJECT)), q)]
    assert ranked[:2] == ["src/tinylint/helpers.py", "src/tinylint/cli.py"]


def test_traceback_and_error_lines_are_not_prose():
    kept = prose_text(TRACEBACK_ISSUE)
    assert "_check" not in kept and "Dropped" not in kept
    assert kept.startswith("Linting a file") and "report a parse problem" in kept
    assert analyze_query(TRACEBACK_ISSUE).errors == [
        "Dropped elements in sequence matching! ['select', '1;;'] != ['select']"
    ]
    # A query that merely starts with such a word is not an error line.
    assert analyze_query("panic recovery middleware").errors == []
    assert "panic recovery" in prose_text("panic recovery middleware")


def test_a_pasted_error_line_finds_where_it_is_raised(tinylint):
    assert _files(tinylint, ERROR_ISSUE)[0] == "src/tinylint/config.py"


def test_message_matches_needs_the_phrase_not_the_words():
    q = analyze_query("It fails.\nValueError: section name must not be empty\n")
    raised = Candidate("a.py", 1.0, 1, 2, chunk_id="a")
    mentioned = Candidate("b.py", 2.0, 1, 2, chunk_id="b")
    texts = {
        "a": 'raise ValueError(f"{key}: section name must not be empty")',
        "b": "# the section name: empty means the default, it must not be set\nname = empty",
    }
    assert [c.path for c in message_matches([mentioned, raised], texts, q)] == ["a.py"]


def test_callees_of_the_named_definition_are_candidates():
    body = "def load(path):\n    text = read_file(path)\n    return _resolve_refs(parse(text))\n"
    assert called_names(body) == ["load", "read_file", "_resolve_refs", "parse"]
    source = Candidate("api.py", 1.0, 1, 3, symbol="load", kind="function")
    rows = [
        {"path": "io.py", "name": "read_file", "start_line": 1, "end_line": 2},
        {"path": "refs.py", "name": "_resolve_refs", "start_line": 5, "end_line": 9},
        {"path": "tests/test_refs.py", "name": "_resolve_refs", "start_line": 1, "end_line": 2},
    ] + [{"path": f"p{n}.py", "name": "parse", "start_line": 1, "end_line": 2} for n in range(5)]
    found = callee_matches([source], {("api.py", 1): body}, rows)
    # `parse` is defined in too many places to say anything; test definitions do not count.
    assert sorted(c.path for c in found) == ["io.py", "refs.py"]


def test_each_new_stage_can_be_switched_off(tinylint):
    assert _files(tinylint, ERROR_ISSUE, messages=False, callees=False)
    assert Path(tinylint.ws.root, "src/tinylint/config.py").exists()


def test_source_about_credentials_is_indexed_but_credential_files_are_not():
    from codemem.code.files import path_skip_reason

    assert path_skip_reason("credentials/credentials.go") is None
    assert path_skip_reason("src/auth/credentials.py") is None
    assert [path_skip_reason(p) for p in (".aws/credentials", "conf/credentials.json")] == [
        "secret",
        "secret",
    ]


def test_a_link_to_a_source_file_names_that_file():
    q = analyze_query(
        "Overridden here: https://github.com/grpc/grpc-go/blob/master/credentials/credentials.go#L214."
    )
    assert q.paths == [("credentials/credentials.go", 214)]


def test_a_short_query_word_naming_a_file_proposes_it():
    from codemem.code.file_stages import stem_matches
    from codemem.code.text import light_stem

    assert [light_stem(w) for w in ("checks", "checker", "loads", "loader", "floating")] == [
        "check",
        "check",
        "load",
        "load",
        "float",
    ]
    paths = ["lua/manage/checker.lua", "lua/state.lua", "lua/manage/lock.lua", "lua/view/float.lua"]
    paths += [f"lua/p{n}/init.lua" for n in range(5)]
    names = NameIndex(paths)
    found = [
        c.path for c in stem_matches(names, analyze_query("how the lockfile checks plugin state"))
    ]
    assert sorted(found) == ["lua/manage/checker.lua", "lua/manage/lock.lua", "lua/state.lua"]
    # A name many files share says nothing; a long report names files by chance.
    assert stem_matches(names, analyze_query("init of the plugins")) == []
    assert stem_matches(names, analyze_query("state " + "word " * 30 + "and more words here")) == []


def test_a_query_word_finds_the_file_named_by_its_uncut_form():
    from codemem.code.file_stages import stem_matches

    names = NameIndex(
        ["middleware/throttle.go", "middleware/strip.go", "lib/stat.c", "src/state.c"]
    )
    found = stem_matches(names, analyze_query("request throttling and path stripping"))
    assert sorted(c.path for c in found) == ["middleware/strip.go", "middleware/throttle.go"]
    # an uncut word keeps its own form: `stat` is not `state`
    assert [c.path for c in stem_matches(names, analyze_query("file stat"))] == ["lib/stat.c"]


def test_a_query_verb_finds_the_file_named_by_its_doer():
    from codemem.code.file_stages import stem_matches

    names = NameIndex(["lib/formatter.bash", "lib/validator.bash", "lib/x.sh"])
    found = stem_matches(names, analyze_query("how bats formats test output"))
    assert [c.path for c in found] == ["lib/formatter.bash"]
    found = stem_matches(names, analyze_query("what validates the count"))
    assert [c.path for c in found] == ["lib/validator.bash"]
    # and back: the doer finds the file named by the verb
    found = stem_matches(NameIndex(["lib/validate.py"]), analyze_query("the count validator"))
    assert [c.path for c in found] == ["lib/validate.py"]


def test_a_noun_in_ion_finds_the_file_named_by_its_verb():
    from codemem.code.file_stages import stem_matches

    names = NameIndex(["src/compose.ts", "src/createStore.ts", "src/extract.rs", "src/a.ts"])
    found = stem_matches(names, analyze_query("function composition utility"))
    assert [c.path for c in found] == ["src/compose.ts"]
    found = stem_matches(names, analyze_query("store creation and extraction"))
    # createStore.ts: "store" and "create", its whole name
    assert [(c.path, c.score) for c in found] == [
        ("src/createStore.ts", 2.0),
        ("src/extract.rs", 1.0),
    ]


def test_two_query_words_in_a_row_may_be_one_word_of_a_file_name():
    from codemem.code.file_stages import stem_matches

    names = NameIndex(["src/threadpool.c", "src/unix/thread.c", "src/win/thread.c", "src/pool.c"])
    found = stem_matches(names, analyze_query("thread pool and work queue"))
    assert [(c.path, c.score) for c in found][:2] == [
        ("src/pool.c", 1.0),
        ("src/threadpool.c", 1.0),
    ]
    # not across a stop word
    found = stem_matches(names, analyze_query("the thread of a pool"))
    assert "src/threadpool.c" not in [c.path for c in found]


def test_a_name_the_query_spells_whole_counts_though_its_words_are_common():
    from codemem.code.file_stages import stem_matches

    paths = [f"lang/Array{n}.java" for n in ("Utils", "Sorter", "Fill", "Builder")]
    paths += [f"lang/{n}Utils.java" for n in ("Class", "String", "Char", "Number")]
    names = NameIndex(paths)
    found = stem_matches(names, analyze_query("array utility operations and safe conversion"))
    assert [(c.path, c.score) for c in found] == [("lang/ArrayUtils.java", 1.0)]
    # one common word alone still says nothing
    assert stem_matches(names, analyze_query("array operations")) == []


def test_a_documentation_page_the_query_finds_proposes_the_code_named_like_it():
    from codemem.code.file_stages import doc_subjects

    paths = ["src/docs/extract.md", "src/extract/mod.rs", "src/extract/query.rs", "src/lib.rs"]
    paths += ["docs/routing.rst", "pkg/routing.py", "tests/routing.py", "src/docs/other.md"]
    names = NameIndex(paths)
    q = analyze_query("how extractors implement FromRequest")
    best = ["src/lib.rs", "src/docs/extract.md", "docs/routing.rst", "src/docs/other.md"]
    found = doc_subjects(names, q, best)
    assert [(c.path, c.score) for c in found] == [
        ("src/extract/mod.rs", 1.0),
        ("pkg/routing.py", 1.0),
    ]
    assert doc_subjects(names, q, ["src/lib.rs"]) == []
    long_report = analyze_query("extract " + "word " * 30)
    assert doc_subjects(names, long_report, best) == []


def test_a_short_query_may_spell_a_name_in_words():
    from codemem.code.stages import phrase_names, symbol_matches

    q = analyze_query("hash code builder for consistent results")
    assert {"HashCodeBuilder", "hashCodeBuilder", "hash_code_builder"} <= set(phrase_names(q))
    rows = [
        {"path": "builder/HashCodeBuilder.java", "name": "HashCodeBuilder", "qualname": "HashCodeBuilder",
         "kind": "class", "start_line": 1, "end_line": 90},
        {"path": "builder/EqualsBuilder.java", "name": "EqualsBuilder", "qualname": "EqualsBuilder",
         "kind": "class", "start_line": 1, "end_line": 90},
    ]  # fmt: skip

    class Store:
        def symbols_named(self, names, **_bounds):
            return [r for r in rows if r["name"] in set(names)]

    assert [c.path for c in symbol_matches(Store(), q)] == ["builder/HashCodeBuilder.java"]
    assert phrase_names(analyze_query("word " * 30)) == []


def test_a_named_constant_in_module_code_is_shown_at_its_line(tmp_path):
    # Constants, variables and object-like `#define`s have no chunks of their own: they sit
    # in module chunks of 80 lines. A chunk hit for a constant the query names is that
    # constant's line, not the first line of the 80 around it.
    header = "".join(f"#define GRBM_REG_{i} 0x{i:04x}\n" for i in range(120))
    header += "#define GRBM_STATUS_BUSY 0x1234\n"
    (tmp_path / "regs.h").write_text(header)
    (tmp_path / "regs.py").write_text(
        "".join(f"CP_REG_{i} = {i}\n" for i in range(120)) + "CP_IDLE = 7\n"
    )
    make_repo(tmp_path)
    ws = Workspace(tmp_path)
    config = load_config(ws.config_file)
    refresh_index(ws, config)
    searcher = Searcher(ws, config)
    for query, path, line, name in (
        ("GRBM_STATUS_BUSY", "regs.h", 121, "GRBM_STATUS_BUSY"),
        ("where is CP_IDLE set", "regs.py", 121, "CP_IDLE"),
    ):
        hit = searcher.search(query, k=3, level="chunk")[0]
        assert (hit.path, hit.start_line, hit.end_line, hit.symbol, hit.kind) == (
            path, line, line, name, "constant",
        )  # fmt: skip
        assert hit.text == (tmp_path / path).read_text().splitlines()[line - 1]
    # A module chunk the query names nothing in stays the chunk.
    hit = searcher.search("GRBM_REG", k=1, level="chunk")[0]
    assert (hit.symbol, hit.kind) == (None, "module") and hit.end_line > hit.start_line


def test_a_symbol_list_names_each_definition_once(tmp_path):
    # A class too long for one chunk has an outline chunk; at symbol level a hit on it
    # becomes the method the query names. When that method's own chunk was a hit too, the
    # list named the method twice (`codemem ask` without a model showed `Flask.url_for` at
    # first and seventh place) and held one definition fewer.
    methods = "".join(
        f"    def step_{i}(self, order):\n"
        f'        """Step {i} of checking out an order."""\n'
        + "".join(f"        order.total += {j}\n" for j in range(6))
        + "        return order\n\n"
        for i in range(12)
    )
    shop = (
        "class Checkout:\n"
        '    """Check out an order: apply discounts, then charge."""\n\n'
        "    def apply_discount(self, order, rate):\n"
        '        """Apply a discount rate to the order total."""\n'
        + "".join(f"        order.total -= order.total * rate / {j + 2}\n" for j in range(8))
        + "        return order\n\n"
        + methods
    )
    (tmp_path / "shop.py").write_text(shop)
    (tmp_path / "prices.py").write_text(
        "def apply_discount(total, rate):\n"
        '    """A discounted total."""\n'
        "    return total - total * rate\n"
    )
    make_repo(tmp_path)
    ws = Workspace(tmp_path)
    config = load_config(ws.config_file)
    refresh_index(ws, config)
    hits = Searcher(ws, config).search("what does apply_discount do", k=5, level="symbol")
    places = [(h.path, h.start_line, h.symbol) for h in hits]
    assert len(places) == len(set(places))
    assert ("shop.py", 4, "Checkout.apply_discount") in places
