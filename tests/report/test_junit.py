"""JUnit XML: one test case per finding, one suite per scanner, read back by real JUnit consumers."""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET
from pathlib import Path

from junit2htmlreport import parser as junit2html
from junitparser import Failure, JUnitXml, Skipped

from clearance.model import ScannerRun, ScannerStatus
from clearance.report import Format, render
from report.report_sample import (
    DECISION,
    INFO,
    MISCONFIG,
    RESULT,
    SECRET,
    SUPPRESSED,
    VULN,
    gate_data,
    scan_data,
)


def _root(data: object) -> ET.Element:
    return ET.fromstring(render(Format.junit, data).encode("utf-8"))  # type: ignore[arg-type]


def _cases(root: ET.Element) -> dict[str, ET.Element]:
    return {c.get("name", ""): c for c in root.iter("testcase")}


def test_one_suite_per_scanner_and_one_case_per_finding() -> None:
    root = _root(gate_data())
    assert root.tag == "testsuites"
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert set(suites) == {"secrets", "deps", "iac", "clearance"}
    assert [c.get("name") for c in suites["secrets"]] == [
        "secret.aws-access-key at deploy/settings.py:12",
        "secret.generic-password at tests/fixtures/db.env:2",
    ]
    assert root.get("tests") == "5" and root.get("failures") == "2" and root.get("errors") == "1"
    assert root.get("skipped") == "1"


def test_a_failure_per_blocking_finding_with_where_what_why() -> None:
    case = _cases(_root(gate_data()))["secret.aws-access-key at deploy/settings.py:12"]
    assert case.get("file") == "deploy/settings.py" and case.get("line") == "12"
    (failure,) = case.findall("failure")
    assert failure.get("message") == f"critical: {SECRET.title}" and failure.get("type") == SECRET.rule_id
    body = failure.text or ""
    assert "evidence: AKIA…Q7ZK" in body
    assert f"blocks: threshold:high: {DECISION.verdicts[SECRET.fingerprint].message}" in body
    assert f"fix: {SECRET.remediation}" in body
    vuln = _cases(_root(gate_data()))[f"{VULN.rule_id} at requirements.txt:4"]
    assert "component: pkg:pypi/requests@2.25.0" in (vuln.findtext("failure") or "")


def test_warnings_are_skipped_with_the_reason_and_passes_say_why() -> None:
    cases = _cases(_root(gate_data()))
    warn = cases[f"{MISCONFIG.rule_id} at infra/storage.tf:3"]
    skipped = warn.find("skipped")
    assert (
        skipped is not None
        and skipped.get("message") == "warning: threshold:high: severity medium is below high"
    )
    assert "<b>stay literal</b>" in (skipped.text or ""), "text round-trips through XML escaping"
    suppressed = cases[f"{SUPPRESSED.rule_id} at tests/fixtures/db.env:2"]
    assert suppressed.find("failure") is None and suppressed.find("skipped") is None
    assert "suppressed inline: test fixture database" in (suppressed.findtext("system-out") or "")
    assert INFO.rule_id not in render(Format.junit, gate_data())
    assert INFO.rule_id in render(Format.junit, gate_data(verbose=True))


def test_two_findings_of_one_rule_on_one_line_stay_two_cases() -> None:
    twin = dataclasses.replace(SECRET, fingerprint="0" * 32)
    root = _root(gate_data(result=dataclasses.replace(RESULT, findings=(SECRET, twin))))
    names = [c.get("name") for c in root.iter("testcase")]
    assert len(names) == len(set(names)) and any("(00000000)" in (n or "") for n in names)


def test_incomplete_scan_is_an_error_case() -> None:
    error = _cases(_root(gate_data()))["scan"].find("error")
    assert error is not None and "infra/broken.tf (iac): HCL parse error" in (error.text or "")
    complete = dataclasses.replace(RESULT, errors=(), runs=RESULT.runs[:2])
    root = _root(gate_data(result=complete))
    assert _cases(root)["scan"].find("error") is None and root.get("errors") == "0"


def test_scan_without_decision_has_no_failures() -> None:
    root = _root(scan_data())
    assert root.get("failures") == "0"
    assert _cases(root)[f"{VULN.rule_id} at requirements.txt:4"].find("skipped") is not None


def test_a_clean_scanner_still_shows_as_a_passing_case() -> None:
    runs = (*RESULT.runs, ScannerRun("licenses", "1.0.0", ScannerStatus.SUCCEEDED))
    result = dataclasses.replace(RESULT, findings=(), runs=runs, errors=())
    suites = {s.get("name"): s for s in _root(gate_data(result=result)).findall("testsuite")}
    assert set(suites) == {"secrets", "deps", "iac", "licenses", "clearance"}
    assert [c.get("name") for c in suites["licenses"]] == ["licenses: no findings"]


def test_control_characters_never_break_the_xml() -> None:
    odd = dataclasses.replace(SECRET, title="bell\x07 and nul\x00 and esc\x1b[31m", evidence="AK\x0bIA…")
    result = dataclasses.replace(RESULT, findings=(odd,))
    (failure,) = [f for f in _root(gate_data(result=result)).iter("failure")]
    assert "\ufffd" in (failure.get("message") or "")


def test_junitparser_and_junit2html_see_every_finding(tmp_path: Path) -> None:
    path = tmp_path / "r.xml"
    path.write_text(render(Format.junit, gate_data()), encoding="utf-8")
    xml = JUnitXml.fromfile(str(path))
    cases = [case for suite in xml for case in suite]
    shown = [c for c in cases if c.classname.startswith("clearance.")]
    assert len(shown) == 4, "secret, vulnerability, misconfiguration and the suppressed secret"
    assert sum(any(isinstance(r, Failure) for r in c.result) for c in shown) == 2
    assert sum(any(isinstance(r, Skipped) for r in c.result) for c in shown) == 1
    html = junit2html.Junit(str(path)).html()
    for finding in (SECRET, VULN, MISCONFIG, SUPPRESSED):
        assert f"{finding.rule_id} at {finding.location.display()}" in html
