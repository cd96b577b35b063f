"""Precision on real-module shapes (issue 15, items 1-6), through the CLI gate.

Unknown is not open; low confidence looks low (medium severity at most, SARIF warning, the
default policy warns); `count`/`for_each` are evaluated; escalation through unresolved
policies is one finding per principal; a PassRole scoped to one role is not escalation.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from clearance.cli import app

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "iac"
runner = CliRunner()
EXIT_PASS, EXIT_BLOCKED = 0, 1


def gate(root: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    result = runner.invoke(
        app, ["gate", str(root), "--scanners", "iac", "--format", "json", "--jobs", "1", "--quiet", *extra]
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, json.loads(result.stdout)


def copy(tmp_path: Path, *fixtures: str) -> Path:
    root = tmp_path / "repo"
    for rel in fixtures:
        dest = root / Path(rel).stem / Path(rel).name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(FIXTURES / rel, dest)
    return root


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def findings(report: dict[str, Any], rule_id: str) -> list[dict[str, Any]]:
    return [f for f in report["findings"] if f["rule_id"] == rule_id]


def test_an_unknown_source_warns_at_low_confidence_and_does_not_block(tmp_path: Path) -> None:
    root = copy(tmp_path, "aws-sg-open-ssh/unknown-source-low-confidence.tf")
    code, report = gate(root)
    [hit] = findings(report, "iac.aws-sg-open-ssh")
    assert hit["signals"]["confidence"] == "low" and hit["severity"] == "medium"
    assert hit["location"]["start_line"] == 13
    assert "not known statically" in hit["message"]
    assert code == EXIT_PASS


def test_a_known_world_source_still_blocks(tmp_path: Path) -> None:
    root = copy(tmp_path, "aws-sg-open-ssh/inline-ingress-ssh-world.tf")
    code, report = gate(root)
    [hit] = findings(report, "iac.aws-sg-open-ssh")
    assert hit["signals"]["confidence"] == "high" and hit["severity"] == "high"
    assert code == EXIT_BLOCKED


def test_gcp_firewall_with_unresolved_sources_only_warns(tmp_path: Path) -> None:
    root = copy(tmp_path, "gcp-firewall-open-ssh/firewall-unresolved-sources.tf")
    code, report = gate(root)
    hits = findings(report, "iac.gcp-firewall-open-ssh")
    assert [(h["signals"]["resource"], h["signals"]["confidence"]) for h in hits] == [
        ("google_compute_firewall.ssh_from_var", "low")
    ]  # the subnetwork's own range is never the internet
    assert code == EXIT_PASS


def test_unresolved_policies_are_one_low_confidence_finding_per_principal(tmp_path: Path) -> None:
    root = copy(tmp_path, "aws-iam-privilege-escalation/unresolved-policy-grouped-per-principal.tf")
    code, report = gate(root, "--format", "json")
    [hit] = findings(report, "iac.aws-iam-privilege-escalation")
    assert hit["signals"]["resource"] == "aws_iam_role.ci"
    assert hit["signals"]["confidence"] == "low" and hit["severity"] == "medium"
    assert hit["signals"]["unresolved"] is True
    assert "could not be resolved" in hit["message"] and "possible if it grants them" in hit["message"]
    assert code == EXIT_PASS


def test_unresolved_privilege_escalation_is_a_sarif_warning(tmp_path: Path) -> None:
    root = copy(tmp_path, "aws-iam-privilege-escalation/unresolved-policy-grouped-per-principal.tf")
    result = runner.invoke(app, ["scan", str(root), "--scanners", "iac", "--format", "sarif", "--jobs", "1"])
    sarif = json.loads(result.stdout)
    levels = {r["ruleId"]: r["level"] for r in sarif["runs"][0]["results"]}
    assert levels["iac.aws-iam-privilege-escalation"] == "warning"


def test_passrole_scoped_to_one_role_is_not_escalation(tmp_path: Path) -> None:
    root = copy(tmp_path, "aws-iam-privilege-escalation/passrole-scoped-to-one-role.tf")
    _, report = gate(root)
    assert not findings(report, "iac.aws-iam-privilege-escalation")


def test_disabled_resources_and_modules_report_nothing(tmp_path: Path) -> None:
    """The terraform-aws-lambda shape: every resource behind `var.create`, examples that switch
    the module off; only the enabled instance is judged."""
    module = """
variable "create" {
  type    = bool
  default = true
}
variable "attach_policy" {
  type    = bool
  default = false
}
resource "aws_iam_policy" "admin" {
  count  = var.create && var.attach_policy ? 1 : 0
  policy = jsonencode({ Version = "2012-10-17", Statement = [{ Effect = "Allow", Action = "*", Resource = "*" }] })
}
resource "aws_security_group" "this" {
  count = var.create ? 1 : 0
  ingress {
    from_port   = 22
    to_port     = 22
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}
"""
    root = write(
        tmp_path / "repo",
        {
            "modules/fn/main.tf": module,
            "examples/disabled/main.tf": 'module "off" {\n  source = "../../modules/fn"\n  create = false\n}\n',
            "examples/empty/main.tf": 'module "none" {\n  source   = "../../modules/fn"\n  for_each = {}\n}\n',
            "examples/on/main.tf": 'module "on" {\n  source = "../../modules/fn"\n}\n',
        },
    )
    _, report = gate(root)
    ssh = findings(report, "iac.aws-sg-open-ssh")
    assert [f["signals"]["resource"] for f in ssh] == ["module.on.aws_security_group.this"]
    assert ssh[0]["signals"]["confidence"] == "high"
    assert not findings(report, "iac.aws-iam-admin-policy")


def test_an_unresolvable_count_lowers_confidence(tmp_path: Path) -> None:
    tf = """
variable "enabled" {}
resource "aws_security_group" "maybe" {
  count = var.enabled ? 1 : 0
  ingress {
    from_port   = 22
    to_port     = 22
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}
"""
    code, report = gate(write(tmp_path / "repo", {"main.tf": tf}))
    [hit] = findings(report, "iac.aws-sg-open-ssh")
    assert hit["signals"]["confidence"] == "low" and hit["signals"]["instances"] == "unknown"
    assert hit["severity"] == "medium" and "count" in hit["message"]
    assert code == EXIT_PASS
