"""Deploy gate API: go/no-go, approvals, deployments, incidents, runtime signals, drift, and the
Kubernetes admission webhook. No SQL here: every query is in `ledger/store_deploy.py`."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import ConfigDict, Field

from clearance.deploy import admission
from clearance.deploy import drift as tf_drift
from clearance.deploy.gonogo import Answer, ChangeFacts, DeployRequest, decide, is_digest
from clearance.deploy.incidents import IncidentEvent, from_alertmanager, from_pagerduty
from clearance.deploy.policy import DeployPolicy, default_policy
from clearance.errors import MalformedInput
from clearance.ledger import store_deploy as sd
from clearance.ledger.store import Store, TokenInfo
from clearance.server.deps import LedgerDep, ReadToken, check_service_access, require, team_scope
from clearance.server.errors import ApiError
from clearance.server.schemas import ROW_ID_MAX, NulFree

router = APIRouter(prefix="/api/v1", tags=["deploy"])
DeployToken = Annotated[TokenInfo, Depends(require("deploy"))]
EnvName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=100,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
        description="An environment name: letters, digits, '.', '_' and '-' (e.g. prod, eu-west.staging)",
    ),
]
"""Environment names as they may be stored and shown: no paths, markup or spaces."""
MAX_WEBHOOK_BYTES = 4 * 1024 * 1024


def get_deploy_policy(request: Request) -> DeployPolicy:
    """The server's deploy policy (`create_app` loads it; the built-in default otherwise)."""
    policy = getattr(request.app.state, "deploy_policy", None)
    return policy if isinstance(policy, DeployPolicy) else default_policy()


PolicyDep = Annotated[DeployPolicy, Depends(get_deploy_policy)]


class _In(NulFree):
    model_config = ConfigDict(extra="forbid")


class DeployCheckIn(_In):
    """A go/no-go request."""

    service: str = Field(min_length=1, max_length=200)
    env: EnvName
    artifact_digest: str = Field(min_length=1, max_length=200)
    version: str | None = Field(default=None, max_length=200)
    commit: str | None = Field(default=None, max_length=64)
    requester: str | None = Field(default=None, max_length=200)
    changed_paths: list[Annotated[str, Field(max_length=1000)]] | None = Field(default=None, max_length=5000)
    """The change's files (for the low-risk auto-approval rule); unknown when absent."""
    changed_lines: int | None = Field(default=None, ge=0)


class ApprovalIn(_In):
    """An approval of a digest for an environment, by the calling token's holder."""

    service: str = Field(min_length=1, max_length=200)
    env: EnvName
    artifact_digest: str = Field(min_length=1, max_length=200)
    comment: str = Field(default="", max_length=2000)


class CommitIn(_In):
    """A commit a deployment shipped."""

    sha: str = Field(min_length=4, max_length=64)
    committed_at: dt.datetime
    author: str = Field(default="", max_length=200)


class DeploymentIn(_In):
    """A deployment as the deploy tool reports it."""

    service: str = Field(min_length=1, max_length=200)
    env: EnvName
    artifact_digest: str = Field(min_length=1, max_length=200)
    version: str | None = Field(default=None, max_length=200)
    commit: str | None = Field(default=None, max_length=64)
    status: Literal["in_progress", "succeeded", "failed", "rolled_back"]
    started_at: dt.datetime
    finished_at: dt.datetime | None = None
    commits: list[CommitIn] = Field(default_factory=list, max_length=10000)
    external_id: str | None = Field(default=None, max_length=200)
    source: str = Field(default="api", max_length=100)


class IncidentIn(_In):
    """An incident in the ledger's own shape."""

    service: str = Field(min_length=1, max_length=200)
    env: EnvName
    title: str = Field(default="", max_length=500)
    severity: Literal["critical", "high", "medium", "low"] = "high"
    opened_at: dt.datetime
    resolved_at: dt.datetime | None = None
    artifact_digest: str | None = Field(default=None, max_length=200)
    external_id: str = Field(min_length=1, max_length=200)
    source: str = Field(default="api", max_length=100)


