"""Routing through the real ingest path and API, on SQLite and PostgreSQL: gate runs of the demo
repository pushed to the ledger notify the owning team's Slack and open/close its GitHub issue;
subscriptions and deliveries through the API, scoped by token."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from clearance.ledger.service import Ledger, create_token
from clearance.notify.worker import Worker
from clearance.server.app import create_app
from clearance.server.settings import ServerSettings
from ledger.conftest import Api, Clock, DemoRuns, LedgerDB
from ledger.notify.peers import HttpPeer

ROUTING = """
[channels.payments-slack]
type = "slack"
url = "{url}/slack/payments"

[channels.search-slack]
type = "slack"
url = "{url}/slack/search"

[channels.security-github]
type = "github"
repo = "acme/security"
token_env = "ROUTING_TEST_GH_TOKEN"
api = "{url}"

[[subscriptions]]
team = "payments"
events = ["finding.new", "finding.reopened", "finding.fixed"]
min_severity = "critical"
channel = "payments-slack"

[[subscriptions]]
team = "payments"
events = ["finding.new", "finding.reopened", "finding.fixed"]
min_severity = "critical"
channel = "security-github"

[[subscriptions]]
team = "search"
events = ["finding.new"]
channel = "search-slack"
"""


@pytest.fixture
def routed(
    ledger_db: LedgerDB, tmp_path: Path, peer: HttpPeer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Api]:
    monkeypatch.setenv("ROUTING_TEST_GH_TOKEN", "ghs_test")
    routing = tmp_path / "routing.toml"
    routing.write_text(ROUTING.format(url=peer.url), encoding="utf-8")
    clock = Clock()
    settings = ServerSettings(
        db_url=ledger_db.url,
        log_key_path=tmp_path / "log.key",
        migrate=False,
        routing_path=routing,
        link_base="https://ledger.example",
    )
    app = create_app(settings, clock=clock, engine=ledger_db.engine)
    ledger: Ledger = app.state.ledger
    with ledger.write() as store:
        admin, _ = create_token(store, team=None, scopes=["admin"], expires_in_days=365)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client, ledger, clock, admin, ledger_db)


def push(api: Api, token: str, report: bytes, service: str) -> dict[str, Any]:
    r = api.client.post(
        "/api/v1/runs",
        content=report,
        headers={**api.auth(token), "Content-Type": "application/json"},
        params={"service": service},
    )
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def deliver(api: Api) -> None:
    routing = api.client.app.state.routing  # type: ignore[attr-defined]
    Worker(api.ledger, routing).run_once()


def test_a_new_critical_finding_notifies_its_team_once_and_the_fix_closes_the_ticket(
    routed: Api, demo_runs: DemoRuns, peer: HttpPeer
) -> None:
    payments = routed.token("payments", "ingest", "read")
    routed.token("search", "ingest", "read")
    push(routed, payments, demo_runs.report1, "billing")
    deliver(routed)
    slack_before, issues_before = len(peer.state.slack), len(peer.state.issues)
    assert slack_before >= 1 and issues_before == slack_before  # one message and one ticket per group

    routed.clock.advance(1)
    second = push(routed, payments, demo_runs.report2, "billing")
    severity = {f["fingerprint"]: f["severity"] for f in json.loads(demo_runs.report2)["findings"]}
    new_critical = [
        f for f in second["findings"] if f["result"] == "created" and severity[f["fingerprint"]] == "critical"
    ]
    assert len(new_critical) == 1 and new_critical[0]["rule_id"] == "secret.stripe-secret-key"
    deliver(routed)
    new_messages = peer.state.slack[slack_before:]
    created = [m for m in new_messages if "New finding" in json.dumps(m)]
    assert len(created) == 1
    text = json.dumps(created[0])
    assert "billing" in text and "payments" in text and "https://ledger.example/services/billing" in text
    # The demo already leaked a Stripe key: the new one joins that group's ticket (a comment), it does
    # not open a second ticket.
    assert len(peer.state.issues) == issues_before
    stripe = next(i for i in peer.state.issues.values() if "secret.stripe-secret-key" in i["title"])
    assert stripe["state"] == "open" and len(stripe["comments"]) == 1
    assert "team:payments" in {lb["name"] for lb in stripe["labels"]}
    assert not [r for r in peer.state.requests if r[1].startswith("/slack/search")]

    # Removing only the new key leaves the group open: the ticket gets a comment, stays open.
    report3 = json.loads(demo_runs.report2)
    report3["findings"] = [
        f for f in report3["findings"] if f["fingerprint"] != new_critical[0]["fingerprint"]
    ]
    routed.clock.advance(1)
    assert push(routed, payments, json.dumps(report3).encode(), "billing")["counts"]["fixed"] == 1
    deliver(routed)
    assert stripe["state"] == "open" and "still open" in stripe["comments"][-1]["body"]

    # Removing every Stripe key fixes the group: the ticket closes; nothing new is opened.
    report4 = dict(report3)
    report4["findings"] = [f for f in report3["findings"] if f["rule_id"] != "secret.stripe-secret-key"]
    routed.clock.advance(1)
    assert push(routed, payments, json.dumps(report4).encode(), "billing")["counts"]["fixed"] == 1
    deliver(routed)
    assert stripe["state"] == "closed" and len(peer.state.issues) == issues_before

    # Deliveries are visible to the team that owns them, not to another team.
    mine = routed.client.get("/api/v1/deliveries", headers=routed.auth(payments)).json()["deliveries"]
    assert mine and all(d["team"] == "payments" and d["state"] == "delivered" for d in mine)
    search = routed.token("search", "read")
    assert routed.client.get("/api/v1/deliveries", headers=routed.auth(search)).json()["deliveries"] == []


def test_subscriptions_api_is_scoped_and_validated(routed: Api, peer: HttpPeer) -> None:
    payments = routed.token("payments", "read")
    search = routed.token("search", "read")
    body = {
        "team": "payments",
        "events": ["sla.breached"],
        "channel": "payments-slack",
        "min_severity": "high",
    }
    r = routed.client.post("/api/v1/subscriptions", json=body, headers=routed.auth(payments))
    assert r.status_code == 201, r.text
    sub_id = r.json()["id"]
    r = routed.client.post("/api/v1/subscriptions", json=body, headers=routed.auth(search))
    assert r.status_code == 403
    r = routed.client.post(
        "/api/v1/subscriptions", json={**body, "channel": "nope"}, headers=routed.auth(payments)
    )
    assert r.status_code == 400 and "unknown channel" in r.json()["error"]["message"]
    r = routed.client.post(
        "/api/v1/subscriptions", json={**body, "events": ["finding.whatever"]}, headers=routed.auth(payments)
    )
    assert r.status_code == 400
    r = routed.client.post(
        "/api/v1/subscriptions", json={**body, "team": None}, headers=routed.auth(payments)
    )
    assert r.status_code == 403  # org-wide needs admin
    listed = routed.client.get("/api/v1/subscriptions", headers=routed.auth(search)).json()["subscriptions"]
    assert all(s["team"] in ("search", None) for s in listed)
    assert (
        routed.client.delete(f"/api/v1/subscriptions/{sub_id}", headers=routed.auth(search)).status_code
        == 403
    )
    assert (
        routed.client.delete(f"/api/v1/subscriptions/{sub_id}", headers=routed.auth(payments)).status_code
        == 200
    )
    r = routed.client.get("/api/v1/audit/entries", headers=routed.auth(routed.admin))
    if r.status_code == 200:
        assert "subscription.created" in r.text


def test_routing_endpoints_say_when_routing_is_off(api: Api) -> None:
    r = api.client.get("/api/v1/subscriptions", headers=api.auth(api.admin))
    assert r.status_code == 409 and "--routing" in r.json()["error"]["hint"]
