"""Property tests: arbitrary bytes never make the engine or the suppression parser raise."""

from __future__ import annotations

import datetime as dt

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clearance.scanners.secrets.engine import default_engine
from clearance.scanners.suppression import find_suppressions, suppression_for

_TOKENS = st.sampled_from(
    [
        b"password = ",
        b"token: ",
        b'"api_key": "',
        b"AKIA",
        b"ghp_",
        b"-----BEGIN RSA PRIVATE KEY-----\n",
        b"kind: Secret\ndata:\n  password: ",
        b"postgres://u:",
        b"@host/db",
        b'\\"',
        b"\n",
        b"\x00",
        b"\xff",
        b"clearance:ignore[",
        b"] until=2026-01-01",
        b"=",
        b":",
        b"'",
        b'"',
    ]
)
_CHUNKS = st.lists(st.one_of(_TOKENS, st.binary(max_size=40)), max_size=30).map(b"".join)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=_CHUNKS, path=st.sampled_from(["app.py", ".env", "values.yaml", "x.json", "Dockerfile", ""]))
def test_engine_never_raises_and_reports_spans_inside_the_buffer(data: bytes, path: str) -> None:
    for m in default_engine().scan(data, path):
        assert 0 <= m.start <= m.end <= len(data)
        assert 1 <= m.line <= m.end_line <= data.count(b"\n") + 1
        assert m.column >= 1


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=300), line=st.integers(min_value=-2, max_value=40))
def test_suppression_parser_never_raises(text: str, line: int) -> None:
    sups = find_suppressions("x clearance:ignore" + text)
    suppression_for("secret.x", line, sups, dt.datetime(2026, 11, 22, tzinfo=dt.UTC), path="p")