class SignalIn(_In):
    """A runtime security signal (Falco alert, WAF block, …)."""

    service: str = Field(min_length=1, max_length=200)
    env: EnvName
    artifact_digest: str | None = Field(default=None, max_length=200)
    kind: str = Field(min_length=1, max_length=60)
    source: str = Field(default="api", max_length=100)
    severity: Literal["critical", "high", "medium", "low", "info"] = "medium"
    rule: str = Field(default="", max_length=200)
    message: str = Field(default="", max_length=2000)
    observed_at: dt.datetime


class DriftIn(_In):
    """A drift check: `terraform show -json` output, `terraform plan -json` lines, or an exit code."""

    service: str = Field(min_length=1, max_length=200)
    env: EnvName
    plan: dict[str, Any] | None = None
    plan_log: str | None = None
    exit_code: int | None = Field(default=None, ge=0, le=255)
    changes_are_drift: bool = True
    source: str = Field(default="terraform", max_length=100)


def _aware(t: dt.datetime, what: str) -> dt.datetime:
    if t.tzinfo is None:
        raise ApiError(422, f"{what} needs a time zone (e.g. 2026-12-01T10:00:00Z)")
    return t.astimezone(dt.UTC)


def _actor(token: TokenInfo) -> str:
    return token.name or f"token:{token.prefix}"


def _check_write_access(store: Store, token: TokenInfo, service: str) -> None:
    svc = store.service(service)
    if svc is None:
        raise ApiError(404, f"unknown service {service!r}")
    scope = team_scope(token)
    if scope is not None and svc.team_id not in scope:
        raise ApiError(403, f"this token may not act for service {service!r} (owned by another team)")


def _environment(store: Store, policy: DeployPolicy, name: str) -> Any:
    return sd.ensure_environment(store.session, name, policy.for_env(name))


# --- go/no-go ----------------------------------------------------------------------------------


@router.post("/gates/deploy", summary="Deploy go/no-go for (service, env, digest)")
def deploy_check(
    body: DeployCheckIn, token: DeployToken, ledger: LedgerDep, policy: PolicyDep
) -> dict[str, Any]:
    """`allow | deny | needs-approval` with every check, its reason and the evidence it used.
    The decision is stored and appended to the audit log."""
    request = DeployRequest(
        service=body.service,
        env=body.env.strip().lower(),
        digest=body.artifact_digest.strip(),
        version=body.version,
        commit=body.commit,
        requester=body.requester or _actor(token),
    )
    env_policy = policy.for_env(request.env)
    with ledger.write() as store:
        svc = store.service(body.service)
        scope = team_scope(token)
        if svc is not None and scope is not None and svc.team_id not in scope:
            raise ApiError(
                403, f"this token may not ask for service {body.service!r} (owned by another team)"
            )
        if policy.is_known(request.env):  # an unknown environment is denied, never created by a check
            sd.ensure_environment(store.session, request.env, env_policy)
        change = ChangeFacts(
            tuple(body.changed_paths) if body.changed_paths is not None else None, body.changed_lines
        )
        facts = sd.gather_facts(store.session, request, env_policy, store.now, change)
        decision = decide(facts, env_policy, store.now)
        row = sd.record_decision(store.session, decision, _actor(token), audit=store.append_audit)
    return {"decision_id": row.id, "known_environment": policy.is_known(request.env), **decision.to_json()}


@router.get("/gates/deploy/decisions", summary="The deploy log: every go/no-go with its reasons")
def deploy_log(
    token: ReadToken,
    ledger: LedgerDep,
    service: str | None = None,
    env: str | None = None,
    answer: Literal["allow", "deny", "needs-approval"] | None = None,
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=ROW_ID_MAX),
) -> dict[str, Any]:
    """Newest first, scoped to the token's team unless admin."""
    with ledger.read() as store:
        if service:
            check_service_access(store, token, service)
        rows = sd.decisions(store.session, team_scope(token), service, env, answer, limit, offset)
    return {"count": len(rows), "decisions": rows}


