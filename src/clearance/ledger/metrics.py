"""DORA and security metrics, computed in SQL (SQLite and PostgreSQL alike).

Scope: the whole organisation, one team (its services) or one service; window: `[now - days,
now]`. Medians and p90 are computed with window functions (ROW_NUMBER / COUNT OVER), so the
database returns the answer, not the rows. Definitions (docs/metrics.md):

- deployment frequency — successful deployments to the production environment in the window;
- lead time for changes — per successful prod deployment that shipped recorded commits:
  finished − earliest commit; median and p90 (nearest rank);
- change failure rate — distinct prod deployments in the window that failed, were rolled back or
  are linked to an incident ÷ prod deployments in the window (counted once each, never per
  joined change row);
- time to restore — median(resolved − opened) of prod incidents opened in the window.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    func,
    or_,
    select,
    true,
)
from sqlalchemy.orm import Session

from clearance.deploy import dora
from clearance.deploy.gonogo import Answer
from clearance.ledger.store import OPEN_AGE_BUCKETS, FindingsSummary, Store
from clearance.ledger.tables import (
    Deployment,
    Environment,
    Finding,
    GateDecision,
    GateRun,
    Incident,
    Release,
    Service,
    Team,
    Waiver,
    seconds_between,
)

AGING_BUCKETS = OPEN_AGE_BUCKETS
#: Every answer the deploy gate gives.
DECISION_ANSWERS = tuple(a.value for a in Answer)
_DAY = 86400.0
_TRIAGED_AWAY = ("not_affected", "false_positive")


@dataclass(frozen=True, slots=True)
class Scope:
    """Which services a metric covers: all (org), one team's, or one service."""

    team: str | None = None
    service: str | None = None
    team_ids: tuple[int, ...] | None = None
    """Restrict to these teams (a non-admin token's team), on top of the filters above."""

    def label(self) -> str:
        """Human label: `org`, `team:X` or `service:Y`."""
        if self.service:
            return f"service:{self.service}"
        if self.team:
            return f"team:{self.team}"
        return "org"


@dataclass(frozen=True, slots=True)
class DoraMetrics:
    """The four keys for a scope and window, with their bands."""

    scope: str
    window_days: int
    start: str
    end: str
    deployments: int
    deploys_per_day: float
    deployment_frequency_band: str | None
    lead_time_median_s: float | None
    lead_time_p90_s: float | None
    lead_time_band: str | None
    lead_time_samples: int
    change_failures: int
    change_failure_rate: float | None
    change_failure_band: str | None
    prod_deployments: int
    time_to_restore_median_s: float | None
    time_to_restore_band: str | None
    incidents_restored: int

    def to_json(self) -> dict[str, Any]:
        """Plain JSON."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class SecurityMetrics:
    """Security metrics for a scope and window (see docs/metrics.md for each definition)."""

    scope: str
    window_days: int
    mttr_days_by_severity: dict[str, float]
    fixed_by_severity: dict[str, int]
    sla_due: int
    sla_breached: int
    sla_breach_rate: float | None
    open_by_age: dict[str, int]
    prod_deploys: int
    prod_deploys_with_evidence: int
    evidence_coverage: float | None
    exceptions: dict[str, int]
    secrets_by_team: dict[str, int]
    runs_by_outcome: dict[str, int]
    approval_wait_median_s: float | None
    approval_waits: int
    repeat_offenders: list[dict[str, Any]] = field(default_factory=list)
    decisions_by_answer: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON."""
        return asdict(self)


# --- helpers -----------------------------------------------------------------------------------


def _seconds(session: Session, later: Any, earlier: Any) -> ColumnElement[Any]:
    """`later - earlier` in seconds, portable between SQLite and PostgreSQL."""
    seconds: ColumnElement[Any] = seconds_between(session.get_bind().dialect.name, later, earlier)
    return seconds


def _in_scope(column: Any, scope: Scope) -> ColumnElement[bool]:
    """`column` (a service id) is in the scope; always true for the whole, unrestricted org."""
    if scope.team is None and scope.service is None and scope.team_ids is None:
        return true()
    in_scope: ColumnElement[bool] = column.in_(_service_ids(scope))
    return in_scope


def _service_ids(scope: Scope) -> Select[Any]:
    q = select(Service.id)
    if scope.service:
        q = q.where(Service.name == scope.service)
    if scope.team:
        q = q.join(Team, Team.id == Service.team_id).where(Team.name == scope.team)
    if scope.team_ids is not None:
        q = q.where(Service.team_id.in_(scope.team_ids))
    return q


