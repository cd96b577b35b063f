"""Deploy-side queries of the ledger: the facts a go/no-go needs, and the records it writes
(decisions, approvals, deployments, incidents, runtime signals, drift reports).

Every SQL statement of the deploy gate lives here (metrics in `metrics.py`). Each writer appends
an audit entry in the same transaction. Functions take an open session and an injected `now`;
the caller owns the transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, insert, or_, select
from sqlalchemy.orm import Session

from clearance.decision import ExitCode
from clearance.deploy.drift import DriftReport as DriftResult
from clearance.deploy.gonogo import (
    ApprovalFact,
    ChangeFacts,
    DeployDecision,
    DeployFacts,
    DeployRequest,
    DriftFact,
    EvidenceFact,
    RiskFact,
)
from clearance.deploy.incidents import IncidentEvent
from clearance.deploy.policy import Enforcement, EnvironmentPolicy
from clearance.errors import LedgerError
from clearance.ledger.tables import (
    Approval,
    Change,
    CurrentDeployment,
    Deployment,
    DeploymentChange,
    DriftReport,
    Environment,
    EvidenceBundle,
    Finding,
    FindingEvent,
    GateDecision,
    GateRun,
    Incident,
    Release,
    ReleaseArtifact,
    RuntimeSignal,
    Service,
    Team,
    TrustedKey,
    Waiver,
)
from clearance.model import Severity

DEPLOYMENT_STATUSES = ("in_progress", "succeeded", "failed", "rolled_back")

AuditFn = Callable[[str, str, Mapping[str, Any]], Any]
"""Appends (actor, action, data) to the audit log in the caller's transaction (`Store.append_audit`)."""


class NotFound(LedgerError):
    """A named service, environment or release does not exist (HTTP 404; exit 2 on the CLI)."""

    exit_code = ExitCode.USAGE


class Conflict(LedgerError):
    """The request contradicts what the ledger holds (HTTP 409; exit 2 on the CLI)."""

    exit_code = ExitCode.USAGE


# --- lookups -----------------------------------------------------------------------------------


def service_by_name(session: Session, name: str) -> Service | None:
    """The service called `name`, if known."""
    return session.scalars(select(Service).where(Service.name == name)).one_or_none()


def team_name(session: Session, team_id: int | None) -> str | None:
    """The name of a team id."""
    if team_id is None:
        return None
    return session.scalars(select(Team.name).where(Team.id == team_id)).one_or_none()


def ensure_environment(session: Session, name: str, policy: EnvironmentPolicy) -> Environment:
    """The environment row for `name`, created or refreshed from the deploy policy."""
    key = name.strip().lower()
    env = session.scalars(select(Environment).where(Environment.name == key)).one_or_none()
    settings = policy.model_dump(mode="json", by_alias=True)
    if env is None:
        env = Environment(name=key)
        session.add(env)
    env.rank = policy.rank
    env.required_approvals = policy.required_approvals
    env.evidence_required = policy.evidence is Enforcement.DENY
    env.block_on_drift = policy.drift is Enforcement.DENY
    env.freeze_windows = settings["freeze_windows"]
    env.default_deny = True
    env.settings = settings
    session.flush()
    return env


def environment_by_name(session: Session, name: str) -> Environment | None:
    """The environment called `name` (case-insensitive), if recorded."""
    return session.scalars(select(Environment).where(Environment.name == name.strip().lower())).one_or_none()


def releases_with_digest(session: Session, service_id: int, digest: str) -> list[Release]:
    """Releases of a service whose primary or any artifact has `digest`, newest first."""
    by_artifact = select(ReleaseArtifact.release_id).where(ReleaseArtifact.digest == digest)
    return list(
        session.scalars(
            select(Release)
            .where(
                Release.service_id == service_id,
                or_(Release.artifact_digest == digest, Release.id.in_(by_artifact)),
            )
            .order_by(Release.created_at.desc(), Release.id.desc())
        )
    )


