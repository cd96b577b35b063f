"""Environment names from deploy tools are validated, and a go/no-go for an environment the policy
does not name denies without creating it (a check must not change what the ledger knows)."""

from __future__ import annotations

from sqlalchemy import select

from clearance.ledger.tables import Environment

from .conftest import Api

DIGEST = "sha256:" + "e" * 64


def _environments(api: Api) -> set[str]:
    with api.ledger.read() as store:
        return set(store.session.scalars(select(Environment.name)))


def test_hostile_environment_names_are_refused(api: Api) -> None:
    tok = api.token("payments", "deploy", "read")
    for env in ("../../x", "<script>alert(1)</script>", "prod x", ""):
        r = api.client.post(
            "/api/v1/gates/deploy",
            json={"service": "billing", "env": env, "artifact_digest": DIGEST},
            headers=api.auth(tok),
        )
        assert r.status_code == 422, (env, r.text)
    r = api.client.post(
        "/api/v1/admission/..%2F..%2Fx",
        content=b"{}",
        headers={**api.auth(tok), "Content-Type": "application/json"},
    )
    assert r.status_code in (404, 422)
    assert _environments(api) == set()


def test_a_check_for_an_unknown_environment_denies_without_creating_it(api: Api) -> None:
    tok = api.token("payments", "deploy", "read")
    r = api.client.post(
        "/api/v1/gates/deploy",
        json={"service": "billing", "env": "qa-7", "artifact_digest": DIGEST},
        headers=api.auth(tok),
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["answer"] == "deny" and body["known_environment"] is False
    assert "qa-7" not in _environments(api)
    log = api.client.get("/api/v1/gates/deploy/decisions", headers=api.auth(api.admin)).json()
    assert any(d.get("env") == "qa-7" for d in log.get("decisions", [])), log
