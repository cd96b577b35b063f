"""The schema: migrations from empty to head on both engines, and models == migrations."""

from __future__ import annotations

import datetime as dt

import pytest
from alembic import command
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


def test_links_get_their_release_service_on_upgrade_and_cannot_disagree_with_it(
    empty_db: tuple[str, str],
) -> None:
    """`aff_0006` copies each release's service onto its component links (for `affected` counts
    without reading `releases`) and a composite foreign key keeps the copy equal; downgrade works."""
    from sqlalchemy.exc import IntegrityError

    _kind, url = empty_db
    engine = db.create_engine(url)
    db.migrate(engine, "rollup_0005")
    at = "2026-11-01 09:00:00"
    with engine.begin() as c:
        c.execute(
            text("INSERT INTO teams (id, name, contacts, created_at) VALUES (1, 'core', '{}', :at)"),
            {"at": at},
        )
        for sid, name in ((1, "billing"), (2, "search")):
            c.execute(
                text(
                    "INSERT INTO services (id, name, team_id, tier, exposure, data_class, environments,"
                    " source, created_at) VALUES (:id, :n, 1, 'default', 'internal', 'internal', '[]', 'test', :at)"
                ),
                {"id": sid, "n": name, "at": at},
            )
        for rid, sid in ((10, 1), (11, 1), (20, 2)):
            c.execute(
                text("INSERT INTO releases (id, service_id, version, created_at) VALUES (:r, :s, :v, :at)"),
                {"r": rid, "s": sid, "v": f"1.{rid}", "at": at},
            )
        c.execute(
            text(
                "INSERT INTO components (id, purl, ecosystem, name, version) VALUES (5, 'pkg:pypi/a@1', 'PyPI', 'a', '1')"
            )
        )
        for rid in (10, 11, 20):
            c.execute(
                text(
                    "INSERT INTO release_components (release_id, component_id, scope) VALUES (:r, 5, 'runtime')"
                ),
                {"r": rid},
            )
    assert db.migrate(engine) == db.head_revision()
    with engine.connect() as c:
        links = c.execute(
            text("SELECT release_id, service_id FROM release_components ORDER BY release_id")
        ).all()
    assert [tuple(r) for r in links] == [(10, 1), (11, 1), (20, 2)]
    with pytest.raises(IntegrityError), engine.begin() as c:  # release 10 belongs to service 1
        c.execute(
            text(
                "INSERT INTO components (id, purl, ecosystem, name, version) VALUES (6, 'pkg:pypi/b@1', 'PyPI', 'b', '1')"
            )
        )
        c.execute(
            text(
                "INSERT INTO release_components (release_id, service_id, component_id, scope)"
                " VALUES (10, 2, 6, 'runtime')"
            )
        )
    with engine.begin() as c:  # deleting a release still takes its links with it
        c.execute(text("DELETE FROM releases WHERE id = 11"))
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM release_components")).scalar() == 2
    with engine.begin() as c:
        command.downgrade(db.alembic_config(c), "rollup_0005")
    with engine.connect() as c:
        assert "service_id" not in {col["name"] for col in inspect(c).get_columns("release_components")}
    engine.dispose()
