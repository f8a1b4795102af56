"""Code tools over the real index and git: search_code, repo_map, git_diff, git_log."""

from __future__ import annotations

from tests.helpers import git, index_held_elsewhere


def call(tools, name, **arguments):
    result = tools.call(name, arguments)
    return result.content, result.is_error


def test_search_and_map_build_the_index_and_follow_edits(ws, tools, ctx):
    text, error = call(tools, "search_code", query="refresh access token", k=1)
    assert not error
    head = (
        "1. shop/auth/tokens.py:15-19 function refresh_access_token (score "
        + text.split("(score ")[1].split(")")[0]
        + ")\n"
    )
    assert text == (
        head + "  15\tdef refresh_access_token(token: dict, ttl_seconds: int = 3600) -> dict:\n"
        '  16\t    """Extend an access token that has not expired yet."""\n'
        '  17\t    if token["expires"] < time.time():\n'
        "    \t[2 more matching lines]\n\n"
        "[matching lines only: read_file(path, start_line, end_line) or detail=true shows the "
        "code; k=2 finds more]"
    )
    text, error = call(tools, "search_code", query="refresh access token", k=1, detail=True)
    assert not error
    assert text == (
        head + "  15\tdef refresh_access_token(token: dict, ttl_seconds: int = 3600) -> dict:\n"
        '  16\t    """Extend an access token that has not expired yet."""\n'
        '  17\t    if token["expires"] < time.time():\n'
        '  18\t        raise TokenExpiredError("token expired; log in again")\n'
        '  19\t    return issue_token(token["user"], ttl_seconds)'
    )
    text, _ = call(tools, "search_code", query="cart total", k=2, level="file")
    assert [line.split(":")[0] for line in text.splitlines()] == [
        "1. shop/cart.py",
        "2. web/static/cart.js",
    ]

    text, error = call(tools, "repo_map", focus="shop/auth/tokens.py", tokens=120)
    assert not error
    assert text.splitlines()[0] == "shop/auth/tokens.py:"
    assert (
        "  15│ def refresh_access_token(token: dict, ttl_seconds: int = 3600) -> dict:"
        in text.splitlines()
    )

    # An edit makes the index stale; the next search sees the new code.
    call(
        tools,
        "edit_file",
        path="shop/auth/tokens.py",
        old_string="def refresh_access_token(",
        new_string="def renew_access_token(",
    )
    assert ctx.index_stale
    text, _ = call(tools, "search_code", query="renew_access_token", k=1, level="symbol")
    assert text.startswith("1. shop/auth/tokens.py:15-19 function renew_access_token ")
    assert not ctx.index_stale


def test_search_and_map_argument_errors(tools):
    assert call(tools, "search_code", query="  ") == (
        "search_code: the query is empty: say what to look for",
        True,
    )
    assert call(tools, "search_code", query="x", level="line")[1] is True
    assert call(tools, "repo_map", tokens=10) == (
        "repo_map: tokens must be between 64 and 8192, not 10",
        True,
    )


def test_git_diff_and_log(ws, tools):
    assert call(tools, "git_diff") == ("No uncommitted changes.", False)
    (ws.root / "README.md").write_text("# Shop\n\nChanged.\n")
    (ws.root / "new.txt").write_text("new\n")
    text, _ = call(tools, "git_diff")
    assert text.startswith("diff --git a/README.md b/README.md\n")
    assert "+Changed.\n" in text
    assert text.endswith("New files not yet tracked by git:\n  new.txt\n")
    git(ws.root, "add", "-A")
    git(ws.root, "commit", "-q", "-m", "Change the readme")
    text, _ = call(tools, "git_log", n=5)
    assert [line.split(": ", 1)[1] for line in text.splitlines()] == [
        "Change the readme",
        "codemem init",
        "initial",
    ]
    text, _ = call(tools, "git_diff", rev="HEAD~1")
    assert "+Changed.\n" in text and "+new\n" in text
    assert call(tools, "git_diff", rev="--output=/tmp/x") == (
        "git_diff: invalid revision '--output=/tmp/x': give a commit, branch or range like HEAD~1",
        True,
    )
    assert call(tools, "git_diff", rev="no-such-rev")[0].startswith("git_diff: git diff failed: ")


def test_compact_results_keep_the_best_spans_of_the_best_files():
    from codemem.agent.tools.code_tools import diverse
    from codemem.code import Hit

    def hit(path, line):
        return Hit(path, 1.0 / line, line, line, None, None, None)

    ranked = [hit("a.py", 1), hit("a.py", 2), hit("a.py", 3), hit("b.py", 4), hit("a.py", 5)]
    assert diverse(ranked, 3) == [ranked[0], ranked[1], ranked[3]]
    assert diverse(ranked, 4) == [ranked[0], ranked[1], ranked[2], ranked[3]]  # topped up


def test_a_search_while_another_process_holds_the_index_answers_from_it_and_says_so(
    ws, tools, ctx, monkeypatch
):
    """`codemem index --full` elsewhere holds the index for minutes: a code tool waits
    `INDEX_WAIT`, not the indexer's two minutes, answers from the index as last built with a
    note naming the holder, and refreshes at the next call once the lock is free."""
    from codemem.agent.tools import toolbox
    from codemem.code import indexer

    call(tools, "search_code", query="refresh access token", k=1)  # builds the index
    monkeypatch.setattr(toolbox, "INDEX_WAIT", 0.3, raising=False)
    monkeypatch.setattr(indexer, "LOCK_TIMEOUT", 3.0)  # the old code gives up here, failing
    tokens = ws.root / "shop/auth/tokens.py"
    tokens.write_text(tokens.read_text().replace("def refresh_access_token(", "def renew_token("))
    ctx.file_changed("shop/auth/tokens.py")
    with index_held_elsewhere(ws.local_dir / indexer.LOCK_NAME):
        for name, arguments in [
            ("search_code", {"query": "refresh access token", "k": 1}),
            ("repo_map", {"focus": "shop/auth/tokens.py", "tokens": 120}),
        ]:
            text, error = call(tools, name, **arguments)
            assert not error, text
            assert text.startswith(
                "1. shop/auth/tokens.py:15-19" if name == "search_code" else "shop/"
            )
            note = text.rsplit("\n\n", 1)[1]
            assert note.startswith(f"[not refreshed: {ws.local_dir / indexer.LOCK_NAME} is held by")
            assert note.endswith(
                "these answers come from the index as last built, and may miss recent edits]"
            )
            assert ctx.index_stale
    text, error = call(tools, "search_code", query="renew_token", k=1, level="symbol")
    assert not error and "not refreshed" not in text
    assert text.startswith("1. shop/auth/tokens.py:15-19 function renew_token ")
    assert not ctx.index_stale
