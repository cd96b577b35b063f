"""Shared fixtures for the deps scanner tests: OSV fixture stores built in a temp dir."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from osv_fixtures import IMPORTED_AT, OSV

from clearance.scanners.vulns.advisories import AdvisoryStore, database_path, import_osv
from clearance.scanners.vulns.exploit import import_epss, import_kev


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
