"""The metrics cache: keyed by the write generation every `Ledger.write` bumps, and by the minute.

A cached answer must be exactly what the library computes for the same instant, and any write —
whatever it changed — must make the next read recompute."""

from __future__ import annotations

import datetime as dt

from clearance.ledger import metrics, snapshots
from clearance.ledger.service import Ledger
from clearance.ledger.tables import Finding, Service, Team

from .conftest import Clock, LedgerDB

NOW = dt.datetime(2026, 12, 1, 10, 0, 30, tzinfo=dt.UTC)


def _finding(service_id: int, n: int, first_seen: dt.datetime) -> Finding:
    return Finding(
        service_id=service_id,
        fingerprint=f"fp-{n}",
        scanner="deps",
        kind="vulnerability",
        rule_id=f"vuln.CVE-2026-{n:04d}",
        title="",
        severity="high",
        status="open",
        first_seen=first_seen,
        last_seen=first_seen,
        due_at=first_seen + dt.timedelta(days=30),
        evidence="",
    )


def test_generation_moves_with_every_write_and_cached_metrics_follow(ledger_db: LedgerDB) -> None:
    clock = Clock(NOW)
    ledger = Ledger(ledger_db.engine, clock=clock)
    with ledger.read() as store:
        start = snapshots.generation(store.session)
    with ledger.write() as store:
        team = Team(name="payments", contacts={}, created_at=NOW)
        store.session.add(team)
        store.session.flush()
        svc = Service(name="pay-api", team_id=team.id, environments=[], created_at=NOW)
        store.session.add(svc)
        store.session.flush()
        store.session.add(_finding(svc.id, 1, NOW - dt.timedelta(days=3)))
    with ledger.read() as store:
        assert snapshots.generation(store.session) == start + 1

    cache = ledger.metrics_cache
    scope = metrics.Scope()
    with ledger.read() as store:
        first = cache.security(store, scope, 90)
        again = cache.security(store, scope, 90)
        exact = metrics.security_metrics(store.session, scope, snapshots.as_of(NOW), 90)
    assert again is first and (cache.hits, cache.misses) == (1, 1)
    assert first == exact and first.open_by_age == {"0-7": 1, "8-30": 0, "31-90": 0, "90+": 0}

    # a write that touches nothing the metric reads still invalidates (the generation moved) …
    with ledger.write() as store:
        store.session.add(Team(name="web", contacts={}, created_at=NOW))
    # … and one that does is seen at once, not a minute later
    with ledger.write() as store:
        store.session.add(_finding(svc.id, 2, NOW - dt.timedelta(days=40)))
    with ledger.read() as store:
        assert snapshots.generation(store.session) == start + 3
        after = cache.security(store, scope, 90)
    assert after.open_by_age == {"0-7": 1, "8-30": 0, "31-90": 1, "90+": 0}
    assert cache.misses == 2


def test_cached_metrics_are_exact_as_of_the_start_of_the_minute(ledger_db: LedgerDB) -> None:
    clock = Clock(NOW)
    ledger = Ledger(ledger_db.engine, clock=clock)
    with ledger.write() as store:
        team = Team(name="payments", contacts={}, created_at=NOW)
        store.session.add(team)
        store.session.flush()
        svc = Service(name="pay-api", team_id=team.id, environments=[], created_at=NOW)
        store.session.add(svc)
        store.session.flush()
        # first seen 7 days before 10:00:10: "0-7" as of 10:00, "8-30" from 10:01 on
        store.session.add(_finding(svc.id, 1, NOW - dt.timedelta(days=7, seconds=20)))
    cache = ledger.metrics_cache
    with ledger.read() as store:
        sec = cache.security(store, metrics.Scope(), 90)
        dora = cache.dora(store, metrics.Scope(), 90)
    assert dora.end == "2026-12-01T10:00:00+00:00"
    assert sec.open_by_age["0-7"] == 1

    clock.now = NOW + dt.timedelta(seconds=20)  # 10:00:50, same minute: the same answer, cached
    with ledger.read() as store:
        assert cache.security(store, metrics.Scope(), 90) is sec
    clock.now = NOW + dt.timedelta(seconds=40)  # 10:01:10: recomputed for the new minute
    with ledger.read() as store:
        later = cache.security(store, metrics.Scope(), 90)
        assert later == metrics.security_metrics(
            store.session, metrics.Scope(), snapshots.as_of(clock.now), 90
        )
    assert later.open_by_age == {"0-7": 0, "8-30": 1, "31-90": 0, "90+": 0}


def test_the_notification_workers_pass_leaves_the_cache_warm(ledger_db: LedgerDB) -> None:
    """The worker's unit of work runs every few seconds and writes only outbox rows, cursors,
    escalations and ticket links: it must not invalidate the metrics."""
    from clearance.notify.subscriptions import RoutingConfig
    from clearance.notify.worker import Worker

    ledger = Ledger(ledger_db.engine, clock=Clock(NOW))
    with ledger.write() as store:
        store.session.add(Team(name="payments", contacts={}, created_at=NOW))
    with ledger.read() as store:
        before = snapshots.generation(store.session)
    Worker(ledger, RoutingConfig()).run_once()
    with ledger.read() as store:
        assert snapshots.generation(store.session) == before
