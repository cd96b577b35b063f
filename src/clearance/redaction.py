"""Redaction: the one way any part of clearance shows a secret-like value to a human.

A redacted value keeps at most a short prefix and suffix (enough to recognise the kind of
credential and to find it in a file) joined by an ellipsis, e.g. ``AKIA…MPLE``. Short
values are masked completely, so a report never reveals most of a secret. Credentials in
URLs (`https://user:token@host`) are removed outright (`strip_url_credentials`).
"""

from __future__ import annotations

import re

ELLIPSIS = "…"
MASK = "****"

_LONG = 20
"""From this length on, 4 characters are kept at each end."""
_MEDIUM = 12
"""From this length on (and below `_LONG`), 2 characters are kept at each end."""


def redact(value: str) -> str:
    """A short, safe preview of `value`: ``AKIA…MPLE`` for long values, ``****`` for short ones.

    Whitespace runs (e.g. the line breaks of a PEM block) are collapsed first and
    non-printable characters are replaced, so the preview is always one printable line.
    """
    compact = "".join(ch if ch.isprintable() else "?" for ch in " ".join(value.split()))
    n = len(compact)
    if n >= _LONG:
        keep = 4
    elif n >= _MEDIUM:
        keep = 2
    else:
        return MASK
    return f"{compact[:keep]}{ELLIPSIS}{compact[-keep:]}"


def redact_bytes(value: bytes) -> str:
    """`redact` for raw bytes (decoded leniently; invalid UTF-8 never raises)."""
    return redact(value.decode("utf-8", "replace"))


_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)([^/?#\s]*)@")
_PUBLIC_USERS = frozenset({"git", "anonymous"})
"""User names that are conventions, not credentials (`git+ssh://git@host/…`): kept."""


def strip_url_credentials(text: str) -> str:
    """`text` with the user-info of every URL in it removed (`https://user:token@host` → `https://host`).

    A password or token is never kept. A user name alone is dropped too (tokens are often
    passed as the user name, `https://ghp_…@github.com`), except the conventional `git`
    and `anonymous` users. Text without `://` is returned unchanged (cheaply).
    """
    if "://" not in text:
        return text
    return _URL_USERINFO.sub(_without_userinfo, text)


def _without_userinfo(match: re.Match[str]) -> str:
    userinfo = match.group(2)
    if userinfo.lower() in _PUBLIC_USERS:
        return match.group(0)
    return match.group(1)
