"""Protocol peers on loopback for routing tests: one threaded HTTP server that behaves like Slack and
Teams incoming webhooks, a generic webhook receiver, the GitHub Issues REST API and the Jira REST API
(status codes, Retry-After rate limits, 5xx outages, lost answers), and an SMTP server (aiosmtpd)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse


@dataclass
class Fault:
    """Make the next `count` requests matching `method path-prefix` fail with `status`.

    `lose_answer`: the request is applied (e.g. the issue is created) but the client gets `status` —
    the "server did it, answer lost" case that idempotency must survive."""

    method: str
    prefix: str
    status: int
    count: int
    retry_after: str | None = None
    lose_answer: bool = False


@dataclass
class PeerState:
    """Everything the fake receivers saw and hold."""

    requests: list[tuple[str, str, dict[str, str], bytes]] = field(default_factory=list)
    slack: list[dict[str, Any]] = field(default_factory=list)
    teams: list[dict[str, Any]] = field(default_factory=list)
    hooks: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    issues: dict[int, dict[str, Any]] = field(default_factory=dict)
    jira: dict[str, dict[str, Any]] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Handler(BaseHTTPRequestHandler):
    state: PeerState

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def _body(self) -> bytes:
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _send(self, status: int, payload: Any = None, headers: dict[str, str] | None = None) -> None:
        raw = (
            b""
            if payload is None
            else (payload if isinstance(payload, bytes) else json.dumps(payload).encode())
        )
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def _handle(self) -> None:
        body = self._body()
        url = urlparse(self.path)
        st = self.state
        with st.lock:
            st.requests.append((self.command, self.path, dict(self.headers), body))
            fault = next(
                (
                    f
                    for f in st.faults
                    if f.count > 0 and f.method == self.command and url.path.startswith(f.prefix)
                ),
                None,
            )
            if fault:
                fault.count -= 1
                if not fault.lose_answer:
                    headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
                    self._send(fault.status, {"message": "fault injected"}, headers)
                    return
            status, payload = self._route(self.command, url.path, parse_qs(url.query), body)
            if fault and fault.lose_answer:
                status, payload = fault.status, {"message": "answer lost"}
        self._send(status, payload)

    do_GET = do_POST = do_PATCH = do_PUT = _handle

    def _route(self, method: str, path: str, query: dict[str, list[str]], body: bytes) -> tuple[int, Any]:
        st = self.state
        data = json.loads(body) if body else None
        if path.startswith("/slack/"):
            st.slack.append(data)
            return 200, b"ok"
        if path.startswith("/teams/"):
            st.teams.append(data)
            return 200, b"1"
        if path.startswith("/hook/"):
            st.hooks.append(({k.lower(): v for k, v in self.headers.items()}, body))
            return 204, None
        if path.startswith("/repos/acme/security/issues"):
            return self._github(method, path.removeprefix("/repos/acme/security/issues"), query, data)
        if path.startswith("/rest/api/2/"):
            return self._jira(method, path.removeprefix("/rest/api/2/"), query, data)
        if path.startswith("/rest/api/3/"):  # Cloud: /search moved to /search/jql; bodies in ADF
            rest = path.removeprefix("/rest/api/3/")
            if rest == "search":
                return 410, {
                    "errorMessages": ["The requested API has been removed. Use /rest/api/3/search/jql"]
                }
            return self._jira(method, "search" if rest == "search/jql" else rest, query, data)
        return 404, {"message": "not found"}

    def _github(self, method: str, rest: str, query: dict[str, list[str]], data: Any) -> tuple[int, Any]:
        issues = self.state.issues
        if rest == "" and method == "GET":
            labels = set(query.get("labels", [""])[0].split(",")) - {""}
            found = [i for i in issues.values() if labels <= {lb["name"] for lb in i["labels"]}]
            return 200, found
        if rest == "" and method == "POST":
            number = len(issues) + 1
            issue = {
                "number": number,
                "title": data["title"],
                "body": data["body"],
                "labels": [{"name": n} for n in data.get("labels", [])],
                "state": "open",
                "html_url": f"https://github.example/acme/security/issues/{number}",
                "comments": [],
            }
            issues[number] = issue
            return 201, issue
        parts = rest.strip("/").split("/")
        issue = issues.get(int(parts[0])) if parts[0].isdigit() else None
        if issue is None:
            return 404, {"message": "Not Found"}
        if len(parts) == 1 and method == "GET":
            return 200, issue
        if len(parts) == 1 and method == "PATCH":
            issue["state"] = data["state"]
            return 200, issue
        if parts[1:] == ["comments"] and method == "GET":
            return 200, issue["comments"]
        if parts[1:] == ["comments"] and method == "POST":
            issue["comments"].append({"body": data["body"]})
            return 201, {"id": len(issue["comments"])}
        return 405, {"message": "unsupported"}

    def _jira(self, method: str, rest: str, query: dict[str, list[str]], data: Any) -> tuple[int, Any]:
        issues = self.state.jira
        if rest == "search":
            jql = query.get("jql", [""])[0]
            label = jql.split('labels = "', 1)[1].split('"', 1)[0]
            found = [i for i in issues.values() if label in i["fields"]["labels"]]
            return 200, {"issues": found[:1], "total": len(found)}
        if rest == "issue" and method == "POST":
            key = f"SEC-{len(issues) + 1}"
            fields = dict(data["fields"])
            fields["status"] = {"name": "To Do", "statusCategory": {"key": "new"}}
            issues[key] = {"key": key, "fields": fields, "comments": []}
            return 201, {"key": key, "id": str(len(issues))}
        parts = rest.split("/")
        issue = issues.get(parts[1]) if len(parts) > 1 else None
        if issue is None:
            return 404, {"errorMessages": ["Issue does not exist"]}
        if len(parts) == 2:
            return 200, {"key": issue["key"], "fields": {"status": issue["fields"]["status"]}}
        if parts[2] == "comment" and method == "GET":
            return 200, {"comments": issue["comments"]}
        if parts[2] == "comment" and method == "POST":
            issue["comments"].append(data)
            return 201, {"id": "1"}
        if parts[2] == "transitions" and method == "GET":
            return 200, {
                "transitions": [
                    {"id": "11", "name": "To Do", "to": {"statusCategory": {"key": "new"}}},
                    {"id": "31", "name": "Done", "to": {"statusCategory": {"key": "done"}}},
                ]
            }
        if parts[2] == "transitions" and method == "POST":
            done = data["transition"]["id"] == "31"
            issue["fields"]["status"] = {
                "name": "Done" if done else "To Do",
                "statusCategory": {"key": "done" if done else "new"},
            }
            return 204, None
        return 405, {"errorMessages": ["unsupported"]}


@dataclass
class HttpPeer:
    """A running fake receiver."""

    url: str
    state: PeerState
    server: ThreadingHTTPServer

    def fail(self, method: str, prefix: str, status: int, count: int, **kw: Any) -> None:
        """Inject `count` failures (see `Fault`)."""
        self.state.faults.append(Fault(method, prefix, status, count, **kw))


def http_peer() -> Iterator[HttpPeer]:
    """Start the fake receivers on an ephemeral loopback port."""
    state = PeerState()
    handler = type("Handler", (_Handler,), {"state": state})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield HttpPeer(f"http://127.0.0.1:{server.server_address[1]}", state, server)
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class SmtpPeer:
    """A running SMTP server and the messages it accepted."""

    host: str
    port: int
    messages: list[Message]


def smtp_peer() -> Iterator[SmtpPeer]:
    """An aiosmtpd server on an ephemeral loopback port."""
    import socket

    from aiosmtpd.controller import Controller

    messages: list[Message] = []

    class Sink:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            messages.append(message_from_bytes(envelope.content))
            return "250 OK"

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield SmtpPeer("127.0.0.1", port, messages)
    finally:
        controller.stop()
