"""Channel adapters against loopback peers: payloads, signatures, retries, idempotent tickets."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from clearance.model import Severity
from clearance.notify.channels.base import OutcomeKind, TicketState
from clearance.notify.channels.chat import SlackChannel, TeamsChannel, slack_payload
from clearance.notify.channels.email import EmailChannel, SmtpSettings
from clearance.notify.channels.tickets import GitHubIssuesChannel, JiraChannel, group_label
from clearance.notify.channels.webhook import WebhookChannel, sign, verify_signature
from clearance.notify.events import Event, EventKind
from clearance.notify.http import Http, retry_after
from ledger.notify.conftest import NOW, Clock
from ledger.notify.peers import HttpPeer, SmtpPeer


def event(kind: EventKind = EventKind.FINDING_NEW, **kw: object) -> Event:
    base: dict[str, object] = {
        "kind": kind,
        "team": "team-payments",
        "service": "payments-api",
        "title": "New finding: GHSA-h5c8-rqwp-cp95",
        "occurred_at": NOW,
        "severity": Severity.CRITICAL,
        "env": "prod",
        "group": "payments-api:GHSA-h5c8-rqwp-cp95",
        "summary": "jinja2 2.11.2 is vulnerable to sandbox escape",
        "owner": "team-payments",
        "due": dt.date(2026, 12, 8),
        "link": "https://ledger.example/services/payments-api",
        "advisory": "GHSA-h5c8-rqwp-cp95",
        "fingerprints": ("f1",),
    }
    base.update(kw)
    return Event(**base)  # type: ignore[arg-type]


def test_event_json_round_trip_and_stable_key() -> None:
    e = event()
    again = Event.from_json(json.loads(json.dumps(e.to_json())))
    assert again == e and again.key == e.key
    assert event(occurred_at=NOW + dt.timedelta(seconds=1)).key != e.key


def test_webhook_is_signed_and_verifiable(peer: HttpPeer, clock: Clock) -> None:
    secret = b"s3cret-shared"
    channel = WebhookChannel(f"{peer.url}/hook/x", secret, Http(), clock)
    outcome = channel.send(event(), "key-1", TicketState())
    assert outcome.kind is OutcomeKind.DELIVERED
    headers, body = peer.state.hooks[0]
    now = int(NOW.timestamp())
    assert verify_signature(secret, headers["clearance-signature"], body, now)
    assert headers["clearance-delivery"] == "key-1"
    assert json.loads(body)["event"]["service"] == "payments-api"
    assert not verify_signature(secret, headers["clearance-signature"], body + b" ", now)  # tampered
    assert not verify_signature(b"other", headers["clearance-signature"], body, now)  # wrong secret
    assert not verify_signature(secret, headers["clearance-signature"], body, now + 301)  # replayed later


def test_signature_is_hmac_sha256_over_timestamp_and_body() -> None:
    # Independent recomputation, as a receiver in another language would do it.
    import hashlib
    import hmac

    header = sign(b"k", 1700000000, b'{"a":1}')
    expected = hmac.new(b"k", b'1700000000.{"a":1}', hashlib.sha256).hexdigest()
    assert header == f"t=1700000000,v1={expected}"


def test_slack_message_reads_on_a_phone_and_escapes(peer: HttpPeer) -> None:
    e = event(summary="<!channel> & <https://evil|click>")
    outcome = SlackChannel(f"{peer.url}/slack/T/B/X", Http()).send(e, "k", TicketState())
    assert outcome.kind is OutcomeKind.DELIVERED
    msg = peer.state.slack[0]
    text = json.dumps(msg)
    assert "payments-api (prod)" in text and "team-payments" in text and "2026-12-08" in text
    assert "<!channel>" not in text and "&lt;!channel&gt;" in text
    assert msg["blocks"][-1]["elements"][0]["url"] == "https://ledger.example/services/payments-api"
    assert slack_payload(e)["text"].startswith("[CRITICAL]")


def test_teams_card(peer: HttpPeer) -> None:
    outcome = TeamsChannel(f"{peer.url}/teams/x", Http()).send(event(), "k", TicketState())
    assert outcome.kind is OutcomeKind.DELIVERED
    card = peer.state.teams[0]["attachments"][0]["content"]
    assert card["type"] == "AdaptiveCard"
    facts = {f["title"]: f["value"] for f in card["body"][-1]["facts"]}
    assert facts["Owner"] == "team-payments" and facts["Due"] == "2026-12-08"


@pytest.mark.parametrize(
    ("status", "retry", "kind"),
    [(503, None, OutcomeKind.RETRY), (429, "120", OutcomeKind.RETRY), (404, None, OutcomeKind.REJECTED)],
)
def test_receiver_errors_are_classified(
    peer: HttpPeer, status: int, retry: str | None, kind: OutcomeKind
) -> None:
    peer.fail("POST", "/slack/", status, 1, retry_after=retry)
    outcome = SlackChannel(f"{peer.url}/slack/x", Http()).send(event(), "k", TicketState())
    assert outcome.kind is kind
    if retry:
        assert outcome.retry_after == 120.0


def test_unreachable_receiver_is_retried_and_credentials_never_shown() -> None:
    outcome = SlackChannel("http://user:hunter2@127.0.0.1:9/slack", Http()).send(event(), "k", TicketState())
    assert outcome.kind is OutcomeKind.RETRY
    assert "hunter2" not in outcome.detail and "user:" not in outcome.detail


def test_retry_after_http_date() -> None:
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert retry_after("garbage") is None
    assert retry_after("999999") == 86_400.0


def test_email_plain_and_html(smtp: SmtpPeer) -> None:
    channel = EmailChannel(
        SmtpSettings(smtp.host, smtp.port, sender="ledger@acme.example"), ["pay@acme.example"]
    )
    assert channel.send(event(), "k1", TicketState()).kind is OutcomeKind.DELIVERED
    assert (
        channel.send_many([event(), event(service="billing", team="team-billing")], "d1").kind
        is OutcomeKind.DELIVERED
    )
    single, digest = smtp.messages
    assert single["Subject"].startswith("[CRITICAL] New finding") and single["To"] == "pay@acme.example"
    kinds = [p.get_content_type() for p in single.walk()]
    assert "text/plain" in kinds and "text/html" in kinds
    assert "2 events" in digest["Subject"]
    assert single["Message-ID"] != digest["Message-ID"]


def test_email_server_down_is_retried() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    outcome = EmailChannel(SmtpSettings("127.0.0.1", port), ["a@b.example"]).send(event(), "k", TicketState())
    assert outcome.kind is OutcomeKind.RETRY


def github(peer: HttpPeer) -> GitHubIssuesChannel:
    return GitHubIssuesChannel("acme/security", "ghs_token", Http(), api=peer.url, labels=["clearance"])


def test_github_one_issue_per_group_updated_closed_reopened(peer: HttpPeer) -> None:
    gh = github(peer)
    first = gh.send(event(), "k1", TicketState())
    assert first.kind is OutcomeKind.DELIVERED and first.ticket == "acme/security#1"
    issue = peer.state.issues[1]
    labels = {lb["name"] for lb in issue["labels"]}
    assert {group_label(event()), "team:team-payments", "severity:critical", "clearance"} <= labels
    again = gh.send(event(occurred_at=NOW + dt.timedelta(days=1)), "k2", TicketState(first.ticket))
    assert again.ticket == "acme/security#1" and len(peer.state.issues) == 1 and len(issue["comments"]) == 1
    fixed = gh.send(event(EventKind.FINDING_FIXED), "k3", TicketState(first.ticket))
    assert fixed.kind is OutcomeKind.DELIVERED and issue["state"] == "closed"
    reopened = gh.send(event(EventKind.FINDING_REOPENED), "k4", TicketState(first.ticket))
    assert reopened.kind is OutcomeKind.DELIVERED and issue["state"] == "open"
    assert len(peer.state.issues) == 1


def test_github_lost_answer_on_create_does_not_duplicate(peer: HttpPeer) -> None:
    peer.fail("POST", "/repos/acme/security/issues", 502, 1, lose_answer=True)
    gh = github(peer)
    first = gh.send(event(), "k1", TicketState())
    assert first.kind is OutcomeKind.RETRY and len(peer.state.issues) == 1  # created, answer lost
    second = gh.send(event(), "k1", TicketState())  # the retry finds it by its group label
    assert second.kind is OutcomeKind.DELIVERED and second.ticket == "acme/security#1"
    assert len(peer.state.issues) == 1


def test_github_lost_answer_on_comment_does_not_duplicate(peer: HttpPeer) -> None:
    gh = github(peer)
    gh.send(event(), "k1", TicketState())
    peer.fail("POST", "/repos/acme/security/issues/1/comments", 502, 1, lose_answer=True)
    assert gh.send(event(), "k2", TicketState("acme/security#1")).kind is OutcomeKind.RETRY
    assert gh.send(event(), "k2", TicketState("acme/security#1")).kind is OutcomeKind.DELIVERED
    assert len(peer.state.issues[1]["comments"]) == 1


def test_github_bad_token_is_rejected_not_retried(peer: HttpPeer) -> None:
    peer.fail("GET", "/repos/acme/security/issues", 401, 1)
    assert github(peer).send(event(), "k", TicketState()).kind is OutcomeKind.REJECTED


def test_fixed_without_a_ticket_is_a_no_op(peer: HttpPeer) -> None:
    outcome = github(peer).send(event(EventKind.FINDING_FIXED), "k", TicketState())
    assert outcome.kind is OutcomeKind.DELIVERED and not peer.state.issues


def test_jira_lifecycle(peer: HttpPeer) -> None:
    jira = JiraChannel(peer.url, "SEC", Http(), auth_header="Bearer pat", components_from_owner=True)
    created = jira.send(event(), "k1", TicketState())
    assert created.ticket == "SEC-1" and created.ticket_url == f"{peer.url}/browse/SEC-1"
    issue = peer.state.jira["SEC-1"]
    assert issue["fields"]["components"] == [{"name": "team-payments"}]
    assert group_label(event()) in issue["fields"]["labels"]
    assert jira.send(event(), "k2", TicketState()).ticket == "SEC-1"  # found by label, not duplicated
    jira.send(event(EventKind.FINDING_FIXED), "k3", TicketState("SEC-1"))
    assert issue["fields"]["status"]["statusCategory"]["key"] == "done"
    jira.send(event(EventKind.FINDING_REOPENED), "k4", TicketState("SEC-1"))
    assert issue["fields"]["status"]["statusCategory"]["key"] == "new"
    assert len(peer.state.jira) == 1 and len(issue["comments"]) == 3


def test_jira_v3_cloud_uses_search_jql_and_document_format(peer: HttpPeer) -> None:
    jira = JiraChannel(peer.url, "SEC", Http(), auth_header="Basic eDp5", api_version=3)
    created = jira.send(event(), "k1", TicketState())
    assert created.kind is OutcomeKind.DELIVERED and created.ticket == "SEC-1"
    assert peer.state.jira["SEC-1"]["fields"]["description"]["type"] == "doc"
    assert jira.send(event(), "k2", TicketState()).ticket == "SEC-1"  # found through /search/jql
    assert len(peer.state.jira) == 1


def test_a_partial_fix_comments_and_keeps_the_ticket_open(peer: HttpPeer) -> None:
    gh = github(peer)
    first = gh.send(event(), "k1", TicketState())
    partial = gh.send(event(EventKind.FINDING_FIXED, still_open=2), "k2", TicketState(first.ticket))
    assert partial.kind is OutcomeKind.DELIVERED and peer.state.issues[1]["state"] == "open"
    assert "2 still open" in peer.state.issues[1]["comments"][-1]["body"]
    jira = JiraChannel(peer.url, "SEC", Http(), auth_header="Bearer pat")
    created = jira.send(event(), "j1", TicketState())
    jira.send(event(EventKind.FINDING_FIXED, still_open=1), "j2", TicketState(created.ticket))
    assert peer.state.jira["SEC-1"]["fields"]["status"]["statusCategory"]["key"] == "new"
