"""The one secret detector: where a secret is, and which rule found it.

Every secret here is assembled at run time, so this file holds none of them.
"""

from __future__ import annotations

import random

from codemem.infra import find_secrets
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
        full = secrets_module._spans(lowered, anchors, {})
        starts = [
            at
            for anchor in anchors
            for at in secrets_module._all_in(lowered, anchor, 0, len(lowered))
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
            assert secrets_module._spans(lowered, anchors, {}, around) == near, (lowered, around)
