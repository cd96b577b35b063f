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

[channels.security-hook]
type = "webhook"
url = "{url}/hook/security"
secret_env = "ROUTING_TEST_HOOK_SECRET"

[[subscriptions]]
org = true
events = ["deploy.denied", "evidence.missing", "drift.reported"]
channel = "security-hook"
"""


@pytest.fixture
def routed(
    ledger_db: LedgerDB, tmp_path: Path, peer: HttpPeer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Api]:
    monkeypatch.setenv("ROUTING_TEST_GH_TOKEN", "ghs_test")
    monkeypatch.setenv("ROUTING_TEST_HOOK_SECRET", "hook-secret")
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


def slack_to(peer: HttpPeer, path: str) -> list[dict[str, Any]]:
    """The Slack messages posted to one webhook path, in order."""
    return [json.loads(body) for method, p, _, body in peer.state.requests if method == "POST" and p == path]


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


ZERO_DAY = {
    "schema_version": "1.6.0",
    "id": "GHSA-zero-day-requests",
    "aliases": ["CVE-2026-99999"],
    "modified": "2026-11-30T00:00:00Z",
    "published": "2026-11-30T00:00:00Z",
    "summary": "requests leaks Proxy-Authorization headers to redirected hosts",
    "affected": [
        {
            "package": {"ecosystem": "PyPI", "name": "requests", "purl": "pkg:pypi/requests"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.32.4"}]}],
        }
    ],
    "database_specific": {"severity": "HIGH"},
}


def _one_critical(report: bytes) -> tuple[bytes, bytes, str]:
    """A report with exactly one critical finding (the GitHub PAT), and the same run without it."""
    data = json.loads(report)
    pat = next(f for f in data["findings"] if f["rule_id"] == "secret.github-pat")
    with_it = dict(data, findings=[f for f in data["findings"] if f["severity"] != "critical" or f is pat])
    without = dict(data, findings=[f for f in with_it["findings"] if f is not pat])
    return json.dumps(with_it).encode(), json.dumps(without).encode(), pat["fingerprint"]


def test_done_means_one_slack_message_and_one_issue_for_team_a_and_the_fix_closes_it(
    routed: Api, demo_runs: DemoRuns, peer: HttpPeer
) -> None:
    payments = routed.token("payments", "ingest", "read")
    search = routed.token("search", "ingest", "read")
    first, fixed, fingerprint = _one_critical(demo_runs.report2)
    result = push(routed, payments, first, "checkout")
    assert (
        sum(1 for f in result["findings"] if f["fingerprint"] == fingerprint and f["result"] == "created")
        == 1
    )
    push(routed, search, fixed, "search-api")  # team B's service: no critical finding
    deliver(routed)
    to_a = slack_to(peer, "/slack/payments")
    to_b = slack_to(peer, "/slack/search")
    assert len(to_a) == 1 and "checkout" in json.dumps(to_a[0]) and "github-pat" in json.dumps(to_a[0])
    assert len(peer.state.issues) == 1 and peer.state.issues[1]["state"] == "open"
    assert "secret.github-pat" in peer.state.issues[1]["title"]
    assert not any("checkout" in json.dumps(m) or "github-pat" in json.dumps(m) for m in to_b)

    routed.clock.advance(1)
    assert push(routed, payments, fixed, "checkout")["counts"]["fixed"] == 1
    deliver(routed)
    assert peer.state.issues[1]["state"] == "closed" and len(peer.state.issues) == 1
    assert any("Finding fixed" in json.dumps(m) for m in slack_to(peer, "/slack/payments"))


def test_zero_day_rematch_notifies_each_owner_once(
    ledger_db: LedgerDB, tmp_path: Path, peer: HttpPeer, demo_runs: DemoRuns
) -> None:
    import os
    import shutil
    import subprocess
    import sys

    from clearance.ledger.affected import rematch
    from clearance.ledger.matching import AdvisoryMatcher

    advisories = tmp_path / "advisories"
    shutil.copytree(demo_runs.advisory_dir, advisories)
    routing = tmp_path / "routing.toml"
    routing.write_text(
        f'[channels.a]\ntype = "slack"\nurl = "{peer.url}/slack/payments"\n'
        f'[channels.b]\ntype = "slack"\nurl = "{peer.url}/slack/search"\n'
        '[[subscriptions]]\nteam = "payments"\nevents = ["advisory.newly_affected"]\nchannel = "a"\n'
        '[[subscriptions]]\nteam = "search"\nevents = ["advisory.newly_affected"]\nchannel = "b"\n',
        encoding="utf-8",
    )
    settings = ServerSettings(
        db_url=ledger_db.url,
        log_key_path=tmp_path / "log.key",
        migrate=False,
        routing_path=routing,
        advisory_db_dir=advisories,
    )
    app = create_app(settings, clock=Clock(), engine=ledger_db.engine)
    ledger: Ledger = app.state.ledger
    with ledger.write() as store:
        tokens = {
            t: create_token(store, team=t, scopes=["ingest", "deploy"], expires_in_days=30)[0]
            for t in ("payments", "search")
        }
    with TestClient(app, raise_server_exceptions=False) as client:
        for team, service in (("payments", "billing"), ("search", "reports")):
            r = client.post(
                "/api/v1/runs",
                content=demo_runs.report1,
                params={"service": service},
                headers={"Authorization": f"Bearer {tokens[team]}", "Content-Type": "application/json"},
            )
            assert r.status_code == 200, r.text
            release = r.json()["release"]["version"]
        # billing's release runs in prod (the deploy tool reported it); reports runs nowhere yet.
        r = client.post(
            "/api/v1/deployments",
            json={
                "service": "billing",
                "env": "prod",
                "artifact_digest": "sha256:" + "d" * 64,
                "version": release,
                "status": "succeeded",
                "started_at": "2026-11-01T08:00:00Z",
                "finished_at": "2026-11-01T08:05:00Z",
            },
            headers={"Authorization": f"Bearer {tokens['payments']}"},
        )
        assert r.status_code in (200, 201), r.text
    Worker(ledger, app.state.routing).run_once()
    assert peer.state.slack == []  # nothing newly affected yet

    # An advisory published today: import it, re-match every stored release.
    new = tmp_path / "new" / "PyPI"
    new.mkdir(parents=True)
    (new / "GHSA-zero-day-requests.json").write_text(json.dumps(ZERO_DAY), encoding="utf-8")
    env = dict(os.environ, CLEARANCE_DB_DIR=str(advisories))
    subprocess.run(
        [sys.executable, "-m", "clearance", "db", "import", str(tmp_path / "new")],
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )
    with ledger.write() as store:  # routing runs inside this unit of work
        matcher = AdvisoryMatcher.open(advisories)
        try:
            result = rematch(store, matcher)
        finally:
            matcher.close()
    assert {i["service"] for i in result.newly_affected} == {"billing", "reports"}
    Worker(ledger, app.state.routing).run_once()
    payments = [
        m for r, m in zip(peer.state.requests, peer.state.slack, strict=False) if "/slack/payments" in r[1]
    ]
    texts = [json.dumps(m) for m in peer.state.slack]
    assert len(texts) == 2
    assert sum("now affects billing" in t and "payments" in t for t in texts) == 1
    assert sum("now affects reports" in t and "search" in t for t in texts) == 1
    assert payments is not None


def _login(api: Api, token: str) -> str:
    """Log in to the dashboard; returns the page's CSRF token."""
    import re

    form = api.client.get("/ui/login")
    nonce = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert nonce, form.text
    r = api.client.post("/ui/login", data={"token": token, "csrf": nonce.group(1)}, follow_redirects=False)
    assert r.status_code == 303, r.text
    page = api.client.get("/ui/deliveries")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    return csrf.group(1) if csrf else ""


