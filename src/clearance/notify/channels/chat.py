"""Slack and Microsoft Teams incoming webhooks: a message a person can read on a phone —
what, where, owner, due date and one link."""

from __future__ import annotations

from typing import Any

from clearance.notify.channels.base import Outcome, TicketState
from clearance.notify.events import Event
from clearance.notify.http import Http

_EMOJI = {"critical": ":red_circle:", "high": ":large_orange_circle:", "medium": ":large_yellow_circle:"}
_TEAMS_COLOR = {"critical": "Attention", "high": "Warning"}


def message_lines(event: Event) -> list[tuple[str, str]]:
    """The labelled facts shown under the headline, in reading order, empty ones left out."""
    lines = [
        ("Service", event.service + (f" ({event.env})" if event.env else "")),
        ("Owner", event.owner or event.team),
        ("Severity", event.severity.value if event.severity else ""),
        ("Due", event.due.isoformat() if event.due else ""),
        ("Release", event.release),
        ("Advisory", event.advisory),
        ("Rule", event.rule_id if not event.advisory else ""),
        *event.facts,
    ]
    return [(label, value) for label, value in lines if value]


def slack_payload(event: Event) -> dict[str, Any]:
    """A Block Kit message: headline, summary, fields, one button."""
    sev = event.severity.value if event.severity else ""
    headline = f"{_EMOJI.get(sev, ':white_circle:')} {event.headline()}"
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{_escape(headline)}*"}},
    ]
    if event.summary:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _escape(event.summary)}})
    fields = [{"type": "mrkdwn", "text": f"*{k}*\n{_escape(v)}"} for k, v in message_lines(event)[:10]]
    if fields:
        blocks.append({"type": "section", "fields": fields})
    if event.link:
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {"type": "button", "text": {"type": "plain_text", "text": "Open"}, "url": event.link}
                ],
            }
        )
    return {"text": event.headline(), "blocks": blocks}


def teams_payload(event: Event) -> dict[str, Any]:
    """An Adaptive Card (1.4) wrapped as Teams incoming webhooks expect it."""
    sev = event.severity.value if event.severity else ""
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": event.headline(),
            "weight": "Bolder",
            "wrap": True,
            "color": _TEAMS_COLOR.get(sev, "Default"),
        }
    ]
    if event.summary:
        body.append({"type": "TextBlock", "text": event.summary, "wrap": True})
    body.append({"type": "FactSet", "facts": [{"title": k, "value": v} for k, v in message_lines(event)]})
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
    if event.link:
        card["actions"] = [{"type": "Action.OpenUrl", "title": "Open", "url": event.link}]
    return {
        "type": "message",
        "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "content": card}],
    }


def _escape(text: str) -> str:
    """Slack mrkdwn control characters escaped (so a finding title cannot inject links/mentions)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class SlackChannel:
    """A Slack incoming webhook."""

    name = "slack"

    def __init__(self, url: str, http: Http) -> None:
        self.url = url
        self.http = http

    def send(self, event: Event, key: str, ticket: TicketState) -> Outcome:
        """Post the message; Slack answers 200 `ok`, 429 with Retry-After, 4xx for bad hooks."""
        _, failure = self.http.request("POST", self.url, json_body=slack_payload(event))
        return failure or Outcome.delivered()


class TeamsChannel:
    """A Microsoft Teams incoming webhook (or Workflows webhook accepting the same payload)."""

    name = "teams"

    def __init__(self, url: str, http: Http) -> None:
        self.url = url
        self.http = http

    def send(self, event: Event, key: str, ticket: TicketState) -> Outcome:
        """Post the card."""
        _, failure = self.http.request("POST", self.url, json_body=teams_payload(event))
        return failure or Outcome.delivered()
