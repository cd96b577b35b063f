"""From the ledger's state changes to outbox rows.

`route(session, config, now)` reads every change table since its cursor (finding events, deploy
decisions, drift reports), sweeps the time-driven states (SLA due soon / breached / escalation,
exceptions expiring / expired), turns them into `Event`s, matches the subscriptions and writes one
outbox row per (event, subscription) — all in the caller's transaction, together with the cursors.
Call it inside the transaction that made the change (ingest, deploy decision, drift report) and from
the worker's loop: a change is routed exactly once, whichever gets there first, because the cursor
and the outbox rows commit together and outbox rows are unique by (event key, subscription).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from sqlalchemy.orm import Session

from clearance.model import Severity
from clearance.notify import store
from clearance.notify.audit import audit_append
from clearance.notify.events import Event, EventKind
from clearance.notify.subscriptions import EmailConfig, RoutingConfig, SubscriptionConfig

#: How far ahead "due soon" and "expiring" look.
DUE_SOON = dt.timedelta(days=3)
EXPIRING_SOON = dt.timedelta(days=14)
#: Rows read per change table per call (the rest on the next call).
BATCH = 5_000

_FINDING_KINDS = {
    "created": EventKind.FINDING_NEW,
    "new": EventKind.FINDING_NEW,
    "reopened": EventKind.FINDING_REOPENED,
    "fixed": EventKind.FINDING_FIXED,
}


@dataclass
class RouteReport:
    """What one routing pass did."""

    events: int = 0
    queued: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)


def route(
    session: Session, config: RoutingConfig, now: dt.datetime, link_base: str = "", *, sweeps: bool = True
) -> RouteReport:
    """Route every change not routed yet (see the module docstring). `sweeps=False` reads only the
    change tables (cheap, by cursor): what a write transaction needs; the clock-driven sweeps (SLA,
    exception expiry) scan open findings and belong to the worker's pass, not to every write."""
    events: list[Event] = []
    events += _finding_events(session, link_base)
    events += _decision_events(session, link_base)
    events += _drift_events(session, link_base)
    if sweeps:
        events += _sla_events(session, config, now, link_base)
        events += _waiver_events(session, now, link_base)
    report = RouteReport(events=len(events))
    if not events:
        return report
    config = with_stored(session, config)
    rows = list(_deliveries(events, config, now))
    report.queued = store.enqueue(session, rows, now)
    for e in events:
        report.by_kind[e.kind.value] = report.by_kind.get(e.kind.value, 0) + 1
    return report


def with_stored(session: Session, config: RoutingConfig) -> RoutingConfig:
    """The routing file's subscriptions plus the API's (named `api-<id>`; their channels must be
    configured in the file — an API subscription whose channel was removed is skipped)."""
    extra = []
    for sub in store.stored_subscriptions(session):
        kinds = [EventKind(e) for e in sub.events if e in EventKind._value2member_map_]
        if sub.channel not in config.channels or not kinds:
            continue
        extra.append(
            SubscriptionConfig(
                name=f"api-{sub.id}",
                team=sub.team,
                org=sub.team is None,
                events=kinds,
                min_severity=Severity.parse(sub.min_severity) if sub.min_severity else None,
                environments=list(sub.environments),
                channel=sub.channel,
            )
        )
    if not extra:
        return config
    return config.model_copy(update={"subscriptions": [*config.subscriptions, *extra]})


def _deliveries(
    events: Iterable[Event], config: RoutingConfig, now: dt.datetime
) -> Iterable[store.NewDelivery]:
    for event in events:
        for index, sub in config.routes(event):
            channel = config.channels[sub.channel]
            ref = sub.name or f"{index}"
            when = now
            if isinstance(channel, EmailConfig) and channel.digest == "daily":
                when = _next_midnight(now)
            yield store.NewDelivery(
                event_kind=event.kind.value,
                channel=sub.channel,
                payload={"event": event.to_json(), "subscription": ref},
                dedup_key=f"{event.key}:{sub.channel}:{ref}"[:200],
                group_key=f"{event.group}" if event.group else "",
                team=event.team,
                next_try_at=when,
            )


def _next_midnight(now: dt.datetime) -> dt.datetime:
    day = (now + dt.timedelta(days=1)).date()
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


def _severity(value: str | None) -> Severity | None:
    try:
        return Severity.parse(value) if value else None
    except ValueError:
        return None


def _link(base: str, path: str) -> str:
    return f"{base.rstrip('/')}{path}" if base else ""