@router.post("/approvals", summary="Approve a digest of a service for an environment")
def approve(body: ApprovalIn, token: DeployToken, ledger: LedgerDep, policy: PolicyDep) -> dict[str, Any]:
    """Recorded for the calling token's holder, with its team as approver group. Whether it counts
    (owners or an approver group, never the requester) is decided by the go/no-go."""
    if not is_digest(body.artifact_digest.strip()):
        raise ApiError(422, "artifact_digest must be sha256:<64 hex>")
    with ledger.write() as store:
        _environment(store, policy, body.env)
        result = sd.add_approval(
            store.session,
            service=body.service,
            env=body.env,
            digest=body.artifact_digest.strip(),
            approver=_actor(token),
            groups=[token.team] if token.team else [],
            comment=body.comment,
            now=store.now,
            audit=store.append_audit,
        )
    return {"approval_id": result.approval_id, "release_id": result.release_id, "created": result.created}


# --- deployments, incidents, signals, drift ----------------------------------------------------


@router.post("/deployments", summary="Record a deployment")
def record_deployment(
    body: DeploymentIn, token: DeployToken, ledger: LedgerDep, policy: PolicyDep
) -> dict[str, Any]:
    """A succeeded deployment becomes what runs in the environment now."""
    if not is_digest(body.artifact_digest.strip()):
        raise ApiError(422, "artifact_digest must be sha256:<64 hex>")
    with ledger.write() as store:
        _check_write_access(store, token, body.service)
        env = _environment(store, policy, body.env)
        dep = sd.record_deployment(
            store.session,
            service=body.service,
            env=env,
            digest=body.artifact_digest.strip(),
            version=body.version,
            commit=body.commit,
            status=body.status,
            started_at=_aware(body.started_at, "started_at"),
            finished_at=_aware(body.finished_at, "finished_at") if body.finished_at else None,
            commits=[
                sd.CommitInfo(c.sha, _aware(c.committed_at, "committed_at"), c.author) for c in body.commits
            ],
            deployer=_actor(token),
            source=body.source,
            external_id=body.external_id,
            now=store.now,
            audit=store.append_audit,
        )
    return {"deployment_id": dep.id, "release_id": dep.release_id, "status": dep.status}


@router.get("/deployments", summary="Deployments, newest first")
def list_deployments(
    token: ReadToken,
    ledger: LedgerDep,
    service: str | None = None,
    env: str | None = None,
    limit: int = Query(100, ge=1, le=1000),
) -> dict[str, Any]:
    """Deployments (and, per service, what runs in each environment now)."""
    with ledger.read() as store:
        if service:
            check_service_access(store, token, service)
        rows = sd.deployments(store.session, team_scope(token), service, env, limit)
        running = sd.running_now(store.session, team_scope(token), service)
    return {"count": len(rows), "deployments": rows, "running": running}


@router.get("/services/{service}/releases", summary="A service's releases: version, commit, artifact digest")
def list_releases(
    token: ReadToken,
    ledger: LedgerDep,
    service: Annotated[str, Path(min_length=1, max_length=200)],
    version: Annotated[str | None, Query(max_length=200)] = None,
    limit: int = Query(50, ge=1, le=1000),
) -> dict[str, Any]:
    """Newest first, with the environments each release runs in now — where `clearance deploy
    check` finds the digest to ask about (`--version` resolves it through this)."""
    with ledger.read() as store:
        check_service_access(store, token, service)
        svc = store.service(service)
        assert svc is not None  # check_service_access answered 404 otherwise
        rows = sd.releases_of_service(store.session, svc.id, limit, version)
    return {"service": service, "count": len(rows), "releases": rows}


def _store_incidents(
    store: Store, token: TokenInfo, policy: DeployPolicy, events: list[IncidentEvent]
) -> list[dict[str, Any]]:
    out = []
    for ev in events:
        if ev.service is None or ev.env is None:
            raise ApiError(422, f"incident {ev.external_id}: service and env are required (payload or query)")
        _check_write_access(store, token, ev.service)
        env = _environment(store, policy, ev.env)
        row = sd.record_incident(store.session, ev, env, _actor(token), store.now, audit=store.append_audit)
        out.append({"incident_id": row.id, "release_id": row.release_id, "deployment_id": row.deployment_id})
    return out


