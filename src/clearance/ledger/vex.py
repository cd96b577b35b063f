"""Triage decisions (VEX analyses) and the CycloneDX VEX export of a release.

States, justifications and responses are CycloneDX's (`exploitable`, `in_triage`,
`false_positive`, `not_affected` + justification, `resolved`; responses `can_not_fix`,
`will_not_fix`, `update`, `rollback`, `workaround_available`). `not_affected` and
`false_positive` take findings out of SLA counts and `affected` answers (shown as such).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from clearance.errors import LedgerError
from clearance.ledger.ingest import Forbidden
from clearance.ledger.store import Store

STATES = ("exploitable", "in_triage", "false_positive", "not_affected", "resolved")
JUSTIFICATIONS = (
    "code_not_present",
    "code_not_reachable",
    "requires_configuration",
    "requires_dependency",
    "requires_environment",
    "protected_by_compiler",
    "protected_at_runtime",
    "protected_at_perimeter",
    "protected_by_mitigating_control",
)
RESPONSES = ("can_not_fix", "will_not_fix", "update", "rollback", "workaround_available")


def record_analysis(
    store: Store,
    *,
    service: str,
    component_purl: str,
    advisory_id: str,
    state: str,
    author: str,
    justification: str | None = None,
    responses: Sequence[str] = (),
    detail: str = "",
    release_id: int | None = None,
    team_ids: Sequence[int] | None = None,
) -> dict[str, Any]:
    """Validate and store a decision (logged in the audit log); returns it as JSON."""
    if state not in STATES:
        raise LedgerError(f"unknown analysis state {state!r}", hint=f"one of {', '.join(STATES)}")
    if justification is not None and justification not in JUSTIFICATIONS:
        raise LedgerError(
            f"unknown justification {justification!r}", hint=f"one of {', '.join(JUSTIFICATIONS)}"
        )
    if state == "not_affected" and justification is None:
        raise LedgerError("not_affected needs a justification (e.g. code_not_reachable)")
    bad = sorted(set(responses) - set(RESPONSES))
    if bad:
        raise LedgerError(f"unknown response(s) {', '.join(bad)}", hint=f"from {', '.join(RESPONSES)}")
    svc = store.service(service)
    if svc is None:
        raise LedgerError(f"unknown service {service!r}")
    if team_ids is not None and svc.team_id not in team_ids:
        raise _forbidden(service)
    if release_id is not None:
        rel = store.release(release_id)
        if rel is None or rel.service_id != svc.id:
            raise LedgerError(f"release {release_id} is not a release of {service!r}")
    row = store.add_analysis(
        service_id=svc.id,
        release_id=release_id,
        component_purl=component_purl,
        advisory_id=advisory_id,
        state=state,
        justification=justification,
        responses=sorted(responses),
        detail=detail[:4000],
        author=author,
    )
    out = {
        "id": row.id,
        "service": service,
        "release_id": release_id,
        "component": component_purl,
        "advisory_id": advisory_id,
        "state": state,
        "justification": justification,
        "responses": sorted(responses),
        "detail": row.detail,
        "author": author,
        "at": row.at.isoformat(),
    }
    store.append_audit(author, "analysis", out)
    return out


def _forbidden(service: str) -> LedgerError:
    return Forbidden(f"this token may not use service {service!r} (owned by another team)")


def suggestion(reachable: str | None) -> tuple[str, str | None]:
    """Pre-filled state from the gate's reachability signal: unreachable → not_affected /
    code_not_reachable (a suggestion a human confirms), else in_triage."""
    if reachable == "no":
        return "not_affected", "code_not_reachable"
    return "in_triage", None


def release_vex(store: Store, release_id: int, team_ids: Sequence[int] | None = None) -> str:
    """A CycloneDX 1.6 VEX document (JSON) for a release: every matched vulnerability of its
    components with the latest analysis (or an `in_triage` entry carrying the suggestion)."""
    from cyclonedx.model.bom import Bom
    from cyclonedx.model.component import Component as CdxComponent
    from cyclonedx.model.component import ComponentType
    from cyclonedx.model.impact_analysis import (
        ImpactAnalysisJustification,
        ImpactAnalysisResponse,
        ImpactAnalysisState,
    )
    from cyclonedx.model.vulnerability import (
        BomTarget,
        Vulnerability,
        VulnerabilityAnalysis,
        VulnerabilityRating,
        VulnerabilitySeverity,
    )
    from cyclonedx.output.json import JsonV1Dot6
    from packageurl import PackageURL

    rel = store.release(release_id)
    if rel is None:
        raise LedgerError(f"no release {release_id}")
    svc = next((s for s in store.services() if s.id == rel.service_id), None)
    assert svc is not None
    if team_ids is not None and svc.team_id not in team_ids:
        raise _forbidden(svc.name)
    analyses = {(a.component_purl, a.advisory_id): a for a in store.analyses(svc.id, release_id)}
    reach = {
        (f.component_purl, f.advisory_id): f.reachable
        for f in store.findings_of_service(svc.id)
        if f.component_purl
    }
    bom = Bom(
        serial_number=uuid.uuid5(
            uuid.NAMESPACE_URL, f"clearance-vex:{svc.name}:{rel.version}:{store.now.isoformat()}"
        )
    )
    bom.metadata.timestamp = store.now
    bom.metadata.component = CdxComponent(
        name=svc.name, version=rel.version, type=ComponentType.APPLICATION, bom_ref=f"release:{release_id}"
    )
    components: dict[str, CdxComponent] = {}
    for purl, _eco, _name, _version, advisory, fixed, severity in store.release_matches(release_id):
        comp = components.get(purl)
        if comp is None:
            p = PackageURL.from_string(purl)
            comp = CdxComponent(name=p.name, version=p.version, purl=p, bom_ref=purl, group=p.namespace)
            components[purl] = comp
            bom.components.add(comp)
        names = store.advisory_names(advisory)
        a = next((analyses[(purl, n)] for n in names if (purl, n) in analyses), None)
        if a is not None:
            analysis = VulnerabilityAnalysis(
                state=ImpactAnalysisState(a.state),
                justification=ImpactAnalysisJustification(a.justification) if a.justification else None,
                responses=[ImpactAnalysisResponse(r) for r in a.responses],
                detail=(a.detail or None) and f"{a.detail} ({a.author}, {a.at.isoformat()})",
            )
        else:
            r = next((reach[(purl, n)] for n in names if (purl, n) in reach), None)
            state, just = suggestion(r)
            analysis = VulnerabilityAnalysis(
                state=ImpactAnalysisState.IN_TRIAGE,
                detail=f"not triaged; suggested: {state}"
                + (f" ({just}, import reachability: {r})" if just else ""),
            )
        sev = {
            "critical": VulnerabilitySeverity.CRITICAL,
            "high": VulnerabilitySeverity.HIGH,
            "medium": VulnerabilitySeverity.MEDIUM,
            "low": VulnerabilitySeverity.LOW,
            "info": VulnerabilitySeverity.INFO,
        }.get(severity, VulnerabilitySeverity.UNKNOWN)
        vuln = Vulnerability(
            bom_ref=f"{advisory}:{purl}",
            id=advisory,
            ratings=[VulnerabilityRating(severity=sev)],
            analysis=analysis,
            affects=[BomTarget(ref=purl)],
            recommendation=f"upgrade to {fixed[0]}" if fixed else None,
        )
        bom.vulnerabilities.add(vuln)
    text: str = JsonV1Dot6(bom).output_as_string(indent=2)
    return text
