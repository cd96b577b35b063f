"""Ledger fixtures: every test that takes `ledger_db` runs twice, on SQLite and on PostgreSQL.

PostgreSQL is the local server at 127.0.0.1:5432, database `test` (trust auth; `.ci/run` starts
it). Each test gets its own schema, dropped afterwards. The PostgreSQL variant is skipped —
with the reason — only when the server cannot be reached; set `CLEARANCE_TEST_PG_URL` to use
another server.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from clearance.ledger import db
from clearance.ledger.tables import Base

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


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite ledger migrated to head once per session (copied for each test)."""
    path = tmp_path_factory.mktemp("template") / "ledger.db"
    engine = db.create_engine(f"sqlite:///{path}")
    db.migrate(engine)
    engine.dispose()  # the last connection closing checkpoints the WAL into the file
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_db(request: pytest.FixtureRequest, tmp_path: Path, _sqlite_template: Path) -> Iterator[LedgerDB]:
    """An empty ledger at the newest schema, on SQLite (a copy of a migrated file) and on PostgreSQL
    (a fresh schema; the tables are created from the models, which test_schema proves equal to
    the migrations)."""
    if request.param == "sqlite":
        shutil.copyfile(_sqlite_template, tmp_path / "ledger.db")
        url = f"sqlite:///{tmp_path / 'ledger.db'}"
        engine = db.create_engine(url)
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
        Base.metadata.create_all(engine, checkfirst=False)
        with engine.begin() as c:
            command.stamp(db.alembic_config(c), "head")
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


# --- the demo repository's gate runs, and an app over a test database ----------------------------

import datetime as dt  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402

from fastapi.testclient import TestClient  # noqa: E402

from clearance.ledger.service import Ledger, create_token  # noqa: E402
from clearance.server.app import create_app  # noqa: E402
from clearance.server.settings import ServerSettings  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "examples" / "leaky-repo"
T0 = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.UTC)


class Clock:
    """A clock tests move by hand."""

    def __init__(self, now: dt.datetime = T0) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, days: float) -> None:
        self.now += dt.timedelta(days=days)


@dataclass
class DemoRuns:
    """Two gate runs of examples/leaky-repo: the second after removing the private key and adding
    a Stripe key in a new file; plus the signing key pair and a bundle of the first run."""

    advisory_dir: Path
    report1: bytes
    report2: bytes
    bundle1: bytes
    public_key: Path
    private_key: Path


def _gate(repo: Path, env: dict[str, str], *extra: str) -> bytes:
    proc = subprocess.run(
        [sys.executable, "-m", "clearance", "gate", str(repo), "-q", "--format", "json", *extra],
        capture_output=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert proc.returncode in (0, 1), proc.stderr.decode()
    return proc.stdout


def _commit(repo: Path, env: dict[str, str], message: str) -> None:
    git_env = dict(
        env,
        GIT_AUTHOR_NAME="Dev",
        GIT_AUTHOR_EMAIL="dev@example.com",
        GIT_COMMITTER_NAME="Dev",
        GIT_COMMITTER_EMAIL="dev@example.com",
        GIT_AUTHOR_DATE="2026-10-30T10:00:00Z",
        GIT_COMMITTER_DATE="2026-10-30T10:00:00Z",
    )
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", message]):
        if args[0] == "init" and (repo / ".git").exists():
            continue
        subprocess.run(["git", *args], cwd=repo, env=git_env, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="session")
def demo_runs(tmp_path_factory: pytest.TempPathFactory) -> DemoRuns:
    """Run the real gate twice on a copy of the demo repository (with the demo advisories)."""
    base = tmp_path_factory.mktemp("demo")
    env = dict(os.environ, CLEARANCE_DB_DIR=str(base / "advisories"))
    subprocess.run(
        [sys.executable, "-m", "clearance", "db", "import", str(REPO / "examples" / "advisories")],
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )
    repo = base / "leaky-repo"
    shutil.copytree(DEMO, repo)
    _commit(repo, env, "initial")
    subprocess.run(
        [sys.executable, "-m", "clearance", "keygen", "--output", str(base / "signing.key")],
        env=env,
        check=True,
        capture_output=True,
        timeout=60,
    )
    report1 = _gate(repo, env, "--evidence", str(base / "evidence"), "--key", str(base / "signing.key"))
    bundles = sorted((base / "evidence").glob("*.bundle.tar.gz"))
    assert bundles, "the gate wrote no bundle"
    (repo / "deploy" / "deploy_key").unlink()
    stripe = 'STRIPE_API_KEY = "sk_live_dUStPKR0CsTy4Qwb8DwkNhFd"\n'
    (repo / "app" / "billing.py").write_text('"""Billing client."""\n\n' + stripe, encoding="utf-8")
    _commit(repo, env, "remove the deploy key, add a billing client")
    report2 = _gate(repo, env)
    return DemoRuns(
        base / "advisories",
        report1,
        report2,
        bundles[0].read_bytes(),
        base / "signing.key.pub",
        base / "signing.key",
    )


@dataclass
class Api:
    """A TestClient over a fresh ledger, an admin token and a clock."""

    client: TestClient
    ledger: Ledger
    clock: Clock
    admin: str
    db: LedgerDB

    def token(self, team: str | None, *scopes: str) -> str:
        """Create a token directly in the database."""
        with self.ledger.write() as store:
            secret, _ = create_token(store, team=team, scopes=list(scopes), expires_in_days=365)
        return secret

    @staticmethod
    def auth(token: str) -> dict[str, str]:
        """Authorization header."""
        return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def api(ledger_db: LedgerDB, tmp_path: Path) -> Iterator[Api]:
    """The app on each engine, with an admin token."""
    clock = Clock()
    settings = ServerSettings(db_url=ledger_db.url, log_key_path=tmp_path / "log.key", migrate=False)
    app = create_app(settings, clock=clock, engine=ledger_db.engine)
    ledger: Ledger = app.state.ledger
    with ledger.write() as store:
        admin, _ = create_token(store, team=None, scopes=["admin"], expires_in_days=365)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client, ledger, clock, admin, ledger_db)
