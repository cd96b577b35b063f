"""Ledger fixtures: every test that takes `ledger_db` runs twice, on SQLite and on PostgreSQL.

PostgreSQL is the local server at 127.0.0.1:5432, database `test` (trust auth; `.ci/run` starts
it). Each test gets its own schema, dropped afterwards. The PostgreSQL variant is skipped —
with the reason — only when the server cannot be reached; set `CLEARANCE_TEST_PG_URL` to use
another server.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from clearance.ledger import db

PG_URL = os.environ.get("CLEARANCE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
_pg_unreachable: str | None = None
_pg_checked = False


def pg_unreachable() -> str | None:
    """Why PostgreSQL cannot be used (None when it can); checked once per session."""
    global _pg_checked, _pg_unreachable
    if not _pg_checked:
        _pg_checked = True
        try:
            engine = db.create_engine(PG_URL)
            with engine.connect() as c:
                c.execute(text("SELECT 1"))
            engine.dispose()
        except Exception as e:  # any failure to connect means "unreachable"
            _pg_unreachable = (
                f"PostgreSQL at {db.redact(PG_URL)} unreachable: {type(e).__name__}: {str(e)[:200]}"
            )
    return _pg_unreachable


@dataclass
class LedgerDB:
    """A migrated, empty ledger database for one test."""

    kind: str
    url: str
    """A URL that reaches this test's database (PostgreSQL: with the schema as search path)."""
    engine: Engine
    sessions: sessionmaker[Session]

    def session(self) -> Session:
        """A new session (use as a context manager)."""
        return self.sessions()


def _pg_schema_url(schema: str) -> str:
    url = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LedgerDB]:
    """An empty ledger migrated to head, on SQLite (a file in tmp_path) and on PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'ledger.db'}"
        engine = db.create_engine(url)
        db.migrate(engine)
        yield LedgerDB("sqlite", url, engine, db.session_factory(engine))
        engine.dispose()
        return
    reason = pg_unreachable()
    if reason:
        pytest.skip(reason)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = db.create_engine(PG_URL)
    with admin.begin() as c:
        c.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = _pg_schema_url(schema)
    engine = db.create_engine(url)
    try:
        db.migrate(engine)
        yield LedgerDB("postgresql", url, engine, db.session_factory(engine))
    finally:
        engine.dispose()
        with admin.begin() as c:
            c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(kind, url) of an empty, never-migrated database on each engine."""
    if request.param == "sqlite":
        yield "sqlite", f"sqlite:///{tmp_path / 'empty.db'}"
        return
    reason = pg_unreachable()
    if reason:
        pytest.skip(reason)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = db.create_engine(PG_URL)
    with admin.begin() as c:
        c.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield "postgresql", _pg_schema_url(schema)
    finally:
        with admin.begin() as c:
            c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
