"""End-to-end CLI behaviour on the demo repository: exit codes, outputs, redaction, evidence."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clearance import __version__
from clearance.cli import app

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "leaky-repo"
runner = CliRunner()


def planted_secrets() -> list[str]:
    """The raw fake secrets planted in the demo repository."""
    settings = (EXAMPLE / "app" / "settings.py").read_text()
    values = re.findall(
        r'^(?:AWS_ACCESS_KEY_ID|AWS_SECRET_ACCESS_KEY|STRIPE_API_KEY) = "([^"]+)"', settings, re.M
    )
    values += re.findall(r'GITHUB_TOKEN = "([^"]+)"', (EXAMPLE / "app" / "github_sync.py").read_text())
    env = (EXAMPLE / ".env").read_text()
    values += re.findall(r"postgres://billing:([^@]+)@", env)
    values += re.findall(r"SLACK_WEBHOOK_URL=https://hooks.slack.com/services/\S+/(\w+)$", env, re.M)
    key_body = (EXAMPLE / "deploy" / "deploy_key").read_text().splitlines()[1:-1]
    values += [line for line in key_body if len(line) > 20][:2]
    assert len(values) >= 8
    return values


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    target = tmp_path / "leaky-repo"
    shutil.copytree(EXAMPLE, target)
    return target


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"clearance {__version__}"


def test_gate_blocks_the_demo_and_never_prints_a_secret(demo: Path, tmp_path: Path) -> None:
    out = tmp_path / "reports"
    args = ["gate", str(demo), "--scanners", "secrets", "--quiet"]
    for fmt, ext in (
        ("json", "json"),
        ("sarif", "sarif"),
        ("markdown", "md"),
        ("junit", "xml"),
        ("console", "txt"),
    ):
        args += ["--output", f"{fmt}:{out}/r.{ext}"]
    result = runner.invoke(app, args)
    assert result.exit_code == 1, result.output
    assert "BLOCKED" in result.output
    texts = [result.output] + [p.read_text() for p in sorted(out.iterdir())]
    assert len(texts) == 6
    for secret in planted_secrets():
        for text in texts:
            assert secret not in text
    doc = json.loads((out / "r.json").read_text())
    assert doc["decision"]["outcome"] == "block"
    assert any(f["rule_id"].startswith("secret.") for f in doc["findings"])


def test_scan_exits_zero_even_with_findings(demo: Path) -> None:
    result = runner.invoke(app, ["scan", str(demo), "--scanners", "secrets", "--format", "json", "--quiet"])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["findings"]


def test_usage_errors_exit_2(demo: Path) -> None:
    assert runner.invoke(app, ["gate", str(demo), "--scanners", "magic"]).exit_code == 2
    assert runner.invoke(app, ["gate", str(demo / "nope")]).exit_code == 2
    assert runner.invoke(app, ["gate", str(demo), "--fail-on", "severe"]).exit_code == 2
    assert runner.invoke(app, ["gate", str(demo), "--format", "yaml"]).exit_code == 2
    assert runner.invoke(app, ["gate", str(demo), "--history", "--base", "main"]).exit_code == 2
    assert runner.invoke(app, ["frobnicate"]).exit_code == 2


def test_bad_config_exits_4(demo: Path) -> None:
    (demo / "clearance.toml").write_text('fail_on = "sometimes"\n')
    result = runner.invoke(app, ["gate", str(demo), "--scanners", "secrets"])
    assert result.exit_code == 4
    assert "fail_on" in result.output


def test_init_writes_a_valid_config_once(tmp_path: Path) -> None:
    assert runner.invoke(app, ["init", str(tmp_path)]).exit_code == 0
    assert runner.invoke(app, ["init", str(tmp_path)]).exit_code == 2
    result = runner.invoke(app, ["gate", str(tmp_path), "--scanners", "secrets", "--quiet"])
    assert result.exit_code == 0, result.output


def test_rules_list_json() -> None:
    result = runner.invoke(app, ["rules", "list", "--format", "json", "--scanners", "secrets"])
    assert result.exit_code == 0
    rules = json.loads(result.stdout)
    assert rules and all({"id", "title", "severity", "description"} <= set(r) for r in rules)
    assert len({r["id"] for r in rules}) == len(rules)


def test_fail_on_critical_turns_high_findings_into_warnings(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text('AWS_ACCESS_KEY_ID = "AKIAQWERTYUIOPASDFGH"\n')
    result = runner.invoke(
        app, ["gate", str(tmp_path), "--scanners", "secrets", "--fail-on", "critical", "--quiet"]
    )
    assert result.exit_code == 0, result.output


def test_pre_commit_style_file_list(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "clean.py").write_text("print('hello')\n")
    (tmp_path / "leak.py").write_text('AWS_ACCESS_KEY_ID = "AKIAQWERTYUIOPASDFGH"\n')
    monkeypatch.chdir(tmp_path)
    assert (
        runner.invoke(app, ["gate", "clean.py", "clean.py", "--scanners", "secrets", "--quiet"]).exit_code
        == 0
    )
    assert (
        runner.invoke(app, ["gate", "clean.py", "leak.py", "--scanners", "secrets", "--quiet"]).exit_code == 1
    )


def test_evidence_round_trip(demo: Path, tmp_path: Path) -> None:
    key = tmp_path / "k.pem"
    assert runner.invoke(app, ["keygen", "-o", str(key)]).exit_code == 0
    artifact = tmp_path / "app.tar.gz"
    artifact.write_bytes(b"build output")
    evidence = tmp_path / "evidence"
    result = runner.invoke(
        app,
        [
            "gate",
            str(demo),
            "--scanners",
            "secrets",
            "--quiet",
            "--fail-on",
            "critical",
            "--artifact",
            str(artifact),
            "--key",
            str(key),
            "--evidence",
            str(evidence),
        ],
    )
    assert result.exit_code in (0, 1), result.output
    bundle = next(evidence.glob("*.bundle.tar.gz"))
    ok = runner.invoke(app, ["verify", str(bundle), "--key", f"{key}.pub", "--artifact", str(artifact)])
    assert ok.exit_code == 0, ok.output
    assert "VALID" in ok.output and "decision:" in ok.output
    other = tmp_path / "other.tar.gz"
    other.write_bytes(b"something else")
    bad = runner.invoke(app, ["verify", str(bundle), "--key", f"{key}.pub", "--artifact", str(other)])
    assert bad.exit_code == 1 and "not a subject" in bad.output
    from clearance.evidence.bundle import read_bundle

    blobs = [f.read_bytes() for f in evidence.iterdir()] + list(read_bundle(bundle).values())
    for secret in planted_secrets():
        for blob in blobs:
            assert secret.encode() not in blob


def test_gate_evidence_needs_a_key(demo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLEARANCE_SIGNING_KEY", raising=False)
    result = runner.invoke(
        app, ["gate", str(demo), "--scanners", "secrets", "--evidence", str(tmp_path / "e")]
    )
    assert result.exit_code == 2 and "no signing key" in result.output


def test_approvals_without_base_is_a_usage_error(demo: Path, tmp_path: Path) -> None:
    reviews = tmp_path / "reviews.json"
    reviews.write_text("[]")
    result = runner.invoke(app, ["gate", str(demo), "--scanners", "secrets", "--approvals", str(reviews)])
    assert result.exit_code == 2 and "--approvals needs --base" in result.output