def services_with_digest(session: Session, digest: str) -> list[Service]:
    """Services that have a release with `digest` (admission: which service is this image?)."""
    by_artifact = select(ReleaseArtifact.release_id).where(ReleaseArtifact.digest == digest)
    release_services = select(Release.service_id).where(
        or_(Release.artifact_digest == digest, Release.id.in_(by_artifact))
    )
    return list(
        session.scalars(select(Service).where(Service.id.in_(release_services)).order_by(Service.name))
    )


def ensure_release(
    session: Session, service: Service, digest: str, version: str | None, commit: str | None, now: dt.datetime
) -> Release:
    """The release of `service` with `digest`, created when the deploy tool names a new one."""
    existing = releases_with_digest(session, service.id, digest)
    if existing:
        return existing[0]
    name = version or digest.split(":", 1)[-1][:12]
    clash = session.scalars(
        select(Release).where(Release.service_id == service.id, Release.version == name)
    ).one_or_none()
    if clash is not None and clash.artifact_digest is None:
        # a release pushed as a JSON report only: the deploy tool names its artifact
        clash.artifact_digest = digest
        session.add(ReleaseArtifact(release_id=clash.id, name=name, digest=digest))
        session.flush()
        return clash
    if clash is not None:
        raise Conflict(
            f"release {service.name} {name} exists with digest {clash.artifact_digest}, not {digest}",
            hint="a version names one artifact; use a new version for a new build",
        )
    release = Release(
        service_id=service.id, version=name, commit=commit, artifact_digest=digest, created_at=now
    )
    session.add(release)
    session.flush()
    session.add(ReleaseArtifact(release_id=release.id, name=name, digest=digest))
    return release


# --- facts for the go/no-go --------------------------------------------------------------------


def gather_facts(
    session: Session,
    request: DeployRequest,
    policy: EnvironmentPolicy,
    now: dt.datetime,
    change: ChangeFacts | None = None,
) -> DeployFacts:
    """Everything the five checks need for (service, env, digest), from indexed queries."""
    service = service_by_name(session, request.service)
    if service is None:
        return DeployFacts(request=request, service_known=False, owner_team=None)
    env = environment_by_name(session, request.env)
    releases = releases_with_digest(session, service.id, request.digest)
    release_ids = [r.id for r in releases]
    evidence = _evidence_facts(session, service, release_ids, request.digest, policy)
    approvals = _approval_facts(session, release_ids, env)
    drift = _drift_fact(session, service.id, env)
    risks = _risk_facts(session, service.id, policy, now)
    first = True
    if env is not None:
        first = (
            session.scalar(
                select(func.count())
                .select_from(Deployment)
                .join(Release, Release.id == Deployment.release_id)
                .where(
                    Release.service_id == service.id,
                    Deployment.environment_id == env.id,
                    Deployment.status == "succeeded",
                )
            )
            or 0
        ) == 0
    base = change or ChangeFacts()
    return DeployFacts(
        request=request,
        service_known=True,
        owner_team=team_name(session, service.team_id),
        evidence=evidence,
        approvals=approvals,
        drift=drift,
        risks=risks,
        change=ChangeFacts(base.changed_paths, base.changed_lines, first_deploy=first),
    )


