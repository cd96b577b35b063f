"""GitHub workflow annotations and GitLab security reports (structure from GitLab's published schema)."""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

from clearance.decision import Decision
from clearance.model import Action, Location, Outcome, Verdict
from clearance.report.annotations import render_annotations
from clearance.report.gitlab import render_gitlab_dependency_scanning, render_gitlab_secret_detection
from report.report_sample import DECISION, MISCONFIG, RESULT, SECRET, VULN, gate_data, scan_data

# --- GitHub annotations --------------------------------------------------------------------------


def test_blocking_findings_become_errors_and_warnings_warnings() -> None:
    lines = render_annotations(gate_data()).splitlines()
    errors = [line for line in lines if line.startswith("::error ")]
    warnings = [line for line in lines if line.startswith("::warning ")]
    assert len(errors) == 2 and len(warnings) == 1
    secret = next(line for line in errors if "deploy/settings.py" in line)
    assert secret.startswith(
        "::error file=deploy/settings.py,line=12,title=secret.aws-access-key (critical)%3A AWS"
    )
    message = secret.split("::", 2)[2]
    assert "\n" not in message and "%0A" in message
    text = message.replace("%0A", "\n")
    assert "why: threshold:high: severity critical is at or above high" in text
    assert "owner: @acme/platform" in text
    assert f"clearance exceptions add --fingerprint {SECRET.fingerprint}" in text
    assert "AKIA…Q7ZK" in text  # the redacted preview, never the secret
    vuln = next(line for line in errors if "requirements.txt" in line)
    assert "exception EXC-12 (owner team-payments) expired on 2026-10-01" in vuln
    assert warnings[0].startswith(f"::warning file={MISCONFIG.location.path},line=3,endLine=9,")
    assert "clearance exceptions add" not in warnings[0]


def test_annotations_are_capped_with_a_count() -> None:
    many = [
        dataclasses.replace(SECRET, fingerprint=f"{i:032x}", location=Location(f"app/m{i:02}.py", 1))
        for i in range(13)
    ]
    verdicts = {
        f.fingerprint: Verdict(f.fingerprint, Action.BLOCK, "secret.live-format", "live") for f in many
    }
    data = gate_data(
        result=dataclasses.replace(RESULT, findings=tuple(many)),
        decision=Decision(Outcome.BLOCK, verdicts, "default", "sha256:00"),
    )
    lines = render_annotations(data, limit=10).splitlines()
    assert sum(1 for line in lines if line.startswith("::error ")) == 10
    assert lines[-1] == (
        "::notice title=clearance::3 more blocking and 0 more warning finding(s) are not shown as "
        "annotations; see the job summary or the SARIF results"
    )


def test_properties_and_messages_are_escaped() -> None:
    odd = dataclasses.replace(SECRET, location=Location("dir,with:odd%name.py", 5), title="a\nb")
    data = gate_data(
        result=dataclasses.replace(RESULT, findings=(odd,)),
        decision=Decision(
            Outcome.BLOCK,
            {odd.fingerprint: Verdict(odd.fingerprint, Action.BLOCK, "r", "100% sure")},
            "p",
            "sha256:00",
        ),
    )
    line = render_annotations(data)
    assert "file=dir%2Cwith%3Aodd%25name.py,line=5," in line
    assert "a%0Ab" in line and "100%25 sure" in line


def test_needs_approval_is_an_error_and_scan_has_no_annotations() -> None:
    decision = dataclasses.replace(
        DECISION,
        outcome=Outcome.NEEDS_APPROVAL,
        reasons=(
            "needs approval: auth/x.py (authentication code, **/auth/**) needs approval from @acme/security",
        ),
    )
    text = render_annotations(gate_data(decision=decision))
    assert "::error title=clearance%3A approval required::needs approval: auth/x.py" in text
    assert render_annotations(scan_data()) == ""


# --- GitLab security reports -------------------------------------------------------------------
# Required structure of GitLab's security report schema v15 (security-report-format.json and the
# secret-detection / dependency-scanning report formats that extend it).

_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")
_SEVERITIES = {"Info", "Unknown", "Low", "Medium", "High", "Critical"}


