"""Every format renders, and every format explains every blocking finding the same way."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from clearance.decision import Decision
from clearance.model import Outcome, ScanResult, Target
from clearance.report import Format, ReportData, render
from report.report_sample import DECISION, MISCONFIG, RESULT, SECRET, VULN, gate_data, scan_data


def _empty() -> ReportData:
    result = ScanResult(target=Target("directory", "repo"), findings=(), components=(), runs=())
    decision = Decision(outcome=Outcome.PASS, verdicts={}, policy="threshold:high", policy_digest="sha256:00")
    return ReportData(result=result, decision=decision, rules={}, tool_version="0.1.0")


@pytest.mark.parametrize("fmt", list(Format))
@pytest.mark.parametrize("make", [gate_data, scan_data, _empty], ids=["gate", "scan", "empty"])
def test_every_format_renders(fmt: Format, make: object) -> None:
    data = make()  # type: ignore[operator]
    text = render(fmt, data)
    assert text.endswith("\n") and text.strip()
    if fmt in (Format.json, Format.sarif):
        json.loads(text)
    if fmt is Format.junit:
        ET.fromstring(text.encode())


def test_format_values_are_the_cli_names() -> None:
    assert [f.value for f in Format] == ["console", "json", "sarif", "markdown", "junit"]


@pytest.mark.parametrize("fmt", list(Format))
def test_every_blocking_finding_says_what_where_why_and_how_to_fix(fmt: Format) -> None:
    text = " ".join(render(fmt, gate_data()).split())  # human formats wrap at spaces
    # the console is compact by default (one screen at 80 columns): the fix is in --verbose
    full = " ".join(render(fmt, gate_data(verbose=True)).split()) if fmt is Format.console else text
    for finding in (SECRET, VULN):
        verdict = DECISION.verdicts[finding.fingerprint]
        assert finding.rule_id in text, "what"
        assert finding.location.path in text and str(finding.location.start_line) in text, "where"
        assert verdict.message in text, "why"
        assert verdict.rule in text, "which rule decided"
        assert finding.remediation.split(",")[0] in full, "how to fix"
    assert "exception EXC-12 (owner team-payments) expired on 2026-10-01" in text


@pytest.mark.parametrize("fmt", [Format.console, Format.markdown, Format.junit])
def test_human_formats_give_the_exception_command_for_blocking_findings(fmt: Format) -> None:
    text = " ".join(render(fmt, gate_data()).split())
    if fmt is Format.console:  # compact: the command once, as a template, and each finding's fp
        assert "clearance exceptions add --fingerprint FP " in text and f"fp {SECRET.fingerprint}" in text
        assert f"fp {MISCONFIG.fingerprint}" not in text, "warnings need no exception"
        text = " ".join(render(fmt, gate_data(verbose=True)).split())
    assert f"clearance exceptions add --fingerprint {SECRET.fingerprint}" in text
    assert f"--fingerprint {MISCONFIG.fingerprint}" not in text, "warnings need no exception"


@pytest.mark.parametrize("fmt", list(Format))
def test_errors_and_warnings_reach_every_format(fmt: Format) -> None:
    text = render(fmt, gate_data())
    assert RESULT.errors[0].path in text
    assert RESULT.warnings[0] in text