@router.post("/incidents", summary="Record or update an incident")
def record_incident(
    body: IncidentIn, token: DeployToken, ledger: LedgerDep, policy: PolicyDep
) -> dict[str, Any]:
    """Without a digest, the incident is attributed to the release running in that env when it opened."""
    event = IncidentEvent(
        source=body.source,
        external_id=body.external_id,
        service=body.service,
        env=body.env.strip().lower(),
        title=body.title,
        severity=body.severity,
        opened_at=_aware(body.opened_at, "opened_at"),
        resolved_at=_aware(body.resolved_at, "resolved_at") if body.resolved_at else None,
        digest=body.artifact_digest,
    )
    with ledger.write() as store:
        (result,) = _store_incidents(store, token, policy, [event])
    return result


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    if len(raw) > MAX_WEBHOOK_BYTES:
        raise ApiError(413, f"webhook body larger than {MAX_WEBHOOK_BYTES} bytes")
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ApiError(400, "the body is not JSON") from None


@router.post("/incidents/pagerduty", summary="PagerDuty v3 webhook")
async def pagerduty(
    request: Request, token: DeployToken, ledger: LedgerDep, policy: PolicyDep, env: str = "prod"
) -> dict[str, Any]:
    """Incident events of a PagerDuty v3 webhook subscription (others are acknowledged and ignored)."""
    doc = await _json_body(request)
    try:
        events = from_pagerduty(doc, default_env=env)
    except MalformedInput as e:
        raise ApiError(400, f"not a PagerDuty v3 webhook: {e}") from None
    with ledger.write() as store:
        return {"incidents": _store_incidents(store, token, policy, events)}


@router.post("/incidents/alertmanager", summary="Prometheus Alertmanager webhook")
async def alertmanager(
    request: Request, token: DeployToken, ledger: LedgerDep, policy: PolicyDep, env: str | None = None
) -> dict[str, Any]:
    """One incident per alert (keyed by its fingerprint); `resolved` alerts close theirs."""
    doc = await _json_body(request)
    try:
        events = from_alertmanager(doc, default_env=env)
    except MalformedInput as e:
        raise ApiError(400, f"not an Alertmanager webhook: {e}") from None
    with ledger.write() as store:
        return {"incidents": _store_incidents(store, token, policy, events)}


@router.get("/incidents", summary="Incidents, newest first")
def list_incidents(
    token: ReadToken, ledger: LedgerDep, service: str | None = None, limit: int = Query(100, ge=1, le=1000)
) -> dict[str, Any]:
    """Incidents with the release they are attributed to."""
    with ledger.read() as store:
        if service:
            check_service_access(store, token, service)
        rows = sd.incidents(store.session, team_scope(token), service, limit)
    return {"count": len(rows), "incidents": rows}


@router.post("/signals", summary="Record a runtime security signal")
def record_signal(body: SignalIn, token: DeployToken, ledger: LedgerDep, policy: PolicyDep) -> dict[str, Any]:
    """Tied to the release by digest, else to the release running in that env at the time."""
    with ledger.write() as store:
        _check_write_access(store, token, body.service)
        env = _environment(store, policy, body.env)
        row = sd.record_signal(
            store.session,
            service=body.service,
            env=env,
            digest=body.artifact_digest,
            kind=body.kind,
            source=body.source,
            payload={"severity": body.severity, "rule": body.rule, "message": body.message},
            observed_at=_aware(body.observed_at, "observed_at"),
            actor=_actor(token),
            now=store.now,
            audit=store.append_audit,
        )
    return {"signal_id": row.id, "release_id": row.release_id}


@router.get("/signals", summary="Runtime signals, newest first")
def list_signals(
    token: ReadToken, ledger: LedgerDep, service: str | None = None, limit: int = Query(100, ge=1, le=1000)
) -> dict[str, Any]:
    """Signals with their release."""
    with ledger.read() as store:
        if service:
            check_service_access(store, token, service)
        rows = sd.signals(store.session, team_scope(token), service, limit)
    return {"count": len(rows), "signals": rows}


