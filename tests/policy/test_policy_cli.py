"""End to end through the CLI: gate with the default policy, exceptions, PR mode approvals, exit 4."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from pathlib import Path

import pytest
from policy_builders import FIXTURES
from typer.testing import CliRunner

from clearance.cli import app

runner = CliRunner()
AWS_KEY = "AKIAQYLPMN5HHHFPZAM2"
PUBLIC_BUCKET = """resource "aws_s3_bucket" "assets" {
  bucket = "acme-assets"
}

resource "aws_s3_bucket_acl" "assets" {
  bucket = aws_s3_bucket.assets.id
  acl    = "public-read"
}
"""


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


@pytest.fixture
def service(tmp_path: Path) -> Path:
    root = tmp_path / "payments"
    (root / "app").mkdir(parents=True)
    (root / "infra").mkdir()
    (root / "app" / "settings.py").write_text(f'AWS_KEY = "{AWS_KEY}"\n')
    (root / "infra" / "s3.tf").write_text(PUBLIC_BUCKET)
    (root / "catalog-info.yaml").write_text(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: payments-api\n  annotations:\n"
        "    clearance.dev/exposure: internet\nspec:\n  owner: team-payments\n  lifecycle: production\n"
    )
    return root


def _gate_json(root: Path, *extra: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    result = runner.invoke(
        app, ["gate", str(root), "-s", "secrets,iac", "-q", "-f", "json", "--env", "prod", *extra]
    )
    assert result.exit_code in (0, 1), result.output
    return result.exit_code, json.loads(result.stdout)


def test_gate_blocks_secret_and_public_bucket_with_the_deciding_rule(service: Path) -> None:
    code, report = _gate_json(service)
    assert code == 1
    decision = report["decision"]
    assert decision["outcome"] == "block"
    rules = {f["verdict"]["rule"] for f in report["findings"] if f["verdict"]["action"] == "block"}
    assert rules == {"secret.live-format", "iac.public-access-exposed"}
    assert decision["extra"]["context"]["service"] == "payments-api"
    owners = set(decision["extra"]["owners"].values())
    assert owners == {"team-payments"}


def test_exception_added_by_the_cli_excepts_the_finding(service: Path) -> None:
    _, report = _gate_json(service)
    secret = next(f for f in report["findings"] if f["rule_id"].startswith("secret."))
    added = runner.invoke(
        app,
        [
            "exceptions",
            "add",
            "--root",
            str(service),
            "--fingerprint",
            secret["fingerprint"],
            "--owner",
            "team-payments",
            "--reason",
            "key is disabled in IAM; purge pending",
            "--expires",
            "14d",
            "--approved-by",
            "sec-lead",
        ],
    )
    assert added.exit_code == 0, added.output
    assert "added EXC-1" in added.output
    _, report = _gate_json(service)
    excepted = [f["verdict"] for f in report["findings"] if f["verdict"]["action"] == "excepted"]
    assert len(excepted) == 1 and excepted[0]["exception_id"] == "EXC-1"
    assert "owner team-payments" in excepted[0]["message"]
    listed = runner.invoke(app, ["exceptions", "list", "--root", str(service), "-f", "json"])
    rows = json.loads(listed.stdout)
    assert [(r["id"], r["owner"], r["status"]) for r in rows] == [("EXC-1", "team-payments", "expiring")]
    assert rows[0]["days_left"] == 14


def test_bad_exceptions_file_exits_4_with_a_line(service: Path) -> None:
    (service / ".clearance").mkdir()
    (service / ".clearance" / "exceptions.yaml").write_text(
        (FIXTURES / "exceptions" / "missing-fields.yaml").read_text()
    )
    gate = runner.invoke(app, ["gate", str(service), "-s", "secrets", "-q"])
    assert gate.exit_code == 4
    assert ".clearance/exceptions.yaml:2: exception 'EXC-1': missing required field `expires`" in gate.output
    check = runner.invoke(app, ["exceptions", "check", "--root", str(service)])
    assert check.exit_code == 4
    assert ".clearance/exceptions.yaml:11: exception 'EXC-2': unknown match key 'rul'" in check.output


def test_bad_policy_rule_exits_4_naming_line_and_expression(service: Path) -> None:
    (service / "clearance.toml").write_text((FIXTURES / "config" / "bad-rule.toml").read_text())
    gate = runner.invoke(app, ["gate", str(service), "-s", "secrets", "-q"])
    assert gate.exit_code == 4
    assert "clearance.toml:10" in gate.output and "finding.signals.kev &&" in gate.output


def test_exceptions_check_passes_a_valid_file(service: Path) -> None:
    (service / ".clearance").mkdir()
    (service / ".clearance" / "exceptions.yaml").write_text(
        (FIXTURES / "exceptions" / "valid.yaml").read_text()
    )
    check = runner.invoke(app, ["exceptions", "check", "--root", str(service)])
    assert check.exit_code == 0
    assert "2 valid exception(s)" in check.output


def test_policy_explain_prints_inputs_and_the_matching_rule(service: Path) -> None:
    _, report = _gate_json(service)
    bucket = next(f for f in report["findings"] if f["rule_id"] == "iac.aws-s3-public-access")
    out = runner.invoke(
        app,
        [
            "policy",
            "explain",
            bucket["fingerprint"][:12],
            str(service),
            "-s",
            "iac",
            "--env",
            "prod",
            "-f",
            "json",
        ],
    )
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["matched_rule"] == "iac.public-access-exposed"
    assert data["inputs"]["service"]["name"] == "payments-api"
    assert data["inputs"]["finding"]["signals"]["category"] == "public-access"
    assert [r["result"] for r in data["rules"]][:3] == ["false", "false", "true"]
    missing = runner.invoke(app, ["policy", "explain", "ffffffff", str(service), "-s", "iac"])
    assert missing.exit_code == 2


@pytest.fixture
def pr_repo(tmp_path: Path) -> Path:
    root = tmp_path / "shop"
    (root / "src" / "auth").mkdir(parents=True)
    _git(root.parent, "init", "-q", "-b", "main", str(root))
    _git(root, "config", "user.email", "dev@example.com")
    _git(root, "config", "user.name", "Dev")
    (root / "src" / "auth" / "login.py").write_text("def login(user):\n    return user\n")
    (root / "clearance.toml").write_text(
        '[service]\nname = "shop"\nexposure = "internet"\n\n[policy.high_risk_paths]\n'
        '"**/auth/**" = { owners = ["@acme/security"], reason = "authentication code" }\n\n'
        '[policy.teams]\n"acme/security" = ["sec-lead"]\n'
    )
    _git(root, "add", ".")
    _git(root, "commit", "-qm", "base")
    _git(root, "checkout", "-qb", "feature")
    (root / "src" / "auth" / "login.py").write_text("def login(user):\n    return user.strip()\n")
    _git(root, "commit", "-qam", "tweak login")
    return root


def test_auth_change_needs_the_risk_owners_approval(pr_repo: Path, tmp_path: Path) -> None:
    gate = runner.invoke(
        app,
        ["gate", str(pr_repo), "--base", "main", "-s", "secrets", "-q", "-f", "json"],
        env={"CLEARANCE_CACHE_DIR": str(tmp_path / "cache")},
    )
    assert gate.exit_code == 1, gate.output
    decision = json.loads(gate.stdout)["decision"]
    assert decision["outcome"] == "needs-approval"
    assert (
        "needs approval: src/auth/login.py (authentication code, **/auth/**) needs approval from "
        "@acme/security"
    ) in decision["reasons"]
    approvals = tmp_path / "reviews.json"
    approvals.write_text(
        json.dumps(
            [{"user": {"login": "sec-lead"}, "state": "APPROVED", "submitted_at": "2026-09-10T10:00:00Z"}]
        )
    )
    ok = runner.invoke(
        app,
        ["gate", str(pr_repo), "--base", "main", "-s", "secrets", "-q", "--approvals", str(approvals)],
        env={"CLEARANCE_CACHE_DIR": str(tmp_path / "cache")},
    )
    assert ok.exit_code == 0, ok.output


def test_ci_flags_reach_the_report_context(service: Path) -> None:
    _, report = _gate_json(service, "--repository", "acme/payments", "--pr", "42", "--actor", "octocat")
    ctx = report["decision"]["extra"]["context"]["ci"]
    assert (ctx["repository"], ctx["pr"], ctx["actor"]) == ("acme/payments", 42, "octocat")


def test_expired_exception_in_gate_says_who_and_when(service: Path) -> None:
    _, report = _gate_json(service)
    bucket = next(f for f in report["findings"] if f["rule_id"] == "iac.aws-s3-public-access")
    today = dt.datetime.now(dt.UTC).date()
    created, expires = today - dt.timedelta(days=40), today - dt.timedelta(days=10)
    (service / ".clearance").mkdir()
    (service / ".clearance" / "exceptions.yaml").write_text(
        f"exceptions:\n  - id: EXC-12\n    match: {{fingerprint: {bucket['fingerprint']}}}\n    owner: team-payments\n"
        f"    reason: CDN migration\n    created: {created}\n    expires: {expires}\n    approved_by: alice\n"
    )
    code, report = _gate_json(service)
    assert code == 1
    v = next(f["verdict"] for f in report["findings"] if f["fingerprint"] == bucket["fingerprint"])
    assert v["action"] == "block"
    assert f"exception EXC-12 (owner team-payments) expired on {expires}" in v["notes"]


def test_gate_writes_annotations_and_gitlab_reports(service: Path, tmp_path: Path) -> None:
    notes, gitlab = tmp_path / "annotations.txt", tmp_path / "gl"
    gate = runner.invoke(
        app,
        [
            "gate",
            str(service),
            "-s",
            "secrets,iac",
            "-q",
            "--env",
            "prod",
            "-f",
            "json",
            "--annotations",
            str(notes),
            "--gitlab-reports",
            str(gitlab),
        ],
    )
    assert gate.exit_code == 1
    lines = notes.read_text().splitlines()
    assert any(line.startswith("::error file=app/settings.py,line=1,") for line in lines)
    assert any(line.startswith("::error file=infra/s3.tf,") for line in lines)
    assert all("owner%3A" not in line for line in lines)  # messages are not property-escaped
    assert any("owner: team-payments" in line for line in lines)
    secrets = json.loads((gitlab / "gl-secret-detection-report.json").read_text())
    assert [v["location"]["file"] for v in secrets["vulnerabilities"]] == ["app/settings.py"]
    assert secrets["scan"]["type"] == "secret_detection"
    deps = json.loads((gitlab / "gl-dependency-scanning-report.json").read_text())
    assert deps["vulnerabilities"] == []


def test_top_level_fail_on_in_the_config_file_is_a_threshold(service: Path) -> None:
    (service / "clearance.toml").write_text('fail_on = "critical"\n')
    _, report = _gate_json(service)
    assert report["decision"]["policy"] == "threshold:critical@prod"
    actions = {f["rule_id"]: f["verdict"]["action"] for f in report["findings"]}
    assert actions["iac.aws-s3-public-access"] == "warn"  # high < critical
