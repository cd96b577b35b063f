"""Ticket channels: GitHub Issues and Jira. One ticket per finding group (service × advisory or rule),
updated — never duplicated — on re-detection, closed when the ledger marks the group fixed, reopened
on regression.

Idempotency: every ticket carries a label derived from the group (`clearance-<hash>`), and every
comment a hidden marker with the delivery key. Before creating a ticket or a comment, the channel looks
for them, so a retry after a lost answer finds the ticket/comment the first attempt made.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from clearance.notify.channels.base import Outcome, TicketState
from clearance.notify.channels.chat import message_lines
from clearance.notify.events import TICKET_CLOSE_KINDS, TICKET_REOPEN_KINDS, Event
from clearance.notify.http import Http


def group_label(event: Event) -> str:
    """The label that identifies the group's ticket at the receiver."""
    group = event.group or f"{event.service}:{event.advisory or event.rule_id}"
    return "clearance-" + hashlib.sha256(group.encode()).hexdigest()[:12]


def marker(key: str) -> str:
    """The hidden marker a comment carries so a retried delivery can find it."""
    return f"clearance-delivery:{key}"


def ticket_title(event: Event) -> str:
    """The ticket title: the group, not the event (it outlives many events)."""
    subject = event.advisory or event.rule_id or event.title
    return f"[clearance] {subject} in {event.service}"


def ticket_body(event: Event) -> str:
    """The ticket description in Markdown (GitHub) / plain text (Jira v2)."""
    lines = [event.summary or event.title, ""]
    lines += [f"- **{label}**: {value}" for label, value in message_lines(event)]
    if event.fingerprints:
        lines.append(f"- **Findings**: {', '.join(event.fingerprints[:20])}")
    if event.link:
        lines += ["", event.link]
    return "\n".join(lines)


def _comment(event: Event, key: str) -> str:
    verb = {True: "Fixed", False: "Update"}[event.kind in TICKET_CLOSE_KINDS]
    if event.kind in TICKET_CLOSE_KINDS and event.still_open:
        verb = f"Partly fixed ({event.still_open} still open)"
    if event.kind in TICKET_REOPEN_KINDS:
        verb = "Regression: reopened"
    return f"{verb}: {event.headline()}\n\n{event.summary}\n\n<!-- {marker(key)} -->".strip()


@dataclass(frozen=True)
class TicketHandle:
    """A ticket as the lifecycle needs it: the receiver's key, the reference stored in the ledger,
    its URL and whether it is closed."""

    key: int | str
    ref: str
    url: str
    closed: bool


class TicketChannel(ABC):
    """The ticket lifecycle shared by every tracker: find the group's ticket, then open, update,
    close (only when the whole group is fixed) or reopen it. Trackers supply the operations."""

    def send(self, event: Event, key: str, ticket: TicketState) -> Outcome:
        """Open/update, close or reopen the group's ticket."""
        issue, failure = self._find(event, ticket)
        if failure:
            return failure
        if issue is None:
            if event.kind in TICKET_CLOSE_KINDS:
                return Outcome.delivered("no ticket to close")
            return self._create(event)
        handle = self._handle(issue)
        done = Outcome.delivered
        if event.kind in TICKET_CLOSE_KINDS and event.still_open:
            failure = self._comment_once(handle.key, event, key)
            return failure or done(f"updated ({event.still_open} still open)", handle.ref, handle.url)
        if event.kind in TICKET_CLOSE_KINDS:
            if handle.closed:
                return done("already closed", handle.ref, handle.url)
            failure = self._comment_once(handle.key, event, key) or self._close(handle)
            return failure or done("closed", handle.ref, handle.url)
        if handle.closed:
            failure = self._reopen(handle)
            if failure:
                return failure
        failure = self._comment_once(handle.key, event, key)
        return failure or done("updated", handle.ref, handle.url)

    @abstractmethod
    def _find(self, event: Event, ticket: TicketState) -> tuple[dict[str, Any] | None, Outcome | None]:
        """The group's ticket (by stored reference, else by group label), or None."""

    @abstractmethod
    def _create(self, event: Event) -> Outcome:
        """Open the group's ticket."""

    @abstractmethod
    def _handle(self, issue: dict[str, Any]) -> TicketHandle:
        """The lifecycle's view of a ticket the tracker returned."""

    @abstractmethod
    def _comment_once(self, ticket_key: Any, event: Event, key: str) -> Outcome | None:
        """Comment on the ticket unless a comment carries this delivery's marker."""

    @abstractmethod
    def _close(self, handle: TicketHandle) -> Outcome | None:
        """Close the ticket."""

    @abstractmethod
    def _reopen(self, handle: TicketHandle) -> Outcome | None:
        """Reopen the ticket."""


