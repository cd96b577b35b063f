"""JUnit XML report for CI systems that only render test results.

One `<testcase>` per finding, so every JUnit consumer (junit2html, GitLab, Jenkins, Azure
DevOps) lists every finding: a blocking finding is a `<failure>`, a warning is `<skipped>` with
the reason as its message (visible, not failing), anything the policy passed, excepted or that
was suppressed inline is a passing case whose `<system-out>` says why. Findings are grouped in
one `<testsuite>` per scanner (a scanner that found nothing has one passing case, so its clean
run still shows), and a `clearance` suite holds the `scan` case, which errors when the scan was
incomplete. Informational and ignored findings appear only with `verbose`, as in the other
human formats.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import defaultdict

from clearance.model import Action, Finding, ScannerStatus
from clearance.report.base import (
    ReportData,
    action_of,
    count,
    exception_command,
    headline,
    is_blocking,
    is_quiet,
    owner_of,
    remediation_of,
    verdict_of,
    why,
)

# XML 1.0 cannot carry most control characters, even escaped.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def render_junit(data: ReportData) -> str:
    """The JUnit XML document as text (UTF-8 declaration, trailing newline)."""
    result = data.result
    by_scanner: dict[str, list[Finding]] = defaultdict(list)
    for f in result.findings:
        if not is_quiet(data, f):
            by_scanner[f.scanner].append(f)
    durations = {r.scanner: r.duration_s for r in result.runs}
    scanners = set(by_scanner) | {r.scanner for r in result.runs if r.status is not ScannerStatus.SKIPPED}

    root = ET.Element("testsuites", name="clearance")
    for scanner in sorted(scanners):
        _scanner_suite(root, data, scanner, by_scanner.get(scanner, []), durations.get(scanner, 0.0))
    _scan_suite(root, data)
    for key in ("tests", "failures", "errors", "skipped"):
        root.set(key, str(sum(int(s.get(key, "0")) for s in root)))
    root.set("time", f"{sum(durations.values()):.3f}")
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _scanner_suite(
    root: ET.Element, data: ReportData, scanner: str, findings: list[Finding], time: float
) -> None:
    suite = ET.SubElement(root, "testsuite", name=scanner)
    tallies = {"failures": 0, "skipped": 0}
    names: set[str] = set()
    for f in findings:
        name = f"{f.rule_id} at {f.location.display()}"
        if name in names:  # two findings of one rule on one line: keep every case distinct
            name += f" ({f.fingerprint[:8]})"
        names.add(name)
        case = ET.SubElement(suite, "testcase", classname=f"clearance.{scanner}", name=_xml(name))
        case.set("file", _xml(f.location.path))
        if f.location.start_line:
            case.set("line", str(f.location.start_line))
        case.set("time", "0")
        action = action_of(data, f)
        if is_blocking(data, f):
            failure = ET.SubElement(
                case, "failure", message=_xml(f"{f.severity.value}: {f.title}"), type=f.rule_id
            )
            failure.text = _xml(_describe(data, f, blocking=True))
            tallies["failures"] += 1
        elif action is Action.WARN or (action is None and f.suppression is None):
            reason = why(verdict_of(data, f)) or f"{f.severity.value}, no policy decision (clearance scan)"
            skipped = ET.SubElement(case, "skipped", message=_xml(f"warning: {reason}"))
            skipped.text = _xml(_describe(data, f, blocking=False))
            tallies["skipped"] += 1
        else:
            out = ET.SubElement(case, "system-out")
            out.text = _xml(_describe(data, f, blocking=False))
    if not findings:
        ET.SubElement(
            suite, "testcase", classname=f"clearance.{scanner}", name=f"{scanner}: no findings", time="0"
        )
    suite.set("tests", str(max(len(findings), 1)))
    suite.set("failures", str(tallies["failures"]))
    suite.set("errors", "0")
    suite.set("skipped", str(tallies["skipped"]))
    suite.set("time", f"{time:.3f}")


def _scan_suite(root: ET.Element, data: ReportData) -> None:
    result = data.result
    suite = ET.SubElement(root, "testsuite", name="clearance", tests="1", failures="0", skipped="0")
    case = ET.SubElement(
        suite, "testcase", classname="clearance", name="scan", time=f"{result.duration_s:.3f}"
    )
    lines = [
        f"{headline(data)}: {count(result.files_scanned, 'file')} scanned, {len(result.skipped)} skipped"
    ]
    if data.decision is not None:
        lines.append(f"policy {data.decision.policy}")
        lines.extend(data.decision.reasons)
    lines.extend(f"notice: {w}" for w in result.warnings)
    errors = 0
    if not result.complete:
        failed_runs = [r for r in result.runs if r.status in (ScannerStatus.FAILED, ScannerStatus.PARTIAL)]
        error = ET.SubElement(
            case,
            "error",
            message=f"scan incomplete: {count(len(result.errors), 'error')}, "
            f"{count(len(failed_runs), 'scanner')} partial or failed",
            type="incomplete",
        )
        detail = [f"{e.path} ({e.scanner}): {e.message}" for e in result.errors]
        detail += [f"scanner {r.scanner}: {r.status.value}" for r in failed_runs]
        error.text = _xml("\n".join(detail))
        errors = 1
    out = ET.SubElement(case, "system-out")
    out.text = _xml("\n".join(lines))
    suite.set("errors", str(errors))
    suite.set("time", f"{result.duration_s:.3f}")


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
    if f.suppression is not None:
        lines.append(f"suppressed inline: {f.suppression.reason} ({f.suppression.source})")
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
