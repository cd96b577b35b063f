"""The outbox from the command line: worker --once delivers, deliveries lists, retry puts dead ones
back, routing-check validates (exit 4 with the key that is wrong)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clearance.cli import app
from clearance.ledger import db
from clearance.ledger.tables import Finding, FindingEvent, GateRun, Service, Team
from ledger.notify.peers import HttpPeer

runner = CliRunner()
NOW = dt.datetime.now(dt.UTC)


def _seed(url: str) -> None:
    engine = db.create_engine(url)
    db.migrate(engine)
    with db.session_factory(engine).begin() as s:
        team = Team(name="team-a", contacts={}, created_at=NOW)
        s.add(team)
        s.flush()
        svc = Service(name="payments-api", team_id=team.id, created_at=NOW)
        s.add(svc)
        s.flush()
        run = GateRun(service_id=svc.id, report_sha256="r1", mode="full", decided_at=NOW, received_at=NOW)
        f = Finding(
            service_id=svc.id,
            fingerprint="fp",
            scanner="secrets",
            kind="secret",
            rule_id="secret.x",
            title="a leaked key",
            severity="critical",
            status="open",
            first_seen=NOW,
            last_seen=NOW,
        )
        s.add_all([run, f])
        s.flush()
        s.add(FindingEvent(finding_id=f.id, run_id=run.id, event="created", at=NOW))
    engine.dispose()


def test_worker_once_delivers_then_dead_letters_are_listed_and_retried(
    tmp_path: Path, peer: HttpPeer, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    _seed(url)
    routing = tmp_path / "routing.toml"
    routing.write_text(
        f'[channels.s]\ntype = "slack"\nurl = "{peer.url}/slack/a"\n'
        '[[subscriptions]]\nteam = "team-a"\nevents = ["finding.new"]\nchannel = "s"\n',
        encoding="utf-8",
    )
    key = ["--log-key", str(tmp_path / "log.key")]
    peer.fail("POST", "/slack/a", 410, 1)  # the hook was deleted: a permanent refusal
    result = runner.invoke(app, ["ledger", "worker", "--routing", str(routing), "--db", url, "--once", *key])
    assert result.exit_code == 3, result.output  # something could not be delivered: incomplete
    assert "1 dead" in result.output and "HTTP 410" in result.output

    listed = runner.invoke(app, ["ledger", "deliveries", "--state", "dead", "--db", url, "--format", "json"])
    assert listed.exit_code == 0, listed.output
    assert '"state": "dead"' in listed.output and "New finding: secret.x" in listed.output

    retried = runner.invoke(app, ["ledger", "deliveries", "retry", "--db", url, *key])
    assert retried.exit_code == 0 and "1 dead delivery queued again" in retried.output
    result = runner.invoke(app, ["ledger", "worker", "--routing", str(routing), "--db", url, "--once", *key])
    assert result.exit_code == 0 and "1 delivered" in result.output
    assert len(peer.state.slack) == 1

    bad = runner.invoke(app, ["ledger", "deliveries", "--state", "lost", "--db", url])
    assert bad.exit_code == 2


def test_routing_check(tmp_path: Path) -> None:
    good = tmp_path / "routing.yaml"
    good.write_text(
        "channels:\n  hook: {type: webhook, url: 'https://h.example/x', secret_env: S}\n"
        "subscriptions:\n  - {org: true, events: [deploy.denied], channel: hook}\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["ledger", "routing-check", str(good)])
    assert result.exit_code == 0 and "deploy.denied" in result.output
    bad = tmp_path / "bad.toml"
    bad.write_text('[channels.x]\ntype = "slack"\n', encoding="utf-8")
    result = runner.invoke(app, ["ledger", "routing-check", str(bad)])
    assert result.exit_code == 4 and "channels.x" in result.output
