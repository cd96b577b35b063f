"""Dashboard sessions: an API token (read scope) is exchanged once for a signed, HttpOnly,
SameSite=Strict cookie that names the token by its hash (never the secret), with an expiry.
State-changing forms carry a CSRF token bound to the session (HMAC), checked on every POST;
the login form uses a double-submit cookie.

The signing keys live in a key file (`load_or_create_keys`: created once, mode 0600, beside the
ledger's checkpoint key by default), so sessions survive restarts and every worker that reads
the same file accepts the others' cookies. The file holds one key per line: the first signs,
every one verifies — rotation is "add a new first line, restart, drop the old line once the
sessions it signed have expired" (docs/dashboard.md).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from clearance.errors import ConfigError

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


Keys = bytes | Sequence[bytes]
"""One signing key, or a key ring: the first key signs, every key verifies."""
_KEY_LINE = re.compile(r"^[0-9a-f]{64}$")
_MAX_KEYS = 8


def new_secret() -> bytes:
    """A fresh signing key."""
    return secrets.token_bytes(32)


def _ring(keys: Keys) -> Sequence[bytes]:
    return (keys,) if isinstance(keys, bytes) else keys


def load_or_create_keys(path: Path) -> tuple[bytes, ...]:
    """The signing keys in `path` (64 hex characters per line, `#` comments; the first signs),
    or a new file there with one fresh key (mode 0600), created atomically: workers that start
    together all end up with the same key. An unreadable or malformed file is an error (the
    server does not start), never silently replaced."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(
                "# clearance dashboard session keys: the first signs, all verify (docs/dashboard.md)\n"
                f"{new_secret().hex()}\n"
            )
        try:
            os.link(tmp, path)  # fails if another worker created it first: then use theirs
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    try:
        text = path.read_text(encoding="ascii")[:4096]
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read the dashboard session key file {path}: {e}") from e
    keys: list[bytes] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip().lower()
        if not line or line.startswith("#"):
            continue
        if not _KEY_LINE.match(line):
            raise ConfigError(
                f"{path}:{number}: not a session key",
                hint="one key per line, 64 hex characters (python -c 'import secrets; print(secrets.token_hex(32))')",
            )
        keys.append(bytes.fromhex(line))
    if not keys or len(keys) > _MAX_KEYS:
        raise ConfigError(f"{path}: expected 1 to {_MAX_KEYS} session keys, found {len(keys)}")
    return tuple(keys)


def encode(secret: Keys, data: SessionData) -> str:
    """The cookie value: base64(payload).base64(HMAC-SHA256(payload)), signed with the first key."""
    payload = json.dumps(
        {"t": data.token_hash, "s": data.sid, "e": data.expires}, separators=(",", ":")
    ).encode()
    mac = hmac.new(_ring(secret)[0], payload, hashlib.sha256).digest()
    return f"{_b64(payload)}.{_b64(mac)}"


def decode(secret: Keys, value: str | None, now_epoch: int) -> SessionData | None:
    """The session in a cookie, or None when missing, forged (by none of the keys) or expired."""
    if not value or len(value) > 1024 or "." not in value:
        return None
    body, _, mac = value.partition(".")
    try:
        payload = _unb64(body)
        given = _unb64(mac)
    except (ValueError, TypeError):
        return None
    if not any(
        hmac.compare_digest(hmac.new(key, payload, hashlib.sha256).digest(), given) for key in _ring(secret)
    ):
        return None
    try:
        doc = json.loads(payload)
        data = SessionData(str(doc["t"]), str(doc["s"]), int(doc["e"]))
    except (ValueError, KeyError, TypeError):
        return None
    return data if data.expires > now_epoch else None


def _csrf(key: bytes, session: SessionData) -> str:
    return _b64(hmac.new(key, b"csrf:" + session.sid.encode(), hashlib.sha256).digest())


def csrf_token(secret: Keys, session: SessionData) -> str:
    """The CSRF token of a session (bound to its id), made with the first key."""
    return _csrf(_ring(secret)[0], session)


def check_csrf(secret: Keys, session: SessionData, given: str | None) -> bool:
    """True if `given` is this session's CSRF token under any of the keys (a form rendered just
    before a rotation still posts)."""
    return bool(given) and any(hmac.compare_digest(_csrf(key, session), given or "") for key in _ring(secret))