def _check_common(report: dict[str, Any], scan_type: str) -> None:
    assert {"version", "vulnerabilities", "scan"} <= set(report)
    assert re.match(r"^15\.\d+\.\d+$", report["version"])
    scan = report["scan"]
    assert {"analyzer", "scanner", "type", "start_time", "end_time", "status"} <= set(scan)
    for tool in (scan["analyzer"], scan["scanner"]):
        assert {"id", "name", "version", "vendor"} <= set(tool) and tool["vendor"]["name"]
        assert all(isinstance(tool[k], str) and tool[k] for k in ("id", "name", "version"))
    assert scan["type"] == scan_type
    assert scan["status"] in ("success", "failure")
    assert _TIME.match(scan["start_time"]) and _TIME.match(scan["end_time"])
    ids = [v["id"] for v in report["vulnerabilities"]]
    assert len(ids) == len(set(ids))
    for vuln in report["vulnerabilities"]:
        assert {"id", "identifiers", "location"} <= set(vuln)
        assert isinstance(vuln["id"], str) and vuln["id"]
        assert vuln["severity"] in _SEVERITIES
        assert 1 <= len(vuln["identifiers"]) <= 20
        for ident in vuln["identifiers"]:
            assert {"type", "name", "value"} <= set(ident) and all(
                ident[k] for k in ("type", "name", "value")
            )
        assert len(vuln["name"]) <= 255


def _context(**extra: object) -> dict[str, object]:
    return {
        "commit": "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432",
        "decided_at": "2026-11-22T12:00:00+00:00",
        **extra,
    }


def test_gitlab_secret_detection_report_structure_and_explanation() -> None:
    report = json.loads(render_gitlab_secret_detection(gate_data(context=_context())))
    _check_common(report, "secret_detection")
    assert report["scan"]["end_time"] == "2026-11-22T12:00:00"
    vulns = report["vulnerabilities"]
    assert [v["location"]["file"] for v in vulns] == ["deploy/settings.py"]  # the suppressed one passes
    loc = vulns[0]["location"]
    assert loc["commit"]["sha"] == "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432"
    assert (loc["start_line"], loc["end_line"]) == (12, 12)
    desc = vulns[0]["description"]
    assert "Verdict: block — threshold:high: severity critical is at or above high" in desc
    assert "Owner: @acme/platform" in desc
    assert f"clearance exceptions add --fingerprint {SECRET.fingerprint}" in desc
    assert vulns[0]["severity"] == "Critical"


def test_gitlab_dependency_scanning_report_structure() -> None:
    report = json.loads(render_gitlab_dependency_scanning(gate_data(context=_context())))
    _check_common(report, "dependency_scanning")
    (vuln,) = report["vulnerabilities"]
    assert vuln["location"] == {
        "file": "requirements.txt",
        "dependency": {"package": {"name": "requests"}, "version": "2.25.0", "direct": True},
    }
    assert [(i["type"], i["value"]) for i in vuln["identifiers"]] == [
        ("clearance_rule", VULN.rule_id),
        ("ghsa", "GHSA-j8r2-6x86-q33q"),
        ("cve", "CVE-2023-32681"),
    ]
    assert "exception EXC-12 (owner team-payments) expired on 2026-10-01" in vuln["description"]


def test_gitlab_reports_are_deterministic_and_valid_when_empty() -> None:
    data = gate_data(context=_context())
    assert render_gitlab_secret_detection(data) == render_gitlab_secret_detection(data)
    empty = gate_data(result=dataclasses.replace(RESULT, findings=()), context={})
    for render in (render_gitlab_secret_detection, render_gitlab_dependency_scanning):
        report = json.loads(render(empty))
        _check_common(report, report["scan"]["type"])
        assert report["vulnerabilities"] == []


def test_ignored_findings_are_left_out_and_excepted_ones_kept() -> None:
    verdicts = dict(DECISION.verdicts)
    verdicts[SECRET.fingerprint] = Verdict(
        SECRET.fingerprint,
        Action.EXCEPTED,
        "secret.live-format",
        "excepted by EXC-3 (owner team-a, expires 2026-12-01): rotated",
        exception_id="EXC-3",
    )
    data = gate_data(decision=dataclasses.replace(DECISION, verdicts=verdicts), context=_context())
    (vuln,) = json.loads(render_gitlab_secret_detection(data))["vulnerabilities"]
    assert "excepted" in vuln["description"] and "EXC-3" in vuln["description"]
    assert "clearance exceptions add" not in vuln["description"]
