"""HTTP client of the deploy API (`clearance deploy …`, `clearance drift report`): one place that
talks to the server, turns its JSON errors into `ClearanceError`s and never prints the token or
credentials embedded in the URL."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from clearance.decision import ExitCode
from clearance.errors import ClearanceError, UsageError

SERVER_ENV = "CLEARANCE_SERVER"
TOKEN_ENV = "CLEARANCE_TOKEN"
DEFAULT_SERVER = "http://127.0.0.1:8080"


class ServerError(ClearanceError):
    """The ledger server refused the request or could not be reached (exit 3)."""

    exit_code = ExitCode.INCOMPLETE


def safe_url(url: str) -> str:
    """`url` without user:password (for messages)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


class DeployClient:
    """A thin JSON client with bearer authentication and bounded timeouts."""

    def __init__(
        self, server: str, token: str | None, *, timeout: float = 30.0, transport: Any = None
    ) -> None:
        if not server.startswith(("http://", "https://")):
            raise UsageError(f"--server must be an http(s) URL, not {safe_url(server)!r}")
        if not token:
            raise UsageError("no API token", hint="pass --token or set CLEARANCE_TOKEN")
        self.server = server.rstrip("/")
        self._client = httpx.Client(
            base_url=self.server,
            headers={"Authorization": f"Bearer {token}", "User-Agent": "clearance"},
            timeout=timeout,
            transport=transport,
        )

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST JSON, return the JSON answer."""
        return self._call("POST", path, json=body)

    def get(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        """GET with query parameters, return the JSON answer."""
        return self._call("GET", path, params={k: v for k, v in params.items() if v is not None})

    def _call(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
        where = f"{safe_url(self.server)}{path}"
        try:
            resp = self._client.request(method, path, **kw)
        except httpx.HTTPError as e:
            raise ServerError(
                f"cannot reach {where}: {type(e).__name__}", hint="is `clearance ledger serve` running?"
            ) from None
        try:
            doc = resp.json()
        except ValueError:
            doc = None
        if resp.status_code >= 400:
            err = doc.get("error") if isinstance(doc, dict) else None
            message = err.get("message") if isinstance(err, dict) else resp.reason_phrase
            hint = err.get("hint") if isinstance(err, dict) else None
            raise ServerError(f"{where}: {resp.status_code} {message}", hint=hint)
        if not isinstance(doc, dict):
            raise ServerError(f"{where}: the answer is not a JSON object")
        return doc

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()