def _evidence_facts(
    session: Session, service: Service, release_ids: Sequence[int], digest: str, policy: EnvironmentPolicy
) -> tuple[EvidenceFact, ...]:
    if not release_ids:
        return ()
    runs = session.execute(
        select(GateRun, EvidenceBundle)
        .outerjoin(EvidenceBundle, EvidenceBundle.id == GateRun.evidence_id)
        .where(GateRun.service_id == service.id, GateRun.release_id.in_(release_ids))
        .order_by(GateRun.received_at.desc(), GateRun.id.desc())
        .limit(20)
    ).all()
    trusted = set(
        session.scalars(
            select(TrustedKey.key_id).where(
                TrustedKey.team_id == service.team_id, TrustedKey.revoked_at.is_(None)
            )
        )
    )
    blocking = [s.value for s in policy.blocking_severities]
    facts = []
    for run, bundle in runs:
        expiries = session.scalars(
            select(Waiver.expires_at)
            .join(Finding, Finding.waiver_id == Waiver.id)
            .where(Finding.last_run_id == run.id, Waiver.expires_at.is_not(None))
        ).all()
        new_blocking = (
            session.scalar(
                select(func.count())
                .select_from(FindingEvent)
                .join(Finding, Finding.id == FindingEvent.finding_id)
                .where(
                    FindingEvent.run_id == run.id,
                    FindingEvent.event.in_(("created", "reopened")),
                    Finding.severity.in_(blocking),
                    Finding.waiver_id.is_(None),
                )
            )
            or 0
        )
        subjects = _subject_digests(bundle.subjects) if bundle is not None else ()
        verified = bool(bundle is not None and bundle.verified and run.verified)
        if bundle is not None and digest not in subjects:
            verified = False
        facts.append(
            EvidenceFact(
                bundle_id=f"run-{run.id}" + (f"/bundle-{bundle.id}" if bundle is not None else ""),
                subject_digests=(digest,),
                verified=verified,
                key_trusted=bool(bundle is not None and bundle.signer_key_id in trusted),
                outcome=run.outcome,
                signer_key_id=bundle.signer_key_id if bundle is not None else None,
                verify_error=(
                    "no evidence bundle (JSON report only)"
                    if bundle is None
                    else (bundle.result or None)
                    if not bundle.verified
                    else None
                    if digest in subjects
                    else "bundle subjects do not include this digest"
                ),
                exception_expiries=tuple(x for x in expiries if x is not None),
                ingested_at=run.received_at,
                new_blocking_findings=new_blocking,
            )
        )
    return tuple(facts)


def _subject_digests(subjects: Sequence[Any]) -> tuple[str, ...]:
    out: list[str] = []
    for s in subjects:
        if isinstance(s, str):
            out.append(s if ":" in s else f"sha256:{s}")
        elif isinstance(s, dict):
            d = s.get("digest")
            if isinstance(d, dict):
                out += [f"{alg}:{v}" for alg, v in d.items() if isinstance(v, str)]
            elif isinstance(d, str):
                out.append(d)
    return tuple(out)


def _approval_facts(
    session: Session, release_ids: Sequence[int], env: Environment | None
) -> tuple[ApprovalFact, ...]:
    if not release_ids or env is None:
        return ()
    rows = session.scalars(
        select(Approval)
        .where(Approval.release_id.in_(release_ids), Approval.environment_id == env.id)
        .order_by(Approval.at)
    )
    return tuple(ApprovalFact(a.approver, tuple(a.approver_groups), a.at) for a in rows)


def _drift_fact(session: Session, service_id: int, env: Environment | None) -> DriftFact | None:
    if env is None:
        return None
    row = session.scalars(
        select(DriftReport)
        .where(DriftReport.service_id == service_id, DriftReport.environment_id == env.id)
        .order_by(DriftReport.detected_at.desc(), DriftReport.id.desc())
        .limit(1)
    ).one_or_none()
    if row is None:
        return None
    addresses = tuple(str(r.get("address")) if isinstance(r, dict) else str(r) for r in row.resources)
    return DriftFact(row.status, row.detected_at, addresses, str(row.id))


def _risk_facts(
    session: Session, service_id: int, policy: EnvironmentPolicy, now: dt.datetime
) -> tuple[RiskFact, ...]:
    blocking = [s.value for s in policy.blocking_severities]
    not_triaged_away = or_(
        Finding.analysis_state.is_(None), Finding.analysis_state.not_in(("not_affected", "false_positive"))
    )
    overdue = and_(
        Finding.severity.in_(blocking),
        Finding.due_at < now,
        or_(Finding.excepted_until.is_(None), Finding.excepted_until <= now),
    )
    expired_exception = Finding.excepted_until <= now
    rows = session.scalars(
        select(Finding)
        .where(
            Finding.service_id == service_id,
            Finding.status != "fixed",
            not_triaged_away,
            or_(overdue, expired_exception),
        )
        .order_by(Finding.due_at, Finding.id)
        .limit(200)
    )
    return tuple(
        RiskFact(
            finding_id=str(f.id),
            rule_id=f.rule_id,
            severity=Severity.parse(f.severity)
            if f.severity in Severity._value2member_map_
            else Severity.UNKNOWN,
            status="excepted" if f.excepted_until is not None else f.status,
            due_at=f.due_at,
            exception_expires=f.excepted_until,
        )
        for f in rows
    )