class GitHubIssuesChannel(TicketChannel):
    """GitHub Issues (REST v3) in one repository."""

    name = "github"

    def __init__(
        self,
        repo: str,
        token: str,
        http: Http,
        api: str = "https://api.github.com",
        labels: Sequence[str] = (),
    ) -> None:
        self.repo = repo
        self.api = api.rstrip("/")
        self.http = http
        self.labels = tuple(labels)
        self.headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
        }

    def _handle(self, issue: dict[str, Any]) -> TicketHandle:
        number = int(issue["number"])
        return TicketHandle(
            number, f"{self.repo}#{number}", str(issue.get("html_url", "")), issue.get("state") == "closed"
        )

    def _close(self, handle: TicketHandle) -> Outcome | None:
        return self._set_state(int(handle.key), "closed")

    def _reopen(self, handle: TicketHandle) -> Outcome | None:
        return self._set_state(int(handle.key), "open")

    def _find(self, event: Event, ticket: TicketState) -> tuple[dict[str, Any] | None, Outcome | None]:
        if ticket.ref and "#" in ticket.ref:
            number = ticket.ref.rsplit("#", 1)[1]
            response, failure = self.http.request(
                "GET", f"{self.api}/repos/{self.repo}/issues/{number}", headers=self.headers
            )
            if response is not None and response.status_code == 404:
                failure = None  # deleted or moved: look it up by label instead
            elif failure or response is None:
                return None, failure
            else:
                return response.json(), None
        response, failure = self.http.request(
            "GET",
            f"{self.api}/repos/{self.repo}/issues",
            headers=self.headers,
            params={"labels": group_label(event), "state": "all", "per_page": "5"},
        )
        if failure or response is None:
            return None, failure
        found = [i for i in response.json() if isinstance(i, dict) and "pull_request" not in i]
        found.sort(key=lambda i: int(i.get("number", 0)))
        return (found[0] if found else None), None

    def _create(self, event: Event) -> Outcome:
        labels = [group_label(event), "security", *self.labels, f"team:{event.owner or event.team}"]
        if event.severity:
            labels.append(f"severity:{event.severity.value}")
        body = {"title": ticket_title(event), "body": ticket_body(event), "labels": labels}
        response, failure = self.http.request(
            "POST", f"{self.api}/repos/{self.repo}/issues", json_body=body, headers=self.headers
        )
        if failure or response is None:
            return failure or Outcome.retry("no answer")
        issue = response.json()
        return Outcome.delivered("created", f"{self.repo}#{issue['number']}", str(issue.get("html_url", "")))

    def _comment_once(self, number: int, event: Event, key: str) -> Outcome | None:
        url = f"{self.api}/repos/{self.repo}/issues/{number}/comments"
        response, failure = self.http.request("GET", url, headers=self.headers, params={"per_page": "100"})
        if failure or response is None:
            return failure or Outcome.retry("no answer")
        if any(marker(key) in str(c.get("body", "")) for c in response.json() if isinstance(c, dict)):
            return None
        _, failure = self.http.request(
            "POST", url, json_body={"body": _comment(event, key)}, headers=self.headers
        )
        return failure

    def _set_state(self, number: int, state: str) -> Outcome | None:
        body: dict[str, str] = {"state": state}
        if state == "closed":
            body["state_reason"] = "completed"
        _, failure = self.http.request(
            "PATCH", f"{self.api}/repos/{self.repo}/issues/{number}", json_body=body, headers=self.headers
        )
        return failure