def test_dashboard_shows_dead_deliveries_and_retries_them(
    routed: Api, demo_runs: DemoRuns, peer: HttpPeer
) -> None:
    payments = routed.token("payments", "ingest", "read")
    first, _, _ = _one_critical(demo_runs.report2)
    peer.fail("POST", "/slack/payments", 404, 1)  # the hook is gone: dead at once
    push(routed, payments, first, "checkout")
    deliver(routed)
    csrf = _login(routed, payments)
    page = routed.client.get("/ui/deliveries")
    assert page.status_code == 200 and 'data-dead="1"' in page.text and "HTTP 404" in page.text
    assert routed.client.post("/ui/deliveries/retry", data={"csrf": "forged"}).status_code == 403
    r = routed.client.post("/ui/deliveries/retry", data={"csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303
    deliver(routed)
    assert 'data-dead="0"' in routed.client.get("/ui/deliveries").text
    assert len(slack_to(peer, "/slack/payments")) == 2  # the refused attempt and the retried delivery


def test_a_prod_deploy_without_evidence_reaches_the_security_hook_signed(
    routed: Api, demo_runs: DemoRuns, peer: HttpPeer
) -> None:
    from clearance.notify.channels.webhook import verify_signature

    payments = routed.token("payments", "ingest", "read", "deploy")
    push(routed, payments, demo_runs.report2, "billing")
    r = routed.client.post(
        "/api/v1/gates/deploy",
        json={"service": "billing", "env": "prod", "artifact_digest": "sha256:" + "c" * 64},
        headers=routed.auth(payments),
    )
    assert r.status_code == 200, r.text
    assert r.json()["answer"] == "deny"
    deliver(routed)
    assert len(peer.state.hooks) == 1
    headers, body = peer.state.hooks[0]
    now = int(routed.clock().timestamp())
    assert verify_signature(b"hook-secret", headers["clearance-signature"], body, now)
    event = json.loads(body)["event"]
    assert event["kind"] == "evidence.missing" and event["service"] == "billing" and event["env"] == "prod"
    assert "evidence" in event["summary"]