def _finding_events(session: Session, link_base: str) -> list[Event]:
    """Finding lifecycle events, one per (run, kind, service, group): a run that adds five findings
    of one advisory to one service says so once."""
    changes = store.finding_changes(session, store.cursor(session, "finding_events"), BATCH)
    if not changes:
        return []
    store.advance(session, "finding_events", changes[-1].id)
    rematched = [c for c in changes if c.run_id is None and c.advisory_id]
    releases = store.releases_of(session, [c.finding_id for c in rematched])
    running = store.running_with_component(
        session, sorted({(c.service_id, c.component_purl) for c in rematched if c.component_purl})
    )
    groups: dict[tuple[int | None, EventKind, str, str], list[store.FindingChange]] = defaultdict(list)
    for change in changes:
        kind = _FINDING_KINDS.get(change.event)
        if kind is None:
            continue
        if kind is EventKind.FINDING_NEW and change.run_id is None and change.advisory_id:
            kind = EventKind.ADVISORY_NEWLY_AFFECTED
        group = f"{change.service}:{change.advisory_id or change.rule_id}"
        groups[(change.run_id, kind, change.service, group)].append(change)
    fixed_groups = [
        (m[0].service_id, m[0].advisory_id, m[0].rule_id)
        for (_r, kind, _s, _g), m in groups.items()
        if kind is EventKind.FINDING_FIXED
    ]
    open_counts = store.still_open(session, fixed_groups)
    events = []
    for (_run, kind, service, group), members in groups.items():
        first = members[0]
        remaining = 0
        if kind is EventKind.FINDING_FIXED:
            remaining = open_counts.get((first.service_id, first.advisory_id, first.rule_id), 0)
        dues = [m.due_at for m in members if m.due_at]
        worst = max((_severity(m.severity) for m in members), key=lambda s: s.sort_key() if s else (-1, -1))
        subject = first.advisory_id or first.rule_id
        count = len(members)
        what = {
            EventKind.FINDING_NEW: "New finding",
            EventKind.FINDING_REOPENED: "Finding reopened (regression)",
            EventKind.FINDING_FIXED: "Finding fixed",
            EventKind.ADVISORY_NEWLY_AFFECTED: "Newly affected by an advisory",
        }[kind]
        summary = first.title if count == 1 else f"{count} findings of {subject}: {first.title}"
        if remaining:
            summary += f" ({remaining} more of this group still open)"
        env = first.env
        release = releases.get(first.finding_id, "")
        if kind is EventKind.ADVISORY_NEWLY_AFFECTED:
            where = ""
            deployed = running.get((first.service_id, first.component_purl or ""), [])
            if deployed:  # what runs now, from deployment records: "1.4.2 running in prod"
                release = deployed[0][1]
                env = deployed[0][0]
                where = " running in " + ", ".join(e for e, _ in deployed)
            summary = (
                f"{subject} now affects {service}{' ' + release if release else ''}{where}"
                f" — owner {first.team or 'unassigned'}"
            )
        facts: list[tuple[str, str]] = []
        if first.path:
            facts.append(("Where", first.path))
        if first.component_purl:
            facts.append(("Component", first.component_purl))
        if first.fixed_version:
            facts.append(("Fixed in", first.fixed_version))
        if first.commit:
            facts.append(("Commit", first.commit[:12]))
        events.append(
            Event(
                kind=kind,
                team=first.team,
                service=service,
                title=f"{what}: {subject}",
                occurred_at=max(m.at for m in members),
                severity=worst,
                env=env,
                group=group,
                summary=summary,
                owner=first.team,
                due=min(dues).date() if dues else None,
                link=_link(link_base, f"/services/{service}"),
                rule_id=first.rule_id,
                advisory=first.advisory_id or "",
                release=release
                if kind is EventKind.ADVISORY_NEWLY_AFFECTED
                else releases.get(first.finding_id, ""),
                fingerprints=tuple(sorted(m.fingerprint for m in members)),
                facts=tuple(facts),
                still_open=remaining,
            )
        )
    return events


