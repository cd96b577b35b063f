"""One place that talks HTTP to receivers and classifies their answers into delivery outcomes."""

from __future__ import annotations

import email.utils
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from clearance.notify.channels.base import Outcome
from clearance.redaction import strip_url_credentials

#: Receivers get this long to answer one request.
TIMEOUT_S = 10.0
#: Largest answer body read from a receiver (error details only).
MAX_DETAIL = 300


class Http:
    """A small HTTP client for channels: JSON in and out, answers classified, URLs never logged
    with credentials. `client` can be injected (tests use a transport to loopback servers)."""

    def __init__(self, client: httpx.Client | None = None) -> None:
        self._client = client or httpx.Client(timeout=TIMEOUT_S, follow_redirects=False, trust_env=False)

    def request(
        self,
        method: str,
        url: str,
        *,
        json_body: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> tuple[httpx.Response | None, Outcome | None]:
        """Send one request. Returns (response, None) on 2xx, else (response or None, outcome)."""
        try:
            response = self._client.request(
                method, url, json=json_body, content=content, headers=dict(headers or {}), params=params
            )
        except httpx.HTTPError as exc:
            where = strip_url_credentials(url)
            return None, Outcome.retry(f"{method} {where}: {type(exc).__name__}")
        if 200 <= response.status_code < 300:
            return response, None
        return response, classify(method, url, response)


def classify(method: str, url: str, response: httpx.Response) -> Outcome:
    """Map a non-2xx answer to retry (408, 425, 429, 5xx) or rejected (every other status)."""
    status = response.status_code
    body = response.text[:MAX_DETAIL].replace("\n", " ")
    detail = f"{method} {strip_url_credentials(url)}: HTTP {status} {body}".strip()
    if status in (408, 425, 429) or status >= 500:
        return Outcome.retry(detail, retry_after(response.headers.get("Retry-After")))
    if status == 403 and response.headers.get("x-ratelimit-remaining") == "0":
        # GitHub's secondary rate limit answers 403 with the reset time.
        reset = response.headers.get("x-ratelimit-reset", "")
        after = None
        if reset.isdigit():
            after = max(0.0, int(reset) - datetime.now(UTC).timestamp())
        return Outcome.retry(detail, after)
    return Outcome.rejected(detail)


def retry_after(value: str | None) -> float | None:
    """Parse an HTTP Retry-After header (seconds or an HTTP date); None when absent or unusable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(min(int(value), 86_400))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, min((when - datetime.now(UTC)).total_seconds(), 86_400.0))
