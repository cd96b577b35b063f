"""The deps scanner: database handling, matching, merging, signals, and a full project end to end."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
from osv_fixtures import IMPORTED_AT, OSV, PROJECTS, component
from typer.testing import CliRunner

from clearance.config import Settings
from clearance.model import (
    Epss,
    Finding,
    FindingKind,
    ScannerStatus,
    ScanResult,
    Scope,
    Severity,
    Signals,
    fingerprint,
)
from clearance.pipeline import RunOptions, run
from clearance.scanners.deps.scanner import DepsScanner, VulnerabilityMatcher
from clearance.scanners.vulns.advisories import AdvisoryStore, database_path, import_osv

NOW = IMPORTED_AT + dt.timedelta(days=2)


def _scan(root: Path, now: dt.datetime = NOW) -> tuple[list[Finding], ScanResult]:
    result = run(root, Settings(), RunOptions(scanners=["deps"], jobs=1), now)
    return list(result.findings), result


@pytest.fixture
def project(tmp_path: Path) -> Path:
    dest = tmp_path / "repo"
    shutil.copytree(PROJECTS / "vulnerable-poetry-npm", dest)
    return dest


def test_end_to_end_poetry_and_npm(
    project: Path, project_db_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLEARANCE_DB_DIR", str(project_db_dir))
    findings, result = _scan(project)
    assert result.complete, (result.errors, result.runs)
    assert result.warnings == ()
    by_package = {(f.location.path, f.signals["package"]): f for f in findings}
    assert sorted(by_package) == [
        ("backend/poetry.lock", "jinja2"),
        ("backend/poetry.lock", "py"),
        ("backend/poetry.lock", "pyyaml"),
        ("frontend/package-lock.json", "axios"),
        ("frontend/package-lock.json", "lodash"),
        ("frontend/package-lock.json", "minimist"),
    ]
    assert all(f.kind is FindingKind.VULNERABILITY and f.scanner == "deps" for f in findings)
    assert all(f.component is not None and f.location == f.component.location for f in findings)
    assert all(f.location.start_line for f in findings)

    jinja = by_package[("backend/poetry.lock", "jinja2")]  # PYSEC + GHSA records merged into one finding
    assert jinja.rule_id == "vuln.GHSA-h5c8-rqwp-cp95"
    assert jinja.signals["aliases"] == ("CVE-2024-22195", "PYSEC-2024-TEST1")
    assert jinja.signals["advisories"] == ("GHSA-h5c8-rqwp-cp95", "PYSEC-2024-TEST1")
    assert (jinja.severity, jinja.signals["cvss_score"]) == (Severity.MEDIUM, 5.4)
    assert jinja.signals["fix_versions"] == ("3.1.3",)
    assert jinja.signals["kev"] is False and jinja.signals["kev_date_added"] is None
    assert jinja.signals.epss == Epss(score=0.0021, percentile=0.441, date="2026-11-20")
    assert jinja.signals["reachable"] == "yes"
    assert (jinja.signals["scope"], jinja.signals["installed_version"]) == ("runtime", "3.1.2")
    # Built as typed `Signals`: the same value the mapping path gives, the JSON keys in their order.
    for finding in findings:
        assert finding.signals == Signals.of(finding.signals.as_dict()), finding.rule_id
    assert list(jinja.signals.as_dict()) == [
        *("reachable", "kev", "epss", "fix_versions", "aliases", "cvss_score", "scope"),  # direct: unknown
        *("advisories", "cvss_vector", "fix", "kev_date_added", "reachable_reason"),
        *("ecosystem", "package", "installed_version", "malicious"),
    ]
    assert jinja.title == "jinja2 3.1.2: Jinja vulnerable to HTML attribute injection (synthetic)"
    assert jinja.remediation == "Upgrade jinja2 from 3.1.2 to ≥ 3.1.3."
    assert set(jinja.references) == {"https://example.test/ghsa-jinja", "https://example.test/pysec-jinja"}
    assert jinja.fingerprint == fingerprint(
        "vuln", "PyPI", "jinja2", "3.1.2", "GHSA-h5c8-rqwp-cp95", "backend/poetry.lock"
    )

    yaml = by_package[("backend/poetry.lock", "pyyaml")]
    assert (yaml.rule_id, yaml.severity) == ("vuln.PYSEC-2021-TEST2", Severity.CRITICAL)
    assert (yaml.signals["kev"], yaml.signals["kev_date_added"]) == (True, "2023-01-10")
    assert yaml.signals.epss is not None and yaml.signals.epss.score == 0.4211
    assert yaml.signals["reachable"] == "yes"  # `import yaml` maps to PyYAML

    py = by_package[("backend/poetry.lock", "py")]
    assert (py.severity, py.signals["scope"], py.signals["fix_versions"]) == (Severity.UNKNOWN, "dev", ())
    assert py.signals["epss"] is None
    assert py.remediation.startswith("No fixed version of py is published")

    lodash = by_package[("frontend/package-lock.json", "lodash")]
    assert (lodash.severity, lodash.signals["fix_versions"], lodash.signals["reachable"]) == (
        Severity.HIGH,
        ("4.17.21",),
        "yes",
    )
    axios = by_package[("frontend/package-lock.json", "axios")]
    assert (axios.severity, axios.signals["reachable"], axios.signals["direct"]) == (
        Severity.MEDIUM,
        "no",
        True,
    )
    minimist = by_package[("frontend/package-lock.json", "minimist")]
    assert (minimist.signals["fix_versions"], minimist.signals["kev"], minimist.signals["reachable"]) == (
        ("1.2.6",),
        True,
        "unknown",
    )
    assert minimist.signals["direct"] is not True

    # every component is inventoried, vulnerable or not (the SBOM needs them all)
    names = {(c.location.path, c.name) for c in result.components}
    assert {("backend/poetry.lock", "markupsafe"), ("frontend/package-lock.json", "mkdirp")} <= names
    assert any(c.scope is Scope.DEV for c in result.components)


def test_no_database_fails_with_advice(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLEARANCE_DB_DIR", str(tmp_path / "nowhere"))
    findings, result = _scan(project)
    (deps_run,) = result.runs
    assert deps_run.status is ScannerStatus.FAILED
    (error,) = [e for e in result.errors if e.scanner == "deps"]
    assert "clearance db update" in error.message and "clearance db import" in error.message
    assert findings == []
    assert result.components


def test_cli_scan_without_database_exits_3(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from clearance.cli import app

    monkeypatch.setenv("CLEARANCE_DB_DIR", str(tmp_path / "nowhere"))
    result = CliRunner().invoke(
        app, ["scan", str(project), "--scanners", "deps", "--quiet", "--format", "json"]
    )
    assert result.exit_code == 3, result.output


def test_no_lockfiles_needs_no_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLEARANCE_DB_DIR", str(tmp_path / "nowhere"))
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text("print('hi')\n")
    _, result = _scan(tmp_path / "src")
    assert result.runs[0].status is ScannerStatus.SUCCEEDED


def test_stale_is_a_warning_and_a_missing_ecosystem_an_error_unless_accepted(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db_dir = tmp_path / "db"
    import_osv(database_path(db_dir), [OSV / "synthetic" / "PyPI"], now=IMPORTED_AT)
    monkeypatch.setenv("CLEARANCE_DB_DIR", str(db_dir))
    _, result = _scan(project, now=IMPORTED_AT + dt.timedelta(days=9))
    warnings = result.warnings
    assert any("for PyPI is 9 days old" in w and "clearance db update" in w for w in warnings), warnings
    (error,) = result.errors  # npm components were not checked: the scan is incomplete (issue 10)
    assert "no npm data" in error.message and 'accept_missing_ecosystems = ["npm"]' in error.message
    assert error.path == "frontend/package-lock.json" and not result.complete
    _, fresh = _scan(project, now=IMPORTED_AT + dt.timedelta(days=6))
    assert not any("days old" in w for w in fresh.warnings)
    accepting = Settings.model_validate({"deps": {"accept_missing_ecosystems": ["npm"]}})
    accepted = run(project, accepting, RunOptions(scanners=["deps"], jobs=1), IMPORTED_AT)
    assert accepted.complete and any("no npm data" in w and "accepted" in w for w in accepted.warnings)


def test_import_dated_in_the_future_warns_and_counts_as_now(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db_dir = tmp_path / "db"
    import_osv(database_path(db_dir), [OSV / "synthetic" / "PyPI"], now=IMPORTED_AT + dt.timedelta(days=400))
    monkeypatch.setenv("CLEARANCE_DB_DIR", str(db_dir))
    _, result = _scan(project, now=IMPORTED_AT)
    assert any("for PyPI claims to be imported in the future" in w for w in result.warnings), result.warnings


def test_unparseable_version_is_an_error_and_unpinned_a_warning(project_db_dir: Path) -> None:
    with AdvisoryStore.open(database_path(project_db_dir)) as store:
        outcome = VulnerabilityMatcher(store).match(
            [
                component("PyPI", "jinja2", "three-point-one"),
                component("PyPI", "Jinja2", "", pinned=False),
                component("PyPI", "not-in-db", "also-garbage"),
            ]
        )
    assert outcome.findings == []
    (error,) = outcome.errors
    assert "three-point-one" in error.message and error.path == "requirements.txt" and error.scanner == "deps"
    (warning,) = outcome.warnings
    assert "Jinja2 is not pinned" in warning


def test_withdrawn_and_fixed_versions_do_not_match(project_db_dir: Path) -> None:
    with AdvisoryStore.open(database_path(project_db_dir)) as store:
        outcome = VulnerabilityMatcher(store).match(
            [
                component("PyPI", "Jinja2", "3.1.3"),
                component("npm", "minimist", "0.2.4"),
                component("npm", "minimist", "1.0.0", path="package-lock.json"),
            ]
        )
    assert [
        (f.signals["package"], f.signals["installed_version"], f.signals["fix_versions"])
        for f in outcome.findings
    ] == [("minimist", "1.0.0", ("1.2.6",))]


def test_real_records_through_the_scanner(real_db: Path) -> None:
    with AdvisoryStore.open(real_db) as store:
        outcome = VulnerabilityMatcher(store).match(
            [
                component("PyPI", "urllib3", "2.0.4"),
                component("crates.io", "pqcrypto-kyber", "0.8.1", path="Cargo.lock"),
                component("PyPI", "pyd3tn", "0.13.0"),
                component("PyPI", "torch", "2.6.0", path="ml/requirements.txt"),
                component("PyPI", "torch", "2.7.1", path="ml2/requirements.txt"),
            ]
        )
    by_package = {(f.signals["package"], f.signals["installed_version"]): f for f in outcome.findings}
    assert set(by_package) == {
        ("urllib3", "2.0.4"),
        ("pqcrypto-kyber", "0.8.1"),
        ("pyd3tn", "0.13.0"),
        ("torch", "2.6.0"),
    }
    urllib3, kyber = by_package["urllib3", "2.0.4"], by_package["pqcrypto-kyber", "0.8.1"]
    pyd3tn, torch = by_package["pyd3tn", "0.13.0"], by_package["torch", "2.6.0"]
    assert urllib3.rule_id == "vuln.GHSA-g4mx-q9vg-27p4"
    assert urllib3.signals["aliases"] == ("CVE-2023-45803", "PYSEC-2023-212")
    assert (urllib3.severity, urllib3.signals["cvss_score"]) == (Severity.MEDIUM, 4.2)
    assert urllib3.signals["fix_versions"] == ("2.0.7",)
    assert (kyber.severity, kyber.signals["informational"]) == (Severity.INFO, "unmaintained")
    assert pyd3tn.signals["advisories"] == ("PYSEC-2024-299",)  # 0.13.0 < every reading of "0.14.0-NA"
    # torch 2.6.0 is among the versions "2.6.0-cu124" may mean: that record is unevaluable, a
    # warning naming it, not a scan error; 2.7.1 is above them all: decided, not affected
    assert outcome.errors == []
    assert list(torch.signals["advisories"]) == ["PYSEC-2025-191"]  # its `versions` list names 2.6.0
    assert outcome.unevaluable == ["PYSEC-2025-189"]
    (warning,) = [w for w in outcome.warnings if "torch" in w]
    assert warning.startswith("ml/requirements.txt: torch 2.6.0: advisory PYSEC-2025-189 cannot be evaluated")


def test_rules_and_applies_to() -> None:
    scanner = DepsScanner()
    assert scanner.applies_to("backend/poetry.lock") and scanner.applies_to("web/package-lock.json")
    assert not scanner.applies_to("src/app.py")
    (rule,) = scanner.rules(Settings())
    assert rule.id == "vuln.*" and rule.scanner == "deps"


def test_database_damaged_after_open_fails_the_scanner(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3

    db_dir = tmp_path / "db"
    path = database_path(db_dir)
    import_osv(path, [OSV / "synthetic" / "PyPI"], now=IMPORTED_AT)
    with sqlite3.connect(path) as con:
        con.execute("DROP TABLE affected")
    monkeypatch.setenv("CLEARANCE_DB_DIR", str(db_dir))
    findings, result = _scan(project)
    assert result.runs[0].status is ScannerStatus.FAILED
    assert findings == []
    assert any("could not be read" in e.message for e in result.errors)


SHARED_NPM = Path(__file__).resolve().parents[4] / "shared" / "data" / "osv" / "npm.zip"


@pytest.mark.skipif(not SHARED_NPM.is_file(), reason="shared OSV snapshot not available")
def test_malicious_npm_records_from_the_shared_snapshot(tmp_path: Path) -> None:
    # Real MAL-* records (not copied into fixtures: their licence is unverified). Hand-computed:
    # chalk 5.6.1 is the hijacked release; @ctrl/tinycolor has an open `introduced: 0` range (every version).
    db = database_path(tmp_path)
    import_osv(db, [SHARED_NPM], now=IMPORTED_AT)
    with AdvisoryStore.open(db) as store:
        outcome = VulnerabilityMatcher(store).match(
            [
                component("npm", "chalk", "5.6.1", path="package-lock.json"),
                component("npm", "chalk", "5.6.0", path="package-lock.json"),
                component("npm", "@ctrl/tinycolor", "3.0.0", path="package-lock.json"),
                component("npm", "@solana/web3.js", "1.95.7", path="package-lock.json"),
                component("npm", "@solana/web3.js", "1.95.8", path="package-lock.json"),
            ]
        )
    got = {(f.signals["package"], f.signals["installed_version"]): f for f in outcome.findings}
    assert sorted(got) == [("@ctrl/tinycolor", "3.0.0"), ("@solana/web3.js", "1.95.7"), ("chalk", "5.6.1")]
    assert all(f.severity is Severity.CRITICAL and f.signals["malicious"] for f in got.values())
    assert got[("@ctrl/tinycolor", "3.0.0")].rule_id == "vuln.GHSA-qjqf-7j6f-82c4"
    assert "MAL-2025-47141" in got[("@ctrl/tinycolor", "3.0.0")].signals["aliases"]


def test_virtualenv_next_to_the_lockfile_maps_distributions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    advisories = tmp_path / "osv"
    advisories.mkdir()
    record = {
        "id": "PYSEC-TEST-ENV",
        "modified": "2024-01-01T00:00:00Z",
        "details": "test",
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": "odd-dist"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.0"}]}],
            }
        ],
    }
    (advisories / "PYSEC-TEST-ENV.json").write_text(json.dumps(record))
    db_dir = tmp_path / "db"
    import_osv(database_path(db_dir), [advisories], now=IMPORTED_AT)
    monkeypatch.setenv("CLEARANCE_DB_DIR", str(db_dir))
    repo = tmp_path / "repo"
    (repo / "svc").mkdir(parents=True)
    (repo / "svc" / "requirements.txt").write_text("odd-dist==1.0\n")
    (repo / "svc" / "main.py").write_text("import oddmod\n")
    _, before = _scan(repo)
    assert before.findings[0].signals["reachable"] == "unknown"
    info = repo / "svc" / ".venv" / "lib" / "python3.11" / "site-packages" / "odd_dist-1.0.dist-info"
    info.mkdir(parents=True)
    (repo / "svc" / ".venv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (info / "METADATA").write_text("Name: odd-dist\nVersion: 1.0\n")
    (info / "top_level.txt").write_text("oddmod\n")
    _, after = _scan(repo)
    assert after.findings[0].signals["reachable"] == "yes"


def test_transitive_of_an_unimported_direct_dependency_is_unreachable(
    project: Path, project_db_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLEARANCE_DB_DIR", str(project_db_dir))
    (project / "frontend" / "src" / "index.js").write_text('import template from "lodash/template";\n')
    findings, _ = _scan(project)
    minimist = next(f for f in findings if f.signals["package"] == "minimist")
    assert minimist.signals["reachable"] == "no"
    assert "never imports" in minimist.signals["reachable_reason"]
