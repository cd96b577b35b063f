"""One advisory record with bounds invalid for its ecosystem does not make the gate incomplete (issue 10 #22)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from osv_fixtures import IMPORTED_AT, OSV
from typer.testing import CliRunner

from clearance.cli import app
from clearance.decision import ExitCode
from clearance.scanners.vulns.advisories import database_path, import_osv


@pytest.fixture
def torch_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    records = tmp_path / "records"
    records.mkdir()
    shutil.copy(OSV / "real" / "PYSEC-2025-189.json", records)  # last_affected "2.6.0-cu124"
    directory = tmp_path / "db"
    import_osv(database_path(directory), [records], now=IMPORTED_AT)
    monkeypatch.setenv("CLEARANCE_DB_DIR", str(directory))
    return directory


def _gate(root: Path, requirements: str) -> tuple[int, dict[str, Any]]:
    root.mkdir()
    (root / "requirements.txt").write_text(requirements)
    result = CliRunner().invoke(app, ["gate", str(root), "--scanners", "deps", "--quiet", "--format", "json"])
    return result.exit_code, json.loads(result.stdout)


def test_unevaluable_record_is_reported_by_id_and_the_gate_completes(torch_db: Path, tmp_path: Path) -> None:
    code, report = _gate(tmp_path / "ml", "torch==2.6.0\n")
    assert code == ExitCode.PASS, report
    assert report["findings"] == [] and report["errors"] == []
    warnings = [w for w in report["warnings"] if "PYSEC-2025-189" in str(w)]
    assert warnings and "cannot be evaluated" in str(warnings[0]) and "2.6.0-cu124" in str(warnings[0])
    deps = next(r for r in report["tool"]["scanners"] if r["id"] == "deps")
    assert deps["detail"]["unevaluable_advisories"] == ["PYSEC-2025-189"]
    assert deps["status"] == "succeeded"


def test_what_the_record_decides_is_still_decided(torch_db: Path, tmp_path: Path) -> None:
    code, report = _gate(tmp_path / "old", "torch==2.5.1\n")
    assert [f["rule_id"] for f in report["findings"]] == ["vuln.GHSA-c678-jfcj-6jmf"]
    code, report = _gate(tmp_path / "new", "torch==2.7.1\n")
    assert code == ExitCode.PASS and report["findings"] == []
    assert not any("PYSEC-2025-189" in w for w in report["warnings"])


def test_the_users_own_unparseable_version_still_fails_closed(torch_db: Path, tmp_path: Path) -> None:
    code, report = _gate(tmp_path / "bad", "torch===2.6.0-custom\n")
    assert code == ExitCode.INCOMPLETE
    assert any("2.6.0-custom" in e["message"] for e in report["errors"])
