"""IacScanner behaviour: classification, suppression with expiry, unknown values, redaction, settings."""

from __future__ import annotations

import datetime as dt
import json
import random
import textwrap
from pathlib import Path

from clearance.config import settings_from_mapping
from clearance.model import Finding
from clearance.scanners.base import ScanContext, ScannerOutput
from clearance.scanners.iac.parsers import plan
from clearance.scanners.iac.scanner import IacScanner, evidence
from clearance.sources.base import SourceFile

NOW = dt.datetime(2026, 11, 22, tzinfo=dt.UTC)

SG = """
resource "aws_security_group" "admin" {
  ingress {
    from_port   = 22
    to_port     = 22
    protocol    = "tcp"
    %s
  }
}
"""


def _scan(
    files: dict[str, str], settings: dict[str, object] | None = None, now: dt.datetime = NOW
) -> ScannerOutput:
    srcs = [SourceFile(path=p, size=len(t), data=textwrap.dedent(t).encode()) for p, t in files.items()]
    ctx = ScanContext(root=Path("."), settings=settings_from_mapping(settings or {}), now=now)
    return IacScanner().scan(srcs, ctx)


def _only(out: ScannerOutput, rule_id: str) -> Finding:
    hits = [f for f in out.findings if f.rule_id == rule_id]
    assert len(hits) == 1, [f.rule_id for f in out.findings]
    return hits[0]


def test_applies_to_and_quiet_skip_of_non_iac() -> None:
    s = IacScanner()
    for path in (
        "main.tf",
        "x.tf.json",
        "prod.tfvars",
        "plan.json",
        "k8s/app.yaml",
        "Dockerfile",
        "api.Dockerfile",
        "Containerfile",
        "stack.template",
    ):
        assert s.applies_to(path), path
    assert not s.applies_to("app.py") and not s.applies_to("README.md")
    out = _scan({"config/settings.yaml": "debug: true\nname: x\n", "package.json": '{"name": "x"}'})
    assert out.files == 0 and out.errors == [] and out.findings == []


def test_inline_suppression_with_reason_and_expiry() -> None:
    line = 'cidr_blocks = ["0.0.0.0/0"] # clearance:ignore[iac.aws-sg-open-ssh] reason="bastion" until=2027-01-31'
    f = _only(_scan({"m/main.tf": SG % line}), "iac.aws-sg-open-ssh")
    assert f.suppression is not None and f.suppression.reason == "bastion"
    assert f.suppression.source == "inline:m/main.tf:7" and f.suppression.expires == "2027-01-31"

    out = _scan({"m/main.tf": SG % line}, now=dt.datetime(2027, 2, 1, tzinfo=dt.UTC))
    expired = _only(out, "iac.aws-sg-open-ssh")
    assert expired.suppression is None and "expired on 2027-01-31" in expired.signals["suppression_note"]
    assert any("expired on 2027-01-31" in w for w in out.warnings)


def test_suppression_on_resource_line_and_other_rule_ids() -> None:
    text = '# clearance:ignore[iac.aws-sg-*] reason="lab"\n' + (SG % 'cidr_blocks = ["0.0.0.0/0"]').lstrip()
    assert _only(_scan({"m/main.tf": text}), "iac.aws-sg-open-ssh").suppression is not None
    other = SG % 'cidr_blocks = ["0.0.0.0/0"] # clearance:ignore[iac.aws-s3-public-access]'
    assert _only(_scan({"m/main.tf": other}), "iac.aws-sg-open-ssh").suppression is None


def test_unknown_source_reports_low_confidence_only() -> None:
    out = _scan({"m/main.tf": 'variable "cidr" {}\n' + SG % "cidr_blocks = [var.cidr]"})
    f = _only(out, "iac.aws-sg-open-ssh")
    assert f.signals["confidence"] == "low" and f.evidence == "ingress.0.cidr_blocks = <unknown: var.cidr>"
    known = _only(_scan({"m/main.tf": SG % 'cidr_blocks = ["0.0.0.0/0"]'}), "iac.aws-sg-open-ssh")
    assert known.signals["confidence"] == "high"


def test_unknown_flag_does_not_fire() -> None:
    out = _scan(
        {
            "m/main.tf": """
        variable "public" {}
        resource "aws_db_instance" "db" {
          publicly_accessible = var.public
          storage_encrypted   = var.public
        }
    """
        }
    )
    assert not [f for f in out.findings if f.rule_id in ("iac.aws-rds-public", "iac.aws-rds-encryption")]


def test_disable_setting_and_rules_listing() -> None:
    text = SG % 'cidr_blocks = ["0.0.0.0/0"]'
    out = _scan({"m/main.tf": text}, {"iac": {"disable": ["iac.aws-sg-open-*"]}})
    assert not [f for f in out.findings if f.rule_id.startswith("iac.aws-sg-open")]
    infos = IacScanner().rules(settings_from_mapping({}))
    assert len(infos) >= 80 and all(i.scanner == "iac" and i.remediation for i in infos)


