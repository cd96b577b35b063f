"""Dashboard sessions: an API token (read scope) is exchanged once for a signed, HttpOnly,
SameSite=Strict cookie that names the token by its hash (never the secret), with an expiry.
State-changing forms carry a CSRF token bound to the session (HMAC), checked on every POST;
the login form uses a double-submit cookie.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass

SESSION_COOKIE = "clearance_session"
LOGIN_CSRF_COOKIE = "clearance_login_csrf"
SESSION_SECONDS = 8 * 3600


@dataclass(frozen=True, slots=True)
class SessionData:
    """What the cookie carries: the token's hash, a session id and the expiry (epoch seconds)."""

    token_hash: str
    sid: str
    expires: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def new_secret() -> bytes:
    """A fresh signing key (per server process unless configured)."""
    return secrets.token_bytes(32)


def encode(secret: bytes, data: SessionData) -> str:
    """The cookie value: base64(payload).base64(HMAC-SHA256(payload))."""
    payload = json.dumps(
        {"t": data.token_hash, "s": data.sid, "e": data.expires}, separators=(",", ":")
    ).encode()
    mac = hmac.new(secret, payload, hashlib.sha256).digest()
    return f"{_b64(payload)}.{_b64(mac)}"


def decode(secret: bytes, value: str | None, now_epoch: int) -> SessionData | None:
    """The session in a cookie, or None when missing, forged or expired."""
    if not value or len(value) > 1024 or "." not in value:
        return None
    body, _, mac = value.partition(".")
    try:
        payload = _unb64(body)
        given = _unb64(mac)
    except (ValueError, TypeError):
        return None
    if not hmac.compare_digest(hmac.new(secret, payload, hashlib.sha256).digest(), given):
        return None
    try:
        doc = json.loads(payload)
        data = SessionData(str(doc["t"]), str(doc["s"]), int(doc["e"]))
    except (ValueError, KeyError, TypeError):
        return None
    return data if data.expires > now_epoch else None


def csrf_token(secret: bytes, session: SessionData) -> str:
    """The CSRF token of a session (bound to its id)."""
    return _b64(hmac.new(secret, b"csrf:" + session.sid.encode(), hashlib.sha256).digest())


def check_csrf(secret: bytes, session: SessionData, given: str | None) -> bool:
    """True if `given` is this session's CSRF token."""
    return bool(given) and hmac.compare_digest(csrf_token(secret, session), given or "")