def _decision_events(session: Session, link_base: str) -> list[Event]:
    changes = store.decision_changes(session, store.cursor(session, "gate_decisions"), BATCH)
    if not changes:
        return []
    store.advance(session, "gate_decisions", changes[-1].id)
    events = []
    for c in changes:
        if c.answer != "deny":
            continue
        failed = [ch for ch in c.checks if isinstance(ch, dict) and ch.get("status") == "fail"]
        reasons = "; ".join(str(r) for r in c.reasons) or "denied"
        evidence_missing = any(ch.get("name") == "evidence" for ch in failed)
        kind = EventKind.EVIDENCE_MISSING if evidence_missing and c.env == "prod" else EventKind.DEPLOY_DENIED
        events.append(
            Event(
                kind=kind,
                team=c.team,
                service=c.service,
                title="Deploy denied" if kind is EventKind.DEPLOY_DENIED else "Deploy without valid evidence",
                occurred_at=c.at,
                env=c.env,
                summary=reasons,
                owner=c.team,
                link=_link(link_base, "/deploys"),
                facts=(("Digest", c.digest),),
            )
        )
    return events


def _drift_events(session: Session, link_base: str) -> list[Event]:
    changes = store.drift_changes(session, store.cursor(session, "drift_reports"), BATCH)
    if not changes:
        return []
    store.advance(session, "drift_reports", changes[-1].id)
    return [
        Event(
            kind=EventKind.DRIFT_REPORTED,
            team=c.team,
            service=c.service,
            title="Infrastructure drift",
            occurred_at=c.at,
            env=c.env,
            summary=f"{len(c.resources)} resource(s) changed outside a release"
            + (f" ({c.source})" if c.source else ""),
            owner=c.team,
            link=_link(link_base, f"/services/{c.service}"),
        )
        for c in changes
        if c.drifted
    ]


def _sla_events(session: Session, config: RoutingConfig, now: dt.datetime, link_base: str) -> list[Event]:
    """Due soon, breached, and escalated — each once per finding and due date (the event key holds
    the due date, so a sweep that runs every minute queues nothing new)."""
    events = []
    for f in store.open_due(session, now + DUE_SOON):
        severity = _severity(f.severity)
        subject = f.advisory_id or f.rule_id
        template = Event(
            kind=EventKind.SLA_DUE_SOON,
            team=f.team,
            service=f.service,
            title=f"SLA due soon: {subject}",
            occurred_at=f.due_at - DUE_SOON,
            severity=severity,
            group=f"{f.service}:{subject}",
            summary=f.title,
            owner=f.team,
            due=f.due_at.date(),
            link=_link(link_base, f"/services/{f.service}"),
            rule_id=f.rule_id,
            advisory=f.advisory_id or "",
            fingerprints=(f.fingerprint,),
        )
        if f.due_at >= now:
            events.append(template)
            continue
        days_over = (now - f.due_at).days
        events.append(
            replace(
                template,
                kind=EventKind.SLA_BREACHED,
                title=f"SLA breached: {subject}",
                occurred_at=f.due_at,
                summary=f"{f.title} — {days_over} day(s) over",
            )
        )
        after = config.escalation.get(severity) if severity else None
        if after is None or f.escalated_levels >= 1 or now - f.due_at < dt.timedelta(days=after):
            continue
        to = f.escalation_team or f.team
        if store.record_escalation(session, f.id, 1, f.escalation_team, now):
            audit_append(
                session, "sla.escalated", {"finding": f.fingerprint, "service": f.service, "to": to}, now
            )
        events.append(
            replace(
                template,
                kind=EventKind.SLA_ESCALATED,
                team=to,
                title=f"Escalated: {subject} still open {days_over} day(s) after its SLA",
                occurred_at=f.due_at + dt.timedelta(days=after),
                summary=f"{f.title} — owner {f.team}, escalated to {to}",
            )
        )
    return events


def _waiver_events(session: Session, now: dt.datetime, link_base: str) -> list[Event]:
    events = []
    for w in store.expiring_waivers(session, now + EXPIRING_SOON):
        expired = w.expires_at <= now
        events.append(
            Event(
                kind=EventKind.EXCEPTION_EXPIRED if expired else EventKind.EXCEPTION_EXPIRING,
                team=w.team,
                service=w.service,
                title=("Exception expired: " if expired else "Exception expiring: ") + w.external_id,
                occurred_at=w.expires_at if expired else w.expires_at - EXPIRING_SOON,
                summary=w.reason,
                owner=w.owner or w.team,
                due=w.expires_at.date(),
                link=_link(link_base, f"/services/{w.service}"),
            )
        )
    return events


def kinds_routed(config: RoutingConfig) -> Sequence[str]:
    """Every event kind some subscription listens to (for `ledger routing check`)."""
    return sorted({k.value for s in config.subscriptions for k in s.events})