# --- writers -----------------------------------------------------------------------------------


def record_decision(
    session: Session,
    decision: DeployDecision,
    actor: str,
    source: str = "api",
    *,
    audit: AuditFn,
    dry_run: bool = False,
) -> GateDecision:
    """Store a go/no-go decision and append it to the audit log. A dry run (an admission review
    with `dryRun: true`) is stored and audited the same way, marked `dry_run`: it is a question
    someone asked, not a deploy attempt, so the metrics and notifications leave it out."""
    r = decision.request
    service = service_by_name(session, r.service)
    env = environment_by_name(session, r.env)
    release = releases_with_digest(session, service.id, r.digest) if service is not None else []
    doc = decision.to_json()
    row = GateDecision(
        service_id=service.id if service is not None else None,
        release_id=release[0].id if release else None,
        environment_id=env.id if env is not None else None,
        environment_name=r.env.strip().lower(),
        artifact_digest=r.digest[:100],
        answer=decision.answer.value,
        reasons=list(decision.reasons),
        checks=doc["checks"],
        requester=(r.requester or actor)[:200],
        auto_approved_by=decision.auto_approved_by,
        source=source,
        decided_at=decision.decided_at,
        dry_run=dry_run,
    )
    session.add(row)
    session.flush()
    extra = {"dry_run": True} if dry_run else {}
    audit(actor, "deploy.decision", {"decision_id": row.id, "source": source, **extra, **doc})
    return row


@dataclass(frozen=True, slots=True)
class ApprovalResult:
    """A recorded approval (or the existing one: approving twice changes nothing)."""

    approval_id: int
    release_id: int
    created: bool


def add_approval(
    session: Session,
    *,
    service: str,
    env: str,
    digest: str,
    approver: str,
    groups: Sequence[str],
    comment: str,
    now: dt.datetime,
    audit: AuditFn,
) -> ApprovalResult:
    """Record `approver`'s approval of `digest` of `service` for `env` (idempotent)."""
    svc = service_by_name(session, service)
    if svc is None:
        raise NotFound(f"unknown service {service!r}")
    environment = environment_by_name(session, env)
    if environment is None:
        raise NotFound(
            f"unknown environment {env!r}", hint="ask for a deploy check first, or name a policy environment"
        )
    releases = releases_with_digest(session, svc.id, digest)
    if not releases:
        raise NotFound(
            f"{service} has no release with digest {digest}", hint="push the gate run of this build first"
        )
    release = releases[0]
    existing = session.scalars(
        select(Approval).where(
            Approval.release_id == release.id,
            Approval.environment_id == environment.id,
            Approval.approver == approver,
        )
    ).one_or_none()
    if existing is not None:
        return ApprovalResult(existing.id, release.id, False)
    row = Approval(
        release_id=release.id,
        environment_id=environment.id,
        approver=approver[:200],
        approver_groups=sorted({g.lstrip("@").lower() for g in groups}),
        comment=comment[:2000],
        at=now,
    )
    session.add(row)
    session.flush()
    audit(
        approver,
        "deploy.approval",
        {
            "approval_id": row.id,
            "service": service,
            "env": environment.name,
            "digest": digest,
            "groups": row.approver_groups,
        },
    )
    return ApprovalResult(row.id, release.id, True)


@dataclass(frozen=True, slots=True)
class CommitInfo:
    """A commit a deployment shipped."""

    sha: str
    committed_at: dt.datetime
    author: str = ""


_COMMIT_CHUNK = 1000
"""Commit shas per IN (...) lookup (a deployment may report up to 10,000)."""


