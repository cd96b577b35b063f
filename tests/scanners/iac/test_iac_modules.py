"""Registry-module shapes (issue 15, items 1-2): a module directory and its `examples/`.

Each fixture under `tests/fixtures/iac/modules/<module>/` is a small module written in the
shape of the public terraform-aws-modules (s3-bucket, lambda, rds, iam, security-group):
every resource behind `create`-style switches, companions referring to `this[0]`, chained
through other companions, `try()`/`lookup()`/`element()` and module outputs. The whole
folder is scanned through the CLI, as a user would, and the findings must be exactly the
expected ones: nothing for disabled instances or fully configured ones.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clearance.cli import app

MODULES = Path(__file__).resolve().parents[2] / "fixtures" / "iac" / "modules"
runner = CliRunner()

Expected = set[tuple[str, str, int, str, str]]
"""(rule id, path, line, resource address, confidence)."""

EXPECTED: dict[str, Expected] = {
    # examples/complete configures SSE, logging, versioning, a policy and the public access
    # block (chained through the policy); examples/disabled creates nothing; examples/minimal
    # only names its bucket.
    "s3-bucket": {
        ("iac.aws-s3-encryption", "main.tf", 9, "module.minimal.aws_s3_bucket.this", "high"),
        ("iac.aws-s3-access-logging", "main.tf", 9, "module.minimal.aws_s3_bucket.this", "high"),
        ("iac.aws-s3-versioning", "main.tf", 9, "module.minimal.aws_s3_bucket.this", "high"),
    },
    # the disabled instances (create = false, create_function = false, count = 0) would open
    # every port; the complete example scopes its policy and its trigger.
    "lambda": set(),
    # encrypted by default; the disabled replica would be public and unencrypted; Aurora
    # Serverless is always encrypted.
    "rds": set(),
    # a role with a trust policy open to "*" that is not created; PassRole scoped to one role.
    "iam": set(),
    # SSH open to the world through a rule module; 443 is a web port; a disabled module would
    # open MySQL; a CIDR from a variable without a value is only a low-confidence finding.
    # examples/rule-lists: a preset wrapper merges rule names (sort/distinct/concat) and the
    # module creates one rule per name (count.index): MySQL is the second instance; from the
    # VPC's own CIDR it is not reported, and the data-source VPC has no flow-log finding.
    "security-group": {
        (
            "iac.aws-sg-open-database",
            "main.tf",
            29,
            "module.web_and_mysql_world.module.sg.aws_security_group_rule.ingress_rules[1]",
            "high",
        ),
        (
            "iac.aws-sg-open-ssh",
            "main.tf",
            17,
            "module.ssh_world.aws_security_group_rule.ingress_with_cidr_blocks",
            "high",
        ),
        (
            "iac.aws-sg-open-database",
            "main.tf",
            17,
            "module.db.aws_security_group_rule.ingress_with_cidr_blocks",
            "low",
        ),
    },
}


def _scan(module: str, tmp_path: Path) -> str:
    """Scan a copy (the repository's own `.clearanceignore` excludes tests/fixtures/)."""
    root = tmp_path / module
    shutil.copytree(MODULES / module, root)
    result = runner.invoke(app, ["scan", str(root), "--scanners", "iac", "--format", "json", "--jobs", "1"])
    return result.stdout


@pytest.mark.parametrize("module", sorted(EXPECTED))
def test_module_and_examples_report_exactly_the_expected_findings(module: str, tmp_path: Path) -> None:
    stdout = _scan(module, tmp_path)
    report = json.loads(stdout)
    assert report["errors"] == []
    found = {
        (
            f["rule_id"],
            f["location"]["path"],
            f["location"]["start_line"],
            f["signals"]["resource"],
            f["signals"]["confidence"],
        )
        for f in report["findings"]
    }
    assert found == EXPECTED[module]


def test_a_directory_used_as_a_module_is_not_judged_as_a_root(tmp_path: Path) -> None:
    """The module directory itself is called by its examples (`source = "../../"`): judged
    with their inputs only, never alone with its defaults."""
    resources = {f["signals"]["resource"] for f in json.loads(_scan("s3-bucket", tmp_path))["findings"]}
    assert resources and all(r.startswith("module.") for r in resources)
