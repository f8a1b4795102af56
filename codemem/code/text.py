"""Code-aware tokenization shared by indexing and querying.

Identifiers are kept whole and split into sub-words, so `getUserName`, `get_user_name` and
"user name" all meet: `getusername get user name`. Everything is lower-cased here, and the
full-text index tokenizes on whitespace only, so index and query always agree.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|[0-9]+[A-Za-z_][A-Za-z0-9_]*")
# The same identifiers plus bare numbers (which have no tokens): a simpler, faster pattern.
_WORD_RE = re.compile(r"[A-Za-z0-9_]+")
# Sub-word boundaries: lower→Upper, Upper→Upper+lower (HTTPServer → HTTP Server), digits.
_CAMEL_RE = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
# `_CAMEL_RE`'s sub-words of a word with no case change in it, once lower-cased.
_RUNS_RE = re.compile(r"[a-z]+|[0-9]+")
MIN_TOKEN = 2
MAX_TOKEN = 40


def split_identifier(word: str) -> list[str]:
    """Sub-words of one identifier, lower-cased: `parseHTTPResponse_v2` → parse http response v2."""
    # No sub-word holds `_` or reaches past one (nor does the pattern's look-ahead): the
    # word's matches are those of its pieces between underscores.
    return [part.lower() for part in _CAMEL_RE.findall(word)]


STEM_SUFFIXES = ("ing", "ers", "er", "ed", "es", "s")
STEM_SUBWORDS = True  # a file name is looked up by its sub-words too, not only whole


def light_stem(word: str) -> str:
    """`checks`/`checker` → `check`, `loads`/`loader` → `load`, `floating` → `float`,
    `dependencies` → `dependency`."""
    if word.endswith("ies") and len(word) > 5:
        return word[:-3] + "y"
    for suffix in STEM_SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def file_name_words(name: str) -> tuple[set[str], int]:
    """The light-stemmed words a file name is found by, and how many words the name has:
    `HashCodeBuilder.java` → {hashcodebuild, hash, code, build}, 3. Computed at index time
    (the manifest stores them) and looked up by a query's words."""
    stem = name.split(".", 1)[0]
    parts = [p for p in split_identifier(stem) if len(p) >= 3] if STEM_SUBWORDS else []
    keys = {light_stem(stem.lower())} | {light_stem(p) for p in parts}
    return {k for k in keys if len(k) >= 3}, max(1, len(parts))


_TOKENS: dict[str, tuple[str, ...]] = {}  # identifiers repeat a lot: split each once
# Bounded so a worker indexing a huge repository does not grow: cleared when full (the words
# of the files at hand come back at once).
_TOKENS_MAX = 200_000


def identifier_tokens(word: str) -> tuple[str, ...]:
    """The whole identifier (lower-cased) followed by its sub-words when it has several."""
    cached = _TOKENS.get(word)
    if cached is not None:
        return cached
    result = _split_tokens(word)
    if len(_TOKENS) >= _TOKENS_MAX:
        _TOKENS.clear()
    _TOKENS[word] = result
    return result


def _split_tokens(word: str) -> tuple[str, ...]:
    """`identifier_tokens`, uncached: the one place for a mixed-case word's rules.

    `_JoinedTokens.__missing__` restates the one-case rules on bytes for `token_text` (the
    indexer's hot path), where a new one-case word costs about 40 % less than decoding it and
    coming here; the two differ only for a bare number, which `tokenize` never meets.
    `test_token_text_is_tokenize_joined_for_every_kind_of_word` holds the two together.
    """
    if word.isalpha() and (word.islower() or word.isupper()):  # one sub-word: itself
        return (word.lower(),) if MIN_TOKEN <= len(word) <= MAX_TOKEN else ()
    lower = word.lower()
    whole = lower.strip("_")
    out: list[str] = [whole] if MIN_TOKEN <= len(whole) <= MAX_TOKEN else []
    if whole:
        # In one case (`snake_case`, `SCREAMING_CASE`, `i2c_dev`, `0x1f`) the sub-words are
        # the runs of letters and of digits: a simpler pattern than `split_identifier`'s.
        one_case = lower == word or word.isupper()
        parts = _RUNS_RE.findall(whole) if one_case else split_identifier(word)
        if len(parts) > 1:
            out.extend(p for p in parts if len(p) >= MIN_TOKEN and p != whole)
    return tuple(out)


def tokenize(text: str) -> list[str]:
    """All search tokens of a text, in order, duplicates kept (term frequency matters)."""
    out: list[str] = []
    extend, cache = out.extend, _TOKENS
    for word in IDENT_RE.findall(text):
        tokens = cache.get(word)
        extend(tokens if tokens is not None else identifier_tokens(word))
    return out