def _link_commits(
    session: Session, service_id: int, deployment_id: int, commits: Sequence[CommitInfo]
) -> None:
    """Link a new deployment to the commits it shipped, creating the unknown ones: per 1,000
    shas one lookup and one multi-row insert (ids back by RETURNING, matched on the sha), then
    one flush of the links — so the lead-time rollup is recomputed once for the deployment, not
    once per commit. A sha listed twice is linked once (its first listing wins)."""
    wanted: dict[str, CommitInfo] = {}
    for c in commits:
        wanted.setdefault(c.sha, c)
    shas = list(wanted)
    ids: dict[str, int] = {}
    for i in range(0, len(shas), _COMMIT_CHUNK):
        part = shas[i : i + _COMMIT_CHUNK]
        known = select(Change.commit, Change.id).where(
            Change.service_id == service_id, Change.commit.in_(part)
        )
        ids.update(session.execute(known).tuples().all())
        new = [
            {
                "service_id": service_id,
                "commit": sha,
                "committed_at": wanted[sha].committed_at,
                "author": wanted[sha].author[:200],
            }
            for sha in part
            if sha not in ids
        ]
        if new:
            ids.update(
                session.execute(insert(Change).returning(Change.commit, Change.id), new).tuples().all()
            )
    session.add_all(DeploymentChange(deployment_id=deployment_id, change_id=ids[sha]) for sha in shas)


def record_deployment(
    session: Session,
    *,
    service: str,
    env: Environment,
    digest: str,
    version: str | None,
    commit: str | None,
    status: str,
    started_at: dt.datetime,
    finished_at: dt.datetime | None,
    commits: Sequence[CommitInfo],
    deployer: str,
    source: str,
    external_id: str | None,
    now: dt.datetime,
    audit: AuditFn,
) -> Deployment:
    """Record a deployment; a succeeded one becomes what runs in `env` now."""
    if status not in DEPLOYMENT_STATUSES:
        raise LedgerError(f"status must be one of {', '.join(DEPLOYMENT_STATUSES)}")
    svc = service_by_name(session, service)
    if svc is None:
        raise NotFound(f"unknown service {service!r}")
    release = ensure_release(session, svc, digest, version, commit, now)
    if external_id:
        existing = session.scalars(
            select(Deployment).where(Deployment.source == source, Deployment.external_id == external_id)
        ).one_or_none()
        if existing is not None:
            if existing.release_id != release.id:
                raise Conflict(f"deployment {source}/{external_id} was recorded for another release")
            existing.status, existing.finished_at = status, finished_at
            session.flush()
            _update_current(session, svc.id, env.id, existing)
            audit(
                deployer,
                "deploy.deployment",
                _deployment_doc(existing, svc.name, env.name, digest),
            )
            return existing
    dep = Deployment(
        release_id=release.id,
        environment_id=env.id,
        status=status,
        started_at=started_at,
        finished_at=finished_at,
        deployer=deployer[:200],
        source=source[:100],
        external_id=external_id,
    )
    session.add(dep)
    session.flush()
    _link_commits(session, svc.id, dep.id, commits)
    _update_current(session, svc.id, env.id, dep)
    session.flush()
    audit(deployer, "deploy.deployment", _deployment_doc(dep, svc.name, env.name, digest))
    return dep


def _deployment_doc(dep: Deployment, service: str, env: str, digest: str) -> dict[str, Any]:
    return {
        "deployment_id": dep.id,
        "service": service,
        "env": env,
        "digest": digest,
        "status": dep.status,
        "started_at": dep.started_at.isoformat(),
        "finished_at": dep.finished_at.isoformat() if dep.finished_at else None,
    }


def _update_current(session: Session, service_id: int, env_id: int, dep: Deployment) -> None:
    if dep.status != "succeeded":
        return
    since = dep.finished_at or dep.started_at
    current = session.get(CurrentDeployment, (service_id, env_id))
    if current is None:
        session.add(
            CurrentDeployment(
                service_id=service_id,
                environment_id=env_id,
                release_id=dep.release_id,
                deployment_id=dep.id,
                since=since,
            )
        )
    elif current.since <= since:
        current.release_id, current.deployment_id, current.since = dep.release_id, dep.id, since


