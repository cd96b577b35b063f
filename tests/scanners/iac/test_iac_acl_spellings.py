"""One public ACL, one rule (issue 15, item 6): every spelling of a public S3 ACL — the legacy
inline `acl` and `grant` of aws_s3_bucket, the aws_s3_bucket_acl resource with a canned `acl` or
an `access_control_policy` grant to AllUsers/AuthenticatedUsers, CloudFormation's
`AccessControl` — fires `iac.aws-s3-public-access` exactly once, on the ACL's line, and no other
rule reports that line. Private ACLs fire nothing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clearance.cli import app

SPELLINGS = Path(__file__).resolve().parents[2] / "fixtures" / "iac" / "acl-spellings"
runner = CliRunner()
PUBLIC = sorted(
    p.name for p in SPELLINGS.iterdir() if p.suffix in (".tf", ".yaml") and not p.name.startswith("private")
)


def _scan(name: str, tmp_path: Path) -> list[dict[str, object]]:
    root = tmp_path / "repo"
    root.mkdir()
    shutil.copy(SPELLINGS / name, root / name)
    result = runner.invoke(app, ["scan", str(root), "--scanners", "iac", "--format", "json", "--jobs", "1"])
    report = json.loads(result.stdout)
    assert report["errors"] == []
    findings: list[dict[str, object]] = report["findings"]
    return findings


def _acl_line(name: str) -> int:
    [line] = [
        i for i, text in enumerate((SPELLINGS / name).read_text().splitlines(), 1) if "# acl-line" in text
    ]
    return line


def test_every_spelling_is_covered() -> None:
    assert len(PUBLIC) == 13


@pytest.mark.parametrize("name", PUBLIC)
def test_a_public_acl_fires_one_rule_once_on_its_line(name: str, tmp_path: Path) -> None:
    findings = _scan(name, tmp_path)
    public = [f for f in findings if f["rule_id"] == "iac.aws-s3-public-access"]
    assert [f["location"]["start_line"] for f in public] == [_acl_line(name)]  # type: ignore[index]
    others_on_the_line = [
        f["rule_id"]
        for f in findings
        if f["rule_id"] != "iac.aws-s3-public-access" and f["location"]["start_line"] == _acl_line(name)  # type: ignore[index]
    ]
    assert others_on_the_line == []
    # the finding says who gets in: anyone, or anyone with an AWS account
    detail = str(public[0]["message"]).split("the bucket's objects.", 1)[1]
    assert ("any account" in detail) == ("authenticated" in name.lower())


def test_private_acls_are_not_public(tmp_path: Path) -> None:
    findings = _scan("private-canned-acls.tf", tmp_path)
    assert findings  # encryption, versioning... on their own conditions
    assert [f for f in findings if f["rule_id"] == "iac.aws-s3-public-access"] == []
