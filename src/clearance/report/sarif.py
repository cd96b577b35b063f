"""SARIF 2.1.0 report for GitHub code scanning and other SARIF consumers.

Severity → `security-severity` (a CVSS-like score GitHub uses to rank alerts):
critical 9.5, high 8.0, medium 5.5, unknown 5.5, low 3.0, info 0.0.
Result `level`: by verdict when there is a decision (block → error, warn → warning,
pass/excepted/ignore → note), else by severity (critical/high → error, medium/unknown →
warning, low/info → note).
"""

from __future__ import annotations

import json
import re
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import quote, urlsplit

from clearance.model import Action, Finding, RuleInfo, Severity
from clearance.report.base import (
    INFORMATION_URI,
    TOOL_NAME,
    ReportData,
    context_value,
    family,
    is_blocking,
    jsonable,
    owner_of,
    remediation_of,
    repository_url,
    signals_of,
    verdict_of,
    why,
)

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SRCROOT = "%SRCROOT%"

SECURITY_SEVERITY: dict[Severity, str] = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.UNKNOWN: "5.5",
    Severity.LOW: "3.0",
    Severity.INFO: "0.0",
}

_MAX_TAGS = 20
"""GitHub code scanning accepts at most 20 tags per rule; `security` (which makes it read
`security-severity`) and the family come first so they are never cut."""

_LEVEL_BY_SEVERITY = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.UNKNOWN: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}

_LEVEL_BY_ACTION = {
    Action.BLOCK: "error",
    Action.WARN: "warning",
    Action.PASS: "note",
    Action.EXCEPTED: "note",
    Action.IGNORE: "note",
}


def render_sarif(data: ReportData) -> str:
    """The SARIF log as text (two-space indent, trailing newline)."""
    return json.dumps(sarif_log(data), indent=2, ensure_ascii=False) + "\n"


def sarif_log(data: ReportData) -> dict[str, Any]:
    """The SARIF log as a plain dict: one run of the `clearance` driver."""
    by_rule: dict[str, list[Finding]] = {}
    for f in data.result.findings:
        by_rule.setdefault(f.rule_id, []).append(f)
    rule_ids = sorted(by_rule)
    index = {rule_id: i for i, rule_id in enumerate(rule_ids)}
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": TOOL_NAME,
                "version": data.tool_version,
                "semanticVersion": data.tool_version,
                "informationUri": INFORMATION_URI,
                "rules": [_rule(data, rule_id, by_rule[rule_id]) for rule_id in rule_ids],
            }
        },
        "invocations": [_invocation(data)],
        "results": [_result(data, f, index[f.rule_id]) for f in data.result.findings],
        "columnKind": "unicodeCodePoints",
    }
    base = _srcroot(data)
    if base is not None:
        run["originalUriBaseIds"] = {SRCROOT: {"uri": base}}
    provenance = _provenance(data)
    if provenance is not None:
        run["versionControlProvenance"] = [provenance]
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}


def _rule(data: ReportData, rule_id: str, findings: list[Finding]) -> dict[str, Any]:
    info = data.rules.get(rule_id) or _rule_from_finding(findings)
    # The rule's score is its documented severity, raised to the worst finding seen for it.
    severity = max([info.severity, *(f.severity for f in findings)], key=lambda s: s.sort_key())
    help_text = info.remediation or remediation_of(data, findings[0])
    references = info.references or findings[0].references
    links = sorted((ref for ref in references if _is_url(ref)), key=lambda ref: not ref.startswith("https:"))
    help_md = help_text + "".join(f"\n- <{ref}>" if _is_url(ref) else f"\n- {ref}" for ref in references)
    help_text += "".join(f"\n- {ref}" for ref in references)
    rule: dict[str, Any] = {
        "id": rule_id,
        "name": _pascal(rule_id),
        "shortDescription": {"text": info.title},
        "fullDescription": {"text": info.description or info.title},
        "help": {"text": help_text, "markdown": help_md},
        "defaultConfiguration": {"level": _LEVEL_BY_SEVERITY[severity]},
        "properties": {
            "security-severity": SECURITY_SEVERITY[severity],
            "tags": ["security", family(findings[0]), *sorted(set(info.tags) - {"security"})][:_MAX_TAGS],
            "precision": "high" if findings[0].kind.value == "secret" else "medium",
        },
    }
    if references:
        rule["properties"]["references"] = list(references)
    if links:  # helpUri is a URI or nothing: benchmark names ("CIS AWS Foundations 3.6") stay in help
        rule["helpUri"] = links[0]
    return rule


def _is_url(text: str) -> bool:
    """True for an absolute http(s) URL that SARIF's `helpUri` (RFC 3986) accepts as it is."""
    parsed = urlsplit(text)
    return parsed.scheme in ("http", "https") and bool(parsed.netloc) and not any(c.isspace() for c in text)


def _rule_from_finding(findings: list[Finding]) -> RuleInfo:
    f = findings[0]
    return RuleInfo(
        id=f.rule_id,
        title=f.title,
        severity=f.severity,
        scanner=f.scanner,
        description=f.message or f.title,
        remediation=f.remediation,
        references=f.references,
    )


def _pascal(rule_id: str) -> str:
    words = re.split(r"[^A-Za-z0-9]+", rule_id)
    return "".join(w[:1].upper() + w[1:] for w in words if w) or "Rule"


