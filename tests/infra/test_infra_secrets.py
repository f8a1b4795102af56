"""The one secret detector: where a secret is, and which rule found it.

Every secret here is assembled at run time, so this file holds none of them.
"""

from __future__ import annotations

import random
import re
import sys

from codemem.infra import find_secrets
from codemem.infra import secret_windows as windows_module
from codemem.infra import secrets as secrets_module

AWS_KEY = "AKIA" + "Q7XZ2KJH4MPL9WRT"


def test_find_secrets_gives_the_span_of_the_value():
    text = f'x = 1\nKEY = "{AWS_KEY}"\n'
    [found] = list(find_secrets(text))
    assert (found.rule, found.kind, text[found.start : found.end]) == (
        "secrets/aws-access-key",
        "aws-access-key",
        AWS_KEY,
    )


def test_every_operator_and_anchor_is_still_searched():
    github = "gh" + "s_" + "Ab3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dF3hJ5"
    quoted = "aB3dE5" + "fG7hJ9kL1mN3pQ"
    text = (
        f"x = 1\napi_token := '{quoted}'\nPASSWORD => hunter2xyz\nsk-ant is no key; ci: {github}\n"
    )
    found = [(s.rule, s.value) for s in find_secrets(text, bare=True)]
    assert found == [
        ("secrets/github-token", github),
        ("secrets/assigned-secret", quoted),
        ("secrets/assigned-secret", "hunter2xyz"),
    ]


def test_windows_around_a_span_are_the_windows_of_the_whole_text_reaching_into_it():
    """Anchors about a window's reach apart, and spans about a window's reach from an anchor:
    the windows reaching into the span are the same, found near it or in the whole text."""
    rng = random.Random(5)
    anchors = ("token", "api", "acca")
    words = ("token", "api", "accacca", "apitoken")
    for _ in range(400):
        pieces = []
        for _ in range(rng.randrange(0, 12)):
            pieces.append("x" * rng.choice([0, 1, 250, 256, 1023, rng.randrange(1270, 1290), 3000]))
            pieces.append(rng.choice(words))
        lowered = "".join(pieces) + "x" * rng.choice([0, 300, 2000])
        if rng.random() < 0.1:  # a chain too long to follow: the whole text is searched
            lowered = ("x" * 500 + "token") * 100
        full = windows_module.windows(lowered, anchors, {})
        starts = [
            at
            for anchor in anchors
            for at in windows_module._all_in(lowered, anchor, 0, len(lowered))
        ]
        for _ in range(20):
            width, shift = rng.choice([1, 40, 2000]), rng.randrange(-2, 3)
            if starts and rng.random() < 0.7:  # just within or beyond an anchor's window
                at = rng.choice(starts)
                edge = rng.choice([at + 1024 + shift, at - 256 - width + shift])
            else:
                edge = rng.randrange(0, len(lowered) + 1)
            around = (max(0, edge), max(0, edge) + width)
            near = [(a, b) for a, b in full if a < around[1] and around[0] < b]
            assert windows_module.windows(lowered, anchors, {}, around) == near, (lowered, around)


def test_one_pass_finds_every_anchor_where_a_find_for_each_finds_it(monkeypatch):
    """Every rule's anchors, repeated, overlapping, in any case, at the start and the end of a
    text long enough for the one pass: each anchor is where its own `find`s have it."""
    monkeypatch.setattr(windows_module, "_IMPORT_PAYS", 0)  # numpy may not be loaded yet
    anchors = sorted({a for rule in windows_module.ANCHORS.values() for a in rule})
    assert all(len(a) >= 2 and a.isascii() for a in anchors)
    rng = random.Random(14)
    for _ in range(50):
        pieces = [rng.choice(anchors) for _ in range(200)]
        pieces += [a + a[1:] for a in anchors]  # "acca" + "cca": two of them overlapping
        pieces += ["x" * rng.randrange(0, 40) for _ in range(200)]
        rng.shuffle(pieces)
        text = "".join(p.upper() if rng.random() < 0.3 else p for p in pieces)
        text = rng.choice(anchors) + text + "y" * windows_module._ONE_PASS + rng.choice(anchors)
        lowered = text.lower()
        one_pass = windows_module.anchor_places(lowered)
        assert one_pass is not None
        for anchor in anchors:
            each = [at for at in range(len(lowered)) if lowered.startswith(anchor, at)]
            assert windows_module.occurrences(lowered, anchor, dict(one_pass)) == each, anchor


