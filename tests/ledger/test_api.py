"""The API on SQLite and PostgreSQL: bundles, bad input, tokens, VEX, audit proofs, exceptions."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from .conftest import Api, DemoRuns


def _post(api: Api, token: str, **kwargs: object):  # type: ignore[no-untyped-def]
    headers = {**api.auth(token), **kwargs.pop("headers", {})}  # type: ignore[dict-item]
    return api.client.post("/api/v1/runs", headers=headers, **kwargs)  # type: ignore[arg-type]


def _trust(api: Api, team: str, demo: DemoRuns) -> None:
    r = api.client.post(
        "/api/v1/keys",
        json={"team": team, "public_key_pem": demo.public_key.read_text()},
        headers=api.auth(api.admin),
    )
    assert r.status_code == 201, r.text


def test_health_and_openapi_need_no_token_but_everything_else_does(api: Api) -> None:
    assert api.client.get("/healthz").json() == {"status": "ok"}
    spec = api.client.get("/api/openapi.json").json()
    assert "/api/v1/runs" in spec["paths"] and "/api/v1/affected" in spec["paths"]
    r = api.client.get("/api/v1/findings")
    assert r.status_code == 401 and r.json()["error"]["message"] == "missing bearer token"
    r = api.client.get("/api/v1/findings", headers=api.auth("clr_not-a-token"))
    assert r.status_code == 401 and "unknown token" in r.json()["error"]["message"]


def test_expired_and_revoked_tokens_are_refused(api: Api) -> None:
    r = api.client.post(
        "/api/v1/tokens",
        json={"team": "payments", "scopes": ["read"], "expires_in_days": 1},
        headers=api.auth(api.admin),
    )
    assert r.status_code == 201
    secret, token_id = r.json()["token"], r.json()["id"]
    assert api.client.get("/api/v1/findings", headers=api.auth(secret)).status_code == 200
    listed = api.client.get("/api/v1/tokens", headers=api.auth(api.admin)).json()["tokens"]
    assert secret not in json.dumps(listed) and any(t["prefix"] == secret[:12] for t in listed)
    api.clock.advance(2)
    assert (
        api.client.get("/api/v1/findings", headers=api.auth(secret)).json()["error"]["message"]
        == "token expired"
    )
    fresh = api.token("payments", "read")
    assert api.client.delete(f"/api/v1/tokens/{token_id}", headers=api.auth(api.admin)).status_code == 200
    tid = next(
        t["id"]
        for t in api.client.get("/api/v1/tokens", headers=api.auth(api.admin)).json()["tokens"]
        if t["prefix"] == fresh[:12]
    )
    api.client.delete(f"/api/v1/tokens/{tid}", headers=api.auth(api.admin))
    assert (
        api.client.get("/api/v1/findings", headers=api.auth(fresh)).json()["error"]["message"]
        == "token revoked"
    )
    # a read token cannot push, a team token cannot create tokens
    reader = api.token("payments", "read")
    assert _post(api, reader, content=b"{}").status_code == 403
    assert (
        api.client.post("/api/v1/tokens", json={"scopes": ["admin"]}, headers=api.auth(reader)).status_code
        == 403
    )


def test_verified_bundle_and_refused_bundles(api: Api, demo_runs: DemoRuns) -> None:
    tok = api.token("payments", "ingest", "read")
    files = {"bundle": ("release.bundle.tar.gz", demo_runs.bundle1, "application/gzip")}
    # no key trusted for the team yet: refused, nothing written
    r = _post(api, tok, files=files, data={"service": "billing"})
    assert r.status_code == 400 and "no signing key is trusted" in r.json()["error"]["message"]
    assert api.client.get("/api/v1/services", headers=api.auth(api.admin)).json()["services"] == []
    _trust(api, "payments", demo_runs)
    r = _post(api, tok, files=files, data={"service": "billing"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["verified"] is True and body["signer_key_id"] and body["counts"]["created"] > 0
    # a tampered bundle (one member changed, manifest kept) is refused with the reason
    tampered = _rewrite_member(demo_runs.bundle1, "results.sarif", b"{}")
    r = _post(
        api, tok, files={"bundle": ("b.tar.gz", tampered, "application/gzip")}, data={"service": "billing"}
    )
    assert r.status_code == 400 and "results.sarif" in r.json()["error"]["message"]
    # a key of another team does not verify this team's bundle
    other = api.token("search", "ingest")
    r = _post(api, other, files=files, data={"service": "search-api"})
    assert r.status_code == 400 and "no signing key is trusted" in r.json()["error"]["message"]


def _rewrite_member(bundle: bytes, name: str, data: bytes) -> bytes:
    src = tarfile.open(fileobj=io.BytesIO(gzip.decompress(bundle)))
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as dst:
        for m in src.getmembers():
            content = src.extractfile(m).read()  # type: ignore[union-attr]
            if m.name == name:
                content = data
            info = tarfile.TarInfo(m.name)
            info.size = len(content)
            dst.addfile(info, io.BytesIO(content))
    return gzip.compress(out.getvalue())


@pytest.mark.parametrize(
    ("body", "ctype", "status", "message"),
    [
        (b"{not json", "application/json", 400, "not valid JSON"),
        (b"[1, 2]", "application/json", 400, "must be a JSON object"),
        (
            json.dumps({"schema_version": "2", "findings": []}).encode(),
            "application/json",
            422,
            "unsupported report schema_version '2'",
        ),
        (
            json.dumps({"schema_version": "1", "findings": [{"rule_id": "x"}]}).encode(),
            "application/json",
            422,
            "invalid report at findings.0",
        ),
        (b"\x1f\x8b not really gzip", "application/gzip", 400, "not a gzip file"),
        (b"text", "text/plain", 415, "unsupported content type"),
    ],
)
def test_bad_input_is_a_clear_4xx_and_writes_nothing(
    api: Api, body: bytes, ctype: str, status: int, message: str
) -> None:
    tok = api.token("payments", "ingest", "read")
    r = _post(
        api,
        tok,
        content=body,
        headers={**api.auth(tok), "Content-Type": ctype},
        params={"service": "billing"},
    )
    assert r.status_code == status, r.text
    assert message in r.json()["error"]["message"]
    assert "Traceback" not in r.text
    assert api.client.get("/api/v1/services", headers=api.auth(api.admin)).json()["services"] == []


def test_tar_bomb_and_oversized_requests(api: Api, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from clearance.server.app import create_app
    from clearance.server.settings import ServerSettings

    settings = ServerSettings(
        db_url=api.db.url,
        log_key_path=tmp_path / "k",
        migrate=False,
        max_request_bytes=200_000,
        max_unpacked_bytes=1_000_000,
    )
    client = TestClient(
        create_app(settings, clock=api.clock, engine=api.db.engine), raise_server_exceptions=False
    )
    tok = api.token("payments", "ingest")
    bomb = gzip.compress(b"\0" * 3_000_000, compresslevel=9)  # ~3 KB that unpacks to 3 MB
    r = client.post(
        "/api/v1/runs", content=bomb, headers={**api.auth(tok), "Content-Type": "application/gzip"}
    )
    assert r.status_code == 413 and "decompression bomb" in r.json()["error"]["message"]
    r = client.post(
        "/api/v1/runs", content=b"x" * 200_001, headers={**api.auth(tok), "Content-Type": "application/json"}
    )
    assert r.status_code == 413 and "larger than 200000 bytes" in r.json()["error"]["message"]

    def chunked():  # type: ignore[no-untyped-def]  # no Content-Length: counted while streaming
        for _ in range(30):
            yield b"x" * 10_000

    r = client.post(
        "/api/v1/runs", content=chunked(), headers={**api.auth(tok), "Content-Type": "application/json"}
    )
    assert r.status_code == 413


def test_unknown_service_without_permission(api: Api, demo_runs: DemoRuns) -> None:
    api.client.app.state.settings = api.client.app.state.settings.model_copy(
        update={"allow_service_creation": False}
    )  # type: ignore[attr-defined]
    tok = api.token("payments", "ingest")
    r = _post(
        api,
        tok,
        content=demo_runs.report1,
        headers={**api.auth(tok), "Content-Type": "application/json"},
        params={"service": "billing"},
    )
    assert r.status_code == 403 and "may not create services" in r.json()["error"]["message"]
    # an admin token may
    r = _post(
        api,
        api.admin,
        content=demo_runs.report1,
        headers={**api.auth(api.admin), "Content-Type": "application/json"},
        params={"service": "billing"},
    )
    assert r.status_code == 200 and r.json()["service_created"] is True


def test_vex_decisions_leave_sla_counts_and_export_validates(api: Api, demo_runs: DemoRuns) -> None:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    tok = api.token("payments", "ingest", "read")
    run = _post(
        api,
        tok,
        content=demo_runs.report1,
        headers={**api.auth(tok), "Content-Type": "application/json"},
        params={"service": "billing"},
    ).json()
    api.clock.advance(40)
    before = api.client.get(
        "/api/v1/findings", params={"overdue": "true", "severity": "high"}, headers=api.auth(tok)
    ).json()
    jinja = [
        f
        for f in before["findings"]
        if f["component_purl"] == "pkg:pypi/jinja2@2.11.2" and f["advisory_id"] == "GHSA-q2x7-8rv6-6q7h"
    ]
    assert jinja, "the high jinja2 advisory is overdue after 40 days"
    r = api.client.post(
        "/api/v1/analyses",
        json={
            "service": "billing",
            "component": "pkg:pypi/jinja2@2.11.2",
            "advisory": "CVE-2024-56326",
            "state": "not_affected",
            "justification": "code_not_reachable",
            "detail": "no sandbox use",
        },
        headers=api.auth(tok),
    )
    assert r.status_code == 201, r.text
    after = api.client.get(
        "/api/v1/findings", params={"overdue": "true", "severity": "high"}, headers=api.auth(tok)
    ).json()
    assert jinja[0]["id"] not in {f["id"] for f in after["findings"]}
    shown = api.client.get("/api/v1/findings", params={"service": "billing"}, headers=api.auth(tok)).json()[
        "findings"
    ]
    assert (
        next(f for f in shown if f["id"] == jinja[0]["id"])["status"] == "not_affected"
    )  # shown, not hidden
    aff = api.client.get(
        "/api/v1/affected", params={"advisory": "GHSA-q2x7-8rv6-6q7h"}, headers=api.auth(tok)
    ).json()
    assert (
        aff["not_affected"] == 1
        and aff["services"] == []
        and aff["results"][0]["analysis_state"] == "not_affected"
    )
    # invalid decisions are refused
    bad = api.client.post(
        "/api/v1/analyses",
        json={
            "service": "billing",
            "component": "pkg:pypi/jinja2@2.11.2",
            "advisory": "X",
            "state": "not_affected",
        },
        headers=api.auth(tok),
    )
    assert bad.status_code == 400 and "justification" in bad.json()["error"]["message"]
    other = api.token("search", "ingest")
    denied = api.client.post(
        "/api/v1/analyses",
        json={
            "service": "billing",
            "component": "pkg:pypi/jinja2@2.11.2",
            "advisory": "X",
            "state": "in_triage",
        },
        headers=api.auth(other),
    )
    assert denied.status_code == 403
    vex = api.client.get(f"/api/v1/releases/{run['release']['id']}/vex", headers=api.auth(tok))
    assert vex.status_code == 200
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(vex.text) is None
    doc = json.loads(vex.text)
    states = {(v["id"], v["analysis"]["state"]) for v in doc["vulnerabilities"]}
    assert ("GHSA-q2x7-8rv6-6q7h", "not_affected") in states
    assert any(s == "in_triage" for _, s in states)
    assert (
        api.client.get(f"/api/v1/releases/{run['release']['id']}/vex", headers=api.auth(other)).status_code
        == 403
    )


def test_exceptions_expiring_and_expired(api: Api, demo_runs: DemoRuns) -> None:
    report = json.loads(demo_runs.report1)
    target = report["findings"][0]
    target["verdict"] = {
        "action": "excepted",
        "exception_id": "EXC-1",
        "message": "",
        "notes": [],
        "rule": "exception",
    }
    report["decision"]["extra"]["exceptions"] = [
        {
            "id": "EXC-1",
            "owner": "alice",
            "reason": "rotating",
            "expires": "2026-11-20",
            "status": "applied",
            "match": {"rule": target["rule_id"]},
        }
    ]
    tok = api.token("payments", "ingest", "read")
    r = _post(
        api,
        tok,
        content=json.dumps(report).encode(),
        headers={**api.auth(tok), "Content-Type": "application/json"},
        params={"service": "billing"},
    )
    assert r.status_code == 200, r.text
    api.clock.advance(10)  # 2026-11-11: expires in 8-9 days; the critical finding is past due but excepted
    ex = api.client.get("/api/v1/exceptions", params={"within_days": 14}, headers=api.auth(tok)).json()
    assert [e["id"] for e in ex["expiring"]] == ["EXC-1"] and ex["expired"] == []
    overdue = api.client.get("/api/v1/findings", params={"overdue": "true"}, headers=api.auth(tok)).json()[
        "findings"
    ]
    assert target["fingerprint"] not in {f["fingerprint"] for f in overdue}
    listed = api.client.get("/api/v1/findings", params={"service": "billing"}, headers=api.auth(tok)).json()[
        "findings"
    ]
    assert next(f for f in listed if f["fingerprint"] == target["fingerprint"])["status"] == "excepted"
    api.clock.advance(15)  # expired: the clock resumes, the finding is overdue again
    ex = api.client.get("/api/v1/exceptions", headers=api.auth(tok)).json()
    assert [e["id"] for e in ex["expired"]] == ["EXC-1"] and ex["expired"][0]["matching_open_findings"] == 1
    overdue = api.client.get("/api/v1/findings", params={"overdue": "true"}, headers=api.auth(tok)).json()[
        "findings"
    ]
    assert target["fingerprint"] in {f["fingerprint"] for f in overdue}


# --- audit proofs, checked with a few lines of independent code -------------------------------------


def _h(b: bytes) -> bytes:
    return hashlib.sha256(b).digest()


def _independent_inclusion(leaf: bytes, index: int, size: int, path: list[bytes], root: bytes) -> bool:
    """RFC 9162 2.1.3.2, written again here so the server's code is not checking itself."""
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = _h(b"\x01" + p + r)
            while not fn & 1 and fn:
                fn >>= 1
                sn >>= 1
        else:
            r = _h(b"\x01" + r + p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def test_a_team_token_gets_proofs_but_reads_only_its_own_teams_entries(api: Api, demo_runs: DemoRuns) -> None:
    """Another team's runs, tokens and triage stay private: a team token gets the leaf hash and the
    proof of every entry (to check an entry it holds), the text only of entries about its team."""
    payments = api.token("payments", "ingest", "read")
    _post(
        api,
        payments,
        content=demo_runs.report1,
        headers={**api.auth(payments), "Content-Type": "application/json"},
        params={"service": "billing"},
    )
    search = api.token("search", "read")
    entries = api.client.get("/api/v1/audit/entries", headers=api.auth(api.admin)).json()["entries"]
    by_action: dict[str, list[dict[str, Any]]] = {}
    for e in entries:
        by_action.setdefault(json.loads(e["entry"])["action"], []).append(e)
    ingest = by_action["ingest"][-1]
    assert json.loads(ingest["entry"])["data"]["service"] == "billing"

    def proof(token: str, seq: int) -> dict[str, Any]:
        r = api.client.get("/api/v1/audit/proof", params={"seq": seq}, headers=api.auth(token))
        assert r.status_code == 200
        return dict(r.json())

    own = proof(payments, ingest["seq"])
    assert own["entry"] == ingest["entry"] and "entry_withheld" not in own
    other = proof(search, ingest["seq"])
    assert other["entry"] is None and "admin" in other["entry_withheld"]
    assert other["leaf_hash"] == own["leaf_hash"] == ingest["leaf_hash"] and other["proof"] == own["proof"]
    created = {json.loads(e["entry"])["data"]["team"]: e for e in by_action["token.created"]}
    assert proof(search, created["search"]["seq"])["entry"] == created["search"]["entry"]
    assert proof(search, created["payments"]["seq"])["entry"] is None
    admin_tokens = [e for e in by_action["token.created"] if json.loads(e["entry"])["data"]["team"] is None]
    for e in admin_tokens:  # entries about no team (an admin token, an SLA) are the admin's to read
        assert proof(payments, e["seq"])["entry"] is None


def test_audit_proofs_verify_independently(api: Api, demo_runs: DemoRuns) -> None:
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    tok = api.token("payments", "ingest", "read")
    for i in range(3):
        _post(
            api,
            tok,
            content=demo_runs.report1 + b" " * i,
            headers={**api.auth(tok), "Content-Type": "application/json"},
            params={"service": "billing"},
        )
    api.token("search", "read")
    entries = api.client.get("/api/v1/audit/entries", headers=api.auth(api.admin)).json()
    size = entries["size"]
    assert size >= 6 and [e["seq"] for e in entries["entries"]] == list(range(size))
    cp = api.client.get("/api/v1/audit/checkpoint", headers=api.auth(tok)).json()
    assert cp["checkpoint"]["size"] == size
    body = (
        f"clearance-ledger\n{size}\n".encode()
        + __import__("base64").b64encode(bytes.fromhex(cp["checkpoint"]["root"]))
        + b"\n"
    )
    load_pem_public_key(cp["public_key"].encode()).verify(
        __import__("base64").b64decode(cp["checkpoint"]["signature"]), body
    )  # type: ignore[call-arg, union-attr]
    for seq in range(size):  # an admin token reads every entry's text with its proof
        p = api.client.get("/api/v1/audit/proof", params={"seq": seq}, headers=api.auth(api.admin)).json()
        leaf = _h(b"\x00" + p["entry"].encode())
        assert leaf.hex() == p["leaf_hash"]
        assert _independent_inclusion(
            leaf,
            seq,
            p["tree_size"],
            [bytes.fromhex(x) for x in p["proof"]],
            bytes.fromhex(cp["checkpoint"]["root"]),
        )
        assert not _independent_inclusion(
            _h(b"\x00forged"),
            seq,
            p["tree_size"],
            [bytes.fromhex(x) for x in p["proof"]],
            bytes.fromhex(cp["checkpoint"]["root"]),
        )
    c = api.client.get(
        "/api/v1/audit/consistency", params={"from": 3, "to": size}, headers=api.auth(tok)
    ).json()
    from clearance.ledger.audit import verify_consistency

    assert verify_consistency(
        3,
        size,
        [bytes.fromhex(x) for x in c["proof"]],
        bytes.fromhex(c["old_root"]),
        bytes.fromhex(c["new_root"]),
    )
    assert c["new_root"] == cp["checkpoint"]["root"]
    assert (
        api.client.get("/api/v1/audit/proof", params={"seq": size + 5}, headers=api.auth(tok)).status_code
        == 400
    )
    # a stored subtree hash gone (the database edited behind the server's back): a clear 500
    with api.db.engine.begin() as c:
        c.execute(text("DELETE FROM audit_nodes WHERE level = 1 AND idx = 0"))
    r = api.client.get("/api/v1/audit/proof", params={"seq": 2}, headers=api.auth(tok))
    assert r.status_code == 500 and "entries 0–1 is missing" in r.json()["error"]["message"]
    assert "Traceback" not in r.text
