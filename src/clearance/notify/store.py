"""Every SQL statement of routing: reading the ledger's change tables since a cursor, writing and
claiming outbox rows, tickets and escalations. Routes and workers call these; nothing else in
`notify/` builds a query.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from clearance.ledger.tables import (
    Component,
    CurrentDeployment,
    DriftReport,
    Environment,
    Escalation,
    Finding,
    FindingEvent,
    GateDecision,
    NotifyCursor,
    Outbox,
    Release,
    ReleaseComponent,
    Service,
    Subscription,
    Team,
    Ticket,
    Waiver,
)

#: Outbox states. `pending`/`retry` wait for `next_try_at`; `sending` is claimed by a worker until
#: its lease (`next_try_at`) runs out; `delivered` and `dead` are final.
PENDING, RETRY, SENDING, DELIVERED, DEAD = "pending", "retry", "sending", "delivered", "dead"
FINAL = (DELIVERED, DEAD)


@dataclass(frozen=True)
class FindingChange:
    """One finding-lifecycle event with what a message needs to say about it."""

    id: int
    event: str
    at: dt.datetime
    run_id: int | None
    finding_id: int
    fingerprint: str
    rule_id: str
    advisory_id: str | None
    title: str
    severity: str
    status: str
    path: str | None
    due_at: dt.datetime | None
    fixed_version: str | None
    component_purl: str | None
    service_id: int
    service: str
    team: str
    env: str | None
    commit: str | None


@dataclass(frozen=True)
class DecisionChange:
    """A deploy decision."""

    id: int
    answer: str
    digest: str
    reasons: list[Any]
    checks: list[Any]
    at: dt.datetime
    service: str
    team: str
    env: str


@dataclass(frozen=True)
class DriftChange:
    """A drift report."""

    id: int
    drifted: bool
    resources: list[Any]
    source: str
    at: dt.datetime
    service: str
    team: str
    env: str


@dataclass(frozen=True)
class DueFinding:
    """An open finding with a due date (for SLA sweeps)."""

    id: int
    fingerprint: str
    rule_id: str
    advisory_id: str | None
    title: str
    severity: str
    due_at: dt.datetime
    service: str
    team: str
    escalation_team: str | None
    escalated_levels: int


@dataclass(frozen=True)
class ExpiringWaiver:
    """A repository exception with an expiry."""

    id: int
    external_id: str
    owner: str
    reason: str
    expires_at: dt.datetime
    service: str
    team: str


def _values(row: Any) -> tuple[Any, ...]:
    return tuple(row)


def cursor(session: Session, source: str) -> int:
    """The last row id routing has read from `source` (0 when never read)."""
    row = session.get(NotifyCursor, source)
    return row.last_id if row else 0


def advance(session: Session, source: str, last_id: int) -> None:
    """Record that `source` has been read up to `last_id` (in the caller's transaction)."""
    row = session.get(NotifyCursor, source)
    if row is None:
        session.add(NotifyCursor(source=source, last_id=last_id))
    elif last_id > row.last_id:
        row.last_id = last_id


_OwnerTeam = aliased(Team)


def finding_changes(session: Session, after: int, limit: int) -> list[FindingChange]:
    """Finding events with id > `after`, oldest first, joined to what a message shows."""
    from clearance.ledger.tables import GateRun

    q = (
        select(
            FindingEvent.id,
            FindingEvent.event,
            FindingEvent.at,
            FindingEvent.run_id,
            Finding.id,
            Finding.fingerprint,
            Finding.rule_id,
            Finding.advisory_id,
            Finding.title,
            Finding.severity,
            Finding.status,
            Finding.path,
            Finding.due_at,
            Finding.fixed_version,
            Finding.component_purl,
            Service.id,
            Service.name,
            func.coalesce(_OwnerTeam.name, Team.name, ""),
            GateRun.env,
            GateRun.commit,
        )
        .join(Finding, Finding.id == FindingEvent.finding_id)
        .join(Service, Service.id == Finding.service_id)
        .outerjoin(Team, Team.id == Service.team_id)
        .outerjoin(_OwnerTeam, _OwnerTeam.id == Finding.owner_team_id)
        .outerjoin(GateRun, GateRun.id == FindingEvent.run_id)
        .where(FindingEvent.id > after)
        .order_by(FindingEvent.id)
        .limit(limit)
    )
    return [FindingChange(*_values(row)) for row in session.execute(q)]


def decision_changes(session: Session, after: int, limit: int) -> list[DecisionChange]:
    """Deploy decisions with id > `after`, oldest first (admission dry runs are not routed)."""
    q = (
        select(
            GateDecision.id,
            GateDecision.answer,
            GateDecision.artifact_digest,
            GateDecision.reasons,
            GateDecision.checks,
            GateDecision.decided_at,
            func.coalesce(Service.name, ""),
            func.coalesce(Team.name, ""),
            func.coalesce(Environment.name, GateDecision.environment_name, ""),
        )
        .outerjoin(Service, Service.id == GateDecision.service_id)
        .outerjoin(Team, Team.id == Service.team_id)
        .outerjoin(Environment, Environment.id == GateDecision.environment_id)
        .where(GateDecision.id > after, GateDecision.dry_run.is_(False))
        .order_by(GateDecision.id)
        .limit(limit)
    )
    return [DecisionChange(*_values(row)) for row in session.execute(q)]


def drift_changes(session: Session, after: int, limit: int) -> list[DriftChange]:
    """Drift reports with id > `after`, oldest first."""
    q = (
        select(
            DriftReport.id,
            DriftReport.drifted,
            DriftReport.resources,
            DriftReport.source,
            DriftReport.detected_at,
            Service.name,
            func.coalesce(Team.name, ""),
            Environment.name,
        )
        .join(Service, Service.id == DriftReport.service_id)
        .outerjoin(Team, Team.id == Service.team_id)
        .join(Environment, Environment.id == DriftReport.environment_id)
        .where(DriftReport.id > after)
        .order_by(DriftReport.id)
        .limit(limit)
    )
    return [DriftChange(*_values(row)) for row in session.execute(q)]


def releases_of(session: Session, finding_ids: Sequence[int]) -> dict[int, str]:
    """The newest release version of each finding's service (for 'newly affected' messages)."""
    if not finding_ids:
        return {}
    newest = (
        select(Release.service_id, func.max(Release.id).label("rid")).group_by(Release.service_id).subquery()
    )
    q = (
        select(Finding.id, Release.version)
        .join(newest, newest.c.service_id == Finding.service_id)
        .join(Release, Release.id == newest.c.rid)
        .where(Finding.id.in_(finding_ids))
    )
    return {fid: version for fid, version in session.execute(q)}


def open_due(session: Session, before: dt.datetime, limit: int = 10_000) -> list[DueFinding]:
    """Open findings due before `before`, not excepted now, not triaged away, oldest due first."""
    EscTeam = aliased(Team)
    levels = select(func.count(Escalation.id)).where(Escalation.finding_id == Finding.id).scalar_subquery()
    q = (
        select(
            Finding.id,
            Finding.fingerprint,
            Finding.rule_id,
            Finding.advisory_id,
            Finding.title,
            Finding.severity,
            Finding.due_at,
            Service.name,
            func.coalesce(_OwnerTeam.name, Team.name, ""),
            EscTeam.name,
            levels,
        )
        .join(Service, Service.id == Finding.service_id)
        .outerjoin(Team, Team.id == Service.team_id)
        .outerjoin(_OwnerTeam, _OwnerTeam.id == Finding.owner_team_id)
        .outerjoin(
            EscTeam, EscTeam.id == func.coalesce(_OwnerTeam.escalation_team_id, Team.escalation_team_id)
        )
        .where(
            Finding.status.in_(("open", "reopened")),
            Finding.due_at.is_not(None),
            Finding.due_at < before,
            or_(
                Finding.analysis_state.is_(None),
                Finding.analysis_state.not_in(("not_affected", "false_positive")),
            ),
        )
        .order_by(Finding.due_at, Finding.id)
        .limit(limit)
    )
    return [DueFinding(*_values(row)) for row in session.execute(q) if row[6] is not None]


def expiring_waivers(session: Session, before: dt.datetime, limit: int = 10_000) -> list[ExpiringWaiver]:
    """Exceptions that expire before `before` (expired ones included), soonest first."""
    q = (
        select(
            Waiver.id,
            Waiver.external_id,
            Waiver.owner,
            Waiver.reason,
            Waiver.expires_at,
            Service.name,
            func.coalesce(Team.name, ""),
        )
        .join(Service, Service.id == Waiver.service_id)
        .outerjoin(Team, Team.id == Service.team_id)
        .where(Waiver.expires_at.is_not(None), Waiver.expires_at < before)
        .order_by(Waiver.expires_at, Waiver.id)
        .limit(limit)
    )
    return [ExpiringWaiver(*_values(row)) for row in session.execute(q) if row[4] is not None]


def record_escalation(
    session: Session, finding_id: int, level: int, to_team: str | None, at: dt.datetime
) -> bool:
    """Record an escalation once per (finding, level); False when it was recorded already."""
    if session.scalar(
        select(Escalation.id).where(Escalation.finding_id == finding_id, Escalation.level == level)
    ):
        return False
    team_id = session.scalar(select(Team.id).where(Team.name == to_team)) if to_team else None
    session.add(Escalation(finding_id=finding_id, level=level, to_team_id=team_id, escalated_at=at))
    return True


@dataclass(frozen=True)
class NewDelivery:
    """An outbox row to write."""

    event_kind: str
    channel: str
    payload: dict[str, Any]
    dedup_key: str
    group_key: str
    team: str
    next_try_at: dt.datetime
    subscription_id: int | None = None


def enqueue(session: Session, rows: Sequence[NewDelivery], now: dt.datetime) -> int:
    """Insert the rows whose dedup key is new (one query to find the known ones); returns how many."""
    if not rows:
        return 0
    keys = [r.dedup_key for r in rows]
    known: set[str] = set()
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        known.update(session.scalars(select(Outbox.dedup_key).where(Outbox.dedup_key.in_(chunk))))
    fresh = {r.dedup_key: r for r in rows if r.dedup_key not in known}
    session.add_all(
        Outbox(
            event=r.event_kind,
            subscription_id=r.subscription_id,
            channel=r.channel,
            payload=r.payload,
            dedup_key=r.dedup_key,
            group_key=r.group_key,
            team=r.team,
            state=PENDING,
            attempts=0,
            next_try_at=r.next_try_at,
            last_error="",
            created_at=now,
        )
        for r in fresh.values()
    )
    session.flush()
    return len(fresh)


def claim(session: Session, now: dt.datetime, lease: dt.timedelta, limit: int) -> list[Outbox]:
    """Claim due rows for one worker: oldest first, skipping rows locked by another worker
    (PostgreSQL `FOR UPDATE SKIP LOCKED`) and rows that wait for an earlier row of their group."""
    earlier = aliased(Outbox)
    blocked = exists().where(
        and_(
            earlier.channel == Outbox.channel,
            earlier.group_key == Outbox.group_key,
            earlier.group_key != "",
            earlier.id < Outbox.id,
            earlier.state.not_in(FINAL),
        )
    )
    q = (
        select(Outbox)
        .where(Outbox.state.in_((PENDING, RETRY, SENDING)), Outbox.next_try_at <= now, ~blocked)
        .order_by(Outbox.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=Outbox)
    )
    rows = list(session.scalars(q))
    for row in rows:
        row.state = SENDING
        row.next_try_at = now + lease
    session.flush()
    return rows


def finish(
    session: Session,
    row_id: int,
    *,
    state: str,
    attempts: int,
    next_try_at: dt.datetime,
    error: str,
    delivered_at: dt.datetime | None,
    ticket_ref: str | None,
) -> None:
    """Write the result of one attempt."""
    session.execute(
        update(Outbox)
        .where(Outbox.id == row_id)
        .values(
            state=state,
            attempts=attempts,
            next_try_at=next_try_at,
            last_error=error[:2000],
            delivered_at=delivered_at,
            ticket_ref=ticket_ref,
        )
    )


def ticket_ref(session: Session, channel: str, group_key: str) -> str | None:
    """The receiver's reference of the group's ticket on `channel`, if one was opened."""
    return session.scalar(select(Ticket.ref).where(Ticket.channel == channel, Ticket.group_key == group_key))


def save_ticket(
    session: Session,
    *,
    channel: str,
    group_key: str,
    service: str,
    fingerprints: Iterable[str],
    ref: str,
    url: str,
    state: str,
    now: dt.datetime,
) -> None:
    """Remember the group's ticket and link it from the group's findings."""
    service_id = session.scalar(select(Service.id).where(Service.name == service))
    row = session.scalar(select(Ticket).where(Ticket.channel == channel, Ticket.group_key == group_key))
    if row is None:
        session.add(
            Ticket(
                channel=channel,
                group_key=group_key,
                service_id=service_id,
                ref=ref,
                url=url,
                state=state,
                updated_at=now,
            )
        )
    else:
        row.ref, row.url, row.state, row.updated_at = ref, url or row.url, state, now
    prints = list(fingerprints)
    if url and service_id is not None and prints:
        session.execute(
            update(Finding)
            .where(Finding.service_id == service_id, Finding.fingerprint.in_(prints))
            .values(ticket_url=url)
        )


def deliveries(
    session: Session, *, states: Sequence[str] = (), team: str | None = None, limit: int = 200
) -> list[Outbox]:
    """Outbox rows, newest first, optionally by state and by the team named in the payload."""
    q = select(Outbox).order_by(Outbox.id.desc()).limit(limit)
    if states:
        q = q.where(Outbox.state.in_(states))
    if team is not None:
        q = q.where(Outbox.team == team)
    return list(session.scalars(q))


def retry_dead(session: Session, ids: Sequence[int], now: dt.datetime) -> int:
    """Put dead rows back in the queue (attempts reset); returns how many."""
    q = update(Outbox).where(Outbox.state == DEAD)
    if ids:
        q = q.where(Outbox.id.in_(ids))
    result = session.execute(q.values(state=RETRY, attempts=0, next_try_at=now, last_error=""))
    return int(getattr(result, "rowcount", 0) or 0)


@dataclass(frozen=True)
class StoredSubscription:
    """A subscription created through the API (channels are named from the routing file)."""

    id: int
    team: str | None
    events: tuple[str, ...]
    channel: str
    min_severity: str | None
    environments: tuple[str, ...]
    created_at: dt.datetime

    def as_json(self) -> dict[str, Any]:
        """The API shape."""
        return {
            "id": self.id,
            "team": self.team,
            "org": self.team is None,
            "events": list(self.events),
            "channel": self.channel,
            "min_severity": self.min_severity,
            "environments": list(self.environments),
            "created_at": self.created_at.isoformat(),
        }


def stored_subscriptions(session: Session, team_id: int | None = None) -> list[StoredSubscription]:
    """Active API subscriptions (a team's own, or all when `team_id` is None), oldest first."""
    q = (
        select(Subscription, Team.name)
        .outerjoin(Team, Team.id == Subscription.team_id)
        .where(Subscription.active.is_(True))
        .order_by(Subscription.id)
    )
    if team_id is not None:
        q = q.where(Subscription.team_id == team_id)
    return [
        StoredSubscription(
            id=row.id,
            team=team,
            events=tuple(e for e in row.event.split(",") if e),
            channel=row.channel,
            min_severity=row.filters.get("min_severity"),
            environments=tuple(row.filters.get("environments", ())),
            created_at=row.created_at,
        )
        for row, team in session.execute(q)
    ]


def add_subscription(
    session: Session,
    *,
    team_id: int | None,
    events: Sequence[str],
    channel: str,
    min_severity: str | None,
    environments: Sequence[str],
    now: dt.datetime,
) -> int:
    """Create an API subscription; returns its id."""
    row = Subscription(
        team_id=team_id,
        event=",".join(events),
        channel=channel,
        target="",
        filters={"min_severity": min_severity, "environments": list(environments)},
        active=True,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row.id


def deactivate_subscription(session: Session, subscription_id: int) -> Subscription | None:
    """Turn an API subscription off (kept for the audit trail); None when unknown."""
    row = session.get(Subscription, subscription_id)
    if row is not None:
        row.active = False
    return row


def still_open(
    session: Session, groups: Sequence[tuple[int, str | None, str]]
) -> dict[tuple[int, str | None, str], int]:
    """Open findings per (service id, advisory id, rule id) group — one query for all groups."""
    if not groups:
        return {}
    services = sorted({g[0] for g in groups})
    q = (
        select(Finding.service_id, Finding.advisory_id, Finding.rule_id, func.count(Finding.id))
        .where(Finding.service_id.in_(services), Finding.status.in_(("open", "reopened")))
        .group_by(Finding.service_id, Finding.advisory_id, Finding.rule_id)
    )
    counts: dict[tuple[int, str | None, str], int] = {}
    for service_id, advisory, rule, n in session.execute(q):
        key = (service_id, advisory, rule) if advisory is None else (service_id, advisory, "")
        counts[key] = counts.get(key, 0) + int(n)
    return {g: counts.get((g[0], g[1], g[2] if g[1] is None else ""), 0) for g in groups}


def running_with_component(
    session: Session, pairs: Sequence[tuple[int, str]]
) -> dict[tuple[int, str], list[tuple[str, str]]]:
    """For each (service id, component purl): the environments where a release holding the component
    runs now, with that release's version — highest-ranked environment first."""
    if not pairs:
        return {}
    services = sorted({sid for sid, _ in pairs})
    purls = sorted({purl for _, purl in pairs})
    q = (
        select(CurrentDeployment.service_id, Component.purl, Environment.name, Release.version)
        .join(Environment, Environment.id == CurrentDeployment.environment_id)
        .join(Release, Release.id == CurrentDeployment.release_id)
        .join(ReleaseComponent, ReleaseComponent.release_id == CurrentDeployment.release_id)
        .join(Component, Component.id == ReleaseComponent.component_id)
        .where(CurrentDeployment.service_id.in_(services), Component.purl.in_(purls))
        .order_by(Environment.rank.desc(), Environment.name)
    )
    found: dict[tuple[int, str], list[tuple[str, str]]] = {}
    for sid, purl, env, version in session.execute(q):
        found.setdefault((sid, purl), []).append((env, version))
    return {p: found.get(p, []) for p in pairs}


def count_deliveries(session: Session, *, state: str, team: str | None = None) -> int:
    """How many outbox rows are in `state` (for one team, or all when `team` is None)."""
    q = select(func.count(Outbox.id)).where(Outbox.state == state)
    if team is not None:
        q = q.where(Outbox.team == team)
    return int(session.scalar(q) or 0)
