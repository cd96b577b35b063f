"""`clearance db …` commands: offline import, status, KEV/EPSS import, errors and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from osv_fixtures import OSV
from typer.testing import CliRunner

from clearance.cli import app


@pytest.fixture
def db_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "db"
    monkeypatch.setenv("CLEARANCE_DB_DIR", str(directory))
    monkeypatch.chdir(tmp_path)
    return directory


def test_import_then_status(db_dir: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(
        app, ["db", "import", str(OSV / "synthetic" / "PyPI"), str(OSV / "synthetic" / "npm")]
    )
    assert result.exit_code == 0, result.output
    assert "PyPI: 4 advisories" in result.output and "npm: 3 advisories" in result.output
    assert "1 withdrawn" in result.output
    assert runner.invoke(app, ["db", "import-kev", str(OSV / "feeds" / "kev.json")]).exit_code == 0
    epss = runner.invoke(app, ["db", "import-epss", str(OSV / "feeds" / "epss.csv.gz")])
    assert epss.exit_code == 0 and "score date 2026-11-20" in epss.output
    status = runner.invoke(app, ["db", "status", "--format", "json"])
    assert status.exit_code == 0, status.output
    data = json.loads(status.stdout)
    assert [(e["ecosystem"], e["records"]) for e in data["ecosystems"]] == [("PyPI", 4), ("npm", 3)]
    assert all(e["imported_at"] and e["newest_modified"] and e["source"] for e in data["ecosystems"])
    assert [(f["feed"], f["records"]) for f in data["feeds"]] == [("epss", 5), ("kev", 3)]
    table = runner.invoke(app, ["db", "status"])
    assert table.exit_code == 0 and "PyPI" in table.stdout and "KEV" in table.stdout


def test_db_dir_option_wins(tmp_path: Path, db_dir: Path) -> None:
    other = tmp_path / "other"
    result = CliRunner().invoke(app, ["db", "import", "--db-dir", str(other), str(OSV / "synthetic" / "npm")])
    assert result.exit_code == 0, result.output
    assert (other / "advisories.sqlite3").is_file() and not db_dir.exists()


def test_status_without_database_exits_3_with_advice(db_dir: Path) -> None:
    result = CliRunner().invoke(app, ["db", "status"])
    assert result.exit_code == 3
    assert "clearance db update" in result.output


def test_corrupt_zip_exits_3_and_keeps_database(tmp_path: Path, db_dir: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["db", "import", str(OSV / "synthetic" / "npm")]).exit_code == 0
    before = (db_dir / "advisories.sqlite3").read_bytes()
    bad = tmp_path / "npm.zip"
    bad.write_bytes(b"PK\x03\x04 definitely not a zip")
    result = runner.invoke(app, ["db", "import", str(bad)])
    assert result.exit_code == 3
    assert "corrupt or not a zip" in result.output
    assert (db_dir / "advisories.sqlite3").read_bytes() == before


def test_bad_format_is_a_usage_error(db_dir: Path) -> None:
    assert CliRunner().invoke(app, ["db", "status", "--format", "xml"]).exit_code == 2
