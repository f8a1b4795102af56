"""The one secret detector: where a secret is, and which rule found it.

Every secret here is assembled at run time, so this file holds none of them.
"""

from __future__ import annotations

from codemem.infra import find_secrets

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