def running_deployment(
    session: Session, service_id: int, env_id: int, at: dt.datetime, release_id: int | None = None
) -> Deployment | None:
    """The deployment that was running in `env` at `at`: the latest succeeded one finished by then
    (of `release_id` when given)."""
    conditions = [
        Release.service_id == service_id,
        Deployment.environment_id == env_id,
        Deployment.status == "succeeded",
        func.coalesce(Deployment.finished_at, Deployment.started_at) <= at,
    ]
    if release_id is not None:
        conditions.append(Deployment.release_id == release_id)
    return session.scalars(
        select(Deployment)
        .join(Release, Release.id == Deployment.release_id)
        .where(*conditions)
        .order_by(func.coalesce(Deployment.finished_at, Deployment.started_at).desc(), Deployment.id.desc())
        .limit(1)
    ).one_or_none()


def record_incident(
    session: Session, event: IncidentEvent, env: Environment, actor: str, now: dt.datetime, *, audit: AuditFn
) -> Incident:
    """Upsert an incident by (source, external id); without a release it is attributed to the
    release that was running in `env` when it opened."""
    if event.service is None:
        raise LedgerError("the incident names no service")
    svc = service_by_name(session, event.service)
    if svc is None:
        raise NotFound(f"unknown service {event.service!r}")
    release_id: int | None = None
    deployment_id: int | None = None
    if event.digest:
        rel = releases_with_digest(session, svc.id, event.digest)
        release_id = rel[0].id if rel else None
    dep = running_deployment(session, svc.id, env.id, event.opened_at, release_id)
    if dep is not None:
        release_id, deployment_id = dep.release_id, dep.id
    row = session.scalars(
        select(Incident).where(Incident.source == event.source, Incident.external_id == event.external_id)
    ).one_or_none()
    created = row is None
    if row is None:
        row = Incident(
            service_id=svc.id,
            environment_id=env.id,
            release_id=release_id,
            deployment_id=deployment_id,
            source=event.source[:100],
            external_id=event.external_id[:200],
            title=event.title,
            severity=event.severity,
            opened_at=event.opened_at,
            resolved_at=event.resolved_at,
        )
        session.add(row)
    else:
        row.resolved_at = event.resolved_at or row.resolved_at
        row.opened_at = min(row.opened_at, event.opened_at)
        row.title = event.title or row.title
    session.flush()
    audit(
        actor,
        "deploy.incident." + ("opened" if created else "updated"),
        {
            "incident_id": row.id,
            "service": svc.name,
            "env": env.name,
            "source": row.source,
            "external_id": row.external_id,
            "release_id": row.release_id,
            "resolved_at": row.resolved_at.isoformat() if row.resolved_at else None,
        },
    )
    return row


def record_signal(
    session: Session,
    *,
    service: str,
    env: Environment,
    digest: str | None,
    kind: str,
    source: str,
    payload: dict[str, Any],
    observed_at: dt.datetime,
    actor: str,
    now: dt.datetime,
    audit: AuditFn,
) -> RuntimeSignal:
    """Store a runtime security signal, tied to the release (by digest, else what ran then)."""
    svc = service_by_name(session, service)
    if svc is None:
        raise NotFound(f"unknown service {service!r}")
    release_id = None
    if digest:
        rel = releases_with_digest(session, svc.id, digest)
        release_id = rel[0].id if rel else None
    if release_id is None:
        dep = running_deployment(session, svc.id, env.id, observed_at)
        release_id = dep.release_id if dep is not None else None
    row = RuntimeSignal(
        service_id=svc.id,
        environment_id=env.id,
        release_id=release_id,
        kind=kind[:60],
        payload={**payload, **({"digest": digest} if digest else {})},
        source=source[:100],
        observed_at=observed_at,
    )
    session.add(row)
    session.flush()
    audit(
        actor,
        "deploy.signal",
        {"signal_id": row.id, "service": service, "env": env.name, "kind": kind},
    )
    return row