def test_secrets_found_with_one_pass_are_those_found_without_it(monkeypatch):
    monkeypatch.setattr(windows_module, "_IMPORT_PAYS", 0)
    key = "AKIA" + "Q7XZ2KJH4MPL9WRT"
    github = "gh" + "p_" + "Ab3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dF3hJ5"
    lines = [
        f"{key} at the start",
        "accakia " + "x" * 300,
        f'api_token = "{"aB3dE5" + "fG7hJ9kL1mN3pQ"}"',
        f"ghghgh {github}",
        "PASSWORD=hunter2xyz",
        "y" * windows_module._ONE_PASS,
        f"AWS_KEY={key}",
    ]
    text = "\n".join(lines)
    found = [
        ("secrets/aws-access-key", 0, 20),
        ("secrets/aws-access-key", 4551, 4571),
        ("secrets/github-token", 385, 425),
        ("secrets/assigned-secret", 356, 376),
        ("secrets/assigned-secret", 435, 445),
    ]
    assert [(s.rule, s.start, s.end) for s in find_secrets(text, bare=True)] == found
    monkeypatch.setattr(windows_module, "_ONE_PASS", len(text) + 1)  # a `find` for each anchor
    assert [(s.rule, s.start, s.end) for s in find_secrets(text, bare=True)] == found


def test_numpy_is_imported_for_the_one_pass_only_once_it_pays(monkeypatch):
    monkeypatch.setattr(windows_module, "_IMPORT_PAYS", 2 * windows_module._ONE_PASS)
    monkeypatch.setattr(windows_module, "_searched", 0)
    text = ("token " * windows_module._ONE_PASS)[: windows_module._ONE_PASS]
    with monkeypatch.context() as fresh:  # as in an index worker that has not loaded numpy
        fresh.delitem(sys.modules, "numpy", raising=False)
        assert [windows_module.anchor_places(text) for _ in range(2)] == [None, None]
    assert windows_module.anchor_places(text) is not None  # enough searched: numpy pays


def test_assignments_in_an_ascii_text_are_those_a_search_at_every_character_finds():
    """An assignment is tried only where a secret-like name starts (its anchors, and
    `client` before `secret`); a text holding a character such as `ſ` (which matches `s`
    case-insensitively) is searched at every character of the windows: both find the same
    secrets, and so does a non-ASCII text without such a character."""
    value = "aB3dE5" + "fG7hJ9kL1mN3pQ"
    names = [
        "client_secret", "clientSecret", "CLIENT-SECRET", "clientsecret", "secret_token",
        "api_key", "apikey", "API-KEY", "access_key", "private_key", "auth_key", "password",
        "passwd", "pwd", "credentials", "my_token", "tokentoken", "xsecret",
    ]  # fmt: skip
    rng = random.Random(3)
    for _ in range(30):
        lines = []
        for _ in range(40):
            name = rng.choice(names)
            op = rng.choice([" = ", ": ", "=", " => ", ":="])
            quoted = rng.choice([f'"{value}"', f"'{value}'", "hunter2xyz", value])
            lines.append(rng.choice([f"{name}{op}{quoted}", "x" * rng.randrange(400), "token"]))
        text = "\n".join(lines)
        found = [(s.rule, s.start, s.end, s.at) for s in find_secrets(text, bare=True)]
        assert any(rule == "secrets/assigned-secret" for rule, *_ in found)
        searched = [(s.rule, s.start, s.end, s.at) for s in find_secrets(text + "\nſ", bare=True)]
        assert found == searched
        accented = [(s.rule, s.start, s.end, s.at) for s in find_secrets(text + "\né", bare=True)]
        assert found == accented


def test_a_name_spelled_with_a_character_that_folds_to_ascii_is_found():
    """`ſecret` and `prıvate_key` match a secret-like name case-insensitively though the
    lowered text has no anchor there, and a dotted `İ` lowers to two characters (the lowered
    text's places are not the text's): in a text holding them, assignments are searched for
    at every character of the windows. `toKen` (the Kelvin sign) lowers to `token`."""
    value = "aB3dE5" + "fG7hJ9kL1mN3pQ"
    for name in ("\u017fecret", "to\u212aen", "pr\u0131vate_key", "\u0130\napi_key"):
        text = f"token\n{name} = '{value}'\n"  # the anchor above makes a window
        found = [(s.rule, text[s.start : s.end]) for s in find_secrets(text, bare=True)]
        assert found == [("secrets/assigned-secret", value)], name


def test_a_key_is_found_in_a_window_holding_its_text_and_its_lowered_anchor_elsewhere():
    """A window is searched by a rule only when it holds one of the texts every match of the
    rule holds, in their case (`_HOLDS`): each form of each such key is still found, beside
    the common words that hold its lowered anchor (`disk-`, `msg.`, `asian`)."""
    tail = "aB3dE5fG7hJ9kL1mN3pQ" * 4  # random-looking: no placeholder
    keys = {
        "secrets/private-key": "-----BEGIN RSA " + "PRIVATE KEY-----",
        "secrets/aws-access-key": "ASIA" + "Q7XZ2KJH4MPL9WRT",
        "secrets/google-api-key": "AIza" + tail[:35],
        "secrets/openai-key": "sk-" + tail[:20] + "T3Blbk" + "FJ" + tail[:20],
        "secrets/pypi-token": "pypi-" + "AgEIcHlwaS5vcmc" + tail[:50],
        "secrets/sendgrid-key": "SG" + "." + tail[:22] + "." + tail[:43],
        "secrets/jwt": "eyJ" + tail[:12] + ".eyJ" + tail[:12] + "." + tail[:12],
        "secrets/url-password": "https://bob:" + tail[:10] + "@example.org",
    }
    keys_too = {"secrets/openai-key": "sk-proj-" + tail[:40]}  # its other form
    assert set(keys) == set(secrets_module._HOLDS)
    noise = "disk-io msg.len asian eyjafjallajokull aiza pypi-ish -----begin"
    for found_keys in (keys, keys_too):
        for rule, key in found_keys.items():
            text = f"{noise}\n{'x' * 300}\nvalue {key} here\n{noise}\n"
            found = [(s.rule, s.value) for s in find_secrets(text)]
            value = key.removeprefix("https://bob:").removesuffix("@example.org")
            assert found == [(rule, value)], rule


