"""What a new user meets first, through the real CLI on the demo repository: every standard
format validates against its published schema (SARIF 2.1.0, GitLab 15.2.4) and shows every finding."""

from __future__ import annotations

import json
import shutil
import sys
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from typer.testing import CliRunner

from clearance.cli import app

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "leaky-repo"
SCHEMAS = REPO / "tests" / "fixtures" / "schemas"
sys.path.insert(0, str(REPO / "tests"))
from report import sarif_checks  # noqa: E402

runner = CliRunner()


@cache
def _validator(name: str) -> Any:
    schema = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema, format_checker=jsonschema.FormatChecker())


@pytest.fixture
def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The demo repository with the demo advisories imported into a throw-away database."""
    target = tmp_path / "leaky-repo"
    shutil.copytree(EXAMPLE, target)
    monkeypatch.setenv("CLEARANCE_DB_DIR", str(tmp_path / "db"))
    imported = runner.invoke(app, ["db", "import", str(REPO / "examples" / "advisories")])
    assert imported.exit_code == 0, imported.output
    return target


def _gate(demo: Path, *extra: str) -> Any:
    return runner.invoke(app, ["gate", str(demo), "--quiet", *extra])


def test_the_demo_sarif_validates_and_passes_the_multitool_rules(demo: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.sarif"
    result = _gate(demo, "--output", f"sarif:{out}")
    assert result.exit_code == 1, result.output
    log = json.loads(out.read_text(encoding="utf-8"))
    assert not [e.message for e in _validator("sarif-2.1.0-rtm.5.json").iter_errors(log)]
    assert sarif_checks.problems(log) == []
    rules = log["runs"][0]["tool"]["driver"]["rules"]
    assert any("CIS" in ref for r in rules for ref in r["properties"].get("references", ()))
    assert all(r["helpUri"].startswith(("https://", "http://")) for r in rules if "helpUri" in r)


def test_the_demo_junit_shows_every_blocking_finding_in_junit2html(demo: Path, tmp_path: Path) -> None:
    from junit2htmlreport import parser as junit2html

    junit, report = tmp_path / "r.xml", tmp_path / "r.json"
    result = _gate(demo, "--output", f"junit:{junit}", "--output", f"json:{report}")
    assert result.exit_code == 1, result.output
    data = json.loads(report.read_text(encoding="utf-8"))
    blocking = [f for f in data["findings"] if (f.get("verdict") or {}).get("action") == "block"]
    assert len(blocking) >= 13
    html = junit2html.Junit(str(junit)).html()
    failures = [el for el in _junit_cases(junit) if el.find("failure") is not None]
    assert len(failures) == len(blocking)
    for f in blocking:
        line = f["location"].get("start_line")
        where = f"{f['location']['path']}:{line}" if line else f["location"]["path"]
        assert f"{f['rule_id']} at {where}" in html


def _junit_cases(path: Path) -> list[Any]:
    import xml.etree.ElementTree as ET

    return list(ET.parse(path).getroot().iter("testcase"))