class _JoinedTokens(dict[bytes, str]):
    """word (ASCII bytes) -> its tokens joined by spaces ("" for none, and for a number),
    filled on use."""

    def __missing__(self, word: bytes) -> str:
        # Most new words are in one case (`snake_case`, `SCREAMING_CASE`, `i2c_dev`): their
        # `_split_tokens` is worked out here on the bytes, in few steps (a new word costs as
        # much as a few dozen known ones); a mixed-case word goes there.
        lower = word.lower()
        if lower == word or word.isupper():
            whole = lower.strip(b"_")
            if whole.isalpha():  # one sub-word: the word itself
                joined = whole.decode("ascii") if MIN_TOKEN <= len(whole) <= MAX_TOKEN else ""
            elif _SNAKE.fullmatch(whole) and len(whole) <= MAX_TOKEN:  # all sub-words kept
                joined = (whole + b" " + whole.replace(b"_", b" ")).decode("ascii")
            elif word.isdigit():
                joined = ""
            else:
                joined = _one_case_tokens(whole)
        else:  # mixed case
            joined = " ".join(_split_tokens(word.decode("ascii")))
        if len(self) >= _TOKENS_MAX:
            self.clear()
        self[word] = joined
        return joined


def _one_case_tokens(whole: bytes) -> str:
    """`_split_tokens` joined, for a word in one case, lower-cased and stripped of `_`: the
    word, then its runs of letters and of digits if it has several.

    Its characters are letters, digits and `_`, and all letters is `__missing__`'s case: it
    has one run only when all digits. Several runs are each shorter than the word, and those
    `MIN_TOKEN` long are what `_LONG_RUNS` finds (runs end where the pattern's matches do).
    """
    parts = [whole] if MIN_TOKEN <= len(whole) <= MAX_TOKEN else []
    if not whole.isdigit():
        parts += _LONG_RUNS.findall(whole)
    return b" ".join(parts).decode("ascii")


# A lower-case `snake_case` word whose every part is a sub-word (two letters or more).
_SNAKE = re.compile(rb"[a-z]{2,}(?:_[a-z]{2,})+")
# `_RUNS_RE`'s runs of a lower-case word that are `MIN_TOKEN` long or longer.
_LONG_RUNS = re.compile(rb"[a-z]{%d,}|[0-9]{%d,}" % (MIN_TOKEN, MIN_TOKEN))
_JOINED = _JoinedTokens()
# Every byte but `_WORD_RE`'s characters becomes a space; UTF-8 encodes any other character
# in bytes above 127, so the words of the translated bytes are `_WORD_RE`'s words.
_SEPARATORS = bytes(
    c if c < 128 and (chr(c).isalnum() or c == ord("_")) else 32 for c in range(256)
)


def token_text(text: str) -> str:
    """`" ".join(tokenize(text))`, without a Python step per word (the indexer's hot path)."""
    words = text.encode("utf-8", "surrogatepass").translate(_SEPARATORS).split()
    return " ".join(filter(None, map(_JOINED.__getitem__, words)))


def path_tokens(path: str) -> list[str]:
    """Tokens of a repository path: each directory, the file name, its stem and extension."""
    out: list[str] = []
    for part in path.split("/"):
        out.extend(tokenize(part))
    return out


def search_text(path: str, symbol: str | None, body: str, *, boost: int = 2) -> str:
    """The text the full-text index sees for one chunk.

    Path and symbol tokens are repeated `boost` times: a cheap, effective field weight
    (a query word that names the file or the definition outranks one in a comment).
    """
    return search_text_of(token_text(path), symbol, token_text(body), boost=boost)


def search_text_of(path_text: str, symbol: str | None, body_text: str, *, boost: int = 2) -> str:
    """`search_text` from the path's and the body's `token_text`."""
    return search_texts(path_text, [symbol], [body_text], boost=boost)[0]


def search_texts(
    path_text: str, symbols: Iterable[str | None], bodies: Iterable[str], *, boost: int = 2
) -> list[str]:
    """`search_text_of` for the chunks of one file, by their symbols and bodies' `token_text`
    (a symbol's part, repeated by most of its chunks, is made once)."""
    heads: dict[str | None, str] = {}  # symbol -> the search text's start, `boost` times
    texts: list[str] = []
    add = texts.append
    for symbol, body in zip(symbols, bodies, strict=True):
        head = heads.get(symbol)
        if head is None:
            one = " ".join(filter(None, (path_text, token_text(symbol)))) if symbol else path_text
            head = heads[symbol] = " ".join(filter(None, [one] * boost))
        add(f"{head} {body}" if head and body else head or body)
    return texts