def record_drift(
    session: Session,
    *,
    service: str,
    env: Environment,
    report: DriftResult,
    source: str,
    actor: str,
    now: dt.datetime,
    audit: AuditFn,
) -> DriftReport:
    """Store a drift check for (service, env); the latest one decides the drift check."""
    svc = service_by_name(session, service)
    if svc is None:
        raise NotFound(f"unknown service {service!r}")
    row = DriftReport(
        service_id=svc.id,
        environment_id=env.id,
        drifted=report.status.value != "clean",
        status=report.status.value,
        detail=report.detail,
        resources=report.to_json()["resources"][:1000],
        source=source[:100],
        detected_at=now,
    )
    session.add(row)
    session.flush()
    audit(
        actor,
        "deploy.drift",
        {
            "drift_id": row.id,
            "service": service,
            "env": env.name,
            "status": row.status,
            "resources": len(report.resources),
        },
    )
    return row


# --- listings (API and dashboard) --------------------------------------------------------------


def _scoped_services(team_ids: Sequence[int] | None, service: str | None) -> Any:
    q = select(Service.id)
    if team_ids is not None:
        q = q.where(Service.team_id.in_(team_ids))
    if service:
        q = q.where(Service.name == service)
    return q


def _iso(t: dt.datetime | None) -> str | None:
    return t.isoformat() if t is not None else None


