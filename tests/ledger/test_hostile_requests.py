"""An attacker with a valid ingest+read token: out-of-range numbers and NUL characters in ids,
query parameters and bodies are clean 4xx JSON errors on both engines, never a 500."""

from __future__ import annotations

import json

import pytest

from .conftest import Api, DemoRuns

HUGE = str(10**23)
"""Beyond every integer type of both engines (SQLite: OverflowError in the driver)."""
INT8_PAST = str(2**63)
"""One past PostgreSQL's bigint."""
INT4_PAST = str(2**31)
"""One past PostgreSQL's integer (the type of every id column)."""


def _is_clean_4xx(r) -> bool:  # type: ignore[no-untyped-def]
    return 400 <= r.status_code < 500 and "message" in r.json().get("error", {})


@pytest.mark.parametrize(
    "path",
    [
        f"/api/v1/findings?offset={HUGE}",
        f"/api/v1/findings?offset={INT8_PAST}",
        f"/api/v1/affected?advisory=CVE-2024-56326&offset={HUGE}",
        f"/api/v1/releases/{INT4_PAST}/vex",
        f"/api/v1/releases/{HUGE}/vex",
        f"/api/v1/audit/entries?offset={HUGE}",
        f"/api/v1/gates/deploy/decisions?offset={HUGE}",
    ],
)
def test_numbers_beyond_the_database_range_are_a_4xx(api: Api, path: str) -> None:
    tok = api.admin if "/audit/" in path else api.token("payments", "ingest", "read", "deploy")
    r = api.client.get(path, headers=api.auth(tok))
    assert _is_clean_4xx(r), (r.status_code, r.text)


@pytest.mark.parametrize(
    "method,path",
    [
        ("DELETE", f"/api/v1/tokens/{INT4_PAST}"),
        ("DELETE", f"/api/v1/subscriptions/{INT4_PAST}"),
    ],
)
def test_ids_beyond_the_database_range_in_other_methods(api: Api, method: str, path: str) -> None:
    r = api.client.request(method, path, headers=api.auth(api.admin))
    assert _is_clean_4xx(r), (r.status_code, r.text)


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/affected?advisory=%00",
        "/api/v1/affected?purl=pkg:pypi/jinja2@2.11.2%00",
        "/api/v1/services/%00/releases",
        "/api/v1/debt/aging?service=%00",
        "/api/v1/findings?service=%00",
    ],
)
def test_a_nul_character_in_the_url_is_a_4xx(api: Api, path: str) -> None:
    tok = api.token("payments", "ingest", "read")
    r = api.client.get(path, headers=api.auth(tok))
    assert _is_clean_4xx(r), (r.status_code, r.text)


def test_a_nul_character_in_a_pushed_report_is_refused_and_nothing_is_written(
    api: Api, demo_runs: DemoRuns
) -> None:
    tok = api.token("payments", "ingest", "read")
    report = json.loads(demo_runs.report1)
    report["findings"][0]["location"]["path"] += "\u0000.py"
    r = api.client.post(
        "/api/v1/runs",
        content=json.dumps(report).encode(),
        params={"service": "billing"},
        headers={**api.auth(tok), "Content-Type": "application/json"},
    )
    assert r.status_code == 422, r.text
    assert "NUL" in r.json()["error"]["message"]
    assert api.client.get("/api/v1/services", headers=api.auth(api.admin)).json()["services"] == []


def test_a_literal_backslash_u0000_in_a_report_is_text_not_a_nul(api: Api, demo_runs: DemoRuns) -> None:
    """`\\u0000` spelled out in a file (an escaped backslash in JSON) is ordinary text."""
    tok = api.token("payments", "ingest", "read")
    report = json.loads(demo_runs.report1)
    report["findings"][0]["title"] += " \\u0000"
    r = api.client.post(
        "/api/v1/runs",
        content=json.dumps(report).encode(),
        params={"service": "billing"},
        headers={**api.auth(tok), "Content-Type": "application/json"},
    )
    assert r.status_code == 200, r.text


def test_a_nul_character_in_a_triage_decision_is_a_4xx(api: Api, demo_runs: DemoRuns) -> None:
    tok = api.token("payments", "ingest", "read")
    r = api.client.post(
        "/api/v1/runs",
        content=demo_runs.report1,
        params={"service": "billing"},
        headers={**api.auth(tok), "Content-Type": "application/json"},
    )
    assert r.status_code == 200, r.text
    body = {
        "service": "billing",
        "component": "pkg:pypi/jinja2@2.11.2\u0000",
        "advisory": "CVE-2024-56326",
        "state": "in_triage",
    }
    r = api.client.post("/api/v1/analyses", json=body, headers=api.auth(tok))
    assert _is_clean_4xx(r), (r.status_code, r.text)


def test_a_nul_character_in_a_webhook_body_is_not_a_500(api: Api, demo_runs: DemoRuns) -> None:
    """Raw JSON bodies (webhooks) reach the database as parsed: PostgreSQL refuses a NUL, which
    is the request's fault (400), not the server's."""
    from pathlib import Path

    tok = api.token("payments", "ingest", "read")
    r = api.client.post(
        "/api/v1/runs",
        content=demo_runs.report1,
        params={"service": "billing"},
        headers={**api.auth(tok), "Content-Type": "application/json"},
    )
    assert r.status_code == 200, r.text
    fixture = Path(__file__).resolve().parents[1] / "fixtures" / "deploy" / "alertmanager-firing.json"
    doc = json.loads(fixture.read_text(encoding="utf-8"))
    for alert in doc["alerts"]:
        alert["labels"]["service"] = "billing"
    doc["alerts"][0]["annotations"]["summary"] += "\u0000"
    r = api.client.post("/api/v1/incidents/alertmanager", json=doc, headers=api.auth(api.admin))
    assert r.status_code < 500, r.text
    if r.status_code >= 400:
        assert "NUL" in r.json()["error"]["message"]


@pytest.mark.parametrize(
    ("text", "has_nul"),
    [
        (rb'"a\u0000"', True),
        (rb'"a\\u0000"', False),  # the six characters \u0000, escaped: not a NUL
        (rb'"a\\\u0000"', True),  # an escaped backslash, then a NUL
        (rb'"\u00000"', True),
        (rb'"a\u0001"', False),
        (b'"' + b"\\\\" * 5000 + rb'u0000"', False),
    ],
)
def test_the_nul_check_reads_escapes_like_json(text: bytes, has_nul: bool) -> None:
    from clearance.ledger.report import _has_nul_escape

    assert _has_nul_escape(text) is has_nul
    assert ("\x00" in json.loads(text)) is has_nul  # what a JSON parser makes of it
