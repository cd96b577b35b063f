"""The facts every format derives the same way."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from clearance.model import Scope, Severity
from clearance.report.base import (
    count,
    exception_command,
    headline,
    human_bytes,
    jsonable,
    ordered,
    owner_of,
    remediation_of,
    source_link,
)
from report.report_sample import RESULT, SECRET, VULN, gate_data, scan_data


def test_headline_without_a_decision() -> None:
    assert headline(scan_data()) == "INCOMPLETE"
    clean = dataclasses.replace(RESULT, errors=(), runs=RESULT.runs[:2])
    assert headline(dataclasses.replace(scan_data(), result=clean)) == "SCANNED"


def test_ordered_is_most_severe_first_and_stable() -> None:
    order = [f.severity for f in ordered(list(reversed(RESULT.findings)))]
    assert order == [Severity.CRITICAL, Severity.HIGH, Severity.HIGH, Severity.MEDIUM, Severity.INFO]


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "0 B"),
        (999, "999 B"),
        (1000, "1.0 kB"),
        (823_245, "823.2 kB"),
        (5 * 10**9, "5.0 GB"),
        (7 * 10**12, "7000.0 GB"),
    ],
)
def test_human_bytes(n: int, text: str) -> None:
    assert human_bytes(n) == text


def test_count_plurals() -> None:
    assert (count(0, "file"), count(1, "file"), count(2, "error")) == ("0 files", "1 file", "2 errors")


def test_exception_command_quotes_odd_owners() -> None:
    data = gate_data(context={"owner": "Team O'Brien"})
    assert "--owner 'Team O'\\''Brien'" in exception_command(data, VULN)
    assert "--owner @acme/platform" in exception_command(data, SECRET)
    assert "--owner OWNER" in exception_command(gate_data(context={}), VULN)


def test_owner_signal_may_be_a_list() -> None:
    finding = dataclasses.replace(VULN, signals={"owner": ("@a", "@b")})
    assert owner_of(gate_data(), finding) == "@a, @b"


def test_remediation_falls_back_to_the_rule_then_the_kind() -> None:
    bare = dataclasses.replace(SECRET, remediation="")
    assert remediation_of(gate_data(), bare).startswith("Deactivate and rotate the key in IAM")
    unknown_rule = dataclasses.replace(bare, rule_id="secret.unknown")
    assert remediation_of(gate_data(), unknown_rule).startswith("Remove the secret from the code, rotate it")


def test_source_link_prefers_the_findings_own_commit() -> None:
    historic = dataclasses.replace(SECRET, location=dataclasses.replace(SECRET.location, commit="1111111"))
    assert (
        source_link(gate_data(), historic)
        == "https://github.com/acme/shop/blob/1111111/deploy/settings.py#L12"
    )
    no_line = dataclasses.replace(
        VULN, location=dataclasses.replace(VULN.location, start_line=None, path="a b/c#d.txt")
    )
    assert (
        source_link(gate_data(), no_line)
        == f"https://github.com/acme/shop/blob/{RESULT.target.commit}/a%20b/c%23d.txt"
    )
    data = gate_data(
        context={}, result=dataclasses.replace(RESULT, target=dataclasses.replace(RESULT.target, commit=None))
    )
    assert source_link(data, SECRET) is None


def test_jsonable_is_plain_and_deterministic() -> None:
    value = {
        "when": dt.date(2026, 11, 22),
        "scope": Scope.DEV,
        "set": frozenset({3, 1, 2}),
        "nested": ({"inf": float("inf")},),
        "component": VULN.component,
    }
    out = jsonable(value)
    assert out["when"] == "2026-11-22" and out["scope"] == "dev" and out["set"] == [1, 2, 3]
    assert out["nested"] == [{"inf": "inf"}]
    assert out["component"]["purl"] == "pkg:pypi/requests@2.25.0"
    assert out["component"]["location"]["path"] == "requirements.txt"
