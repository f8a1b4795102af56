"""Query analysis: what a search query (often a whole issue report) is pointing at.

Pulls out code identifiers, dotted names, file paths, traceback frames and quoted error
messages, and turns the rest into weighted full-text terms.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from codemem.code.text import identifier_tokens, tokenize

# Common English words that carry no signal in a code search (kept short on purpose:
# BM25's IDF handles the rest, and words like "error" or "type" matter in code).
STOP_WORDS = frozenset(
    """a an and are as at be been being but by can could did do does doing done for from
    had has have having he her here hers him his how i if in into is it its itself just let
    me my no nor not of on once only or our out over own same she should so some such than
    that the their them then there these they this those through to too under until up very
    was we were what when where which while who whom why will with would you your yours also
    get got getting like want wanted seems seem using use used way would should could please
    thanks thank hi hello issue bug expected actual behaviour behavior describe description
    reproduce steps version versions example following still however currently""".split()
)

PATH_RE = re.compile(
    r"(?<![\w/.-])((?:[\w.-]+/)*[\w.-]+\.(?:py|pyi|js|jsx|mjs|cjs|ts|tsx|go|rs|java|kt|c|h|cc|cpp|cxx|hpp|hh|cs|rb|php|md|rst|yml|yaml|toml|json|cfg|ini|txt|sh))(?::(\d+))?\b"
)
# A link to a file of a repository host: `.../blob/<ref>/<path>#L214`.
SOURCE_URL_RE = re.compile(
    r"https?://\S+?/(?:blob|tree|raw|src)/[^/\s]+/([^\s#?)\]>\"']+)(?:#L(\d+))?"
)
PY_FRAME_RE = re.compile(r'File "([^"]+)", line (\d+)(?:, in ([\w<>.]+))?')
JS_FRAME_RE = re.compile(r"at (?:([\w$.<>]+) \()?([^\s()]+?):(\d+)(?::\d+)?\)?")
JAVA_FRAME_RE = re.compile(r"at ([\w$.]+)\.([\w$<>]+)\(([\w$]+\.(?:java|kt|scala)):(\d+)\)")
DOTTED_RE = re.compile(r"\b[A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)+\b")
BACKTICK_RE = re.compile(r"`([^`\n]{1,200})`")
QUOTED_RE = re.compile(r"\"([^\"\n]{8,200})\"|'([^'\n]{8,200})'")
ERROR_LINE_RE = re.compile(
    r"^\s*(?:[\w.]+(?:Error|Exception|Warning)|error|panic|fatal)\b[: ].{0,200}$", re.M
)
# An error as a program prints it: `pkg.SomeError: ...`, `error: ...`, `panic: ...`.
PRINTED_ERROR_RE = re.compile(
    r"^\s*(?:[\w.]+(?:Error|Exception)|error|panic|fatal)(?:\[\w+\])?:\s.{0,300}$", re.M
)
QUOTED_NAME_RE = re.compile(r"['`\"]([A-Za-z_][A-Za-z0-9_]*)['`\"]")
ERROR_PREFIX_RE = re.compile(
    r"^\s*(?:[\w.]+(?:Error|Exception|Warning)|error|panic|fatal)(?:\[\w+\])?\s*:?\s*"
)
TRACE_HEAD_RE = re.compile(r"\s*Traceback \(most recent call last\)")
MIN_MESSAGE = 12  # shorter error text ("error: 1") says too little to look up
# Whether traceback and error lines count as full-text terms like the rest of the text.
TRACE_LINES_AS_PROSE = False
IDENT_RE = re.compile(r"\b[A-Za-z_][A-Za-z0-9_]*\b")
TEST_WORDS = frozenset(
    {"test", "tests", "testing", "pytest", "unittest", "spec", "fixture", "fixtures"}
)
DOC_WORDS = frozenset({"documentation", "docs", "changelog", "tutorial", "manpage", "readme"})
EXAMPLE_WORDS = frozenset({"example", "examples", "demo", "demos", "sample", "samples"})
# A word only says what kind of file is wanted when the query is short or keeps coming back to it:
# an issue that mentions "a test" in passing still asks for the code.
FOCUS_MAX_WORDS = 12
FOCUS_SHARE = 0.1
# A query this long reports a problem (an issue's text) rather than asks where something is;
# the change it calls for often spans files. semble's questions run to 14 words at most.
REPORT_MIN_WORDS = 25
# Words that ask where or what a name is rather than naming anything: in "where is Router
# defined" or "what is g" the one word left is the name, however it is spelled.
LOOKUP_WORDS = frozenset(
    """defined define defines definition declared declaration implemented implementation
    class function method struct variable constant type module find show explain mean means
    meaning called""".split()
)
LOOKUP_MAX_WORDS = 8


@dataclass
class Frame:
    """One traceback frame: where the failing code is.

    `depth` counts from the innermost frame (0), whatever order the trace was printed in;
    `weight` is set by `stages.weigh_frames` once the indexed paths are known.
    """

    path: str
    line: int
    function: str | None = None
    depth: int = 0
    weight: float = 1.0


@dataclass
class AnalyzedQuery:
    text: str
    terms: Counter[str] = field(default_factory=Counter)  # full-text terms with weights
    identifiers: list[str] = field(default_factory=list)  # code-looking names, original case
    dotted: list[str] = field(default_factory=list)
    paths: list[tuple[str, int | None]] = field(default_factory=list)
    frames: list[Frame] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    words: set[str] = field(default_factory=set)  # every raw word, lower-cased
    names: list[str] = field(
        default_factory=list
    )  # capitalised words that may name a type (`Router`)
    exact: set[str] = field(
        default_factory=set
    )  # names given as code: backticked, or the whole query
    errors: list[str] = field(default_factory=list)  # error-message text, prefix removed
    mentions_tests: bool = False
    asks_for_tests: bool = False  # the query is about tests, not merely mentioning one
    asks_for_docs: bool = False
    asks_for_examples: bool = False
    is_report: bool = False  # long enough to be an issue report (`REPORT_MIN_WORDS`)

    def fts_query(self, limit: int = 96) -> str:
        """The strongest terms, most weighted first, as a whitespace query."""
        return " ".join(term for term, _ in self.terms.most_common(limit))


def looks_like_code(word: str) -> bool:
    """An identifier a person would not write in prose: snake_case, camelCase, CONSTANT."""
    if "_" in word.strip("_") or word.startswith("__"):
        return True
    if any(c.isupper() for c in word[1:]) and any(c.islower() for c in word):
        return True
    return (
        len(word) > 2
        and word.isupper()
        and any(c.isalpha() for c in word)
        and any(c.isdigit() for c in word)
    )


def analyze_query(text: str, *, enabled: bool = True) -> AnalyzedQuery:
    """Analyze a query; with `enabled=False` it is only tokenized (for ablations)."""
    q = AnalyzedQuery(text=text)
    q.words = {w.lower() for w in IDENT_RE.findall(text)}
    q.is_report = len(text.split()) >= REPORT_MIN_WORDS
    if not enabled:
        q.terms = Counter(tokenize(text))
        return q

    # Python prints the innermost frame last; Java and JavaScript print it first.
    py_frames = [Frame(m.group(1), int(m.group(2)), m.group(3)) for m in PY_FRAME_RE.finditer(text)]
    for depth, frame in enumerate(reversed(py_frames)):
        frame.depth = depth
    stacked: list[Frame] = []
    for match in JAVA_FRAME_RE.finditer(text):
        stacked.append(Frame(match.group(3), int(match.group(4)), match.group(2)))
        q.dotted.append(f"{match.group(1)}.{match.group(2)}")
    for match in JS_FRAME_RE.finditer(text):
        if "/" in match.group(2) or "." in match.group(2):
            stacked.append(Frame(match.group(2), int(match.group(3)), match.group(1)))
    for depth, frame in enumerate(stacked):
        frame.depth = depth
    q.frames = py_frames + stacked
    seen_paths: set[str] = set()
    for match in PATH_RE.finditer(text):
        path = match.group(1)
        if path not in seen_paths and not path.startswith("."):
            seen_paths.add(path)
            q.paths.append((path, int(match.group(2)) if match.group(2) else None))
    for match in SOURCE_URL_RE.finditer(text):
        path = match.group(1).rstrip(".,;:")
        if path not in seen_paths and PATH_RE.fullmatch(path.rsplit("/", 1)[-1]):
            seen_paths.add(path)
            q.paths.append((path, int(match.group(2)) if match.group(2) else None))
    lineless = {path: n for n, (path, line) in enumerate(q.paths) if line is None}
    for frame in q.frames:
        if frame.path in lineless:  # `File "src/mod.py"` matched as a path first: its line
            q.paths[lineless.pop(frame.path)] = (frame.path, frame.line)
        elif frame.path not in seen_paths:
            seen_paths.add(frame.path)
            q.paths.append((frame.path, frame.line))

    code_spans = BACKTICK_RE.findall(text)
    for match in DOTTED_RE.finditer(text.replace("::", ".")):
        name = match.group(0)
        if not PATH_RE.fullmatch(name) and name not in q.dotted:
            q.dotted.append(name)
    for span in code_spans:
        for name in DOTTED_RE.findall(span):
            if name not in q.dotted:
                q.dotted.append(name)
    for m in QUOTED_RE.finditer(text):
        q.messages.append(m.group(1) or m.group(2))
    q.messages += [m.group(0).strip() for m in ERROR_LINE_RE.finditer(text)]
    printed = [m.group(0).strip() for m in PRINTED_ERROR_RE.finditer(text)]
    q.errors = [body for line in printed if (body := error_message(line))]

    in_code = {w for span in code_spans for w in IDENT_RE.findall(span)}
    in_code |= {f.function for f in q.frames if f.function}
    # `'Name' object has no attribute 'getitem'`: a quoted word of an error names code.
    in_code |= {w for line in printed for w in QUOTED_NAME_RE.findall(line)}
    words = IDENT_RE.findall(text)
    if len(words) == 1:  # a bare name is a name, however it is spelled (`g`, `Router`)
        in_code.add(words[0])
    elif len(words) <= LOOKUP_MAX_WORDS and not q.paths:
        named = {w for w in words if w.lower() not in STOP_WORDS | LOOKUP_WORDS}
        if len(named) == 1:  # "what is g", "where is Router defined"
            in_code |= named
    q.exact = set(in_code)
    seen: set[str] = set()
    for word in IDENT_RE.findall(text):
        if word in seen:
            continue
        seen.add(word)
        if word in in_code or looks_like_code(word):
            q.identifiers.append(word)
    for name in q.dotted:
        for part in name.split("."):
            if part not in seen and (looks_like_code(part) or part[:1].isupper()):
                seen.add(part)
                q.identifiers.append(part)
    q.names = [
        w
        for w in dict.fromkeys(words)
        if w not in q.identifiers and w[:1].isupper() and len(w) > 2 and w.lower() not in STOP_WORDS
    ]

    terms: Counter[str] = Counter()
    for token in tokenize(text if TRACE_LINES_AS_PROSE else prose_text(text)):
        if token not in STOP_WORDS and not token.isdigit():
            terms[token] += 1
    # Code names are the strongest evidence: weigh them above prose words.
    for ident in q.identifiers:
        for n, token in enumerate(identifier_tokens(ident)):
            terms[token] += 3 if n == 0 else 1
    for path, _ in q.paths:
        for token in tokenize(path.rsplit("/", 1)[-1]):
            terms[token] += 2
    q.terms = terms
    q.mentions_tests = bool(q.words & TEST_WORDS)
    q.asks_for_tests = _focuses_on(text, TEST_WORDS)
    q.asks_for_docs = _focuses_on(text, DOC_WORDS)
    q.asks_for_examples = _focuses_on(text, EXAMPLE_WORDS, STOP_WORDS - EXAMPLE_WORDS)
    return q


def error_message(line: str) -> str:
    """The message of an error line, without its `pkg.SomeError:` or `error:` prefix."""
    body = ERROR_PREFIX_RE.sub("", line, count=1).strip()
    return body if len(body) >= MIN_MESSAGE else ""


def prose_text(text: str) -> str:
    """The text without its traceback frames, their source lines and error lines.

    Those lines name every file of the call chain and repeat the error's words; as full-text
    terms they outvote the prose that says what is wrong. Frames and errors are used by
    their own stages instead (paths, symbols, messages).
    """
    kept: list[str] = []
    skip_next = False
    for line in text.splitlines():
        if skip_next:  # the source line Python prints under a frame
            skip_next = False
            if line.startswith("    ") and not PY_FRAME_RE.search(line):
                continue
        if PY_FRAME_RE.search(line):
            skip_next = True
            continue
        if JAVA_FRAME_RE.search(line) or PRINTED_ERROR_RE.match(line) or TRACE_HEAD_RE.match(line):
            continue
        kept.append(line)
    return "\n".join(kept)


def _focuses_on(text: str, words: frozenset[str], stop_words: frozenset[str] = STOP_WORDS) -> bool:
    """True when `words` occur and the query is short or keeps using them."""
    content = [w for w in (w.lower() for w in IDENT_RE.findall(text)) if w not in stop_words]
    hits = sum(w in words for w in content)
    return hits > 0 and (len(content) <= FOCUS_MAX_WORDS or hits / len(content) >= FOCUS_SHARE)
