"""Dashboard session cookies and CSRF tokens: signed, expiring, bound to the session."""

from __future__ import annotations

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
