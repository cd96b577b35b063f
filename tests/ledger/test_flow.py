"""The issue's "done means" flow through the real API, on SQLite and PostgreSQL: push two gate
runs of the demo repository, see created/fixed counts, overdue findings by team, `affected`
for an advisory of the demo lockfile; another team's token is refused."""

from __future__ import annotations

import json

from .conftest import Api, DemoRuns


def push(api: Api, token: str, report: bytes, **params: str) -> dict:  # type: ignore[type-arg]
    r = api.client.post(
        "/api/v1/runs",
        content=report,
        headers={**api.auth(token), "Content-Type": "application/json"},
        params=params,
    )
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def test_demo_flow(api: Api, demo_runs: DemoRuns) -> None:
    payments = api.token("payments", "ingest", "read")
    first = push(api, payments, demo_runs.report1, service="billing")
    n1 = len(json.loads(demo_runs.report1)["findings"])
    assert first["service"] == "billing" and first["service_created"] is True
    assert first["counts"] == {"created": n1, "updated": 0, "fixed": 0, "reopened": 0, "unchanged": 0}
    assert first["verified"] is False and first["mode"] == "full"
    assert all(f["matched"] is None and f["result"] == "created" for f in first["findings"])

    api.clock.advance(1)
    second = push(api, payments, demo_runs.report2, service="billing")
    counts = second["counts"]
    assert counts["fixed"] == 1, counts  # the private key was removed
    assert counts["created"] >= 1, counts  # the Stripe key in app/billing.py is new
    assert counts["unchanged"] + counts["updated"] == n1 - 1
    fixed = [f for f in second["findings"] if f["result"] == "fixed"]
    assert (
        fixed[0]["rule_id"] == "secret.private-key-openssh" and fixed[0]["matched"] == "service+fingerprint"
    )

    # The same run again changes nothing.
    again = push(api, payments, demo_runs.report2, service="billing")
    assert again["duplicate"] is True and again["run_id"] == second["run_id"]

    # Forty days later the critical (7 d) and high (30 d) findings are overdue, by team.
    api.clock.advance(40)
    r = api.client.get("/api/v1/debt/overdue", headers=api.auth(payments))
    assert r.status_code == 200, r.text
    teams = r.json()["teams"]
    assert teams[0]["team"] == "payments" and teams[0]["overdue"] >= 5
    assert teams[0]["by_severity"]["critical"] >= 3 and teams[0]["max_days_overdue"] >= 34
    r = api.client.get(
        "/api/v1/findings", params={"team": "payments", "overdue": "true"}, headers=api.auth(payments)
    )
    overdue = r.json()["findings"]
    assert overdue and all(f["days_overdue"] is not None and f["days_overdue"] > 0 for f in overdue)
    assert "secret.private-key-openssh" not in {f["rule_id"] for f in overdue}

    # "Which services run jinja2 with CVE-2024-56326?" -> service, release, owner.
    r = api.client.get("/api/v1/affected", params={"advisory": "CVE-2024-56326"}, headers=api.auth(payments))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["services"] == ["billing"]
    row = body["results"][0]
    assert row["team"] == "payments" and row["component"] == "pkg:pypi/jinja2@2.11.2"
    assert row["latest"] is True and row["finding_status"] == "open" and "3.1.5" in row["fixed_versions"]
    assert row["version"] == json.loads(demo_runs.report2)["target"]["commit"]
    r = api.client.get(
        "/api/v1/affected", params={"purl": "pkg:pypi/jinja2", "range": "<3.1.5"}, headers=api.auth(payments)
    )
    purl_rows = r.json()["results"]
    assert {x["service"] for x in purl_rows} == {"billing"}
    assert len(purl_rows) == 2 and all(
        "GHSA-q2x7-8rv6-6q7h" in x["advisories"] for x in purl_rows
    )  # one row per release
    pages = [
        api.client.get(
            "/api/v1/affected",
            params={"purl": "pkg:pypi/jinja2", "range": "<3.1.5", "limit": 1, "offset": offset},
            headers=api.auth(payments),
        ).json()
        for offset in (0, 1)
    ]
    assert [(p["count"], len(p["results"]), p["next_offset"]) for p in pages] == [(2, 1, 1), (2, 1, None)]
    assert [p["results"][0] for p in pages] == purl_rows  # the pages, in order, are the whole answer
    assert pages[0]["services"] == ["billing"]  # totals cover every page
    r = api.client.get(
        "/api/v1/affected", params={"purl": "pkg:pypi/jinja2", "limit": 0}, headers=api.auth(payments)
    )
    assert r.status_code == 422
    r = api.client.get(
        "/api/v1/affected", params={"purl": "pkg:pypi/jinja2", "range": ">=3.1.5"}, headers=api.auth(payments)
    )
    assert r.json()["results"] == []
    # a bad query is refused whether or not the ledger holds the package (it was answered with an
    # empty 200 for a package it did not know, a 400 for one it did)
    for params in (
        {"purl": "pkg:pypi/jinja2", "range": "<<<"},
        {"purl": "pkg:pypi/never-heard-of", "range": "<<<"},
        {"purl": "pkg:pypi/never-heard-of", "range": "<not a version at all"},
        {"purl": "pkg:pypi/jinja2@2.11.2", "range": "<3.1.5"},  # a range needs a purl without version
        {"purl": "pkg:"},
    ):
        r = api.client.get("/api/v1/affected", params=params, headers=api.auth(payments))
        assert r.status_code == 400, (params, r.text)
        assert "Traceback" not in r.text and r.json()["error"]["message"]

    # Another team's token is refused: pushing for billing, and reading its findings.
    search = api.token("search", "ingest", "read")
    r = api.client.post(
        "/api/v1/runs",
        content=demo_runs.report1,
        params={"service": "billing"},
        headers={**api.auth(search), "Content-Type": "application/json"},
    )
    assert r.status_code == 403 and "another team" in r.json()["error"]["message"]
    r = api.client.get("/api/v1/findings", params={"service": "billing"}, headers=api.auth(search))
    assert r.status_code == 403
    r = api.client.get("/api/v1/findings", params={"team": "payments"}, headers=api.auth(search))
    assert r.status_code == 403
    assert api.client.get("/api/v1/findings", headers=api.auth(search)).json()["count"] == 0
    assert (
        api.client.get(
            "/api/v1/affected", params={"advisory": "CVE-2024-56326"}, headers=api.auth(search)
        ).json()["results"]
        == []
    )
    # ... and the admin sees it all.
    assert (
        api.client.get("/api/v1/findings", params={"service": "billing"}, headers=api.auth(api.admin)).json()[
            "count"
        ]
        > 0
    )