def test_fingerprint_is_stable_across_line_moves() -> None:
    text = SG % 'cidr_blocks = ["0.0.0.0/0"]'
    a = _only(_scan({"m/main.tf": text}), "iac.aws-sg-open-ssh")
    b = _only(_scan({"m/main.tf": "\n\n# moved\n" + text}), "iac.aws-sg-open-ssh")
    assert a.fingerprint == b.fingerprint and a.location.start_line != b.location.start_line


def test_evidence_is_short_and_redacts_secrets() -> None:
    assert evidence("acl", "public-read") == 'acl = "public-read"'
    secret = evidence("master_password", "SuperSecretValue123!")
    assert "SuperSecretValue123" not in secret and secret.startswith("master_password = ")
    token = evidence("user_data", "export TOKEN=ghp_R8xq2Lm9Vt4Kp7Zs1Nw3Yb6Hc5Jd0Fg8Ae2")
    assert "R8xq2Lm9Vt4Kp7Zs1Nw3Yb6Hc5Jd0Fg8Ae2" not in token
    arn = "arn:aws:iam::123456789012:role/service-role/deployment-pipeline-role"
    assert evidence("role_arn", arn) == f'role_arn = "{arn}"'
    assert len(evidence("policy", {"Statement": [{"Action": ["x"] * 200}]})) <= 130


def test_plan_sensitive_values_and_deletions() -> None:
    doc = {
        "format_version": "1.2",
        "resource_changes": [
            {
                "address": "aws_db_instance.db",
                "mode": "managed",
                "type": "aws_db_instance",
                "name": "db",
                "change": {
                    "actions": ["update"],
                    "after": {"password": "hunter2-hunter2", "publicly_accessible": True},
                    "after_unknown": {},
                    "after_sensitive": {"password": True},
                },
            },
            {
                "address": "aws_db_instance.gone",
                "mode": "managed",
                "type": "aws_db_instance",
                "name": "gone",
                "change": {"actions": ["delete"], "after": None},
            },
            {
                "address": "module.net.aws_security_group.sg[0]",
                "module_address": "module.net",
                "mode": "managed",
                "type": "aws_security_group",
                "name": "sg",
                "change": {
                    "actions": ["delete", "create"],
                    "after": {"ingress": []},
                    "after_unknown": {"id": True},
                },
            },
        ],
    }
    rs = {r.address: r for r in plan.parse("plan.json", json.dumps(doc, indent=1))}
    assert set(rs) == {"aws_db_instance.db", "module.net.aws_security_group.sg[0]"}
    db = rs["aws_db_instance.db"]
    assert db.extra["action"] == "update" and "hunter2" not in repr(db.attributes)
    assert rs["module.net.aws_security_group.sg[0]"].extra["action"] == "replace"
    out = _scan({"plan.json": json.dumps(doc, indent=1)})
    rds = _only(out, "iac.aws-rds-public")
    assert rds.signals["action"] == "update" and rds.evidence == "publicly_accessible = true"


def test_mutated_fixtures_never_crash_the_scan() -> None:
    """Truncated, reordered and corrupted IaC files give per-file errors, never an exception."""
    rng = random.Random(20261122)
    root = Path(__file__).resolve().parents[2] / "fixtures" / "iac"
    fixtures = sorted(p for p in root.rglob("*") if p.is_file() and not p.name.endswith(".expect"))
    files = []
    for i in range(400):
        data = rng.choice(fixtures).read_bytes()
        op = i % 4
        if op == 0:
            data = data[: rng.randrange(len(data) + 1)]
        elif op == 1:
            lines = data.split(b"\n")
            rng.shuffle(lines)
            data = b"\n".join(lines)
        else:
            j = rng.randrange(len(data) + 1)
            junk = rng.choice(
                [b"{", b"}", b'"', b"[", b"${", b"= ", b"!Ref ", b"- ", b"null", b'"0.0.0.0/0"']
            )
            data = data[:j] + junk + data[j:]
        name = rng.choice(fixtures).name
        files.append(SourceFile(path=f"fuzz{i}/{name}", size=len(data), data=data))
    ctx = ScanContext(root=Path("."), settings=settings_from_mapping({}), now=NOW)
    out = IacScanner().scan(files, ctx)
    assert out.files > 300
    assert all(e.scanner == "iac" and e.path.startswith("fuzz") for e in out.errors)
    assert not [e for e in out.errors if "failed on" in e.message or "could not evaluate" in e.message]


def test_configured_var_files_feed_root_modules(tmp_path: Path) -> None:
    (tmp_path / "env").mkdir()
    (tmp_path / "env" / "prod.tfvars").write_text('admin_cidr = "0.0.0.0/0"\n')
    text = 'variable "admin_cidr" {\n  default = "10.0.0.0/8"\n}\n' + SG % "cidr_blocks = [var.admin_cidr]"
    files = [SourceFile(path="infra/main.tf", size=len(text), data=text.encode())]

    def scan(settings: dict[str, object]) -> list[str]:
        ctx = ScanContext(root=tmp_path, settings=settings_from_mapping(settings), now=NOW)
        return [f.rule_id for f in IacScanner().scan(files, ctx).findings]

    assert "iac.aws-sg-open-ssh" not in scan({})
    assert "iac.aws-sg-open-ssh" in scan({"iac": {"var_files": ["env/prod.tfvars"]}})
