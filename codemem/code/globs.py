"""Gitignore-style globs, matched in time linear in the path whatever the pattern.

Globs come from people and from repositories: `index.include`/`exclude` and `review.exclude`
in a committed config, the `in:`/`except:` of a rule in `conventions.md`, a permission rule,
the pattern a model gives `list_files`. Translated to a regular expression, a glob such as
`**/**/**/**/**/**/**/**/**/**/**/**/x` backtracks for minutes on a path 25 folders deep, and
`*a*a*a*a*a*a*a*a*b` for hours on one long name: a clone could stall every commit's hook. So a
glob is run as a small automaton over the path's characters (each set of states it can be in
is one state of a lazily built deterministic automaton, kept per pattern), never backtracking.

The language, unchanged from the regex it replaces: a pattern without `/` matches at any
depth (`**/` is put before it); `**/` matches any number of whole folders (none included);
any other `**` any text, `/` included; `*` any text within one name; `?` one character of a
name; `[abc]`, `[a-z]`, `[!abc]` one character of (or not of) a set; anything else itself.
The whole path must match.
"""

from __future__ import annotations

import re
from functools import lru_cache

# Token kinds: a literal character, `?`, a `[...]` set, `*`, `**`, `**/`.
_CHAR, _ONE, _SET, _NAME_RUN, _ANY_RUN, _FOLDERS = range(6)
_MAX_STATES = 4096  # cached transitions per pattern before the cache starts afresh


def matches_any(path: str, patterns: list[str]) -> bool:
    """Whether a repository path matches one of the glob patterns (`dir/` means `dir/**`)."""
    return any(
        _glob(p.rstrip("/") + ("/**" if p.endswith("/") else "")).match(path) for p in patterns
    )


@lru_cache(maxsize=256)
def _glob(pattern: str) -> Glob:
    return Glob(pattern)


class Glob:
    """One compiled pattern: `match(path)` in one pass over the path."""

    def __init__(self, pattern: str) -> None:
        if "/" not in pattern:
            pattern = "**/" + pattern  # a bare name matches anywhere, as in .gitignore
        self.tokens = _tokens(pattern)
        # NFA states: 2*i is "before token i", 2*i+1 "inside the folders of `**/` token i";
        # 2*len(tokens) accepts.
        self.accept = 2 * len(self.tokens)
        self.start = self._closure({0})
        self._moves: dict[frozenset[int], dict[str, frozenset[int]]] = {}
        # What every match starts and ends with (checked first: most paths fail there), and
        # the state from which the rest always matches (before a final `**`), if any.
        kinds = [kind for kind, _ in self.tokens]
        lead = next((n for n, kind in enumerate(kinds) if kind != _CHAR), len(kinds))
        tail = next((n for n, kind in enumerate(reversed(kinds)) if kind != _CHAR), len(kinds))
        self.prefix = "".join(str(arg) for _, arg in self.tokens[:lead])
        self.suffix = "".join(str(arg) for _, arg in self.tokens[len(kinds) - tail :])
        self.rest_matches = self.accept - 2 if kinds[-1:] == [_ANY_RUN] else -1

    def match(self, path: str) -> bool:
        if not (path.startswith(self.prefix) and path.endswith(self.suffix)):
            return False
        states = self.start
        moves = self._moves
        done = self.rest_matches
        for char in path:
            if done in states:
                return True
            table = moves.get(states)
            if table is None:
                if len(moves) >= _MAX_STATES:
                    moves.clear()
                table = moves[states] = {}
            after = table.get(char)
            if after is None:
                after = table[char] = self._step(states, char)
            if not after:
                return False
            states = after
        return self.accept in states

    def _step(self, states: frozenset[int], char: str) -> frozenset[int]:
        reached: set[int] = set()
        for state in states:
            token, inside = divmod(state, 2)
            if token == len(self.tokens):
                continue
            kind, arg = self.tokens[token]
            if inside:  # the folders of `**/`: any text, ended by a `/`
                reached.add(state)
                if char == "/":
                    reached.add(2 * token + 2)
            elif kind == _CHAR:
                if char == arg:
                    reached.add(state + 2)
            elif kind == _ONE:
                if char != "/":
                    reached.add(state + 2)
            elif kind == _SET:
                assert isinstance(arg, re.Pattern)
                if arg.fullmatch(char):
                    reached.add(state + 2)
            elif kind == _NAME_RUN:
                if char != "/":
                    reached.add(state)
            elif kind == _ANY_RUN:
                reached.add(state)
        return self._closure(reached)

    def _closure(self, states: set[int]) -> frozenset[int]:
        """`states` and every state reached from them by matching nothing."""
        todo = list(states)
        while todo:
            state = todo.pop()
            token, inside = divmod(state, 2)
            if inside or token == len(self.tokens):
                continue
            kind = self.tokens[token][0]
            if kind in (_NAME_RUN, _ANY_RUN, _FOLDERS):
                for after in (state + 2, state + 1) if kind == _FOLDERS else (state + 2,):
                    if after not in states:
                        states.add(after)
                        todo.append(after)
        return frozenset(states)


def _tokens(pattern: str) -> list[tuple[int, str | re.Pattern[str] | None]]:
    tokens: list[tuple[int, str | re.Pattern[str] | None]] = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            if not tokens or tokens[-1][0] != _FOLDERS:  # `**/**/` is `**/`
                tokens.append((_FOLDERS, None))
            i += 3
        elif pattern.startswith("**", i):
            tokens.append((_ANY_RUN, None))
            i += 2
        elif pattern[i] == "*":
            if not tokens or tokens[-1][0] != _NAME_RUN:  # `*` after `*` adds nothing
                tokens.append((_NAME_RUN, None))
            i += 1
        elif pattern[i] == "?":
            tokens.append((_ONE, None))
            i += 1
        elif pattern[i] == "[" and "]" in pattern[i + 1 :]:
            end = pattern.index("]", i + 1)
            body = pattern[i + 1 : end].replace("\\", "\\\\")
            try:
                one = re.compile("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
            except re.error:  # `[]` and the like: the bracket is itself
                tokens.append((_CHAR, "["))
                i += 1
                continue
            tokens.append((_SET, one))
            i = end + 1
        else:
            tokens.append((_CHAR, pattern[i]))
            i += 1
    return tokens
