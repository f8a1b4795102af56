"""Globs (`index.include`/`exclude`, `review.exclude`, rule scopes, permission rules,
`list_files`): the gitignore-style language, matched in time linear in the path."""

from __future__ import annotations

import subprocess
import sys

import pytest

from codemem.code import matches_any


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("*.min.js", "deep/a/b.min.js", True),  # a bare name matches at any depth
        ("*.min.js", "b.min.js", True),
        ("*.min.js", "deep/a/b.min.jsx", False),
        ("src/gen/**", "src/gen/x.py", True),
        ("src/gen/**", "src/gen", False),
        ("docs/", "docs/a.md", True),  # `dir/` is `dir/**`
        ("docs/**", "src/x.py", False),
        ("src/*.py", "src/a.py", True),
        ("src/*.py", "src/a/b.py", False),  # `*` stays within one name
        ("src/**/*.py", "src/a.py", True),  # `**/` spans no folder or several
        ("src/**/*.py", "src/a/b/c.py", True),
        ("src/**.py", "src/a/b.py", True),  # any other `**` spans `/` too
        ("src/?.py", "src/a.py", True),
        ("src/?.py", "src/ab.py", False),
        ("src/?", "src//", False),  # `?` is one character of a name
        ("[ab].py", "x/a.py", True),
        ("[!ab].py", "x/a.py", False),
        ("[a-c].py", "x/c.py", True),
        ("[].py", "x/[].py", True),  # a bracket that opens no set is itself
        ("a+b(c).py", "a+b(c).py", True),  # regex characters are themselves
        ("**/**/**/x", "x", True),
        ("**/**/**/x", "a/b/c/d/x", True),
    ],
)
def test_the_glob_language(pattern, path, expected):
    assert matches_any(path, [pattern]) is expected


def test_a_glob_that_would_backtrack_is_matched_in_linear_time():
    # Through a regular expression each of these took minutes to hours (12 `**/` on 24
    # folders: 79 s; each more doubles it). Run in a child process so a regression fails
    # the test at the time-out instead of hanging the suite.
    script = (
        "from codemem.code import matches_any\n"
        "deep = '/'.join(['d'] * 40) + '/m.js'\n"
        "assert not matches_any(deep, ['**/' * 20 + '*.py'])\n"
        "assert matches_any(deep, ['**/' * 20 + '*.js'])\n"
        "name = 'a' * 250 + 'c.js'\n"
        "assert not matches_any('x/' + name, ['*a' * 12 + '*b*.js'])\n"
        "assert not matches_any('/'.join([name] * 16), ['**' + '*a**' * 10 + 'b**.js'])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
