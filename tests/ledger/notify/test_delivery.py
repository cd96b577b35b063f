"""Routing end to end on SQLite and PostgreSQL: ledger rows → router → outbox → worker → loopback peers.

The ledger state is written with the ledger's own tables, as its ingest writes it (a finding and its
lifecycle events, a deploy decision, a drift report, an exception)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from clearance.errors import ConfigError
from clearance.ledger.service import Ledger
from clearance.ledger.tables import (
    AuditEntry,
    DriftReport,
    Environment,
    Escalation,
    Finding,
    FindingEvent,
    GateDecision,
    GateRun,
    Outbox,
    Service,
    Team,
    Ticket,
    Waiver,
)
from clearance.notify import store, subscriptions
from clearance.notify.router import route
from clearance.notify.worker import Worker, backoff
from ledger.conftest import LedgerDB
from ledger.notify.conftest import NOW, Clock
from ledger.notify.peers import HttpPeer, SmtpPeer


def routing(peer: HttpPeer, smtp: SmtpPeer | None = None, **extra: Any) -> subscriptions.RoutingConfig:
    channels: dict[str, Any] = {
        "a-slack": {"type": "slack", "url": f"{peer.url}/slack/team-a"},
        "b-slack": {"type": "slack", "url": f"{peer.url}/slack/team-b"},
        "gh": {"type": "github", "repo": "acme/security", "token_env": "GH_TOKEN", "api": peer.url},
        "sec-hook": {"type": "webhook", "url": f"{peer.url}/hook/sec", "secret_env": "HOOK_SECRET"},
    }
    if smtp:
        channels["a-mail"] = {
            "type": "email",
            "host": smtp.host,
            "port": smtp.port,
            "to": ["a@acme.example"],
            "digest": "daily",
        }
    subs: list[dict[str, Any]] = [
        {
            "team": "team-a",
            "events": [
                "finding.new",
                "finding.reopened",
                "finding.fixed",
                "advisory.newly_affected",
                "sla.breached",
            ],
            "min_severity": "high",
            "channel": "a-slack",
        },
        {
            "team": "team-a",
            "events": ["finding.new", "finding.fixed", "finding.reopened"],
            "min_severity": "high",
            "channel": "gh",
        },
        {"team": "team-b", "events": ["finding.new", "advisory.newly_affected"], "channel": "b-slack"},
        {
            "org": True,
            "events": ["deploy.denied", "evidence.missing", "drift.reported", "sla.escalated"],
            "channel": "sec-hook",
        },
    ]
    if smtp:
        subs.append(
            {"team": "team-a", "events": ["exception.expiring", "exception.expired"], "channel": "a-mail"}
        )
    return subscriptions.parse({"channels": channels, "subscriptions": subs, **extra})


@dataclass
class Org:
    """Two teams with one service each."""

    a_service: int
    b_service: int
    a_team: int
    b_team: int
    security: int


def seed(s: Session) -> Org:
    sec = Team(name="security", contacts={}, created_at=NOW)
    s.add(sec)
    s.flush()
    a = Team(name="team-a", contacts={}, escalation_team_id=sec.id, created_at=NOW)
    b = Team(name="team-b", contacts={}, created_at=NOW)
    s.add_all([a, b])
    s.flush()
    sa = Service(name="payments-api", team_id=a.id, created_at=NOW)
    sb = Service(name="search-api", team_id=b.id, created_at=NOW)
    s.add_all([sa, sb])
    s.flush()
    return Org(sa.id, sb.id, a.id, b.id, sec.id)


def run(s: Session, service_id: int, sha: str, at: dt.datetime, env: str = "prod") -> int:
    r = GateRun(service_id=service_id, report_sha256=sha, mode="full", env=env, decided_at=at, received_at=at)
    s.add(r)
    s.flush()
    return r.id


def finding(
    s: Session,
    service_id: int,
    fp: str,
    *,
    severity: str = "critical",
    advisory: str | None = None,
    rule: str = "secret.github-pat",
    due: dt.datetime | None = None,
) -> Finding:
    f = Finding(
        service_id=service_id,
        fingerprint=fp,
        scanner="secrets",
        kind="secret",
        rule_id=rule,
        title=f"finding {fp}",
        severity=severity,
        advisory_id=advisory,
        status="open",
        first_seen=NOW,
        last_seen=NOW,
        due_at=due,
        path="app/settings.py",
        line=3,
    )
    s.add(f)
    s.flush()
    return f


def lifecycle(s: Session, f: Finding, event: str, at: dt.datetime, run_id: int | None) -> None:
    s.add(FindingEvent(finding_id=f.id, run_id=run_id, event=event, at=at))
    s.flush()


ENV = {"GH_TOKEN": "ghs_x", "HOOK_SECRET": "hooksecret"}


@pytest.fixture(autouse=True)
def _secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)


def test_new_critical_finding_reaches_team_a_only_and_closes_on_fix(
    ledger_db: LedgerDB, peer: HttpPeer, clock: Clock
) -> None:
    config = routing(peer)
    with ledger_db.sessions.begin() as s:
        org = seed(s)
        r1 = run(s, org.a_service, "r1", NOW)
        f = finding(s, org.a_service, "fp-pat", due=NOW + dt.timedelta(days=7))
        lifecycle(s, f, "created", NOW, r1)
        route(s, config, NOW)  # in the transaction that made the change
    worker = Worker(Ledger(ledger_db.engine, clock=clock), config)
    report = worker.run_once()
    assert report.delivered == 2 and report.dead == 0
    assert len(peer.state.slack) == 1 and "payments-api" in json.dumps(peer.state.slack[0])
    assert [r[1] for r in peer.state.requests if "/slack/team-b" in r[1]] == []
    assert len(peer.state.issues) == 1
    with ledger_db.session() as s:
        ticket = s.scalars(select(Ticket)).one()
        assert ticket.ref == "acme/security#1" and ticket.state == "open"
        assert s.scalars(select(Finding.ticket_url)).one() == peer.state.issues[1]["html_url"]

    # Nothing new: a second pass sends nothing (cursor + dedup keys).
    assert worker.run_once().claimed == 0

    clock.advance(days=2)
    with ledger_db.sessions.begin() as s:
        f2 = s.get(Finding, f.id)
        assert f2 is not None
        f2.status = "fixed"
        lifecycle(s, f2, "fixed", clock(), run(s, org.a_service, "r2", clock()))
    worker.run_once()
    assert peer.state.issues[1]["state"] == "closed"
    assert len(peer.state.slack) == 2  # "fixed" message to team A

    clock.advance(days=2)
    with ledger_db.sessions.begin() as s:
        f3 = s.get(Finding, f.id)
        assert f3 is not None
        lifecycle(s, f3, "reopened", clock(), run(s, org.a_service, "r3", clock()))
    worker.run_once()
    assert peer.state.issues[1]["state"] == "open" and len(peer.state.issues) == 1


def test_receiver_down_three_times_gets_it_once_on_the_fourth_try(
    ledger_db: LedgerDB, peer: HttpPeer, clock: Clock
) -> None:
    config = routing(peer)
    peer.fail("POST", "/slack/team-a", 503, 3)
    with ledger_db.sessions.begin() as s:
        org = seed(s)
        lifecycle(s, finding(s, org.a_service, "fp1"), "created", NOW, run(s, org.a_service, "r1", NOW))
    worker = Worker(Ledger(ledger_db.engine, clock=clock), config)
    for attempt in range(1, 4):
        report = worker.run_once()
        assert report.retried == 1, attempt
        assert worker.run_once().claimed == 0  # not due yet: backing off
        clock.advance(seconds=backoff(attempt).total_seconds())
    assert worker.run_once().delivered == 1
    assert len(peer.state.slack) == 1
    slack_posts = [r for r in peer.state.requests if r[1].startswith("/slack/team-a")]
    assert len(slack_posts) == 4
    with ledger_db.session() as s:
        row = s.scalars(select(Outbox).where(Outbox.channel == "a-slack")).one()
        assert row.state == "delivered" and row.attempts == 4


def test_rate_limit_retry_after_is_honoured(ledger_db: LedgerDB, peer: HttpPeer, clock: Clock) -> None:
    config = routing(peer)
    peer.fail("POST", "/slack/team-a", 429, 1, retry_after="600")
    with ledger_db.sessions.begin() as s:
        org = seed(s)
        lifecycle(s, finding(s, org.a_service, "fp1"), "created", NOW, run(s, org.a_service, "r1", NOW))
    worker = Worker(Ledger(ledger_db.engine, clock=clock), config)
    worker.run_once()
    clock.advance(seconds=300)  # past the backoff, inside Retry-After
    assert worker.run_once().claimed == 0
    clock.advance(seconds=301)
    assert worker.run_once().delivered == 1


def test_permanent_refusal_is_dead_and_can_be_retried(
    ledger_db: LedgerDB, peer: HttpPeer, clock: Clock
) -> None:
    config = routing(peer)
    peer.fail("POST", "/slack/team-a", 404, 1)
    with ledger_db.sessions.begin() as s:
        org = seed(s)
        lifecycle(s, finding(s, org.a_service, "fp1"), "created", NOW, run(s, org.a_service, "r1", NOW))
    worker = Worker(Ledger(ledger_db.engine, clock=clock), config)
    assert worker.run_once().dead == 1
    with ledger_db.sessions.begin() as s:
        dead = store.deliveries(s, states=["dead"])
        assert len(dead) == 1 and "HTTP 404" in dead[0].last_error
        assert store.retry_dead(s, [dead[0].id], clock()) == 1
    assert worker.run_once().delivered == 1


def test_a_fix_waits_for_the_ticket_it_closes(ledger_db: LedgerDB, peer: HttpPeer, clock: Clock) -> None:
    """Ordered per group: the close is not sent while the open is still failing."""
    config = routing(peer)
    peer.fail("POST", "/repos/acme/security/issues", 503, 1)
    with ledger_db.sessions.begin() as s:
        org = seed(s)
        f = finding(s, org.a_service, "fp1")
        lifecycle(s, f, "created", NOW, run(s, org.a_service, "r1", NOW))
        f.status = "fixed"  # as the ingest of the second run leaves it
        lifecycle(s, f, "fixed", NOW + dt.timedelta(seconds=1), run(s, org.a_service, "r2", NOW))
    worker = Worker(Ledger(ledger_db.engine, clock=clock), config)
    worker.run_once()
    assert peer.state.issues == {}
    clock.advance(minutes=1)
    worker.run_once()
    clock.advance(minutes=1)
    worker.run_once()
    assert len(peer.state.issues) == 1 and peer.state.issues[1]["state"] == "closed"


def test_zero_day_rematch_notifies_each_affected_owner_once(
    ledger_db: LedgerDB, peer: HttpPeer, clock: Clock
) -> None:
    config = routing(peer)
    with ledger_db.sessions.begin() as s:
        org = seed(s)
        for service_id, fps in ((org.a_service, ["a1", "a2"]), (org.b_service, ["b1"])):
            for fp in fps:
                f = finding(s, service_id, fp, advisory="CVE-2026-0001", rule="vuln.CVE-2026-0001")
                lifecycle(s, f, "created", NOW, None)  # recorded by a re-match: no run
    Worker(Ledger(ledger_db.engine, clock=clock), config).run_once()
    a_msgs = [m for m in peer.state.slack if "payments-api" in json.dumps(m)]
    b_msgs = [m for m in peer.state.slack if "search-api" in json.dumps(m)]
    assert len(a_msgs) == 1 and len(b_msgs) == 1
    assert "now affects payments-api" in json.dumps(a_msgs[0]) and "team-a" in json.dumps(a_msgs[0])


def test_sla_breach_then_escalation_recorded_once(ledger_db: LedgerDB, peer: HttpPeer, clock: Clock) -> None:
    config = routing(peer, escalation={"critical": 3})
    with ledger_db.sessions.begin() as s:
        org = seed(s)
        finding(s, org.a_service, "late", due=NOW - dt.timedelta(days=1))
    worker = Worker(Ledger(ledger_db.engine, clock=clock), config)
    worker.run_once()
    assert sum("SLA breached" in json.dumps(m) for m in peer.state.slack) == 1
    assert peer.state.hooks == []  # not escalated yet
    clock.advance(days=3)
    worker.run_once()
    worker.run_once()
    assert sum("SLA breached" in json.dumps(m) for m in peer.state.slack) == 1  # not repeated
    assert len(peer.state.hooks) == 1
    body = json.loads(peer.state.hooks[0][1])
    assert body["event"]["kind"] == "sla.escalated" and body["event"]["team"] == "security"
    with ledger_db.session() as s:
        assert s.scalar(select(func.count(Escalation.id))) == 1
        audit = s.scalars(select(AuditEntry).where(AuditEntry.action == "sla.escalated")).one()
        assert audit.actor == "clearance-router"


def test_deploy_denied_and_drift_go_to_the_security_hook(
    ledger_db: LedgerDB, peer: HttpPeer, clock: Clock
) -> None:
    config = routing(peer)
    with ledger_db.sessions.begin() as s:
        org = seed(s)
        prod = Environment(name="prod")
        s.add(prod)
        s.flush()
        s.add(
            GateDecision(
                service_id=org.a_service,
                environment_id=prod.id,
                artifact_digest="sha256:" + "a" * 64,
                answer="deny",
                reasons=["evidence: no bundle for this digest was ingested"],
                checks=[{"name": "evidence", "status": "fail", "reason": "no bundle"}],
                decided_at=NOW,
            )
        )
        s.add(
            GateDecision(
                service_id=org.a_service,
                environment_id=prod.id,
                artifact_digest="sha256:" + "b" * 64,
                answer="allow",
                reasons=[],
                decided_at=NOW,
            )
        )
        s.add(
            DriftReport(
                service_id=org.b_service,
                environment_id=prod.id,
                drifted=True,
                resources=[{"address": "aws_s3_bucket.x"}],
                source="terraform plan",
                detected_at=NOW,
            )
        )
    Worker(Ledger(ledger_db.engine, clock=clock), config).run_once()
    kinds = sorted(json.loads(body)["event"]["kind"] for _, body in peer.state.hooks)
    assert kinds == ["drift.reported", "evidence.missing"]


def test_exception_expiry_goes_out_as_one_daily_digest(
    ledger_db: LedgerDB, peer: HttpPeer, smtp: SmtpPeer, clock: Clock
) -> None:
    config = routing(peer, smtp)
    with ledger_db.sessions.begin() as s:
        org = seed(s)
        for i, days in enumerate((-1, 5, 10)):
            s.add(
                Waiver(
                    service_id=org.a_service,
                    external_id=f"EXC-{i}",
                    owner="alice",
                    reason="vendor fix due",
                    expires_at=NOW + dt.timedelta(days=days),
                    last_seen_at=NOW,
                )
            )
    worker = Worker(Ledger(ledger_db.engine, clock=clock), config)
    worker.run_once()
    assert smtp.messages == []  # held for the digest
    clock.advance(hours=16)  # past midnight UTC
    worker.run_once()
    assert len(smtp.messages) == 1 and "3 events" in smtp.messages[0]["Subject"]


def test_routing_file_is_validated(tmp_path: Any) -> None:
    bad = tmp_path / "routing.toml"
    bad.write_text('[[subscriptions]]\nteam = "a"\nevents = ["finding.nope"]\nchannel = "x"\n')
    with pytest.raises(ConfigError, match="events"):
        subscriptions.load(bad)
    bad.write_text(
        '[channels.x]\ntype = "slack"\nurl = "http://h"\n[[subscriptions]]\nevents = ["finding.new"]\nchannel = "x"\n'
    )
    with pytest.raises(ConfigError, match="team = NAME or org = true"):
        subscriptions.load(bad)
    bad.write_text('[[subscriptions]]\nteam = "a"\nevents = ["finding.new"]\nchannel = "missing"\n')
    with pytest.raises(ConfigError, match="unknown channel"):
        subscriptions.load(bad)


def test_two_workers_share_the_outbox_without_double_claims(ledger_db: LedgerDB, peer: HttpPeer) -> None:
    if ledger_db.kind != "postgresql":
        pytest.skip("SQLite has one writer at a time; SKIP LOCKED is a PostgreSQL feature")
    with ledger_db.sessions.begin() as s:
        rows = [
            store.NewDelivery("finding.new", "a-slack", {"event": {}}, f"k{i}", "", "team-a", NOW)
            for i in range(6)
        ]
        store.enqueue(s, rows, NOW)
    first = ledger_db.sessions()
    second = ledger_db.sessions()
    try:
        mine = {r.id for r in store.claim(first, NOW, dt.timedelta(minutes=5), 3)}
        theirs = {r.id for r in store.claim(second, NOW, dt.timedelta(minutes=5), 10)}
        assert len(mine) == 3 and len(theirs) == 3 and not mine & theirs
    finally:
        first.rollback()
        second.rollback()
        first.close()
        second.close()
