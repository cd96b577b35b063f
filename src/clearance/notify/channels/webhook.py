"""Generic webhook: the event as JSON, signed with HMAC-SHA256 over timestamp and body.

Header `Clearance-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>`; a receiver
recomputes it (`verify_signature`), compares in constant time and refuses timestamps older than its
tolerance (5 minutes by default), which stops replays. `Clearance-Delivery` carries the idempotency key:
a receiver that has seen it already can drop the retry.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import datetime

from clearance.notify.channels.base import Outcome, TicketState
from clearance.notify.events import Event
from clearance.notify.http import Http

SIGNATURE_HEADER = "Clearance-Signature"
DELIVERY_HEADER = "Clearance-Delivery"
EVENT_HEADER = "Clearance-Event"
DEFAULT_TOLERANCE_S = 300


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """The signature header value for `body` sent at `timestamp`."""
    mac = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify_signature(
    secret: bytes, header: str, body: bytes, now: int, tolerance_s: int = DEFAULT_TOLERANCE_S
) -> bool:
    """True when `header` is a valid signature of `body` made within `tolerance_s` of `now`."""
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    stamp, mac = parts.get("t", ""), parts.get("v1", "")
    if not stamp.isdigit() or abs(now - int(stamp)) > tolerance_s:
        return False
    expected = sign(secret, int(stamp), body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, mac)


class WebhookChannel:
    """POSTs the event JSON to a URL, signed with a shared secret."""

    name = "webhook"

    def __init__(self, url: str, secret: bytes, http: Http, clock: Callable[[], datetime]) -> None:
        self.url = url
        self.secret = secret
        self.http = http
        self.clock = clock

    def send(self, event: Event, key: str, ticket: TicketState) -> Outcome:
        """Deliver the event; 2xx is delivered, 429/5xx retried, other statuses rejected."""
        body = json.dumps({"delivery": key, "event": event.to_json()}, sort_keys=True).encode()
        stamp = int(self.clock().timestamp())
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(self.secret, stamp, body),
            DELIVERY_HEADER: key,
            EVENT_HEADER: event.kind.value,
        }
        _, failure = self.http.request("POST", self.url, content=body, headers=headers)
        return failure or Outcome.delivered()
