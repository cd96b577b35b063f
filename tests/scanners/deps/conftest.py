"""Shared fixtures for the deps scanner tests: OSV fixture stores built in a temp dir."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from clearance.model import Component, Location, Scope
from clearance.scanners.deps.advisories import AdvisoryStore, database_path, import_osv
from clearance.scanners.deps.exploit import import_epss, import_kev

OSV = Path(__file__).resolve().parents[2] / "fixtures" / "deps" / "osv"
PROJECTS = Path(__file__).resolve().parents[2] / "fixtures" / "deps" / "projects"
IMPORTED_AT = dt.datetime(2026, 11, 20, 8, 0, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="session")
def real_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store holding the verbatim upstream records of fixtures/deps/osv/real."""
    path = database_path(tmp_path_factory.mktemp("real-db"))
    import_osv(path, [OSV / "real"], now=IMPORTED_AT)
    return path


@pytest.fixture
def real_store(real_db: Path) -> Iterator[AdvisoryStore]:
    with AdvisoryStore.open(real_db) as store:
        yield store


@pytest.fixture
def project_db_dir(tmp_path: Path) -> Path:
    """A database dir with the synthetic PyPI + npm records and the KEV/EPSS samples."""
    directory = tmp_path / "db"
    path = database_path(directory)
    import_osv(path, [OSV / "synthetic" / "PyPI", OSV / "synthetic" / "npm"], now=IMPORTED_AT)
    import_kev(path, OSV / "feeds" / "kev.json", now=IMPORTED_AT)
    import_epss(path, OSV / "feeds" / "epss.csv.gz", now=IMPORTED_AT)
    return directory


def component(
    ecosystem: str,
    name: str,
    version: str,
    *,
    path: str = "requirements.txt",
    line: int = 1,
    direct: bool | None = True,
    scope: Scope = Scope.RUNTIME,
    pinned: bool = True,
) -> Component:
    """A hand-made component as a lockfile parser would produce it."""
    return Component(
        ecosystem=ecosystem,
        name=name,
        version=version,
        purl=f"pkg:generic/{name}@{version}",
        location=Location(path=path, start_line=line, end_line=line),
        direct=direct,
        scope=scope,
        pinned=pinned,
    )
