"""Redaction: previews never reveal most of a secret."""

from __future__ import annotations

import pytest

from clearance.redaction import MASK, redact, redact_bytes


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("AKIA4HKZQ7RXJ3MVTW5N", "AKIA…TW5N"),
        ("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", "ghp_…INUx"),
        ("s3cr3t-p4ss", MASK),
        ("", MASK),
        ("abcdefghijkl", "ab…kl"),
    ],
)
def test_redact_keeps_at_most_a_short_prefix_and_suffix(value: str, expected: str) -> None:
    assert redact(value) == expected


def test_redact_never_reveals_more_than_two_fifths_of_a_value() -> None:
    for n in range(0, 200):
        value = "".join(chr(ord("a") + (i * 7) % 26) for i in range(n))
        shown = redact(value).replace("…", "").replace("*", "")
        assert len(shown) <= n * 2 // 5


def test_redact_collapses_multiline_values_to_one_printable_line() -> None:
    pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\x07x\n-----END RSA PRIVATE KEY-----"
    out = redact(pem)
    assert "\n" not in out and out.isprintable()
    assert out.startswith("----") and out.endswith("----")


def test_redact_bytes_survives_invalid_utf8() -> None:
    assert redact_bytes(b"\xff\xfe" + b"A" * 30).endswith("AAAA")
