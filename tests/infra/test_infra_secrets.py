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