def _median_and_p90(session: Session, values: Select[Any]) -> tuple[float | None, float | None, int]:
    """Median (mean of the two middle values), p90 (nearest rank) and count of a one-column
    query, in one pass over the ranked values."""
    sub = values.subquery()
    col = sub.c[0]
    ranked = select(
        col.label("v"),
        func.row_number().over(order_by=col).label("rn"),
        func.count().over().label("n"),
    ).subquery()
    rn, n, v = ranked.c.rn, ranked.c.n, ranked.c.v
    middle = or_(rn == (n + 1) // 2, rn == (n + 2) // 2)
    # nearest rank: ceil(0.9 n) = (9n + 9) div 10 in integer arithmetic
    p90_rank = rn == (n * 9 + 9) // 10
    row = session.execute(
        select(
            func.avg(case((middle, v), else_=None)),
            func.max(case((p90_rank, v), else_=None)),
            func.max(n),
        )
    ).one()
    m, p, c = row
    return (float(m) if m is not None else None, float(p) if p is not None else None, int(c or 0))


def _deployment_in_scope(scope: Scope) -> ColumnElement[bool]:
    if scope.team is None and scope.service is None and scope.team_ids is None:
        return true()
    return Deployment.release_id.in_(select(Release.id).where(Release.service_id.in_(_service_ids(scope))))


def _prod_env_ids(prod_envs: Sequence[str]) -> Select[Any]:
    return select(Environment.id).where(Environment.name.in_([e.lower() for e in prod_envs]))


# --- DORA --------------------------------------------------------------------------------------


def dora_metrics(
    session: Session,
    scope: Scope,
    now: dt.datetime,
    window_days: int = 90,
    prod_envs: Sequence[str] = ("prod",),
) -> DoraMetrics:
    """The four keys for `scope` over the last `window_days`, with their DORA bands."""
    start = now - dt.timedelta(days=window_days)
    prod = _prod_env_ids(prod_envs)
    finished = func.coalesce(Deployment.finished_at, Deployment.started_at)
    in_scope = and_(
        Deployment.environment_id.in_(prod),
        _deployment_in_scope(scope),
        finished >= start,
        finished <= now,
    )
    # one pass over the window's prod deployments: successes, attempts and change failures —
    # distinct deployments, each counted once (a failed or rolled-back one, or one an incident
    # is linked to: `IN` a set hashed once, not a probe or a joined row per incident)
    with_incident = select(Incident.deployment_id).where(Incident.deployment_id.is_not(None))
    failed = or_(Deployment.status.in_(("failed", "rolled_back")), Deployment.id.in_(with_incident))
    attempted = Deployment.status.in_(("succeeded", "failed", "rolled_back"))

    row = session.execute(
        select(
            func.count().filter(Deployment.status == "succeeded"),
            func.count().filter(attempted),
            func.count().filter(and_(attempted, failed)),
        ).where(in_scope)
    ).one()
    successes, prod_deploys, failures = int(row[0]), int(row[1]), int(row[2])
    cfr = failures / prod_deploys if prod_deploys else None

    # lead time: per successful prod deployment that shipped recorded commits, the rollup
    # `lead_time_s` (finished − earliest commit, stored when the deployment and its commits are
    # written): a ranking over one column of the window's deployments, no join
    lead_values = select(Deployment.lead_time_s.label("v")).where(
        in_scope, Deployment.status == "succeeded", Deployment.lead_time_s.is_not(None)
    )
    lt_median, lt_p90, lt_n = _median_and_p90(session, lead_values)

    # time to restore: prod incidents opened in the window and resolved
    restore_values = select(_seconds(session, Incident.resolved_at, Incident.opened_at).label("v")).where(
        Incident.environment_id.in_(prod),
        _in_scope(Incident.service_id, scope),
        Incident.opened_at >= start,
        Incident.opened_at <= now,
        Incident.resolved_at.is_not(None),
    )
    ttr_median, _, ttr_n = _median_and_p90(session, restore_values)

    return DoraMetrics(
        scope=scope.label(),
        window_days=window_days,
        start=start.isoformat(),
        end=now.isoformat(),
        deployments=successes,
        deploys_per_day=round(successes / window_days, 4),
        deployment_frequency_band=_band(dora.deployment_frequency_band(successes, window_days)),
        lead_time_median_s=_round(lt_median),
        lead_time_p90_s=_round(lt_p90),
        lead_time_band=_band(dora.lead_time_band(lt_median)),
        lead_time_samples=lt_n,
        change_failures=failures,
        change_failure_rate=round(cfr, 4) if cfr is not None else None,
        change_failure_band=_band(dora.change_failure_band(cfr)),
        prod_deployments=prod_deploys,
        time_to_restore_median_s=_round(ttr_median),
        time_to_restore_band=_band(dora.time_to_restore_band(ttr_median)),
        incidents_restored=ttr_n,
    )


def _band(b: dora.Band | None) -> str | None:
    return b.value if b is not None else None


def _round(v: float | None) -> float | None:
    return round(v, 1) if v is not None else None


# --- security ----------------------------------------------------------------------------------


def findings_summary(
    session: Session, scope: Scope, now: dt.datetime, window_days: int = 90
) -> FindingsSummary:
    """SLA, open debt by age and overdue by team of `scope`'s findings, in one pass
    (`Store.findings_summary`)."""
    start = now - dt.timedelta(days=window_days)
    return Store(session, now).findings_summary(_in_scope(Finding.service_id, scope), start)


def security_metrics(
    session: Session,
    scope: Scope,
    now: dt.datetime,
    window_days: int = 90,
    prod_envs: Sequence[str] = ("prod",),
    expiring_days: int = 14,
    findings: FindingsSummary | None = None,
) -> SecurityMetrics:
    """Security metrics for `scope` over the last `window_days` (docs/metrics.md). `findings`:
    the scope's `findings_summary` for the same instant and window, when the caller has it."""
    start = now - dt.timedelta(days=window_days)
    counted = and_(
        _in_scope(Finding.service_id, scope),
        or_(Finding.analysis_state.is_(None), Finding.analysis_state.not_in(_TRIAGED_AWAY)),
    )

    # Three narrow reads of the findings' covering SLA index (`ix_findings_status_due_at_covering`)
    # instead of one pass evaluating eight conditions per finding (SQLite: 100 → ~50 ms at
    # 100,000 findings). Cut-offs are compared as times, no per-row date arithmetic.
    # MTTR, per severity: findings fixed in the window (the index's `fixed` range).
    fixed_in_window = and_(Finding.status == "fixed", Finding.fixed_at >= start, Finding.fixed_at <= now)
    mttr: dict[str, float] = {}
    fixed_counts: dict[str, int] = {}
    for sev, n_fixed, total_s in session.execute(
        select(
            Finding.severity, func.count(), func.sum(_seconds(session, Finding.fixed_at, Finding.first_seen))
        )
        .where(counted, fixed_in_window)
        .group_by(Finding.severity)
        .order_by(Finding.severity)
    ).all():
        mttr[str(sev)] = round(float(total_s) / int(n_fixed) / _DAY, 2)
        fixed_counts[str(sev)] = int(n_fixed)

    # SLA (fell due in the window, an exception that held at the due date moving the due date
    # to its expiry; and not fixed by then) and open debt by age since first seen: one grouped
    # pass over the scope's findings, shared with the overview's overdue-by-team
    if findings is None:
        findings = findings_summary(session, scope, now, window_days)
    sla_due, sla_breached = findings.sla_due, findings.sla_breached
    aging = dict(findings.open_by_age)

    # % of prod deploys with complete verified evidence
    prod = _prod_env_ids(prod_envs)
    finished = func.coalesce(Deployment.finished_at, Deployment.started_at)
    # releases with a verified passing run: a set built once (hashed), not a probe per deployment
    verified_run = Deployment.release_id.in_(
        select(GateRun.release_id).where(
            GateRun.release_id.is_not(None),
            GateRun.verified.is_(True),
            GateRun.evidence_id.is_not(None),
            GateRun.outcome.in_(("pass", "warn")),
        )
    )
    dep = session.execute(
        select(func.count(), func.coalesce(func.sum(case((verified_run, 1), else_=0)), 0)).where(
            Deployment.environment_id.in_(prod),
            Deployment.status == "succeeded",
            _deployment_in_scope(scope),
            finished >= start,
            finished <= now,
        )
    ).one()
    prod_deploys, with_evidence = int(dep[0]), int(dep[1])

    # exceptions: active (beyond the expiring horizon), expiring within N days, expired
    soon = now + dt.timedelta(days=expiring_days)
    state = case(
        (Waiver.expires_at <= now, "expired"),
        (Waiver.expires_at <= soon, "expiring"),
        else_="open",
    )
    exceptions = {"open": 0, "expiring": 0, "expired": 0}
    for name, n in session.execute(
        select(state.label("s"), func.count())
        .where(_in_scope(Waiver.service_id, scope), Waiver.status != "stale", Waiver.expires_at.is_not(None))
        .group_by("s")
    ).all():
        exceptions[str(name)] = int(n)

    # secrets leaked per team (first seen in the window)
    secrets = {
        str(team or "(unowned)"): int(n)
        for team, n in session.execute(
            select(Team.name, func.count())
            .select_from(Finding)
            .outerjoin(Team, Team.id == Finding.owner_team_id)
            .where(counted, Finding.kind == "secret", Finding.first_seen >= start, Finding.first_seen <= now)
            .group_by(Team.name)
            .order_by(Team.name)
        ).all()
    }

    # gate runs by outcome
    runs = {
        str(outcome or "unknown"): int(n)
        for outcome, n in session.execute(
            select(GateRun.outcome, func.count())
            .where(
                _in_scope(GateRun.service_id, scope), GateRun.decided_at >= start, GateRun.decided_at <= now
            )
            .group_by(GateRun.outcome)
            .order_by(GateRun.outcome)
        ).all()
    }

    # approvals waited for: first needs-approval → first allow after it, per (release, env)
    first_wait = (
        select(
            GateDecision.release_id.label("release_id"),
            GateDecision.environment_id.label("env_id"),
            func.min(GateDecision.decided_at).label("asked"),
        )
        .where(
            GateDecision.answer == "needs-approval",
            GateDecision.dry_run.is_(False),
            GateDecision.release_id.is_not(None),
            _in_scope(GateDecision.service_id, scope),
            GateDecision.decided_at >= start,
            GateDecision.decided_at <= now,
        )
        .group_by(GateDecision.release_id, GateDecision.environment_id)
        .subquery()
    )
    # the first allow after each wait, probed per wait through the (release, env, answer, time)
    # index: joined instead, SQLite walked every allow of the window as the outer loop
    first_allow = (
        select(func.min(GateDecision.decided_at))
        .where(
            GateDecision.release_id == first_wait.c.release_id,
            GateDecision.environment_id == first_wait.c.env_id,
            GateDecision.answer == "allow",
            GateDecision.dry_run.is_(False),
            GateDecision.decided_at > first_wait.c.asked,
            GateDecision.decided_at <= now,
        )
        .scalar_subquery()
    )
    allowed = select(first_wait.c.asked.label("asked"), first_allow.label("allowed")).subquery()
    wait_median, _, waits = _median_and_p90(
        session,
        select(_seconds(session, allowed.c.allowed, allowed.c.asked).label("v")).where(
            allowed.c.allowed.is_not(None)
        ),
    )

    # repeat offenders: services with reopened findings, most first
    offenders = [
        {"service": svc, "team": team, "reopened": int(n), "findings": int(k)}
        for svc, team, n, k in session.execute(
            select(Service.name, Team.name, func.sum(Finding.reopen_count), func.count())
            .join(Service, Service.id == Finding.service_id)
            .outerjoin(Team, Team.id == Service.team_id)
            .where(counted, Finding.reopen_count > 0)
            .group_by(Service.name, Team.name)
            .order_by(func.sum(Finding.reopen_count).desc(), Service.name)
            .limit(10)
        ).all()
    ]

    decisions = {
        str(answer): int(n)
        for answer, n in session.execute(
            select(GateDecision.answer, func.count())
            .where(
                # the answers named: the planner then reads the (answer, decided_at, …) index
                # instead of every decision of the window by time
                GateDecision.answer.in_(DECISION_ANSWERS),
                GateDecision.dry_run.is_(False),
                _in_scope(GateDecision.service_id, scope),
                GateDecision.decided_at >= start,
                GateDecision.decided_at <= now,
            )
            .group_by(GateDecision.answer)
            .order_by(GateDecision.answer)
        ).all()
    }

    return SecurityMetrics(
        scope=scope.label(),
        window_days=window_days,
        mttr_days_by_severity=mttr,
        fixed_by_severity=fixed_counts,
        sla_due=sla_due,
        sla_breached=sla_breached,
        sla_breach_rate=round(sla_breached / sla_due, 4) if sla_due else None,
        open_by_age=aging,
        prod_deploys=prod_deploys,
        prod_deploys_with_evidence=with_evidence,
        evidence_coverage=round(with_evidence / prod_deploys, 4) if prod_deploys else None,
        exceptions=exceptions,
        secrets_by_team=secrets,
        runs_by_outcome=runs,
        approval_wait_median_s=_round(wait_median),
        approval_waits=waits,
        repeat_offenders=offenders,
        decisions_by_answer=decisions,
    )