def _result(data: ReportData, f: Finding, rule_index: int) -> dict[str, Any]:
    verdict = verdict_of(data, f)
    level = _LEVEL_BY_ACTION[verdict.action] if verdict is not None else _LEVEL_BY_SEVERITY[f.severity]
    properties: dict[str, Any] = {
        "fingerprint": f.fingerprint,
        "kind": f.kind.value,
        "severity": f.severity.value,
        "signals": jsonable(signals_of(data, f)),
        "verdict": (
            {
                "action": verdict.action.value,
                "rule": verdict.rule,
                "message": verdict.message,
                "exception_id": verdict.exception_id,
                "notes": list(verdict.notes),
            }
            if verdict is not None
            else None
        ),
    }
    if f.evidence:
        properties["evidence"] = f.evidence
    if f.component is not None:
        properties["component"] = {"purl": f.component.purl, "scope": f.component.scope.value}
    owner = owner_of(data, f)
    if owner:
        properties["owner"] = owner
    result: dict[str, Any] = {
        "ruleId": f.rule_id,
        "ruleIndex": rule_index,
        "level": level,
        "message": {"text": _message(data, f)},
        "locations": [_location(f)],
        "partialFingerprints": {
            "primaryLocationLineHash": f"{f.fingerprint}:1",
            "clearance/v1": f.fingerprint,
        },
        "properties": properties,
    }
    suppressions = _suppressions(data, f)
    if suppressions:
        result["suppressions"] = suppressions
    return result


def _message(data: ReportData, f: Finding) -> str:
    parts = [f.title + (f": {f.message}" if f.message and f.message != f.title else "")]
    if f.evidence:
        parts.append(f"Evidence: {f.evidence}")
    if f.component is not None:
        parts.append(f"Component: {f.component.purl}")
    verdict = verdict_of(data, f)
    if verdict is not None:
        label = "Blocks" if is_blocking(data, f) else verdict.action.value.capitalize()
        parts.append(f"{label} ({why(verdict)})")
    parts.append(f"Fix: {remediation_of(data, f)}")
    return "\n".join(parts)


def _location(f: Finding) -> dict[str, Any]:
    loc = f.location
    physical: dict[str, Any] = {"artifactLocation": {"uri": _uri(loc.path), "uriBaseId": SRCROOT}}
    if loc.start_line:
        region: dict[str, Any] = {"startLine": loc.start_line}
        if loc.end_line and loc.end_line >= loc.start_line:
            region["endLine"] = loc.end_line
        if loc.start_column:
            region["startColumn"] = loc.start_column
        physical["region"] = region
    location: dict[str, Any] = {"physicalLocation": physical}
    extra = {k: v for k, v in (("commit", loc.commit), ("blob", loc.blob), ("layer", loc.layer)) if v}
    if extra:
        location["properties"] = extra
    return location


def _uri(path: str) -> str:
    return quote(path.lstrip("/"), safe="/-._~")


def _suppressions(data: ReportData, f: Finding) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if f.suppression is not None:
        out.append(
            {
                "kind": "inSource",
                "status": "accepted",
                "justification": f"{f.suppression.reason} ({f.suppression.source})",
            }
        )
    verdict = verdict_of(data, f)
    if verdict is not None and verdict.action in (Action.EXCEPTED, Action.IGNORE) and f.suppression is None:
        out.append({"kind": "external", "status": "accepted", "justification": why(verdict)})
    return out


def _invocation(data: ReportData) -> dict[str, Any]:
    result = data.result
    notifications: list[dict[str, Any]] = [
        {
            "level": "error",
            "message": {"text": f"{e.scanner}: {e.message}"},
            "locations": [
                {"physicalLocation": {"artifactLocation": {"uri": _uri(e.path), "uriBaseId": SRCROOT}}}
            ],
            "descriptor": {"id": f"clearance.error.{e.scanner}"},
        }
        for e in result.errors
    ]
    notifications.extend(
        {"level": "warning", "message": {"text": w}, "descriptor": {"id": "clearance.warning"}}
        for w in result.warnings
    )
    invocation: dict[str, Any] = {
        "executionSuccessful": result.complete,
        "toolExecutionNotifications": notifications,
        "properties": {
            "filesScanned": result.files_scanned,
            "filesSkipped": len(result.skipped),
            "bytesScanned": result.bytes_scanned,
        },
    }
    if data.decision is not None:
        invocation["exitCode"] = int(data.decision.exit_code())
        invocation["exitCodeDescription"] = data.decision.outcome.value
        invocation["properties"]["policy"] = data.decision.policy
        invocation["properties"]["policyDigest"] = data.decision.policy_digest
    return invocation


def _srcroot(data: ReportData) -> str | None:
    path = PurePosixPath(data.result.target.path)
    if not path.is_absolute():
        return None
    return "file://" + quote(str(path).rstrip("/") + "/", safe="/-._~")


def _provenance(data: ReportData) -> dict[str, Any] | None:
    url = repository_url(data)
    if url is None:
        return None
    provenance: dict[str, Any] = {"repositoryUri": url}
    commit = context_value(data, "commit") or data.result.target.commit
    if commit:
        provenance["revisionId"] = commit
    branch = context_value(data, "branch")
    if branch:
        provenance["branch"] = branch
    return provenance
