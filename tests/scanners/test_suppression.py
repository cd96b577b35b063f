"""Inline suppressions: parsing in any comment syntax, scope, expiry."""

from __future__ import annotations

import datetime as dt

import pytest

from clearance.scanners.suppression import find_suppressions, suppression_for

NOW = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    "line",
    [
        'token = "x"  # clearance:ignore[secret.github-pat] rotated last week',
        'const t = "x"; // clearance:ignore[secret.github-pat] rotated last week',
        "-- clearance:ignore[secret.github-pat] rotated last week",
        "<!-- clearance:ignore[secret.github-pat] rotated last week -->",
        "; clearance:ignore[secret.github-pat] rotated last week",
        "/* clearance:ignore[secret.github-pat]: rotated last week */",
    ],
)
def test_marker_is_found_in_any_comment_syntax(line: str) -> None:
    found = find_suppressions(f"first line\n{line}\n")
    assert list(found) == [2]
    (sup,) = found[2]
    assert sup.rules == ("secret.github-pat",)
    assert sup.reason == "rotated last week"


def test_several_rules_and_iac_style_reason_and_until() -> None:
    text = '# clearance:ignore[iac.aws-s3-public-access, secret.generic-assignment] reason="static website" until=2027-01-31'
    (sup,) = find_suppressions(text)[1]
    assert sup.rules == ("iac.aws-s3-public-access", "secret.generic-assignment")
    assert sup.reason == "static website"
    assert sup.until == dt.date(2027, 1, 31)


def test_applies_on_same_line_and_next_line_only() -> None:
    sups = find_suppressions("a\n# clearance:ignore[secret.x] ok\nb\nc\n")
    assert suppression_for("secret.x", 2, sups, NOW, path="f.py")[0] is not None
    held, note = suppression_for("secret.x", 3, sups, NOW, path="f.py")
    assert held is not None and held.reason == "ok" and held.source == "inline:f.py:2" and note is None
    assert suppression_for("secret.x", 4, sups, NOW) == (None, None)
    assert suppression_for("secret.x", 1, sups, NOW) == (None, None)


def test_only_named_rules_are_suppressed_and_prefix_patterns_work() -> None:
    sups = find_suppressions("# clearance:ignore[secret.x, iac.*] why\n")
    assert suppression_for("secret.y", 1, sups, NOW)[0] is None
    assert suppression_for("iac.anything", 1, sups, NOW)[0] is not None


@pytest.mark.parametrize(
    "text", ["# clearance:ignore[*] vendored", "# clearance:ignore vendored", "# clearance:ignore[] vendored"]
)
def test_star_empty_or_no_bracket_means_every_rule(text: str) -> None:
    sups = find_suppressions(text)
    held, _ = suppression_for("secret.anything", 1, sups, NOW)
    assert held is not None and held.reason == "vendored"


def test_expired_until_does_not_suppress_and_says_so() -> None:
    sups = find_suppressions('x = 1  # clearance:ignore[secret.x] reason="temp" until=2026-11-21\n')
    assert suppression_for("secret.x", 1, sups, NOW) == (None, "suppression expired on 2026-11-21")


def test_until_holds_through_its_day() -> None:
    sups = find_suppressions("x  # clearance:ignore[secret.x] temp until=2026-11-22\n")
    held, note = suppression_for("secret.x", 1, sups, NOW)
    assert held is not None and held.expires == "2026-11-22" and held.reason == "temp" and note is None


def test_invalid_until_never_suppresses() -> None:
    sups = find_suppressions("x  # clearance:ignore[secret.x] temp until=someday\n")
    held, note = suppression_for("secret.x", 1, sups, NOW)
    assert held is None and note is not None and "invalid until" in note


def test_bytes_input_and_invalid_utf8() -> None:
    data = b"\xff\xfe junk\n# clearance:ignore[secret.x] ok \xff\n"
    assert list(find_suppressions(data)) == [2]
    assert find_suppressions(b"no marker here") == {}
