"""`clearance deploy check|approve|record`, `clearance drift report`, `clearance ledger metrics`
against the real app (the CLI's HTTP client is pointed at the app's test transport)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clearance.cli import app
from clearance.cli import deploy as cli_deploy
from clearance.deploy.client import DeployClient
from clearance.ledger.service import create_token

from . import test_deploy_flow as flow
from .conftest import Api
from .test_deploy_flow import PassingRun

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "deploy"
DIGEST = "sha256:" + "7c1e" * 16
passing_run = flow.passing_run  # the session fixture of the flow test (one real gate run)


@pytest.fixture
def cli(api: Api, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    def client(server: str | None, token: str | None) -> DeployClient:
        c = DeployClient("http://testserver", token or "missing")
        c._client = api.client  # the app in process, with the CLI's own headers per request
        c._client.headers["Authorization"] = f"Bearer {token}"
        return c

    monkeypatch.setattr(cli_deploy, "_client", client)
    return CliRunner()


def token(api: Api, name: str, team: str, *scopes: str) -> str:
    with api.ledger.write() as store:
        secret, _ = create_token(store, team=team, scopes=list(scopes), name=name, expires_in_days=365)
    return secret


def test_cli_flow(api: Api, cli: CliRunner, passing_run: PassingRun) -> None:
    alice = token(api, "alice", "payments", "deploy", "read", "ingest")
    bob = token(api, "bob", "payments", "deploy")
    eve = token(api, "eve", "security", "deploy")
    base = ["--service", "shop", "--digest", DIGEST, "--token", alice]

    r = cli.invoke(app, ["deploy", "check", "--env", "prod", *base])
    assert r.exit_code == 1 and r.stdout.startswith("DENY: shop → prod"), r.output
    assert "✗ evidence     unknown service 'shop'" in r.stdout

    # a JSON report without a bundle creates the service (unverified evidence)
    push = api.client.post(
        "/api/v1/runs", content=passing_run.report, params={"service": "shop", "version": "2.0.0"},
        headers={**api.auth(alice), "Content-Type": "application/json"},
    )  # fmt: skip
    assert push.status_code == 200, push.text
    r = cli.invoke(app, ["deploy", "record", "--env", "dev", "--started", "2026-11-01T09:00:00Z", "--version", "2.0.0",
                         "--commit", "abc123=2026-10-31T09:00:00Z", *base])  # fmt: skip
    assert r.exit_code == 0 and "deployment 1 recorded (succeeded)" in r.stdout, r.output
    r = cli.invoke(app, ["deploy", "check", "--env", "prod", "--format", "json", *base])
    assert r.exit_code == 1
    doc = json.loads(r.stdout)
    assert doc["answer"] == "deny" and "no evidence bundle (JSON report only)" in doc["reasons"][0]

    for who in (bob, eve):
        r = cli.invoke(
            app,
            ["deploy", "approve", "--env", "prod", "--service", "shop", "--digest", DIGEST, "--token", who],
        )
        assert r.exit_code == 0 and "recorded" in r.stdout, r.output
    r = cli.invoke(
        app, ["deploy", "approve", "--env", "prod", "--service", "shop", "--digest", DIGEST, "--token", eve]
    )
    assert "already recorded" in r.stdout

    r = cli.invoke(app, ["drift", "report", "--env", "prod", "--service", "shop", "--token", alice,
                         "--plan", str(FIXTURES / "tf-show-drift.json")])  # fmt: skip
    assert r.exit_code == 0 and r.stdout.startswith("drift drifted: 3 resource(s) differ"), r.output
    r = cli.invoke(app, ["drift", "report", "--env", "prod", "--service", "shop", "--token", alice,
                         "--plan", str(FIXTURES / "tf-plan-ui.jsonl"), "--only-drift"])  # fmt: skip
    assert r.exit_code == 0 and "1 resource(s) differ" in r.stdout, r.output
    r = cli.invoke(
        app, ["drift", "report", "--env", "prod", "--service", "shop", "--token", alice, "--exit-code", "1"]
    )
    assert "drift unknown" in r.stdout
    r = cli.invoke(app, ["drift", "report", "--env", "prod", "--service", "shop", "--token", alice])
    assert r.exit_code == 2 and "exactly one of --plan and --exit-code" in r.output

    r = cli.invoke(
        app, ["ledger", "metrics", "dora", "--team", "payments", "--format", "json", "--token", alice]
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["scope"] == "team:payments"
    r = cli.invoke(app, ["ledger", "metrics", "security", "--format", "csv", "--token", alice])
    assert r.exit_code == 0 and r.stdout.splitlines()[0] == "metric,value"
    assert any(line.startswith("open_by_age.0-7,") for line in r.stdout.splitlines())
    r = cli.invoke(app, ["ledger", "metrics", "dora", "--token", alice])
    assert r.exit_code == 0 and "deployment_frequency_band" in r.stdout
    r = cli.invoke(app, ["ledger", "metrics", "dora", "--window", "1y", "--token", alice])
    assert r.exit_code == 3 and "window must be like 90d" in r.output


def test_cli_usage_errors(cli: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLEARANCE_TOKEN", raising=False)
    r = cli.invoke(
        app,
        ["deploy", "record", "--env", "prod", "--service", "s", "--digest", DIGEST, "--started", "yesterday"],
    )
    assert r.exit_code == 2 and "not an ISO 8601 time" in r.output
    r = cli.invoke(
        app,
        [
            "deploy",
            "record",
            "--env",
            "prod",
            "--service",
            "s",
            "--digest",
            DIGEST,
            "--started",
            "2026-11-01T09:00:00",
        ],
    )
    assert r.exit_code == 2 and "needs a time zone" in r.output


def test_cli_finds_the_digest_to_check(api: Api, cli: CliRunner, passing_run: PassingRun) -> None:
    """`deploy releases` lists version, commit and digest; `deploy check --version` resolves it."""
    alice = token(api, "alice", "payments", "deploy", "read", "ingest")
    mallory = token(api, "mallory", "marketing", "read")
    r = api.client.post("/api/v1/keys", json={"team": "payments", "public_key_pem": passing_run.public_key},
                        headers=api.auth(api.admin))  # fmt: skip
    assert r.status_code == 201, r.text
    push = api.client.post(
        "/api/v1/runs",
        files={"report": ("report.json", passing_run.report), "bundle": ("b.tar.gz", passing_run.bundle)},
        data={"service": "shop", "version": "2.0.0"},
        headers=api.auth(alice),
    )
    assert push.status_code == 200, push.text

    r = cli.invoke(app, ["deploy", "releases", "--service", "shop", "--format", "json", "--token", alice])
    assert r.exit_code == 0, r.output
    (release,) = json.loads(r.stdout)
    digest = release["artifact_digest"]
    assert release["version"] == "2.0.0" and digest == flow.DIGEST
    r = cli.invoke(app, ["deploy", "releases", "--service", "shop", "--token", alice], env={"COLUMNS": "80"})
    assert r.exit_code == 0 and "2.0.0" in r.stdout and digest in r.stdout, r.output
    assert max(map(len, r.stdout.splitlines())) <= 80, r.stdout  # the digest on its own line, whole
    r = cli.invoke(app, ["deploy", "releases", "--service", "shop", "--token", alice], env={"COLUMNS": "200"})
    assert any(line.startswith("2.0.0") and line.endswith(digest) for line in r.stdout.splitlines()), r.stdout

    r = cli.invoke(
        app, ["deploy", "check", "--service", "shop", "--env", "prod", "--version", "2.0.0", "--token", alice]
    )
    assert r.exit_code == 1 and r.stdout.startswith(f"NEEDS-APPROVAL: shop → prod {digest}"), r.output  # fmt: skip
    assert "✓ evidence" in r.stdout  # the digest of 2.0.0 is the one its verified bundle names
    log = api.client.get("/api/v1/gates/deploy/decisions", headers=api.auth(api.admin)).json()["decisions"]
    assert [d["artifact_digest"] for d in log] == [digest]

    r = cli.invoke(
        app, ["deploy", "check", "--service", "shop", "--env", "prod", "--version", "9.9.9", "--token", alice]
    )
    assert r.exit_code == 2 and "no release '9.9.9' of 'shop'" in r.output  # fmt: skip
    r = cli.invoke(app, ["deploy", "check", "--service", "shop", "--env", "prod", "--token", alice])
    assert r.exit_code == 2 and "give --digest, or --version" in r.output
    # another team's token does not learn shop's digests
    r = cli.invoke(app, ["deploy", "releases", "--service", "shop", "--token", mallory])
    assert r.exit_code != 0 and digest not in r.output