@router.post("/drift", summary="Report a drift check for (service, env)")
def report_drift(body: DriftIn, token: DeployToken, ledger: LedgerDep, policy: PolicyDep) -> dict[str, Any]:
    """The latest report decides the drift check of the go/no-go."""
    given = [x is not None for x in (body.plan, body.plan_log, body.exit_code)]
    if sum(given) != 1:
        raise ApiError(422, "send exactly one of plan, plan_log, exit_code")
    try:
        if body.plan is not None:
            report = tf_drift.parse_plan(
                json.dumps(body.plan).encode(), changes_are_drift=body.changes_are_drift
            )
        elif body.plan_log is not None:
            report = tf_drift.parse_plan(body.plan_log.encode(), changes_are_drift=body.changes_are_drift)
        else:
            assert body.exit_code is not None
            report = tf_drift.from_exit_code(body.exit_code)
    except MalformedInput as e:
        raise ApiError(400, f"not Terraform plan JSON: {e}") from None
    with ledger.write() as store:
        _check_write_access(store, token, body.service)
        env = _environment(store, policy, body.env)
        row = sd.record_drift(
            store.session,
            service=body.service,
            env=env,
            report=report,
            source=body.source,
            actor=_actor(token),
            now=store.now,
            audit=store.append_audit,
        )
    return {"drift_id": row.id, **report.to_json()}


# --- admission ---------------------------------------------------------------------------------


@router.post("/admission", summary="Kubernetes validating admission webhook (policy default env)")
async def admission_default(
    request: Request, token: DeployToken, ledger: LedgerDep, policy: PolicyDep
) -> dict[str, Any]:
    """AdmissionReview v1 for an environment the policy does not name: its default applies."""
    return await _admission(request, token, ledger, policy, "default")


@router.post("/admission/{env}", summary="Kubernetes validating admission webhook for one environment")
async def admission_env(
    env: Annotated[str, Path(max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")],
    request: Request,
    token: DeployToken,
    ledger: LedgerDep,
    policy: PolicyDep,
) -> dict[str, Any]:
    """AdmissionReview v1 in and out: every container image of a Pod (or workload) must pass the
    go/no-go of `env`; images referenced by tag only are denied where digests are required."""
    return await _admission(request, token, ledger, policy, env)


async def _admission(
    request: Request, token: TokenInfo, ledger: Any, policy: DeployPolicy, env: str
) -> dict[str, Any]:
    doc = await _json_body(request)
    uid = (
        doc.get("request", {}).get("uid")
        if isinstance(doc, dict) and isinstance(doc.get("request"), dict)
        else None
    )
    try:
        review = admission.parse_review(doc)
    except MalformedInput as e:
        return admission.malformed_answer(uid if isinstance(uid, str) else None, str(e))
    env_name = env.strip().lower()
    env_policy = policy.for_env(env_name)
    verdicts: list[admission.ImageVerdict] = []
    warnings: list[str] = []
    with ledger.write() as store:
        if policy.is_known(env_name):  # an environment the policy does not name is never created here
            sd.ensure_environment(store.session, env_name, env_policy)
        for c in review.images:
            ref = c.image.reference
            if not admission.is_pinned(c.image):
                if env_policy.digests_required:
                    verdicts.append(
                        admission.ImageVerdict(
                            ref, False, f"referenced by tag only; {env_name} requires digests"
                        )
                    )
                else:
                    warnings.append(f"{ref}: referenced by tag only, not checked")
                continue
            digest = c.image.digest or ""
            owners = [s.name for s in sd.services_with_digest(store.session, digest)]
            service = (
                review.service if review.service in owners else (owners[0] if owners else review.service)
            )
            if review.service and owners and review.service not in owners:
                verdicts.append(
                    admission.ImageVerdict(
                        ref, False, f"digest belongs to {', '.join(owners)}, not {review.service}"
                    )
                )
                continue
            req = DeployRequest(
                service=service or "(unknown)",
                env=env_name,
                digest=digest,
                requester=review.username or _actor(token),
            )
            facts = sd.gather_facts(store.session, req, env_policy, store.now)
            decision = decide(facts, env_policy, store.now)
            sd.record_decision(
                store.session,
                decision,
                _actor(token),
                source="admission",
                audit=store.append_audit,
                dry_run=review.dry_run,
            )
            if decision.answer is Answer.ALLOW:
                verdicts.append(admission.ImageVerdict(ref, True, "allowed"))
            else:
                why = "; ".join(decision.reasons) or decision.answer.value
                verdicts.append(admission.ImageVerdict(ref, False, f"{decision.answer.value}: {why}"))
    return admission.answer(
        review.uid, verdicts, warn_only=env_policy.admission == "warn", extra_warnings=warnings
    )