def decisions(
    session: Session,
    team_ids: Sequence[int] | None,
    service: str | None = None,
    env: str | None = None,
    answer: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """The deploy log, newest first. Decisions about unknown services are shown to admins only."""
    q = (
        select(GateDecision, Service.name)
        .outerjoin(Service, Service.id == GateDecision.service_id)
        .order_by(GateDecision.decided_at.desc(), GateDecision.id.desc())
        .limit(limit)
        .offset(offset)
    )
    if team_ids is not None or service:
        q = q.where(GateDecision.service_id.in_(_scoped_services(team_ids, service)))
    if env:
        q = q.where(GateDecision.environment_name == env.strip().lower())
    if answer:
        q = q.where(GateDecision.answer == answer)
    return [
        {
            "id": d.id,
            "service": name,
            "env": d.environment_name,
            "artifact_digest": d.artifact_digest,
            "answer": d.answer,
            "reasons": list(d.reasons),
            "checks": list(d.checks),
            "requester": d.requester,
            "auto_approved_by": d.auto_approved_by,
            "source": d.source,
            "dry_run": d.dry_run,
            "decided_at": d.decided_at.isoformat(),
        }
        for d, name in session.execute(q).all()
    ]


def deployments(
    session: Session,
    team_ids: Sequence[int] | None,
    service: str | None = None,
    env: str | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Deployments, newest first."""
    q = (
        select(Deployment, Release.version, Release.artifact_digest, Service.name, Environment.name)
        .join(Release, Release.id == Deployment.release_id)
        .join(Service, Service.id == Release.service_id)
        .join(Environment, Environment.id == Deployment.environment_id)
        .where(Service.id.in_(_scoped_services(team_ids, service)))
        .order_by(Deployment.started_at.desc(), Deployment.id.desc())
        .limit(limit)
    )
    if env:
        q = q.where(Environment.name == env.strip().lower())
    return [
        {
            "id": d.id,
            "service": svc,
            "env": env_name,
            "version": version,
            "artifact_digest": digest,
            "status": d.status,
            "started_at": d.started_at.isoformat(),
            "finished_at": _iso(d.finished_at),
            "deployer": d.deployer,
        }
        for d, version, digest, svc, env_name in session.execute(q).all()
    ]


def running_now(
    session: Session, team_ids: Sequence[int] | None, service: str | None = None
) -> list[dict[str, Any]]:
    """What runs where now (the current deployment per service and environment)."""
    q = (
        select(
            Service.name, Environment.name, Release.version, Release.artifact_digest, CurrentDeployment.since
        )
        .select_from(CurrentDeployment)
        .join(Service, Service.id == CurrentDeployment.service_id)
        .join(Environment, Environment.id == CurrentDeployment.environment_id)
        .join(Release, Release.id == CurrentDeployment.release_id)
        .where(Service.id.in_(_scoped_services(team_ids, service)))
        .order_by(Service.name, Environment.rank.desc(), Environment.name)
        .limit(5000)
    )
    return [
        {"service": s, "env": e, "version": v, "artifact_digest": d, "since": since.isoformat()}
        for s, e, v, d, since in session.execute(q).all()
    ]


def incidents(
    session: Session, team_ids: Sequence[int] | None, service: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """Incidents, newest first, with the release they are attributed to."""
    q = (
        select(Incident, Service.name, Environment.name, Release.version)
        .join(Service, Service.id == Incident.service_id)
        .outerjoin(Environment, Environment.id == Incident.environment_id)
        .outerjoin(Release, Release.id == Incident.release_id)
        .where(Service.id.in_(_scoped_services(team_ids, service)))
        .order_by(Incident.opened_at.desc(), Incident.id.desc())
        .limit(limit)
    )
    return [
        {
            "id": i.id,
            "service": svc,
            "env": env_name,
            "release": version,
            "title": i.title,
            "severity": i.severity,
            "source": i.source,
            "external_id": i.external_id,
            "opened_at": i.opened_at.isoformat(),
            "resolved_at": _iso(i.resolved_at),
        }
        for i, svc, env_name, version in session.execute(q).all()
    ]


def signals(
    session: Session, team_ids: Sequence[int] | None, service: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """Runtime signals, newest first, with their release."""
    q = (
        select(RuntimeSignal, Service.name, Environment.name, Release.version)
        .join(Service, Service.id == RuntimeSignal.service_id)
        .outerjoin(Environment, Environment.id == RuntimeSignal.environment_id)
        .outerjoin(Release, Release.id == RuntimeSignal.release_id)
        .where(Service.id.in_(_scoped_services(team_ids, service)))
        .order_by(RuntimeSignal.observed_at.desc(), RuntimeSignal.id.desc())
        .limit(limit)
    )
    return [
        {
            "id": r.id,
            "service": svc,
            "env": env_name,
            "release": version,
            "kind": r.kind,
            "source": r.source,
            "payload": dict(r.payload),
            "observed_at": r.observed_at.isoformat(),
        }
        for r, svc, env_name, version in session.execute(q).all()
    ]


def releases_of_service(
    session: Session, service_id: int, limit: int = 50, version: str | None = None
) -> list[dict[str, Any]]:
    """A service's releases (of one `version` if given), newest first, with the environments
    each runs in now."""
    q = select(Release).where(Release.service_id == service_id)
    if version is not None:
        q = q.where(Release.version == version)
    rows = (
        session.execute(q.order_by(Release.created_at.desc(), Release.id.desc()).limit(limit)).scalars().all()
    )
    envs: dict[int, list[str]] = {}
    for release_id, env_name in session.execute(
        select(CurrentDeployment.release_id, Environment.name)
        .join(Environment, Environment.id == CurrentDeployment.environment_id)
        .where(CurrentDeployment.service_id == service_id)
        .order_by(Environment.name)
    ).all():
        envs.setdefault(release_id, []).append(env_name)
    return [
        {
            "id": r.id,
            "version": r.version,
            "commit": r.commit,
            "artifact_digest": r.artifact_digest,
            "created_at": r.created_at.isoformat(),
            "running_in": envs.get(r.id, []),
        }
        for r in rows
    ]


def waivers_of_service(session: Session, service_id: int, now: dt.datetime) -> list[dict[str, Any]]:
    """A service's exceptions (not stale), soonest expiry first, with days left."""
    rows = session.scalars(
        select(Waiver)
        .where(Waiver.service_id == service_id, Waiver.status != "stale")
        .order_by(Waiver.expires_at, Waiver.id)
        .limit(200)
    )
    return [
        {
            "id": w.external_id,
            "owner": w.owner,
            "reason": w.reason,
            "status": "expired" if w.expires_at is not None and w.expires_at <= now else w.status,
            "expires_at": _iso(w.expires_at),
            "days_left": (w.expires_at - now).days if w.expires_at is not None else None,
        }
        for w in rows
    ]