def test_reopen_is_a_regression_and_pr_mode_never_closes(api: Api, demo_runs: DemoRuns) -> None:
    tok = api.token("payments", "ingest", "read")
    push(api, tok, demo_runs.report1, service="billing")
    api.clock.advance(1)
    push(api, tok, demo_runs.report2, service="billing")
    api.clock.advance(1)
    # PR-mode run of the first state (no private key reported) never closes anything.
    pr = json.loads(demo_runs.report2)
    pr["target"]["base"] = "origin/main"
    pr["findings"] = pr["findings"][:3]
    res = push(api, tok, json.dumps(pr).encode(), service="billing")
    assert res["mode"] == "pr" and res["counts"]["fixed"] == 0
    # The private key comes back: reopened, counted as a regression.
    back = push(api, tok, demo_runs.report1 + b" ", service="billing")
    assert back["counts"]["reopened"] == 1
    reopened = [f for f in back["findings"] if f["result"] == "reopened"]
    assert reopened[0]["rule_id"] == "secret.private-key-openssh"
    r = api.client.get("/api/v1/debt/repeat-offenders", headers=api.auth(tok)).json()
    assert {
        "service": "billing",
        "team": "payments",
        "rule_id": "secret.private-key-openssh",
        "reopened_findings": 1,
    } in r["rules"]
    assert r["services"][0]["service"] == "billing" and r["services"][0]["reopens"] == 1
    aging = api.client.get("/api/v1/debt/aging", headers=api.auth(tok)).json()["buckets"]
    assert sum(aging["0-7"].values()) > 0 and aging["90+"] == {}


def test_affected_names_the_environments_running_the_release(api: Api, demo_runs: DemoRuns) -> None:
    import datetime as dt

    from sqlalchemy import select

    from clearance.ledger.tables import CurrentDeployment, Deployment, Environment, Release

    tok = api.token("payments", "ingest", "read")
    push(api, tok, demo_runs.report1, service="billing")
    at = dt.datetime(2026, 11, 2, tzinfo=dt.UTC)
    with api.db.session() as s, s.begin():
        rel = s.scalars(select(Release)).one()
        prod = Environment(name="prod", rank=10)
        s.add(prod)
        s.flush()
        dep = Deployment(
            release_id=rel.id, environment_id=prod.id, status="succeeded", started_at=at, finished_at=at
        )
        s.add(dep)
        s.flush()
        s.add(
            CurrentDeployment(
                service_id=rel.service_id,
                environment_id=prod.id,
                release_id=rel.id,
                deployment_id=dep.id,
                since=at,
            )
        )
    body = api.client.get(
        "/api/v1/affected", params={"advisory": "CVE-2024-56326"}, headers=api.auth(tok)
    ).json()
    assert body["results"][0]["environments"] == ["prod"] and body["results"][0]["latest"] is True
