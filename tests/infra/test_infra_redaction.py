"""Redaction: every secret the detector finds is replaced, and every byte around it kept.

Every secret here is assembled at run time, so this file holds none of them.
"""

from __future__ import annotations

from codemem.infra import redact_source, redact_text

AWS_KEY = "AKIA" + "Q7XZ2KJH4MPL9WRT"


def test_redact_source_keeps_invalid_utf8_and_line_numbers():
    data = b"\xff\xfe bad bytes\n" + f'KEY = "{AWS_KEY}"\n'.encode() + b"tail \x80\n"
    assert (
        redact_source(data)
        == b"\xff\xfe bad bytes\n" + 'KEY = "«redacted:aws-access-key»"\n'.encode() + b"tail \x80\n"
    )
    clean = b"nothing = 'here'\n\xff"
    assert redact_source(clean) is clean


def test_unquoted_assignments_are_redacted_only_when_they_look_like_values():
    text = (
        "password: hunter2x\npassword: ${DB_PASSWORD}\ntoken: null\nsecret_key = settings.SECRET\n"
    )
    assert redact_text(text) == (
        "password: «redacted:assigned-secret»\npassword: ${DB_PASSWORD}\ntoken: null\nsecret_key = settings.SECRET\n"
    )
