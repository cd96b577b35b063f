"""JUnit XML: parses, one test case per rule family, a failure per blocking finding."""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET

from clearance.model import ScannerRun, ScannerStatus
from clearance.report import Format, render
from report.report_sample import DECISION, MISCONFIG, RESULT, SECRET, VULN, gate_data, scan_data


def _suite(data: object) -> ET.Element:
    return ET.fromstring(render(Format.junit, data).encode("utf-8"))  # type: ignore[arg-type]


def _cases(suite: ET.Element) -> dict[str, ET.Element]:
    return {c.get("name", ""): c for c in suite.iter("testcase")}


def test_one_case_per_family_plus_the_scan() -> None:
    suite = _suite(gate_data())
    assert suite.tag == "testsuite" and suite.get("name") == "clearance"
    cases = _cases(suite)
    assert set(cases) == {"secrets", "vulnerabilities", "misconfigurations", "scan"}
    assert suite.get("tests") == "4" and suite.get("failures") == "2" and suite.get("errors") == "1"


def test_a_failure_per_blocking_finding_with_where_what_why() -> None:
    cases = _cases(_suite(gate_data()))
    (failure,) = cases["secrets"].findall("failure")
    assert failure.get("message") == f"deploy/settings.py:12 {SECRET.rule_id}: {SECRET.title}"
    assert failure.get("type") == SECRET.rule_id
    body = failure.text or ""
    assert "evidence: AKIA…Q7ZK" in body
    assert f"blocks: threshold:high: {DECISION.verdicts[SECRET.fingerprint].message}" in body
    assert f"fix: {SECRET.remediation}" in body
    (vuln,) = cases["vulnerabilities"].findall("failure")
    assert "component: pkg:pypi/requests@2.25.0" in (vuln.text or "")


def test_warnings_go_to_system_out_not_failures() -> None:
    cases = _cases(_suite(gate_data()))
    assert not cases["misconfigurations"].findall("failure")
    out = cases["misconfigurations"].findtext("system-out") or ""
    assert MISCONFIG.rule_id in out and "warn: threshold:high" in out
    assert "<b>stay literal</b>" in out, "text round-trips through XML escaping"


def test_incomplete_scan_is_an_error_case() -> None:
    error = _cases(_suite(gate_data()))["scan"].find("error")
    assert error is not None and "infra/broken.tf (iac): HCL parse error" in (error.text or "")
    complete = dataclasses.replace(RESULT, errors=(), runs=RESULT.runs[:2])
    suite = _suite(gate_data(result=complete))
    assert _cases(suite)["scan"].find("error") is None and suite.get("errors") == "0"


def test_scan_without_decision_has_no_failures() -> None:
    suite = _suite(scan_data())
    assert suite.get("failures") == "0"
    assert VULN.rule_id in (_cases(suite)["vulnerabilities"].findtext("system-out") or "")


def test_a_clean_scanner_still_shows_as_a_passing_case() -> None:
    runs = (*RESULT.runs, ScannerRun("licenses", "1.0.0", ScannerStatus.SUCCEEDED))
    result = dataclasses.replace(RESULT, findings=(), runs=runs, errors=())
    cases = _cases(_suite(gate_data(result=result)))
    assert set(cases) == {"secrets", "vulnerabilities", "misconfigurations", "licenses", "scan"}
    assert all(not c.findall("failure") for c in cases.values())


def test_control_characters_never_break_the_xml() -> None:
    odd = dataclasses.replace(SECRET, title="bell\x07 and nul\x00 and esc\x1b[31m", evidence="AK\x0bIA…")
    result = dataclasses.replace(RESULT, findings=(odd,))
    (failure,) = _cases(_suite(gate_data(result=result)))["secrets"].findall("failure")
    assert "\ufffd" in (failure.get("message") or "")
