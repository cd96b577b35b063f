"""GitLab security reports: secret detection, dependency scanning and SAST (IaC) JSON, schema 15.2.4.

GitLab ingests `artifacts:reports:secret_detection`, `artifacts:reports:dependency_scanning` and
`artifacts:reports:sast` files and shows them in the merge request widget and the vulnerability
report. IaC misconfigurations go into the SAST report, as GitLab's own IaC scanning does. Each
vulnerability's description carries the same explanation as every other format: what, where,
why (the deciding rule), who owns it, how to fix it and how to request an exception.
Findings the policy ignores are left out; excepted findings are kept (risk accepted, not hidden).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

from clearance.model import Action, Finding, FindingKind, ScannerStatus, Severity
from clearance.report.base import (
    ReportData,
    action_of,
    commit_of,
    exception_command,
    ordered,
    owner_of,
    remediation_of,
    verdict_of,
    why,
)

SCHEMA_VERSION = "15.2.4"
SCHEMA_BASE = "https://gitlab.com/gitlab-org/security-products/security-report-schemas/-/raw/v15.2.4/dist"
_NAMESPACE = uuid.UUID("6f1c3f4e-2b9a-4d55-9a51-2f1d1c9e7a10")
_SEVERITY = {
    Severity.INFO: "Info",
    Severity.LOW: "Low",
    Severity.UNKNOWN: "Unknown",
    Severity.MEDIUM: "Medium",
    Severity.HIGH: "High",
    Severity.CRITICAL: "Critical",
}
_SKIPPED = (Action.IGNORE, Action.PASS)


def render_gitlab_secret_detection(data: ReportData) -> str:
    """The secret detection report (`gl-secret-detection-report.json`)."""
    findings = [f for f in _selected(data) if f.kind is FindingKind.SECRET]
    vulns = [dict(_common(data, f), location=_secret_location(data, f)) for f in findings]
    return _dump(_report(data, "secret_detection", "secrets", "secret-detection-report-format.json", vulns))


def render_gitlab_dependency_scanning(data: ReportData) -> str:
    """The dependency scanning report (`gl-dependency-scanning-report.json`)."""
    findings = [f for f in _selected(data) if f.kind is FindingKind.VULNERABILITY and f.component is not None]
    vulns = [dict(_common(data, f), location=_dependency_location(f)) for f in findings]
    return _dump(
        _report(data, "dependency_scanning", "deps", "dependency-scanning-report-format.json", vulns)
    )


def render_gitlab_sast(data: ReportData) -> str:
    """The SAST report for IaC misconfigurations (`gl-sast-report.json`)."""
    findings = [f for f in _selected(data) if f.kind is FindingKind.MISCONFIGURATION]
    vulns = [dict(_common(data, f), location=_file_location(f)) for f in findings]
    return _dump(_report(data, "sast", "iac", "sast-report-format.json", vulns))


GITLAB_REPORTS = (
    ("gl-secret-detection-report.json", render_gitlab_secret_detection),
    ("gl-dependency-scanning-report.json", render_gitlab_dependency_scanning),
    ("gl-sast-report.json", render_gitlab_sast),
)
"""Every GitLab report `--gitlab-reports DIR` writes: file name and renderer."""


def _selected(data: ReportData) -> list[Finding]:
    return [f for f in ordered(list(data.result.findings)) if action_of(data, f) not in _SKIPPED]


def _report(
    data: ReportData, scan_type: str, scanner_id: str, schema: str, vulnerabilities: list[dict[str, Any]]
) -> dict[str, Any]:
    run = next((r for r in data.result.runs if r.scanner == scanner_id), None)
    end = _time(data)
    start = end - dt.timedelta(seconds=round(data.result.duration_s))
    failed = run is not None and run.status is ScannerStatus.FAILED
    vendor = {"name": "clearance"}
    return {
        "version": SCHEMA_VERSION,
        "schema": f"{SCHEMA_BASE}/{schema}",
        "scan": {
            "analyzer": {
                "id": "clearance",
                "name": "clearance",
                "version": data.tool_version,
                "vendor": vendor,
            },
            "scanner": {
                "id": f"clearance-{scanner_id}",
                "name": f"clearance {scanner_id}",
                "version": run.version if run is not None else data.tool_version,
                "vendor": vendor,
            },
            "type": scan_type,
            "start_time": start.strftime("%Y-%m-%dT%H:%M:%S"),
            "end_time": end.strftime("%Y-%m-%dT%H:%M:%S"),
            "status": "failure" if failed else "success",
        },
        "vulnerabilities": vulnerabilities,
    }


def _time(data: ReportData) -> dt.datetime:
    value = data.context.get("decided_at")
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC) if value.tzinfo else value
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            return parsed.astimezone(dt.UTC) if parsed.tzinfo else parsed
        except ValueError:
            pass
    for finding in data.result.findings:  # deterministic fallback: the newest commit date seen
        if finding.location.commit_date:
            try:
                return dt.datetime.fromisoformat(finding.location.commit_date).astimezone(dt.UTC)
            except ValueError:
                continue
    return dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _common(data: ReportData, finding: Finding) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": str(uuid.uuid5(_NAMESPACE, finding.fingerprint)),
        "name": finding.title[:255] or finding.rule_id,
        "description": _description(data, finding),
        "severity": _SEVERITY[finding.severity],
        "solution": remediation_of(data, finding),
        "identifiers": _identifiers(finding),
    }
    links = [{"url": ref} for ref in finding.references if ref.startswith(("http://", "https://"))]
    if links:
        out["links"] = links
    return out


def _description(data: ReportData, finding: Finding) -> str:
    verdict = verdict_of(data, finding)
    action = verdict.action.value if verdict is not None else "reported"
    lines = [
        f"**{finding.rule_id}** ({finding.severity.value}) at `{finding.location.display()}`: "
        f"{finding.message or finding.title}",
        f"- Verdict: {action} — {why(verdict)}",
        f"- Owner: {owner_of(data, finding) or 'unknown'}",
    ]
    if finding.evidence:
        lines.append(f"- Evidence: `{finding.evidence}`")
    lines.append(f"- Fix: {remediation_of(data, finding)}")
    if verdict is not None and verdict.action is Action.BLOCK:
        lines.append(f"- Request an exception: `{exception_command(data, finding)}`")
    return "\n".join(lines)


def _identifiers(finding: Finding) -> list[dict[str, str]]:
    ids = [{"type": "clearance_rule", "name": finding.rule_id, "value": finding.rule_id}]
    advisory = finding.rule_id.removeprefix("vuln.") if finding.rule_id.startswith("vuln.") else None
    aliases = finding.signals.aliases or ()
    names = ([advisory] if advisory else []) + [str(a) for a in aliases if isinstance(a, str)]
    for name in dict.fromkeys(names):
        kind = name.split("-", 1)[0].lower()
        ident = {
            "type": kind if kind in ("cve", "ghsa", "osv", "pysec", "rustsec", "go") else "advisory",
            "name": name,
            "value": name,
        }
        if kind == "cve":
            ident["url"] = f"https://nvd.nist.gov/vuln/detail/{name}"
        elif kind == "ghsa":
            ident["url"] = f"https://github.com/advisories/{name}"
        ids.append(ident)
    return ids[:20]


def _secret_location(data: ReportData, finding: Finding) -> dict[str, Any]:
    """File, lines and the commit: the finding's own (history scans), else the one scanned
    (CI context or the target's `HEAD`). An unknown commit is left out, never invented."""
    loc = finding.location
    out = _file_location(finding)
    sha = commit_of(data, finding)
    if sha:
        commit: dict[str, Any] = {"sha": sha}
        if loc.commit_author:
            commit["author"] = loc.commit_author
        if loc.commit_date:
            commit["date"] = loc.commit_date
        out["commit"] = commit
    return out


def _file_location(finding: Finding) -> dict[str, Any]:
    loc = finding.location
    out: dict[str, Any] = {"file": loc.path}
    if loc.start_line:
        out["start_line"] = loc.start_line
        out["end_line"] = max(loc.end_line or loc.start_line, loc.start_line)
    return out


def _dependency_location(finding: Finding) -> dict[str, Any]:
    comp = finding.component
    assert comp is not None
    dependency: dict[str, Any] = {"package": {"name": comp.name}, "version": comp.version}
    if comp.direct is not None:
        dependency["direct"] = comp.direct
    return {"file": comp.location.path or finding.location.path, "dependency": dependency}


def _dump(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