def test_the_unlike_cases_are_every_character_that_needs_them():
    """Tried on every character (of this Python's Unicode tables)."""
    letter = re.compile("(?i)[a-z]")
    unlike = {
        char
        for char in map(chr, range(128, sys.maxunicode + 1))
        if len(char.lower()) != 1 or (letter.match(char) and not char.lower().isascii())
    }
    assert unlike == set(secrets_module._UNLIKE_CASES)


RANDOM40 = "q7Xz2KjH4mPl9WrTa8VbN3cD5eF6gH1iJ0kL2mN4"
# A secret of every rule (as tests/review/test_secrets.py has them), assembled here.
SAMPLES = (
    "-----BEGIN "
    + "RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA"
    + RANDOM40
    + "\n-----END RSA PRIVATE KEY-----",
    f'key = "{AWS_KEY}"',
    f'aws_secret_access_key = "{RANDOM40}"',
    "token: " + "ghp_" + RANDOM40[:36],
    "glpat-" + RANDOM40[:20],
    "xoxb-" + "1234567890-" + RANDOM40[:12],
    "https://hooks.slack.com/services/" + "T0123ABCD/B0123ABCD/" + RANDOM40[:24],
    "sk_" + "live_" + RANDOM40[:24],
    "AIza" + RANDOM40[:35],
    "sk-ant-" + "api03-" + RANDOM40 * 2,
    "sk-proj-" + RANDOM40[:20] + "T3Blbk" + "FJ" + RANDOM40[:20],
    "npm_" + RANDOM40[:36],
    "pypi-" + "AgEIcHlwaS5vcmc" + RANDOM40 * 2,
    "SG." + RANDOM40[:22] + "." + (RANDOM40 * 2)[:43],
    "eyJ" + RANDOM40[:20] + ".eyJ" + RANDOM40[:20] + "." + RANDOM40[:20],
    "DATABASE_URL=postgres://app:" + RANDOM40[:12] + "@db.internal/app",
    'client_secret = "' + "9f8Ks!2mQp#4vL7x" + '"',
)


def _every_rule(lowered, seen):
    return set(windows_module.ANCHORS)


def test_the_rules_left_out_for_want_of_an_anchor_would_have_found_nothing(monkeypatch):
    """Only rules with an anchor in the text are run (`rules_anchored`): texts made of the
    review's samples of every rule, their anchors, characters that fold to ASCII and filler,
    short and long, ASCII or not, give the same secrets as a run of every rule."""
    rng = random.Random(14)
    anchors = [a for group in windows_module.ANCHORS.values() for a in group]
    pieces = [
        *SAMPLES,
        *anchors,
        *(a.upper() for a in anchors),
        "PASSWORD=hunter2xyz",
        "ſecret = 'aB3dE5fG7hJ9kL1mN3pQ'",
        "\u0130",
        " é ",
        "\n",
        " = ",
        "x" * 300,
        "y" * windows_module._ONE_PASS,
    ]
    for case in range(300):
        text = "".join(rng.choice(pieces) for _ in range(rng.randrange(0, 12)))
        bare = case % 2 == 0
        rules = None if case % 3 else set(rng.sample(sorted(windows_module.ANCHORS), 5))
        found = list(find_secrets(text, bare=bare, rules=rules))
        with monkeypatch.context() as every:
            every.setattr(secrets_module, "rules_anchored", _every_rule)
            assert found == list(find_secrets(text, bare=bare, rules=rules)), text


def test_a_text_without_anchors_runs_no_rule(monkeypatch):
    """The index redacts every file it reads: one without an anchor (or empty) costs no
    rule's windows."""
    calls = []
    monkeypatch.setattr(secrets_module, "windows", lambda *args: calls.append(args) or [])
    for text in ("", "x = 1\n", "def f(a, b):\n    return a + b\n" * 300):
        assert list(find_secrets(text, bare=True)) == []
    assert calls == []
    assert list(find_secrets(f"KEY = {AWS_KEY}")) == []  # only its rules (stubbed) ran
    assert [args[1] for args in calls] == [windows_module.ANCHORS["secrets/aws-access-key"]]
