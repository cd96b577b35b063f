"""The lead-time rollup (`deployments.lead_time_s`) follows every write that changes its inputs,
and the migration that added it backfills the deployments already recorded — on both engines.

Lead time of a deployment = its end (finished, else started) − the earliest commit it shipped:
  recorded 11-05 00:00 with commits 11-04 22:00 and 11-03 00:00   → 172 800 s (2 days)
  re-recorded (same source/external id) finishing 11-05 06:00    → 194 400 s
  the 11-03 commit's time corrected to 11-04 12:00                →  64 800 s
  a deployment without commits                                    → NULL
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from alembic import command
from sqlalchemy import event, func, insert, select, update

from clearance.ledger import db
from clearance.ledger.store_deploy import CommitInfo, record_deployment
from clearance.ledger.tables import (
    Change,
    Deployment,
    DeploymentChange,
    Environment,
    Release,
    Service,
    Team,
    refresh_lead_times,
)

from .conftest import LedgerDB


def t(month: int, day: int, hour: int = 0) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, tzinfo=dt.UTC)


def _record(s: Any, env: Environment, finished: dt.datetime, commits: list[CommitInfo], ext: str) -> int:
    dep = record_deployment(
        s,
        service="pay-api",
        env=env,
        digest="sha256:" + "ab" * 32,
        version="1.0.0",
        commit=None,
        status="succeeded",
        started_at=finished - dt.timedelta(minutes=10),
        finished_at=finished,
        commits=commits,
        deployer="ci",
        source="test",
        external_id=ext,
        now=finished,
        audit=lambda *_: None,
    )
    return dep.id


def _lead(ledger_db: LedgerDB, dep_id: int) -> Any:
    """The stored lead time (SQLite's julianday arithmetic is exact to a few microseconds)."""
    with ledger_db.session() as s:
        v = s.scalar(select(Deployment.lead_time_s).where(Deployment.id == dep_id))
    return None if v is None else pytest.approx(v, abs=1e-3)


def test_lead_time_follows_the_deploy_write_path(ledger_db: LedgerDB) -> None:
    with ledger_db.session() as s, s.begin():
        team = Team(name="payments", created_at=t(1, 1))
        s.add(team)
        s.flush()
        s.add(Service(name="pay-api", team_id=team.id, created_at=t(1, 1)))
        prod = Environment(name="prod", rank=3)
        s.add(prod)
        s.flush()
        commits = [CommitInfo("c1", t(11, 4, 22)), CommitInfo("c0", t(11, 3))]
        dep = _record(s, prod, t(11, 5), commits, "d1")
        bare = _record(s, prod, t(11, 6), [], "d2")
    assert _lead(ledger_db, dep) == 172_800.0
    assert _lead(ledger_db, bare) is None

    # the deploy tool reports the same deployment again, finished later
    with ledger_db.session() as s, s.begin():
        prod = s.scalars(select(Environment)).one()
        assert _record(s, prod, t(11, 5, 6), [], "d1") == dep
    assert _lead(ledger_db, dep) == 194_400.0

    # a commit's time corrected: every deployment that shipped it follows
    with ledger_db.session() as s, s.begin():
        s.scalars(select(Change).where(Change.commit == "c0")).one().committed_at = t(11, 4, 12)
    assert _lead(ledger_db, dep) == 64_800.0

    # a bulk load's refresh of every deployment (the benchmark's path) agrees with the writes
    with ledger_db.session() as s, s.begin():
        s.execute(update(Deployment).values(lead_time_s=1.0))
        refresh_lead_times(s)
    assert (_lead(ledger_db, dep), _lead(ledger_db, bare)) == (64_800.0, None)


def test_a_deployment_of_many_commits_updates_its_lead_time_once(ledger_db: LedgerDB) -> None:
    """Statements counted with SQLAlchemy events: recording a deployment that links K commits
    costs the same statements for K = 3 and K = 120 — one lead-time UPDATE, one lookup of the
    known commits, one insert of the new ones, one of the links — not one each per commit."""
    with ledger_db.session() as s, s.begin():
        team = Team(name="payments", created_at=t(1, 1))
        s.add(team)
        s.flush()
        s.add(Service(name="pay-api", team_id=team.id, created_at=t(1, 1)))
        s.add(Environment(name="prod", rank=3))
    seen: list[str] = []

    def count(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
        seen.append(" ".join(statement.split()))

    def record(k: int, ext: str, known: int = 0, base: dt.datetime = t(11, 1)) -> list[str]:
        commits = [CommitInfo(f"{ext}-{i}", base + dt.timedelta(hours=i)) for i in range(known, k)]
        # commits of d1, stored at 10-01 …; the time reported again here does not count
        commits += [CommitInfo(f"d1-{i}", t(11, 10)) for i in range(known)]
        seen.clear()
        event.listen(ledger_db.engine, "before_cursor_execute", count)
        try:
            with ledger_db.session() as s, s.begin():
                _record(s, s.scalars(select(Environment)).one(), t(11, 20), commits, ext)
        finally:
            event.remove(ledger_db.engine, "before_cursor_execute", count)
        return list(seen)

    record(3, "d1", base=t(10, 1))  # the release and the environment's current deployment are created here
    few = record(3, "d2")
    many = record(120, "d3", known=2)  # two commits already known from d1, 118 new
    again = record(40, "d4", known=3)  # every commit of d1 again, plus 37 new
    for stmts in (few, many, again):
        assert len([q for q in stmts if q.startswith("UPDATE deployments SET lead_time_s")]) == 1, stmts
        assert len([q for q in stmts if q.startswith("INSERT INTO changes")]) == 1, stmts
        assert len([q for q in stmts if q.startswith("INSERT INTO deployment_changes")]) == 1, stmts
    assert len(few) == len(many) == len(again), (few, many, again)
    with ledger_db.session() as s:
        leads = dict(s.execute(select(Deployment.external_id, Deployment.lead_time_s)).tuples().all())
        links = s.scalar(select(func.count()).select_from(DeploymentChange))
    # d3 shipped d1-0 (10-01 00:00), d4 shipped d1-0 … d1-2: both measured from 10-01
    assert leads["d2"] == pytest.approx((t(11, 20) - t(11, 1)).total_seconds(), abs=1e-3)
    assert leads["d3"] == leads["d4"] == pytest.approx((t(11, 20) - t(10, 1)).total_seconds(), abs=1e-3)
    assert links == 3 + 3 + 120 + 40
    # the same sha listed twice is linked once, at its first listing's time
    with ledger_db.session() as s, s.begin():
        dup = [CommitInfo("dup", t(11, 2)), CommitInfo("dup", t(11, 3))]
        dep = _record(s, s.scalars(select(Environment)).one(), t(11, 20), dup, "d5")
    assert _lead(ledger_db, dep) == (t(11, 20) - t(11, 2)).total_seconds()


def test_migration_backfills_recorded_deployments(empty_db: tuple[str, str]) -> None:
    _kind, url = empty_db
    engine = db.create_engine(url)
    db.migrate(engine, "dash_0004")
    with engine.begin() as c:
        c.execute(insert(Team.__table__).values(id=1, name="payments", created_at=t(1, 1)))
        c.execute(
            insert(Service.__table__).values(
                id=1, name="pay-api", team_id=1, environments=[], created_at=t(1, 1)
            )
        )
        c.execute(
            insert(Environment.__table__).values(id=1, name="prod", rank=3, freeze_windows=[], settings={})
        )
        c.execute(
            insert(Release.__table__).values(
                id=1, service_id=1, version="1", artifact_digest="sha256:x", created_at=t(11, 1)
            )
        )
        for dep_id, finished in ((1, t(11, 5)), (2, t(11, 6))):
            c.execute(
                insert(Deployment.__table__).values(
                    id=dep_id,
                    release_id=1,
                    environment_id=1,
                    status="succeeded",
                    started_at=finished - dt.timedelta(minutes=10),
                    finished_at=finished,
                    deployer="",
                    source="",
                )
            )
        c.execute(
            insert(Change.__table__),
            [
                {"id": 1, "service_id": 1, "commit": "c1", "committed_at": t(11, 4, 22), "author": ""},
                {"id": 2, "service_id": 1, "commit": "c0", "committed_at": t(11, 3), "author": ""},
            ],
        )
        c.exec_driver_sql("INSERT INTO deployment_changes (deployment_id, change_id) VALUES (1, 1), (1, 2)")
    db.migrate(engine)
    with engine.connect() as c:
        got = {i: v for i, v in c.execute(select(Deployment.id, Deployment.lead_time_s))}
    assert got[2] is None and got[1] == pytest.approx(172_800.0, abs=1e-3)
    with engine.begin() as c:  # and back down: the column goes, the rows stay
        command.downgrade(db.alembic_config(c), "dash_0004")
    engine.dispose()
