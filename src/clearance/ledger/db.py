"""Engines and sessions for the ledger database. No engine exists at import time.

SQLite is the default (`ledger.db` under the user data directory, WAL journal, foreign keys on)
so `clearance ledger serve` works with zero setup; PostgreSQL (`postgresql+psycopg://…`) is for
teams. The URL comes from `--db`, else `CLEARANCE_LEDGER_DB`, else the default file.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy import create_engine as _sa_create_engine
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

from clearance.errors import LedgerError
from clearance.ledger import DB_ENV as DB_ENV

DB_FILENAME = "ledger.db"


def default_path() -> Path:
    """The embedded database file: `<user data dir>/clearance/ledger.db`."""
    import platformdirs

    return Path(platformdirs.user_data_dir("clearance")) / DB_FILENAME


def resolve_url(url: str | None = None, environ: Mapping[str, str] | None = None) -> URL:
    """The database URL to use: `url`, else `$CLEARANCE_LEDGER_DB`, else the default SQLite file.

    `postgresql://` and `postgres://` mean psycopg 3; only SQLite and PostgreSQL are accepted.
    """
    env = os.environ if environ is None else environ
    raw = url or env.get(DB_ENV) or f"sqlite:///{default_path()}"
    if raw.startswith("postgres://"):
        raw = "postgresql://" + raw[len("postgres://") :]
    try:
        parsed = make_url(raw)
    except ArgumentError as e:
        raise LedgerError(
            f"not a database URL: {redact(raw)}", hint="e.g. postgresql+psycopg://host/db"
        ) from e
    if parsed.drivername in ("postgresql", "postgresql+psycopg"):
        return parsed.set(drivername="postgresql+psycopg")
    if parsed.drivername in ("sqlite", "sqlite+pysqlite"):
        return parsed
    raise LedgerError(
        f"unsupported ledger database {parsed.drivername!r}",
        hint="use sqlite:///PATH or postgresql+psycopg://user@host/db",
    )


def redact(url: str | URL) -> str:
    """A URL safe to print (password hidden)."""
    try:
        return (
            make_url(str(url)).render_as_string(hide_password=True)
            if not isinstance(url, URL)
            else url.render_as_string(hide_password=True)
        )
    except ArgumentError:
        return "<unparseable URL>"


def create_engine(url: str | URL | None = None, *, schema: str | None = None, echo: bool = False) -> Engine:
    """An engine for the ledger. SQLite: the parent directory is created, WAL and foreign keys
    are switched on for every connection. PostgreSQL: `schema` (if given) becomes the search path."""
    resolved = url if isinstance(url, URL) else resolve_url(url)
    kwargs: dict[str, Any] = {"echo": echo, "future": True}
    if resolved.get_backend_name() == "sqlite":
        database = resolved.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        engine = _sa_create_engine(resolved, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if schema is not None:
        kwargs["connect_args"] = {"options": f"-csearch_path={schema}"}
    kwargs["pool_pre_ping"] = True
    return _sa_create_engine(resolved, **kwargs)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy issue BEGIN itself (see _sqlite_begin) so transactions are real and serializable.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    # BEGIN IMMEDIATE: take the write lock up front, so two writers queue instead of deadlocking.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """A session factory bound to `engine` (objects stay usable after commit)."""
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    with factory() as session, session.begin():
        yield session


def alembic_config(connection: Any) -> Any:
    """An Alembic config for the packaged migrations, bound to an open connection."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", "clearance.ledger:migrations")
    cfg.attributes["connection"] = connection
    return cfg


def migrate(engine: Engine, revision: str = "head") -> str | None:
    """Upgrade the schema to `revision` (default: the newest); returns the revision now current."""
    from alembic import command

    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), revision)
    return current_revision(engine)


def current_revision(engine: Engine) -> str | None:
    """The schema revision the database is at (None when never migrated)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    """The newest revision the packaged migrations know."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(None)).get_current_head()
