"""DORA and security metrics in SQL, exact on a small data set worked out by hand below.

now = 2026-12-01T00:00Z, window 90 days → start 2026-09-02T00:00Z. Teams: payments (pay-api),
web (shop). Environments: prod, staging.

pay-api deployments                                         lead time (finished − first commit)
  D1 prod succeeded 11-01 12:00, commits 10-31 12:00, 11-01 06:00 → 86 400 s
  D2 prod succeeded 11-05 00:00, commit 11-04 22:00              →   7 200 s
  D3 prod rolled_back 11-10 00:00                                  (no lead time: not a success)
  D4 prod succeeded 11-20 00:00, commits 11-16, 11-19            → 345 600 s
  D5 prod succeeded 08-01 (outside the window)
  D6 staging succeeded 11-02 (not prod)
shop deployments
  S1 prod succeeded 11-15 00:00, commit 11-14 00:00              →  86 400 s
  S2 prod failed 11-16 00:00
incidents (prod unless said)
  I1 pay-api 11-06 00:00 → 03:00 (D2 was running)   10 800 s
  I2 pay-api 11-21 00:00 → 00:30 (D4)                 1 800 s
  I3 pay-api 11-22 00:00, unresolved (D4 again: D4 counts once)
  I4 pay-api staging 11-03 (ignored)
  I5 shop 11-25 00:00 → 11-26 00:00 (S1 running; S2 failed)  86 400 s

Org DORA: successes D1 D2 D4 S1 = 4 → 4/90 per day → medium (≥ 1/month, < 1/week).
  lead times 7 200, 86 400, 86 400, 345 600 → median 86 400 (high: not < 1 day), p90 (rank 4) 345 600.
  change failures: D2 (I1), D3 (rollback), D4 (I2, I3 → once), S1 (I5), S2 (failed) = 5 of
  D1 D2 D3 D4 S1 S2 = 6 → 0.8333 (low). restore 1 800, 10 800, 86 400 → median 10 800 (high).
Team payments: 3 successes; lead 7 200, 86 400, 345 600 → median 86 400, p90 345 600;
  CFR D2 D3 D4 of D1..D4 = 3/4 = 0.75; restore 1 800, 10 800 → median 6 300.
Service shop: 1 success, lead 86 400 / 86 400; CFR 2/2 = 1.0; restore 86 400.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from clearance.ledger import metrics
from clearance.ledger.tables import (
    Change,
    Deployment,
    DeploymentChange,
    Environment,
    EvidenceBundle,
    Finding,
    GateDecision,
    GateRun,
    Incident,
    Release,
    Service,
    Team,
    Waiver,
)

from .conftest import LedgerDB

NOW = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)


def t(month: int, day: int, hour: int = 0, minute: int = 0, year: int = 2026) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=dt.UTC)


def seed(db: LedgerDB) -> None:
    with db.session() as s, s.begin():
        payments = Team(name="payments", created_at=t(1, 1))
        web = Team(name="web", created_at=t(1, 1))
        s.add_all([payments, web])
        s.flush()
        pay = Service(name="pay-api", team_id=payments.id, created_at=t(1, 1))
        shop = Service(name="shop", team_id=web.id, created_at=t(1, 1))
        prod = Environment(name="prod", rank=3)
        staging = Environment(name="staging", rank=2)
        s.add_all([pay, shop, prod, staging])
        s.flush()
        rel: dict[str, Release] = {}
        for key, svc in [
            ("D1", pay),
            ("D2", pay),
            ("D3", pay),
            ("D4", pay),
            ("D5", pay),
            ("S1", shop),
            ("S2", shop),
        ]:
            rel[key] = Release(
                service_id=svc.id, version=key, artifact_digest=f"sha256:{key}", created_at=t(7, 1)
            )
        s.add_all(rel.values())
        s.flush()
        deps: dict[str, Deployment] = {}

        def deploy(
            key: str,
            release: str,
            env: Environment,
            status: str,
            finished: dt.datetime,
            *commits: dt.datetime,
        ) -> None:
            d = Deployment(
                release_id=rel[release].id,
                environment_id=env.id,
                status=status,
                started_at=finished - dt.timedelta(minutes=10),
                finished_at=finished,
            )
            s.add(d)
            s.flush()
            deps[key] = d
            svc_id = rel[release].service_id
            for i, c in enumerate(commits):
                ch = Change(service_id=svc_id, commit=f"{key}-{i}", committed_at=c)
                s.add(ch)
                s.flush()
                s.add(DeploymentChange(deployment_id=d.id, change_id=ch.id))

        deploy("D1", "D1", prod, "succeeded", t(11, 1, 12), t(10, 31, 12), t(11, 1, 6))
        deploy("D2", "D2", prod, "succeeded", t(11, 5), t(11, 4, 22))
        deploy("D3", "D3", prod, "rolled_back", t(11, 10), t(11, 9))
        deploy("D4", "D4", prod, "succeeded", t(11, 20), t(11, 16), t(11, 19))
        deploy("D5", "D5", prod, "succeeded", t(8, 1), t(7, 30))
        deploy("D6", "D4", staging, "succeeded", t(11, 2))
        deploy("S1", "S1", prod, "succeeded", t(11, 15), t(11, 14))
        deploy("S2", "S2", prod, "failed", t(11, 16))

        def incident(
            key: str,
            svc: Service,
            env: Environment,
            dep: str | None,
            opened: dt.datetime,
            resolved: dt.datetime | None,
        ) -> None:
            s.add(
                Incident(
                    service_id=svc.id,
                    environment_id=env.id,
                    release_id=deps[dep].release_id if dep else None,
                    deployment_id=deps[dep].id if dep else None,
                    source="test",
                    external_id=key,
                    opened_at=opened,
                    resolved_at=resolved,
                )
            )

        incident("I1", pay, prod, "D2", t(11, 6), t(11, 6, 3))
        incident("I2", pay, prod, "D4", t(11, 21), t(11, 21, 0, 30))
        incident("I3", pay, prod, "D4", t(11, 22), None)
        incident("I4", pay, staging, "D6", t(11, 3), t(11, 3, 1))
        incident("I5", shop, prod, "S1", t(11, 25), t(11, 26))

        # --- security data (see test_security_metrics) ---
        def finding(
            svc: Service,
            team: Team,
            fp: str,
            sev: str,
            first: dt.datetime,
            due: dt.datetime | None,
            **kw: Any,
        ) -> None:
            s.add(
                Finding(
                    service_id=svc.id,
                    fingerprint=fp,
                    scanner=kw.pop("scanner", "deps"),
                    kind=kw.pop("kind", "vulnerability"),
                    rule_id=f"rule.{fp}",
                    severity=sev,
                    status=kw.pop("status", "open"),
                    first_seen=first,
                    last_seen=NOW,
                    due_at=due,
                    owner_team_id=team.id,
                    **kw,
                )
            )

        finding(pay, payments, "F1", "critical", t(11, 1), t(11, 8), status="fixed", fixed_at=t(11, 4))
        finding(pay, payments, "F2", "critical", t(10, 1), t(10, 8), status="fixed", fixed_at=t(10, 21))
        finding(pay, payments, "F3", "high", t(11, 28), t(12, 28))
        finding(pay, payments, "F4", "high", t(10, 15), t(11, 14))
        finding(pay, payments, "F5", "medium", t(6, 1), t(8, 30), excepted_until=t(11, 20))
        finding(
            pay,
            payments,
            "F6",
            "high",
            t(11, 10),
            t(12, 10),
            kind="secret",
            scanner="secrets",
            reopen_count=2,
        )
        finding(pay, payments, "F7", "low", t(11, 29), t(5, 28, year=2027), analysis_state="not_affected")
        finding(pay, payments, "F8", "medium", t(11, 25), t(2, 23, year=2027))
        finding(
            shop,
            web,
            "G1",
            "high",
            t(11, 20),
            t(12, 20),
            kind="secret",
            scanner="secrets",
            status="fixed",
            fixed_at=t(11, 22),
            reopen_count=1,
        )
        finding(shop, web, "G2", "medium", t(9, 10), t(12, 9), status="fixed", fixed_at=t(11, 9))

        for key, svc, expires, status in [
            ("W1", pay, t(12, 5), "active"),
            ("W2", pay, t(3, 1, year=2027), "active"),
            ("W3", pay, t(11, 20), "expired"),
            ("W4", shop, t(12, 10), "active"),
            ("W5", shop, t(12, 2), "stale"),
        ]:
            s.add(
                Waiver(
                    service_id=svc.id, external_id=key, expires_at=expires, status=status, last_seen_at=NOW
                )
            )

        def bundle(key: str) -> int:
            b = EvidenceBundle(
                sha256=key * 16, size=1, content=b"x", verified=True, subjects=[], verified_at=NOW
            )
            s.add(b)
            s.flush()
            return b.id

        for key, svc, release, verified, has_bundle, outcome, decided in [
            ("R1", pay, "D1", True, True, "pass", t(10, 31)),
            ("R2", pay, "D2", False, False, "pass", t(11, 4)),
            ("R4", pay, "D4", True, True, "block", t(11, 19)),
            ("R5", pay, "D5", True, True, "warn", t(7, 30)),
            ("RS", shop, "S1", True, True, "pass", t(11, 14)),
        ]:
            s.add(
                GateRun(
                    service_id=svc.id,
                    release_id=rel[release].id,
                    evidence_id=bundle(key) if has_bundle else None,
                    report_sha256=key,
                    mode="full",
                    outcome=outcome,
                    decided_at=decided,
                    received_at=decided,
                    verified=verified,
                )
            )

        for release, svc, answer, at in [
            ("D4", pay, "needs-approval", t(11, 19, 10)),
            ("D4", pay, "needs-approval", t(11, 19, 11)),
            ("D4", pay, "allow", t(11, 19, 14)),
            ("D4", pay, "allow", t(11, 19, 15)),
            ("S1", shop, "needs-approval", t(11, 14, 8)),
            ("S1", shop, "allow", t(11, 14, 9)),
            ("D1", pay, "allow", t(11, 1, 11)),
            ("D2", pay, "needs-approval", t(11, 4, 23)),
            ("D3", pay, "deny", t(11, 9, 12)),
        ]:
            s.add(
                GateDecision(
                    service_id=svc.id,
                    release_id=rel[release].id,
                    environment_id=prod.id,
                    artifact_digest=f"sha256:{release}",
                    answer=answer,
                    decided_at=at,
                )
            )


def test_dora_metrics(ledger_db: LedgerDB) -> None:
    seed(ledger_db)
    with ledger_db.session() as s:
        org = metrics.dora_metrics(s, metrics.Scope(), NOW, 90)
        team = metrics.dora_metrics(s, metrics.Scope(team="payments"), NOW, 90)
        shop = metrics.dora_metrics(s, metrics.Scope(service="shop"), NOW, 90)
    assert (org.deployments, org.deploys_per_day, org.deployment_frequency_band) == (
        4,
        round(4 / 90, 4),
        "medium",
    )
    assert (org.lead_time_median_s, org.lead_time_p90_s, org.lead_time_samples, org.lead_time_band) == (
        86400.0,
        345600.0,
        4,
        "high",
    )
    assert (org.change_failures, org.prod_deployments, org.change_failure_rate, org.change_failure_band) == (
        5,
        6,
        0.8333,
        "low",
    )
    assert (org.time_to_restore_median_s, org.incidents_restored, org.time_to_restore_band) == (
        10800.0,
        3,
        "high",
    )

    assert (team.deployments, team.lead_time_median_s, team.lead_time_p90_s) == (3, 86400.0, 345600.0)
    assert (team.change_failures, team.prod_deployments, team.change_failure_rate) == (3, 4, 0.75)
    assert (team.time_to_restore_median_s, team.time_to_restore_band) == (6300.0, "high")

    assert (shop.deployments, shop.lead_time_median_s, shop.lead_time_p90_s) == (1, 86400.0, 86400.0)
    assert (shop.change_failures, shop.prod_deployments, shop.change_failure_rate) == (2, 2, 1.0)
    assert shop.time_to_restore_median_s == 86400.0


def test_dora_on_an_empty_window_has_no_flattering_band(ledger_db: LedgerDB) -> None:
    seed(ledger_db)
    with ledger_db.session() as s:
        m = metrics.dora_metrics(s, metrics.Scope(), t(1, 1, year=2026), 30)
    assert m.deployments == 0 and m.deployment_frequency_band == "low"
    assert m.lead_time_median_s is None and m.lead_time_band is None
    assert m.change_failure_rate is None and m.time_to_restore_band is None


def test_security_metrics(ledger_db: LedgerDB) -> None:
    """Hand-computed:
    MTTR: critical F1 3 d, F2 20 d → 11.5; high G1 2 d; medium G2 60 d (F7 triaged away).
    SLA due in window: F1 (fixed before due), F2 (fixed late), F4 (unfixed), F5 (exception
    expired 11-20 moves its due date into the window, unfixed) → 3 of 4 breached.
    Open by age: F3 3 d, F8 6 d → 0-7: 2; F6 21 d → 8-30; F4 47 d → 31-90; F5 183 d → 90+.
    Prod deploys in window D1 D2 D4 S1; verified bundle + passing run: D1, S1 → 2/4.
    Exceptions: W2 open; W1 (4 d), W4 (9 d) expiring; W3 expired; W5 stale ignored.
    Secrets first seen in window: payments F6, web G1. Runs in window: pass R1 R2 RS, block R4.
    Approval waits: D4 10:00 → 14:00 = 14 400 s, S1 08:00 → 09:00 = 3 600 s → median 9 000.
    Repeat offenders: pay-api (2 reopens), shop (1). Decisions: allow 4, needs-approval 4, deny 1."""
    seed(ledger_db)
    with ledger_db.session() as s:
        org = metrics.security_metrics(s, metrics.Scope(), NOW, 90)
        team = metrics.security_metrics(s, metrics.Scope(team="payments"), NOW, 90)
    assert org.mttr_days_by_severity == {"critical": 11.5, "high": 2.0, "medium": 60.0}
    assert org.fixed_by_severity == {"critical": 2, "high": 1, "medium": 1}
    assert (org.sla_due, org.sla_breached, org.sla_breach_rate) == (4, 3, 0.75)
    assert org.open_by_age == {"0-7": 2, "8-30": 1, "31-90": 1, "90+": 1}
    assert (org.prod_deploys, org.prod_deploys_with_evidence, org.evidence_coverage) == (4, 2, 0.5)
    assert org.exceptions == {"open": 1, "expiring": 2, "expired": 1}
    assert org.secrets_by_team == {"payments": 1, "web": 1}
    assert org.runs_by_outcome == {"block": 1, "pass": 3}
    assert (org.approval_wait_median_s, org.approval_waits) == (9000.0, 2)
    assert [(o["service"], o["reopened"]) for o in org.repeat_offenders] == [("pay-api", 2), ("shop", 1)]
    assert org.decisions_by_answer == {"allow": 4, "deny": 1, "needs-approval": 4}

    assert team.mttr_days_by_severity == {"critical": 11.5}
    assert (team.sla_due, team.sla_breached) == (4, 3)
    assert team.open_by_age == {"0-7": 2, "8-30": 1, "31-90": 1, "90+": 1}
    assert (team.prod_deploys, team.prod_deploys_with_evidence, team.evidence_coverage) == (3, 1, 0.3333)
    assert team.exceptions == {"open": 1, "expiring": 1, "expired": 1}
    assert team.secrets_by_team == {"payments": 1}
    assert (team.approval_wait_median_s, team.approval_waits) == (14400.0, 1)
    assert team.decisions_by_answer == {"allow": 3, "deny": 1, "needs-approval": 3}
