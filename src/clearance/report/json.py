"""The JSON report: clearance's stable, documented machine contract (docs/json-output.md).

Keys are sorted; findings keep the scan's order. Evidence is the scanner's redacted preview;
nothing else about a secret is ever written.
"""

from __future__ import annotations

import json
from typing import Any

from clearance.model import Component, Finding, Location, Target, Verdict
from clearance.report.base import (
    TOOL_NAME,
    ReportData,
    action_counts,
    headline,
    jsonable,
    kind_counts,
    public_context,
    severity_counts,
    signals_of,
    verdict_of,
)

SCHEMA_VERSION = "1"


_LISTS_ONE_PER_LINE = frozenset({"findings", "skipped", "errors"})


def render_json(data: ReportData) -> str:
    """The JSON report as text: sorted keys, two-space indent, and one compact line per item of
    `findings`, `skipped` and `errors` (diff-friendly, and encoded by the C encoder: a report
    with thousands of findings renders in milliseconds instead of seconds)."""
    return _dumps(report_document(data))


def _dumps(doc: dict[str, Any]) -> str:
    parts = []
    for key in sorted(doc):
        value = doc[key]
        name = json.dumps(key)
        if key in _LISTS_ONE_PER_LINE and isinstance(value, list) and value:
            items = ",\n".join(
                "    " + json.dumps(item, sort_keys=True, ensure_ascii=False, separators=(", ", ": "))
                for item in value
            )
            parts.append(f"  {name}: [\n{items}\n  ]")
        else:
            nested = json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False).replace("\n", "\n  ")
            parts.append(f"  {name}: {nested}")
    return "{\n" + ",\n".join(parts) + "\n}\n"


def report_document(data: ReportData) -> dict[str, Any]:
    """The JSON report as a plain dict (for callers that embed it, e.g. evidence bundles)."""
    result = data.result
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": _tool(data),
        "target": {
            "kind": result.target.kind,
            "path": result.target.path,
            "commit": result.target.commit,
            "base": result.target.base,
            "refs": list(result.target.refs),
            **_image_target(result.target),
        },
        "context": public_context(data),
        "findings": [_finding(data, f) for f in result.findings],
        "summary": _summary(data),
        "skipped": [{"path": s.path, "reason": s.reason} for s in result.skipped],
        "errors": [{"path": e.path, "scanner": e.scanner, "message": e.message} for e in result.errors],
        "warnings": list(result.warnings),
        "decision": _decision(data),
    }


def _tool(data: ReportData) -> dict[str, Any]:
    return {
        "name": TOOL_NAME,
        "version": data.tool_version,
        "scanners": [
            {
                "id": r.scanner,
                "version": r.version,
                "status": r.status.value,
                "files": r.files,
                "bytes": r.bytes,
                "duration_s": round(r.duration_s, 3),
                "detail": jsonable(r.detail),
            }
            for r in data.result.runs
        ],
    }


def _finding(data: ReportData, f: Finding) -> dict[str, Any]:
    verdict = verdict_of(data, f)
    return {
        "rule_id": f.rule_id,
        "kind": f.kind.value,
        "title": f.title,
        "severity": f.severity.value,
        "scanner": f.scanner,
        "message": f.message,
        "location": _location(f.location),
        "fingerprint": f.fingerprint,
        "evidence": f.evidence,
        "remediation": f.remediation,
        "references": list(f.references),
        "component": _component(f.component) if f.component is not None else None,
        "signals": jsonable(signals_of(data, f)),
        "suppressed": f.suppressed,
        "suppression": (
            {"reason": f.suppression.reason, "source": f.suppression.source, "expires": f.suppression.expires}
            if f.suppression is not None
            else None
        ),
        "verdict": _verdict(verdict) if verdict is not None else None,
    }


def _location(loc: Location) -> dict[str, Any]:
    return {
        "path": loc.path,
        "start_line": loc.start_line,
        "end_line": loc.end_line,
        "start_column": loc.start_column,
        "commit": loc.commit,
        "commit_author": loc.commit_author,
        "commit_date": loc.commit_date,
        "blob": loc.blob,
        "layer": loc.layer,
    }


def _component(c: Component) -> dict[str, Any]:
    return {
        "ecosystem": c.ecosystem,
        "name": c.name,
        "version": c.version,
        "purl": c.purl,
        "scope": c.scope.value,
        "direct": c.direct,
        "location": {"path": c.location.path, "start_line": c.location.start_line, "layer": c.location.layer},
    }


def _verdict(v: Verdict) -> dict[str, Any]:
    return {
        "action": v.action.value,
        "rule": v.rule,
        "message": v.message,
        "exception_id": v.exception_id,
        "notes": list(v.notes),
    }


def _summary(data: ReportData) -> dict[str, Any]:
    result = data.result
    findings = result.findings
    return {
        "findings": len(findings),
        "by_severity": severity_counts(findings),
        "by_kind": kind_counts(findings),
        "by_action": action_counts(data),
        "suppressed": sum(1 for f in findings if f.suppressed),
        "outcome": data.decision.outcome.value if data.decision is not None else None,
        "headline": headline(data),
        "complete": result.complete,
        "files_scanned": result.files_scanned,
        "files_skipped": len(result.skipped),
        "bytes_scanned": result.bytes_scanned,
        "errors": len(result.errors),
        "duration_s": round(result.duration_s, 3),
    }


def _decision(data: ReportData) -> dict[str, Any] | None:
    d = data.decision
    if d is None:
        return None
    return {
        "outcome": d.outcome.value,
        "policy": d.policy,
        "policy_digest": d.policy_digest,
        "reasons": list(d.reasons),
        "exit_code": int(d.exit_code()),
        "extra": jsonable(d.extra),
    }


def _image_target(target: Target) -> dict[str, Any]:
    """Image targets also name the image: digest (image ID), manifest digest, tag and layers."""
    if target.kind != "image":
        return {}
    return {
        "digest": target.digest,
        "manifest_digest": target.manifest_digest,
        "name": target.name,
        "layers": list(target.layers),
    }
