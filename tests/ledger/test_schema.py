"""The schema: migrations from empty to head on both engines, and models == migrations."""

from __future__ import annotations

import datetime as dt

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select, text

from clearance.errors import LedgerError
from clearance.ledger import db
from clearance.ledger.tables import Base, Team

from .conftest import LedgerDB


def test_migrate_from_empty_to_head(empty_db: tuple[str, str]) -> None:
    _kind, url = empty_db
    engine = db.create_engine(url)
    assert db.current_revision(engine) is None
    assert db.migrate(engine) == db.head_revision()
    names = set(inspect(engine).get_table_names())
    assert set(Base.metadata.tables) <= names
    # migrating again is a no-op
    assert db.migrate(engine) == db.head_revision()
    engine.dispose()


def test_models_and_migrations_agree(ledger_db: LedgerDB) -> None:
    with ledger_db.engine.connect() as connection:
        ctx = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == [], f"models and migrations differ on {ledger_db.kind}: {diff}"


def test_times_round_trip_as_aware_utc(ledger_db: LedgerDB) -> None:
    at = dt.datetime(2026, 3, 1, 10, 30, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    with ledger_db.session() as s, s.begin():
        s.add(Team(name="payments", created_at=at))
    with ledger_db.session() as s:
        got = s.scalars(select(Team.created_at)).one()
    assert got == at and got.tzinfo is not None and got.utcoffset() == dt.timedelta(0)


def test_naive_times_are_refused(ledger_db: LedgerDB) -> None:
    with pytest.raises(Exception, match="naive datetime"), ledger_db.session() as s, s.begin():
        s.add(Team(name="x", created_at=dt.datetime(2026, 1, 1)))


def test_sqlite_runs_in_wal_with_foreign_keys(tmp_path: object) -> None:
    engine = db.create_engine(f"sqlite:///{tmp_path}/x/ledger.db")
    with engine.connect() as c:
        assert c.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert c.execute(text("PRAGMA foreign_keys")).scalar() == 1
    engine.dispose()


def test_url_resolution() -> None:
    assert db.resolve_url("postgres://u:pw@h/db").drivername == "postgresql+psycopg"
    assert db.resolve_url(None, {db.DB_ENV: "sqlite:////tmp/a.db"}).database == "/tmp/a.db"
    assert db.resolve_url(None, {}).database.endswith("ledger.db")  # type: ignore[union-attr]
    assert "pw" not in db.redact("postgresql+psycopg://u:pw@h/db")
    with pytest.raises(LedgerError, match="unsupported"):
        db.resolve_url("mysql://h/db")
    with pytest.raises(LedgerError, match="not a database URL"):
        db.resolve_url("::nonsense")
