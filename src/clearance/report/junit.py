"""JUnit XML report for CI systems that only render test results.

One `<testsuite name="clearance">`; one `<testcase>` per rule family (secrets,
vulnerabilities, misconfigurations, imported — for every family with findings or whose
scanner ran) with a `<failure>` per blocking finding and the warnings in `<system-out>`;
plus a `scan` test case that errors when the scan was incomplete.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import defaultdict

from clearance.model import Finding, ScannerStatus
from clearance.report.base import (
    ReportData,
    count,
    exception_command,
    family,
    headline,
    is_blocking,
    is_quiet,
    owner_of,
    remediation_of,
    verdict_of,
    why,
)

_FAMILY_BY_SCANNER = {"secrets": "secrets", "deps": "vulnerabilities", "iac": "misconfigurations"}
"""Family of a scanner that found nothing (so its clean run still shows as a passing test)."""

# XML 1.0 cannot carry most control characters, even escaped.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def render_junit(data: ReportData) -> str:
    """The JUnit XML document as text (UTF-8 declaration, trailing newline)."""
    result = data.result
    by_family: dict[str, list[Finding]] = defaultdict(list)
    for f in result.findings:
        by_family[family(f)].append(f)
    families = set(by_family)
    for run in result.runs:
        if run.status is not ScannerStatus.SKIPPED:
            families.add(_family_of_scanner(run.scanner, result.findings))

    suite = ET.Element("testsuite", name="clearance")
    failures = 0
    for name in sorted(families):
        failures += _family_case(suite, data, name, by_family.get(name, []))
    errors = _scan_case(suite, data)
    total_time = sum(r.duration_s for r in result.runs)
    suite.set("tests", str(len(families) + 1))
    suite.set("failures", str(failures))
    suite.set("errors", str(errors))
    suite.set("skipped", "0")
    suite.set("time", f"{total_time:.3f}")
    ET.indent(suite, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suite, encoding="unicode") + "\n"


def _family_of_scanner(scanner: str, findings: tuple[Finding, ...]) -> str:
    for f in findings:
        if f.scanner == scanner:
            return family(f)
    return _FAMILY_BY_SCANNER.get(scanner, scanner)


def _family_case(suite: ET.Element, data: ReportData, name: str, findings: list[Finding]) -> int:
    case = ET.SubElement(suite, "testcase", classname="clearance", name=name)
    blocking = [f for f in findings if is_blocking(data, f)]
    for f in blocking:
        failure = ET.SubElement(
            case,
            "failure",
            message=_xml(f"{f.location.display()} {f.rule_id}: {f.title}"),
            type=f.rule_id,
        )
        failure.text = _xml(_describe(data, f, blocking=True))
    others = [f for f in findings if not is_blocking(data, f) and (data.verbose or not is_quiet(data, f))]
    if others:
        out = ET.SubElement(case, "system-out")
        out.text = _xml("\n\n".join(_describe(data, f, blocking=False) for f in others))
    return len(blocking)


def _scan_case(suite: ET.Element, data: ReportData) -> int:
    result = data.result
    case = ET.SubElement(suite, "testcase", classname="clearance", name="scan")
    lines = [
        f"{headline(data)}: {count(result.files_scanned, 'file')} scanned, {len(result.skipped)} skipped"
    ]
    if data.decision is not None:
        lines.append(f"policy {data.decision.policy}")
        lines.extend(data.decision.reasons)
    lines.extend(f"notice: {w}" for w in result.warnings)
    out = ET.SubElement(case, "system-out")
    out.text = _xml("\n".join(lines))
    if result.complete:
        return 0
    failed_runs = [r for r in result.runs if r.status in (ScannerStatus.FAILED, ScannerStatus.PARTIAL)]
    error = ET.SubElement(
        case,
        "error",
        message=f"scan incomplete: {count(len(result.errors), 'error')}, {count(len(failed_runs), 'scanner')} partial or failed",
        type="incomplete",
    )
    detail = [f"{e.path} ({e.scanner}): {e.message}" for e in result.errors]
    detail += [f"scanner {r.scanner}: {r.status.value}" for r in failed_runs]
    error.text = _xml("\n".join(detail))
    return 1


def _describe(data: ReportData, f: Finding, *, blocking: bool) -> str:
    lines = [f"{f.location.display()}: {f.rule_id} ({f.severity.value}) {f.title}"]
    if f.message:
        lines.append(f.message)
    if f.evidence:
        lines.append(f"evidence: {f.evidence}")
    if f.component is not None:
        lines.append(f"component: {f.component.purl}")
    verdict = verdict_of(data, f)
    if verdict is not None:
        lines.append(f"{'blocks' if blocking else verdict.action.value}: {why(verdict)}")
    elif f.suppression is not None:
        lines.append(f"suppressed: {f.suppression.reason}")
    lines.append(f"fix: {remediation_of(data, f)}")
    owner = owner_of(data, f)
    if owner:
        lines.append(f"owner: {owner}")
    if blocking:
        lines.append(f"exception: {exception_command(data, f)}")
    lines.append(f"fingerprint: {f.fingerprint}")
    return "\n".join(lines)


def _xml(text: str) -> str:
    return _XML_ILLEGAL.sub("\N{REPLACEMENT CHARACTER}", text)
