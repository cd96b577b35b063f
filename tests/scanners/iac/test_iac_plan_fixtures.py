"""Plan JSON in the documented `terraform show -json` format (v1.2) for S3, security groups,
IAM and RDS: the same rules fire on the plan as on the HCL it was planned from (issue 15,
item 9), and with both in one scan the findings point at the `.tf` lines.

Each `tests/fixtures/iac/plan/<kind>/` holds `main.tf` and the `plan.json` Terraform 1.7
prints for it: `resource_changes` with `after`, `after_unknown` (computed attributes such
as `id`, `arn`, the deprecated inline S3 blocks), `after_sensitive`, and `configuration`
with the expressions' `references`.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from clearance.cli import app

PLANS = Path(__file__).resolve().parents[2] / "fixtures" / "iac" / "plan"
KINDS = sorted(p.name for p in PLANS.iterdir() if p.is_dir())
runner = CliRunner()


def scan(root: Path) -> dict[str, Any]:
    result = runner.invoke(app, ["scan", str(root), "--scanners", "iac", "--format", "json", "--jobs", "1"])
    report: dict[str, Any] = json.loads(result.stdout)
    assert report["errors"] == []
    return report


def only(tmp_path: Path, kind: str, name: str) -> Path:
    root = tmp_path / name
    root.mkdir()
    shutil.copy(PLANS / kind / name, root / name)
    return root


def rules_by_resource(report: dict[str, Any]) -> set[tuple[str, str]]:
    return {(f["rule_id"], re.sub(r"\[[^\]]*\]", "", f["signals"]["resource"])) for f in report["findings"]}


def test_every_kind_has_a_plan() -> None:
    assert KINDS == ["iam", "rds", "s3", "sg"]


@pytest.mark.parametrize("kind", KINDS)
def test_the_same_rules_fire_on_the_plan_as_on_the_hcl(kind: str, tmp_path: Path) -> None:
    hcl = rules_by_resource(scan(only(tmp_path, kind, "main.tf")))
    planned = scan(only(tmp_path, kind, "plan.json"))
    assert hcl, "the HCL fixture must be positive"
    assert rules_by_resource(planned) == hcl
    assert {f["signals"]["action"] for f in planned["findings"]} == {"create"}
    assert {f["signals"]["source"] for f in planned["findings"]} == {"plan"}


@pytest.mark.parametrize("kind", KINDS)
def test_plan_and_source_together_point_at_the_tf_lines(kind: str, tmp_path: Path) -> None:
    root = tmp_path / "repo"
    shutil.copytree(PLANS / kind, root)
    both = scan(root)
    source = scan(only(tmp_path, kind, "main.tf"))
    located = {(f["rule_id"], f["location"]["path"], f["location"]["start_line"]) for f in both["findings"]}
    assert located == {(f["rule_id"], "main.tf", f["location"]["start_line"]) for f in source["findings"]}
    assert {f["signals"].get("action") for f in both["findings"]} == {"create"}


def test_provider_computed_attributes_are_not_taken_as_configured(tmp_path: Path) -> None:
    """`aws_s3_bucket.versioning`/`logging`/`server_side_encryption_configuration` are
    `after_unknown` in every plan: computed by the provider, not set by the configuration."""
    report = scan(only(tmp_path, "s3", "plan.json"))
    rules = {f["rule_id"] for f in report["findings"] if f["signals"]["resource"] == "aws_s3_bucket.data"}
    assert {"iac.aws-s3-encryption", "iac.aws-s3-access-logging"} <= rules
