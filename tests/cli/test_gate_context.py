"""The gate's context through the real path: CI variables in, links and times out."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from typer.testing import CliRunner

from clearance.cli import app
from clearance.evidence import dsse
from clearance.evidence.bundle import read_bundle

runner = CliRunner()


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A committed EC private key: a blocking finding spanning lines 3-7 of app/settings.py."""
    root = tmp_path / "shop"
    (root / "app").mkdir(parents=True)
    _git(tmp_path, "init", "-q", "-b", "main", str(root))
    _git(root, "config", "user.email", "dev@example.com")
    _git(root, "config", "user.name", "Dev")
    pem = (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
        .decode()
    )
    (root / "app" / "settings.py").write_text("import os\n\n" + pem)
    _git(root, "add", ".")
    _git(root, "commit", "-qm", "settings")
    return root


GITLAB_ENV = {
    "GITLAB_CI": "true",
    "CI_SERVER_URL": "https://gitlab.example.com",
    "CI_PROJECT_PATH": "acme/shop",
    "CI_COMMIT_REF_NAME": "feature/cart",
    "GITHUB_ACTIONS": "",
}


def test_gitlab_pipeline_writes_gitlab_links(repo: Path, tmp_path: Path) -> None:
    """Issue 9: the context renamed `provider`, so a GitLab pipeline got GitHub-shaped links."""
    sha = _git(repo, "rev-parse", "HEAD").strip()
    env = {**GITLAB_ENV, "CI_COMMIT_SHA": sha}
    sarif = tmp_path / "out.sarif"
    result = runner.invoke(
        app, ["gate", str(repo), "-s", "secrets", "-q", "-f", "markdown", "-o", f"sarif:{sarif}"], env=env
    )
    assert result.exit_code == 1, result.output
    link = f"https://gitlab.example.com/acme/shop/-/blob/{sha}/app/settings.py#L3-7"
    assert f"]({link})" in result.stdout
    assert "#L3-L7" not in result.stdout
    provenance = json.loads(sarif.read_text())["runs"][0]["versionControlProvenance"][0]
    assert provenance == {
        "repositoryUri": "https://gitlab.example.com/acme/shop",
        "revisionId": sha,
        "branch": "feature/cart",
    }


def test_github_actions_writes_github_links(repo: Path) -> None:
    sha = _git(repo, "rev-parse", "HEAD").strip()
    env = {"GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": "acme/shop", "GITHUB_SHA": sha, "GITLAB_CI": ""}
    result = runner.invoke(app, ["gate", str(repo), "-s", "secrets", "-q", "-f", "markdown"], env=env)
    assert f"](https://github.com/acme/shop/blob/{sha}/app/settings.py#L3-L7)" in result.stdout


def test_report_and_evidence_share_one_decision_time(repo: Path, tmp_path: Path) -> None:
    """The JSON report's `decided_at` and the signed decision's `timeDecided` are one clock reading."""
    key = tmp_path / "k.pem"
    assert runner.invoke(app, ["keygen", "-o", str(key)]).exit_code == 0
    report = tmp_path / "report.json"
    out = tmp_path / "evidence"
    result = runner.invoke(
        app,
        [
            "gate",
            str(repo),
            "-s",
            "secrets",
            "-q",
            "-o",
            f"json:{report}",
            "--evidence",
            str(out),
            "--key",
            str(key),
        ],
        env={"GITLAB_CI": "", "GITHUB_ACTIONS": ""},
    )
    assert result.exit_code == 1, result.output
    decided_at = dt.datetime.fromisoformat(json.loads(report.read_text())["context"]["decided_at"])
    (bundle,) = out.glob("*.bundle.tar.gz")
    members = read_bundle(bundle)
    (envelope,) = dsse.parse_jsonl(members["decision.intoto.jsonl"].decode(), "decision")
    time_decided = json.loads(envelope.payload)["predicate"]["timeDecided"]
    assert time_decided == decided_at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    bundled = json.loads(members["results.json"])
    assert bundled["context"]["decided_at"] == decided_at.isoformat()