class JiraChannel(TicketChannel):
    """Jira (Cloud or Data Center) over REST v2 or v3, in one project."""

    name = "jira"

    def __init__(
        self,
        base_url: str,
        project: str,
        http: Http,
        *,
        auth_header: str,
        api_version: int = 2,
        issue_type: str = "Bug",
        components_from_owner: bool = False,
    ) -> None:
        self.base = base_url.rstrip("/")
        self.project = project
        self.http = http
        self.version = api_version
        self.issue_type = issue_type
        self.components_from_owner = components_from_owner
        self.headers = {"Authorization": auth_header, "Accept": "application/json"}

    @property
    def api(self) -> str:
        """The REST API root for the configured version."""
        return f"{self.base}/rest/api/{self.version}"

    def _handle(self, issue: dict[str, Any]) -> TicketHandle:
        key = str(issue["key"])
        category = issue.get("fields", {}).get("status", {}).get("statusCategory", {}).get("key", "new")
        return TicketHandle(key, key, f"{self.base}/browse/{key}", category == "done")

    def _close(self, handle: TicketHandle) -> Outcome | None:
        return self._transition(str(handle.key), "done")

    def _reopen(self, handle: TicketHandle) -> Outcome | None:
        return self._transition(str(handle.key), "new", fallback="indeterminate")

    def _text(self, text: str) -> Any:
        if self.version == 2:
            return text
        paragraphs = [p for p in text.split("\n") if p.strip()] or [" "]
        return {
            "type": "doc",
            "version": 1,
            "content": [{"type": "paragraph", "content": [{"type": "text", "text": p}]} for p in paragraphs],
        }

    def _find(self, event: Event, ticket: TicketState) -> tuple[dict[str, Any] | None, Outcome | None]:
        if ticket.ref:
            response, failure = self.http.request(
                "GET", f"{self.api}/issue/{ticket.ref}", headers=self.headers, params={"fields": "status"}
            )
            if response is not None and response.status_code == 404:
                failure = None
            elif failure or response is None:
                return None, failure
            else:
                return response.json(), None
        jql = f'project = "{self.project}" AND labels = "{group_label(event)}" ORDER BY created ASC'
        # Jira Cloud (v3) replaced /search with /search/jql; Data Center (v2) keeps /search.
        search = f"{self.api}/search/jql" if self.version == 3 else f"{self.api}/search"
        response, failure = self.http.request(
            "GET",
            search,
            headers=self.headers,
            params={"jql": jql, "fields": "status", "maxResults": "1"},
        )
        if failure or response is None:
            return None, failure
        issues = response.json().get("issues", [])
        return (issues[0] if issues else None), None

    def _create(self, event: Event) -> Outcome:
        labels = [group_label(event), "security", f"team-{(event.owner or event.team).replace(' ', '-')}"]
        fields: dict[str, Any] = {
            "project": {"key": self.project},
            "summary": ticket_title(event)[:250],
            "description": self._text(ticket_body(event).replace("**", "")),
            "issuetype": {"name": self.issue_type},
            "labels": labels,
        }
        if self.components_from_owner:
            fields["components"] = [{"name": event.owner or event.team}]
        response, failure = self.http.request(
            "POST", f"{self.api}/issue", json_body={"fields": fields}, headers=self.headers
        )
        if failure or response is None:
            return failure or Outcome.retry("no answer")
        key = str(response.json()["key"])
        return Outcome.delivered("created", key, f"{self.base}/browse/{key}")

    def _comment_once(self, issue_key: str, event: Event, key: str) -> Outcome | None:
        url = f"{self.api}/issue/{issue_key}/comment"
        response, failure = self.http.request("GET", url, headers=self.headers, params={"maxResults": "100"})
        if failure or response is None:
            return failure or Outcome.retry("no answer")
        comments = response.json().get("comments", [])
        if any(marker(key) in str(c.get("body", "")) for c in comments if isinstance(c, dict)):
            return None
        text = _comment(event, key).replace("<!-- ", "[").replace(" -->", "]")
        _, failure = self.http.request(
            "POST", url, json_body={"body": self._text(text)}, headers=self.headers
        )
        return failure

    def _transition(self, issue_key: str, category: str, fallback: str | None = None) -> Outcome | None:
        url = f"{self.api}/issue/{issue_key}/transitions"
        response, failure = self.http.request("GET", url, headers=self.headers)
        if failure or response is None:
            return failure or Outcome.retry("no answer")
        transitions = response.json().get("transitions", [])
        for wanted in (category, fallback):
            for t in transitions:
                if t.get("to", {}).get("statusCategory", {}).get("key") == wanted:
                    _, failure = self.http.request(
                        "POST", url, json_body={"transition": {"id": str(t["id"])}}, headers=self.headers
                    )
                    return failure
        return Outcome.rejected(f"{issue_key}: no transition to a '{category}' status in this workflow")
