"""Dashboard session cookies and CSRF tokens: signed, expiring, bound to the session."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from clearance.errors import ConfigError
from clearance.server.web import charts
from clearance.server.web import session as sess

SECRET = b"k" * 32
DATA = sess.SessionData(token_hash="ab" * 32, sid="s1", expires=2_000)


def test_round_trip_and_expiry() -> None:
    cookie = sess.encode(SECRET, DATA)
    assert sess.decode(SECRET, cookie, 1_999) == DATA
    assert sess.decode(SECRET, cookie, 2_000) is None  # expired
    assert sess.decode(b"other" * 8, cookie, 1_000) is None  # another server's key


def test_forged_and_garbage_cookies_are_refused() -> None:
    body, _, mac = sess.encode(SECRET, DATA).partition(".")
    forged = sess.encode(b"attacker" * 4, sess.SessionData("cd" * 32, "s1", 9_999))
    for value in (None, "", "x", f"{body}.", f".{mac}", f"{body}.{mac}x", forged, "a" * 5000, "!!.!!"):
        assert sess.decode(SECRET, value, 1_000) is None, value


def test_csrf_is_bound_to_the_session() -> None:
    token = sess.csrf_token(SECRET, DATA)
    assert sess.check_csrf(SECRET, DATA, token)
    other = sess.SessionData(DATA.token_hash, "s2", DATA.expires)
    assert not sess.check_csrf(SECRET, other, token)
    assert not sess.check_csrf(SECRET, DATA, None) and not sess.check_csrf(SECRET, DATA, "")


def test_chart_escapes_labels() -> None:
    svg = str(charts.bar_chart([("<script>", 3), ("b", 0)], title="t & u"))
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "t &amp; u" in svg
    assert svg.count("<rect") == 2
    assert "no data" in str(charts.bar_chart([], title="empty"))


def test_key_file_is_created_once_with_mode_0600_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "data" / "dashboard-session.key"
    keys = sess.load_or_create_keys(path)
    assert len(keys) == 1 and len(keys[0]) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sess.load_or_create_keys(path) == keys  # a restart, or another worker: the same key
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left


def test_rotation_new_key_signs_old_key_still_verifies_until_removed(tmp_path: Path) -> None:
    path = tmp_path / "dashboard-session.key"
    (old,) = sess.load_or_create_keys(path)
    cookie, csrf = sess.encode(old, DATA), sess.csrf_token(old, DATA)
    new = "cd" * 32
    path.write_text(f"# rotated\n{new}\n{old.hex()}\n")
    ring = sess.load_or_create_keys(path)
    assert ring == (bytes.fromhex(new), old)
    assert sess.decode(ring, cookie, 1_000) == DATA and sess.check_csrf(ring, DATA, csrf)
    assert sess.decode(bytes.fromhex(new), sess.encode(ring, DATA), 1_000) == DATA  # signs with the first
    path.write_text(f"{new}\n")
    ring = sess.load_or_create_keys(path)
    assert sess.decode(ring, cookie, 1_000) is None and not sess.check_csrf(ring, DATA, csrf)


def test_a_malformed_key_file_stops_the_server_instead_of_being_replaced(tmp_path: Path) -> None:
    path = tmp_path / "dashboard-session.key"
    for text in ("", "# only a comment\n", "not-hex\n", "ab" * 16 + "\n", ("ab" * 32 + "\n") * 9):
        path.write_text(text)
        with pytest.raises(ConfigError):
            sess.load_or_create_keys(path)
        assert path.read_text() == text
