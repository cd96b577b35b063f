"""Outcome → exit code, and the threshold policy."""

from __future__ import annotations

import pytest

from clearance.decision import ExitCode, exit_code_for
from clearance.model import (
    Action,
    Finding,
    FindingKind,
    Location,
    Outcome,
    ScanError,
    ScannerRun,
    ScannerStatus,
    ScanResult,
    Severity,
    Suppression,
    Target,
)
from clearance.policy.threshold import decide_by_threshold


@pytest.mark.parametrize(
    ("outcome", "code"),
    [
        (Outcome.PASS, ExitCode.PASS),
        (Outcome.WARN, ExitCode.PASS),
        (Outcome.BLOCK, ExitCode.BLOCKED),
        (Outcome.NEEDS_APPROVAL, ExitCode.BLOCKED),
        (Outcome.INCOMPLETE, ExitCode.INCOMPLETE),
    ],
)
def test_every_outcome_has_an_exit_code(outcome: Outcome, code: ExitCode) -> None:
    assert exit_code_for(outcome) is code


def test_exit_codes_are_the_documented_ones() -> None:
    assert [int(c) for c in ExitCode] == [0, 1, 2, 3, 4, 70, 130, 141]


def _finding(sev: Severity, fp: str, suppressed: bool = False) -> Finding:
    return Finding(
        kind=FindingKind.SECRET,
        rule_id="secret.x",
        title="x",
        severity=sev,
        location=Location("a.py", 1),
        fingerprint=fp,
        scanner="secrets",
        suppression=Suppression("test key", "inline:a.py:1") if suppressed else None,
    )


def _result(*findings: Finding, errors: tuple[ScanError, ...] = ()) -> ScanResult:
    return ScanResult(
        target=Target("directory", "."),
        findings=findings,
        components=(),
        runs=(ScannerRun("secrets", "1", ScannerStatus.SUCCEEDED),),
        errors=errors,
    )


def test_threshold_blocks_at_and_above() -> None:
    d = decide_by_threshold(
        _result(_finding(Severity.HIGH, "a"), _finding(Severity.MEDIUM, "b"), _finding(Severity.INFO, "c")),
        Severity.HIGH,
    )
    assert d.outcome is Outcome.BLOCK
    assert {k: v.action for k, v in d.verdicts.items()} == {
        "a": Action.BLOCK,
        "b": Action.WARN,
        "c": Action.PASS,
    }


def test_suppressed_findings_pass_but_are_kept() -> None:
    d = decide_by_threshold(_result(_finding(Severity.CRITICAL, "a", suppressed=True)), Severity.HIGH)
    assert d.outcome is Outcome.PASS
    assert d.verdicts["a"].rule == "inline-suppression"


def test_incomplete_scan_never_passes_when_failing_closed() -> None:
    r = _result(errors=(ScanError("x.bin", "cannot read"),))
    assert decide_by_threshold(r, Severity.HIGH).outcome is Outcome.INCOMPLETE
    assert decide_by_threshold(r, Severity.HIGH, fail_closed=False).outcome is Outcome.PASS


def test_unknown_severity_ranks_like_medium() -> None:
    assert Severity.UNKNOWN.at_least(Severity.MEDIUM) and not Severity.UNKNOWN.at_least(Severity.HIGH)
