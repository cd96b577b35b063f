"""The CI files we ship parse, and every gate flag they use exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from clearance.cli import app

REPO = Path(__file__).resolve().parents[2]
CI_FILES = [
    REPO / "action.yml",
    *sorted((REPO / "docs" / "ci").glob("*.yml")),
    *sorted((REPO / "docs" / "ci").glob("*.yaml")),
]


def _gate_flags() -> set[str]:
    result = CliRunner().invoke(app, ["gate", "--help"], env={"COLUMNS": "250", "NO_COLOR": "1"})
    assert result.exit_code == 0
    flags = set(re.findall(r"--[a-z][a-z-]+", result.output))
    assert {"--gitlab-reports", "--annotations", "--approvals", "--env", "--base"} <= flags
    return flags


@pytest.mark.parametrize("path", CI_FILES, ids=lambda p: p.name)
def test_ci_file_parses_and_uses_real_gate_flags(path: Path) -> None:
    text = path.read_text()
    assert yaml.safe_load(text)
    if "clearance" in text and "gate" in text:
        used = {f for f in re.findall(r"(?<![\w-])--[a-z][a-z-]+", text) if f not in ("--quiet",)}
        shell_only = {"--depth", "--quiet", "--disable-pip-version-check", "--version"}
        unknown = used - _gate_flags() - shell_only
        assert not unknown, f"{path.name} uses flags the gate does not have: {sorted(unknown)}"


def test_action_preserves_the_exit_code_after_uploading_sarif() -> None:
    action = yaml.safe_load((REPO / "action.yml").read_text())
    steps = action["runs"]["steps"]
    names = [s.get("name") for s in steps]
    assert names.index("Upload SARIF to code scanning") < names.index("Gate result")
    upload = steps[names.index("Upload SARIF to code scanning")]
    assert upload["uses"].startswith("github/codeql-action/upload-sarif@")
    gate = steps[names.index("Run the gate")]["run"]
    assert "GITHUB_STEP_SUMMARY" in gate and "--annotations" in gate and "exit-code=$code" in gate


def test_gitlab_template_declares_both_security_reports() -> None:
    job = yaml.safe_load((REPO / "docs" / "ci" / "clearance.gitlab-ci.yml").read_text())["clearance_gate"]
    reports = job["artifacts"]["reports"]
    assert reports == {
        "secret_detection": "gl-reports/gl-secret-detection-report.json",
        "dependency_scanning": "gl-reports/gl-dependency-scanning-report.json",
        "sast": "gl-reports/gl-sast-report.json",
    }
