"""Exceptions: validated with line numbers, matched, expiring on an injected clock, written safely."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from policy_builders import FIXTURES, context, public_bucket, result, secret, vulnerability

from clearance.config import ExceptionLimitSettings, Settings
from clearance.errors import PolicyError
from clearance.model import Action, Outcome, Scope, Severity
from clearance.policy.engine import decide_with_settings
from clearance.policy.exceptions import (
    NewException,
    add_exception,
    load_exceptions,
    parse_exceptions,
    parse_expiry,
    version_in_range,
)

EXC = FIXTURES / "exceptions"
LIMITS = ExceptionLimitSettings()
BEFORE_EXPIRY = dt.datetime(2026, 9, 20, 9, 0, tzinfo=dt.UTC)
AFTER_EXPIRY = dt.datetime(2026, 10, 2, 9, 0, tzinfo=dt.UTC)


def _decide(now: dt.datetime, *findings: object) -> object:
    exceptions = load_exceptions(EXC / "valid.yaml", LIMITS)
    return decide_with_settings(
        result(*findings),
        Settings(),
        now,
        env="prod",  # type: ignore[arg-type]
        context=context(),
        exceptions=exceptions,
    )


def test_unexpired_exception_turns_block_into_excepted_with_owner_and_expiry() -> None:
    b = public_bucket("infra/s3.tf")
    d = _decide(BEFORE_EXPIRY, b)
    v = d.verdicts[b.fingerprint]  # type: ignore[attr-defined]
    assert v.action is Action.EXCEPTED
    assert v.exception_id == "EXC-12"
    assert v.rule == "iac.public-access-exposed"
    assert "owner team-payments" in v.message and "expires 2026-10-01" in v.message
    assert v.notes[0].startswith("policy rule iac.public-access-exposed would block")
    assert d.outcome is Outcome.PASS  # type: ignore[attr-defined]
    applied = [e for e in d.extra["exceptions"] if e["status"] == "applied"]  # type: ignore[attr-defined]
    assert [(a["id"], a["owner"], a["expires"], a["findings"]) for a in applied] == [
        ("EXC-12", "team-payments", "2026-10-01", [b.fingerprint])
    ]


def test_expired_exception_blocks_again_and_says_which_expired() -> None:
    b = public_bucket("infra/s3.tf")
    d = _decide(AFTER_EXPIRY, b)
    v = d.verdicts[b.fingerprint]  # type: ignore[attr-defined]
    assert v.action is Action.BLOCK
    assert "exception EXC-12 (owner team-payments) expired on 2026-10-01" in v.notes
    assert d.outcome is Outcome.BLOCK  # type: ignore[attr-defined]
    assert any("EXC-12 (owner team-payments) expired on 2026-10-01" in r for r in d.reasons)  # type: ignore[attr-defined]


def test_expiry_day_itself_is_expired() -> None:
    exc = load_exceptions(EXC / "valid.yaml", LIMITS).entries[0]
    assert not exc.expired(dt.datetime(2026, 9, 30, 23, 59, tzinfo=dt.UTC))
    assert exc.expired(dt.datetime(2026, 10, 1, 0, 0, tzinfo=dt.UTC))


def test_exception_outside_its_path_glob_does_not_apply() -> None:
    b = public_bucket("modules/cdn/s3.tf")
    d = _decide(BEFORE_EXPIRY, b)
    assert d.verdicts[b.fingerprint].action is Action.BLOCK  # type: ignore[attr-defined]


def test_component_name_and_version_range() -> None:
    low = vulnerability(severity=Severity.CRITICAL, scope=Scope.RUNTIME, version="4.17.15")
    fixed = vulnerability(severity=Severity.CRITICAL, scope=Scope.RUNTIME, version="4.17.21")
    d = _decide(BEFORE_EXPIRY, low, fixed)
    # 153 days > the 30-day maximum for critical findings: the exception does not cover them.
    v = d.verdicts[low.fingerprint]  # type: ignore[attr-defined]
    assert v.action is Action.BLOCK
    assert "longer than the 30-day maximum for critical findings" in " ".join(v.notes)
    medium = vulnerability(severity=Severity.MEDIUM, scope=Scope.RUNTIME, version="4.17.15")
    d = _decide(BEFORE_EXPIRY, medium, fixed)
    assert d.verdicts[medium.fingerprint].action is Action.EXCEPTED  # type: ignore[attr-defined]
    assert d.verdicts[fixed.fingerprint].action is Action.BLOCK  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("match", "hit"),
    [
        ("rule: 'vuln.GHSA-*'", True),
        ("advisory: CVE-2020-8203", True),
        ("advisory: ghsa-p6mc-m468-83gw", True),
        ("advisory: CVE-1999-0001", False),
        ("component: pkg:npm/lodash", True),
        ("component: pkg:npm/lodash@4.17.15", True),
        ("component: pkg:npm/lodash@4.17.16", False),
        ("component: pkg:pypi/lodash", False),
        ("{component: {name: lodash, version: 'vers:npm/<4.17.21'}}", True),
        ("path: '*.json'", True),
        ("path: 'infra/**'", False),
    ],
)
def test_match_criteria(match: str, hit: bool) -> None:
    body = match if match.startswith("{") else "{" + match + "}"
    text = (
        f"exceptions:\n  - id: EXC-1\n    match: {body}\n    owner: o\n    reason: r\n"
        "    created: 2026-09-01\n    expires: 2026-10-01\n    approved_by: a\n"
    )
    exc = parse_exceptions(text, "x.yaml", LIMITS).entries[0]
    assert exc.match.matches(vulnerability()) is hit


def test_missing_fields_and_unknown_match_key_are_line_numbered() -> None:
    with pytest.raises(PolicyError) as info:
        load_exceptions(EXC / "missing-fields.yaml", LIMITS, display="missing-fields.yaml")
    msg = info.value.message
    assert "missing-fields.yaml:2: exception 'EXC-1': missing required field `expires`" in msg
    assert "missing-fields.yaml:11: exception 'EXC-2': unknown match key 'rul'" in msg
    assert info.value.exit_code == 4


def test_length_limits_and_dates_are_checked_at_load() -> None:
    with pytest.raises(PolicyError) as info:
        load_exceptions(EXC / "too-long.yaml", LIMITS, display="too-long.yaml")
    msg = info.value.message
    assert (
        "too-long.yaml:10: exception 'EXC-30': lasts 121 days; the maximum for critical findings is 30" in msg
    )
    assert "too-long.yaml:18: exception 'EXC-31': expires 2026-08-01 is not after created 2026-09-01" in msg


def test_yaml_syntax_error_has_a_line() -> None:
    with pytest.raises(PolicyError, match=r"not-yaml.yaml:4: not valid YAML"):
        load_exceptions(EXC / "not-yaml.yaml", LIMITS, display="not-yaml.yaml")


def test_yaml_aliases_are_refused() -> None:
    with pytest.raises(PolicyError, match=r"alias-bomb.yaml:2: YAML aliases are not allowed"):
        load_exceptions(EXC / "alias-bomb.yaml", LIMITS, display="alias-bomb.yaml")


def test_critical_needs_compensating_control() -> None:
    text = (
        "exceptions:\n  - id: EXC-1\n    severity: critical\n    match: {rule: x}\n    owner: o\n    reason: r\n"
        "    created: 2026-09-01\n    expires: 2026-09-10\n    approved_by: a\n"
    )
    with pytest.raises(
        PolicyError, match=r"x\.yaml:2: exception 'EXC-1': critical exceptions need a `compensating_control`"
    ):
        parse_exceptions(text, "x.yaml", LIMITS)


def test_missing_file_is_empty_and_empty_file_is_valid(tmp_path: Path) -> None:
    assert load_exceptions(tmp_path / "nope.yaml", LIMITS).entries == ()
    (tmp_path / "empty.yaml").write_text("# nothing yet\n")
    assert load_exceptions(tmp_path / "empty.yaml", LIMITS).entries == ()


def test_expiring_soon_and_stale_are_reported() -> None:
    s = secret()
    d = _decide(dt.datetime(2026, 9, 25, tzinfo=dt.UTC), s)
    by_id = {e["id"]: e for e in d.extra["exceptions"]}  # type: ignore[attr-defined]
    assert (by_id["EXC-12"]["expiring_soon"], by_id["EXC-12"]["days_left"]) == (True, 6)
    assert not by_id["EXC-13"]["expiring_soon"]
    assert {i for i, e in by_id.items() if e["status"] == "stale"} == {"EXC-12", "EXC-13"}
    assert any("EXC-13" in r and "stale" in r for r in d.reasons)  # type: ignore[attr-defined]


def test_add_preserves_comments_and_order(tmp_path: Path) -> None:
    path = tmp_path / ".clearance" / "exceptions.yaml"
    path.parent.mkdir()
    original = (EXC / "valid.yaml").read_text()
    path.write_text(original)
    now = dt.datetime(2026, 9, 15, tzinfo=dt.UTC)
    new = add_exception(
        path,
        NewException(
            owner="team-web",
            reason="false positive: test key",
            rule="secret.*",
            path="web/**",
            expires=parse_expiry("30d", now),
            approved_by="erin",
        ),
        LIMITS,
        now,
    )
    assert new.id == "EXC-14"
    assert new.expires == dt.date(2026, 10, 15)
    text = path.read_text()
    assert text.startswith(original)  # nothing above the new entry changed, comments included
    assert "# The public bucket serves the marketing site" in text
    entries = load_exceptions(path, LIMITS).entries
    assert [e.id for e in entries] == ["EXC-12", "EXC-13", "EXC-14"]
    assert entries[2].created == dt.date(2026, 9, 15)


def test_add_creates_the_file_with_a_header(tmp_path: Path) -> None:
    path = tmp_path / ".clearance" / "exceptions.yaml"
    now = dt.datetime(2026, 9, 15, tzinfo=dt.UTC)
    add_exception(
        path,
        NewException(
            owner="o", reason="r", fingerprint="ab" * 16, expires=dt.date(2026, 10, 1), approved_by="a"
        ),
        LIMITS,
        now,
    )
    text = path.read_text()
    assert text.startswith("# Time-boxed risk acceptance")
    assert load_exceptions(path, LIMITS).entries[0].id == "EXC-1"


def test_add_refuses_past_expiry_and_overlong(tmp_path: Path) -> None:
    path = tmp_path / "exceptions.yaml"
    now = dt.datetime(2026, 9, 15, tzinfo=dt.UTC)
    with pytest.raises(PolicyError, match="not in the future"):
        add_exception(
            path,
            NewException(owner="o", reason="r", rule="x", expires=dt.date(2026, 9, 1), approved_by="a"),
            LIMITS,
            now,
        )
    with pytest.raises(PolicyError, match="maximum for high findings is 90"):
        add_exception(
            path,
            NewException(
                owner="o",
                reason="r",
                rule="x",
                expires=dt.date(2027, 9, 1),
                approved_by="a",
                severity=Severity.HIGH,
            ),
            LIMITS,
            now,
        )
    assert not path.exists()


def test_parse_expiry_forms() -> None:
    now = dt.datetime(2026, 9, 15, 23, 0, tzinfo=dt.UTC)
    assert parse_expiry("2w", now) == dt.date(2026, 9, 29)
    assert parse_expiry("2026-12-01", now) == dt.date(2026, 12, 1)
    with pytest.raises(PolicyError):
        parse_expiry("soon", now)


def test_version_ranges() -> None:
    assert version_in_range("2.31.0", "<2.32")
    assert not version_in_range("2.32.0", "<2.32")
    assert version_in_range("1.5", ">=1.0,<2.0")
    assert version_in_range("1.2.3", "1.2.3")
    assert version_in_range("4.17.20", "vers:npm/<4.17.21")
    assert not version_in_range("not-a-version", "<2")


def test_critical_finding_needs_approver_and_control_at_decision_time() -> None:
    text = (
        "exceptions:\n  - id: EXC-5\n    match: {rule: 'secret.*'}\n    owner: team-a\n    reason: rotated\n"
        "    created: 2026-09-10\n    expires: 2026-09-30\n"
    )
    exceptions = parse_exceptions(text, "x.yaml", LIMITS)
    s = secret(severity=Severity.CRITICAL)
    d = decide_with_settings(
        result(s), Settings(), BEFORE_EXPIRY, env="prod", context=context(), exceptions=exceptions
    )
    v = d.verdicts[s.fingerprint]
    assert v.action is Action.BLOCK
    assert "exception EXC-5 has no compensating_control, which critical findings require" in v.notes
    high = secret(severity=Severity.HIGH)
    d = decide_with_settings(
        result(high), Settings(), BEFORE_EXPIRY, env="prod", context=context(), exceptions=exceptions
    )
    assert d.verdicts[high.fingerprint].action is Action.EXCEPTED


def test_invalid_path_glob_is_a_load_error() -> None:
    text = (
        "exceptions:\n  - id: EXC-1\n    match: {path: '!'}\n    owner: o\n    reason: r\n"
        "    created: 2026-09-01\n    expires: 2026-09-10\n"
    )
    with pytest.raises(
        PolicyError, match=r"x\.yaml:3: exception 'EXC-1': match\.path '!' is not a valid glob"
    ):
        parse_exceptions(text, "x.yaml", LIMITS)


def test_ticket_must_be_a_url() -> None:
    text = (
        "exceptions:\n  - id: EXC-1\n    match: {rule: x}\n    owner: o\n    reason: r\n"
        "    created: 2026-09-01\n    expires: 2026-09-10\n    ticket: PAY-88\n"
    )
    with pytest.raises(PolicyError, match=r"x\.yaml:8: exception 'EXC-1': `ticket` must be a URL"):
        parse_exceptions(text, "x.yaml", LIMITS)


def test_length_counts_from_today_when_created_is_a_day_ahead() -> None:
    """`created` one day ahead (clock skew) loads, but cannot buy a day past the maximum."""
    now = dt.datetime(2026, 9, 1, 23, 0, tzinfo=dt.UTC)
    text = (
        "exceptions:\n  - id: EXC-1\n    match: {path: 'infra/**', rule: 'iac.*'}\n    owner: o\n"
        "    reason: r\n    created: 2026-09-02\n    expires: 2026-12-01\n"
    )
    exc = parse_exceptions(text, "x.yaml", LIMITS, now=now).entries[0]
    problem = exc.applicable_to(public_bucket("infra/s3.tf"), LIMITS, now)  # high: 90 days
    assert problem is not None and "lasts 91 days" in problem
    with pytest.raises(PolicyError, match="lasts 181 days; the maximum for an exception is 180"):
        parse_exceptions(text.replace("2026-12-01", "2027-03-01"), "x.yaml", LIMITS, now=now)
    with pytest.raises(PolicyError, match="created 2026-09-02 is in the future"):
        parse_exceptions(text, "x.yaml", LIMITS, now=now - dt.timedelta(days=1))
