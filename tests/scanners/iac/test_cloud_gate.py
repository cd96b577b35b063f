"""End to end through `clearance.pipeline.run`: issue #4's cloud "done" scenario.

A repository with a public S3 bucket, a 0.0.0.0/0 SSH rule and an IAM policy granting
iam:PassRole + lambda:CreateFunction + lambda:InvokeFunction is reported at the right
file and line with the risk sentence and remediation, and the gate blocks; the same from
a `terraform show -json` plan, and from source + plan together (plan lines mapped back).
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

from clearance import pipeline
from clearance.config import Settings
from clearance.model import Finding, Outcome, Severity
from clearance.policy.threshold import decide_by_threshold
from clearance.scanners.iac.rules.registry import all_rules

SCENARIOS = Path(__file__).resolve().parents[2] / "fixtures" / "iac" / "scenarios"
NOW = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)
RULES = {r.id: r for r in all_rules()}


def _by_rule(findings: tuple[Finding, ...]) -> dict[str, Finding]:
    out: dict[str, Finding] = {}
    for f in findings:
        assert f.rule_id not in out, f"duplicate {f.rule_id}"
        out[f.rule_id] = f
    return out


def _run(repo: Path) -> tuple[dict[str, Finding], Outcome]:
    result = pipeline.run(repo, Settings(), pipeline.RunOptions(scanners=["iac"], jobs=1), NOW)
    assert result.errors == ()
    decision = decide_by_threshold(result, Severity.HIGH)
    return _by_rule(result.findings), decision.outcome


def test_terraform_source(tmp_path: Path) -> None:
    shutil.copytree(SCENARIOS / "done", tmp_path / "repo")
    found, outcome = _run(tmp_path / "repo")
    assert outcome is Outcome.BLOCK

    public = found["iac.aws-s3-public-access"]
    assert (public.location.path, public.location.start_line) == ("infra/main.tf", 7)
    assert public.evidence == 'acl = "public-read"'
    assert public.message.startswith(RULES["iac.aws-s3-public-access"].risk)
    assert "block_public_acls       = true" in public.remediation
    assert public.signals["resource"] == "aws_s3_bucket_acl.public"
    assert public.signals["exposure"] == "public" and public.signals["category"] == "public-access"

    ssh = found["iac.aws-sg-open-ssh"]
    assert (ssh.location.path, ssh.location.start_line) == ("infra/main.tf", 16)
    assert ssh.evidence == 'ingress.0.cidr_blocks = "0.0.0.0/0"'
    assert ssh.signals["resource"] == "aws_security_group.ssh"

    esc = found["iac.aws-iam-privilege-escalation"]
    assert (esc.location.path, esc.location.start_line) == ("infra/main.tf", 30)
    assert esc.signals["escalation_paths"] == ("PassRole+Lambda",)
    assert esc.signals["policies"] == ("aws_iam_role_policy.deployer",)
    assert esc.signals["category"] == "privilege-escalation"
    assert "iam:PassRole + lambda:CreateFunction + lambda:InvokeFunction" in esc.message
    assert "action" not in esc.signals


def test_plan_json(tmp_path: Path) -> None:
    shutil.copytree(SCENARIOS / "done-plan", tmp_path / "repo")
    found, outcome = _run(tmp_path / "repo")
    assert outcome is Outcome.BLOCK
    plan_lines = (tmp_path / "repo" / "plan.json").read_text().splitlines()
    for rule_id, needle in (
        ("iac.aws-s3-public-access", '"acl": "public-read"'),
        ("iac.aws-sg-open-ssh", '"cidr_blocks": ['),
        ("iac.aws-iam-privilege-escalation", '"policy": '),
    ):
        f = found[rule_id]
        assert f.location.path == "plan.json"
        assert needle in plan_lines[(f.location.start_line or 0) - 1], rule_id
        assert f.signals["action"] == "create"
    assert found["iac.aws-iam-privilege-escalation"].signals["escalation_paths"] == ("PassRole+Lambda",)
    # the bucket being deleted is not reported; nothing copies whole plan values
    assert all("aws_s3_bucket.old" != f.signals["resource"] for f in found.values())
    assert all(len(f.evidence) <= 130 for f in found.values())


def test_source_and_plan_together_point_at_the_source(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(SCENARIOS / "done", repo)
    shutil.copy(SCENARIOS / "done-plan" / "plan.json", repo / "infra" / "plan.json")
    found, _ = _run(repo)
    for rule_id, line in (
        ("iac.aws-s3-public-access", 7),
        ("iac.aws-sg-open-ssh", 16),
        ("iac.aws-iam-privilege-escalation", 30),
    ):
        f = found[rule_id]
        assert (f.location.path, f.location.start_line) == ("infra/main.tf", line)
        assert f.signals["action"] == "create" and f.signals["source"] == "plan"


def test_malformed_files_are_per_file_errors(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(SCENARIOS / "done", repo)
    (repo / "broken").mkdir()
    (repo / "broken" / "main.tf").write_text('resource "aws_s3_bucket" "x" {\n  bucket = \n')
    (repo / "broken" / "template.yaml").write_text("AWSTemplateFormatVersion: '2010-09-09'\nResources: [\n")
    (repo / "broken" / "policy.json").write_text('{"Version": "2012-10-17", "Statement": [}')
    (repo / "broken" / "plan.json").write_text('{"format_version": "1.2", "resource_changes": 7}')
    result = pipeline.run(repo, Settings(), pipeline.RunOptions(scanners=["iac"], jobs=1), NOW)
    errors = {e.path: e.message for e in result.errors}
    assert set(errors) == {"broken/main.tf", "broken/template.yaml", "broken/policy.json", "broken/plan.json"}
    assert errors["broken/main.tf"].startswith("terraform: line 2")
    assert not result.complete
    assert {f.rule_id for f in result.findings} >= {"iac.aws-s3-public-access", "iac.aws-sg-open-ssh"}
