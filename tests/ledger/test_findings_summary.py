"""The org overview's findings figures — SLA, open debt by age, overdue by team — come from one
grouped pass over the findings (`Store.findings_summary`), shared through the metrics cache.

Eight findings, each figure worked out by hand below: an owner team other than the service's,
a finding without an owner (overdue for its service's team), an exception holding now, a VEX
`not_affected`, a fixed one, one not yet due and one due before the window."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import event

from clearance.ledger import metrics, snapshots
from clearance.ledger.service import Ledger
from clearance.ledger.store import Store
from clearance.ledger.tables import Finding, Service, Team

from .conftest import Clock, LedgerDB

NOW = dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


def _f(n: int, service_id: int, owner: int | None, severity: str, **kw: Any) -> Finding:
    return Finding(
        service_id=service_id,
        owner_team_id=owner,
        fingerprint=f"fp-{n}",
        scanner="deps",
        kind="vulnerability",
        rule_id=f"vuln.CVE-2026-{n:04d}",
        title="",
        severity=severity,
        last_seen=NOW,
        evidence="",
        **{"status": "open", **kw},
    )


def _seed(ledger: Ledger) -> tuple[int, int]:
    with ledger.write() as store:
        s = store.session
        a, b = Team(name="alpha", contacts={}, created_at=NOW), Team(name="beta", contacts={}, created_at=NOW)
        s.add_all([a, b])
        s.flush()
        a1 = Service(name="a1", team_id=a.id, environments=[], created_at=NOW)
        b1 = Service(name="b1", team_id=b.id, environments=[], created_at=NOW)
        s.add_all([a1, b1])
        s.flush()
        s.add_all(
            [
                # 1: alpha's, overdue 10 days, SLA breached, age 8-30
                _f(1, a1.id, a.id, "critical", first_seen=NOW - 17 * DAY, due_at=NOW - 10 * DAY),
                # 2: no owner: overdue for a1's team (alpha), breached, age 31-90
                _f(2, a1.id, None, "high", first_seen=NOW - 33 * DAY, due_at=NOW - 3 * DAY),
                # 3: on beta's service, owned by alpha: overdue for alpha, breached, age 0-7
                _f(3, b1.id, a.id, "medium", first_seen=NOW - 2 * DAY, due_at=NOW - 1 * DAY),
                # 4: an exception holds until after now: not overdue, effective due in the future
                _f(
                    4,
                    b1.id,
                    b.id,
                    "critical",
                    first_seen=NOW - 2 * DAY,
                    due_at=NOW - 5 * DAY,
                    excepted_until=NOW + 5 * DAY,
                ),
                # 5: VEX not_affected: counted nowhere
                _f(
                    5,
                    b1.id,
                    b.id,
                    "low",
                    first_seen=NOW - 9 * DAY,
                    due_at=NOW - 2 * DAY,
                    analysis_state="not_affected",
                ),
                # 6: fixed before its due date (in the window): SLA due, not breached
                _f(
                    6,
                    b1.id,
                    b.id,
                    "high",
                    status="fixed",
                    first_seen=NOW - 60 * DAY,
                    due_at=NOW - 20 * DAY,
                    fixed_at=NOW - 25 * DAY,
                ),
                # 7: not yet due: only debt, age 31-90
                _f(7, b1.id, b.id, "high", first_seen=NOW - 40 * DAY, due_at=NOW + 10 * DAY),
                # 8: reopened, due 100 days ago (before the 90-day window): overdue, age 90+
                _f(
                    8,
                    b1.id,
                    b.id,
                    "critical",
                    status="reopened",
                    first_seen=NOW - 107 * DAY,
                    due_at=NOW - 100 * DAY,
                ),
            ]
        )
        return a.id, b.id


def test_one_pass_gives_sla_debt_and_overdue_by_team(ledger_db: LedgerDB) -> None:
    ledger = Ledger(ledger_db.engine, clock=Clock(NOW))
    _alpha, beta = _seed(ledger)
    with ledger.read() as store:
        org = metrics.findings_summary(store.session, metrics.Scope(), NOW, 90)
        sec = metrics.security_metrics(store.session, metrics.Scope(), NOW, 90)
        only_beta = Store(store.session, NOW).overdue_by_team([beta])
        team_beta = metrics.findings_summary(store.session, metrics.Scope(team="beta"), NOW, 90)
    assert (org.sla_due, org.sla_breached) == (4, 3)  # 1, 2, 3 breached; 6 fixed in time
    assert org.open_by_age == {"0-7": 2, "8-30": 1, "31-90": 2, "90+": 1}
    assert (sec.sla_due, sec.sla_breached, sec.open_by_age) == (4, 3, org.open_by_age)
    assert org.overdue_by_team == [
        {"team": "alpha", "overdue": 3, "by_severity": {"critical": 1, "high": 1, "medium": 1}, "max_days_overdue": 10},
        {"team": "beta", "overdue": 1, "by_severity": {"critical": 1}, "max_days_overdue": 100},
    ]  # fmt: skip
    # beta's services only: finding 3 is on b1 but owned (and overdue) for alpha
    assert only_beta == [
        {"team": "alpha", "overdue": 1, "by_severity": {"medium": 1}, "max_days_overdue": 1},
        {"team": "beta", "overdue": 1, "by_severity": {"critical": 1}, "max_days_overdue": 100},
    ]
    assert team_beta.overdue_by_team == only_beta
    assert (team_beta.sla_due, team_beta.sla_breached) == (2, 1)  # 3 breached, 6 in time
    assert team_beta.open_by_age == {"0-7": 2, "8-30": 0, "31-90": 1, "90+": 1}


def test_the_overview_reads_the_findings_once(ledger_db: LedgerDB) -> None:
    ledger = Ledger(ledger_db.engine, clock=Clock(NOW))
    _seed(ledger)
    reads: list[str] = []

    def _count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "FROM findings" in statement and "GROUP BY findings.owner_team_id" in statement:
            reads.append(statement)

    event.listen(ledger_db.engine, "before_cursor_execute", _count)
    try:
        cache = ledger.metrics_cache
        with ledger.read() as store:
            sec = cache.security(store, metrics.Scope(), 90)
            overdue = cache.overdue_by_team(store, None, 90)
        assert len(reads) == 1
        with ledger.read() as store:
            exact = Store(store.session, snapshots.as_of(NOW)).overdue_by_team(None)
        assert overdue == exact and sec.open_by_age == {"0-7": 2, "8-30": 1, "31-90": 2, "90+": 1}
        with ledger.write():  # any write: the next overview reads them again, once
            pass
        with ledger.read() as store:
            cache.security(store, metrics.Scope(), 90)
            cache.overdue_by_team(store, None, 90)
        assert len(reads) == 3
    finally:
        event.remove(ledger_db.engine, "before_cursor_execute", _count)
