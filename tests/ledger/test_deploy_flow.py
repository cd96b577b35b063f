"""The deploy issue's "done means" flow through the real API, on SQLite and PostgreSQL:
deny without evidence → push a passing, signed gate run → needs prod approvals (self-approval
refused) → allow → the admission webhook admits that digest and denies an unknown one and a
tag → drift is reported → deny again. Every decision is in the deploy log and the audit log."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from clearance.ledger.service import create_token

from .conftest import Api

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "deploy"
DIGEST = "sha256:" + "5e0c8a1f4b7d2e9c6a3f0b8d5e2c9f6a3d0b7e4c1f8a5d2b9e6c3f0a7d4b1e8c"


@dataclass
class PassingRun:
    """A real gate run of a clean repository, signed, with DIGEST as the artifact subject."""

    report: bytes
    bundle: bytes
    public_key: str


@pytest.fixture(scope="session")
def passing_run(tmp_path_factory: pytest.TempPathFactory) -> PassingRun:
    base = tmp_path_factory.mktemp("passing")
    repo = base / "billing"
    (repo / "app").mkdir(parents=True)
    (repo / "app" / "main.py").write_text('def handler(event):\n    return {"status": 200}\n')
    (repo / "README.md").write_text("# billing\n")
    env = dict(
        os.environ,
        CLEARANCE_DB_DIR=str(base / "advisories"),
        GIT_AUTHOR_NAME="Dev",
        GIT_AUTHOR_EMAIL="dev@example.com",
        GIT_COMMITTER_NAME="Dev",
        GIT_COMMITTER_EMAIL="dev@example.com",
        GIT_AUTHOR_DATE="2026-10-30T10:00:00Z",
        GIT_COMMITTER_DATE="2026-10-30T10:00:00Z",
    )
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "initial"]):
        subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True, timeout=60)
    cli = [sys.executable, "-m", "clearance"]
    subprocess.run(
        [*cli, "keygen", "--output", str(base / "k")], env=env, check=True, capture_output=True, timeout=60
    )
    proc = subprocess.run(
        [
            *cli,
            "gate",
            str(repo),
            "-q",
            "--format",
            "json",
            "--scanners",
            "secrets,iac",
            "--evidence",
            str(base / "ev"),
            "--key",
            str(base / "k"),
            "--artifact-digest",
            f"ghcr.io/acme/billing@{DIGEST}",
        ],
        env=env,
        capture_output=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    assert json.loads(proc.stdout)["decision"]["outcome"] == "pass"
    (bundle,) = sorted((base / "ev").glob("*.bundle.tar.gz"))
    return PassingRun(proc.stdout, bundle.read_bytes(), (base / "k.pub").read_text())


def named_token(api: Api, name: str, team: str | None, *scopes: str) -> str:
    with api.ledger.write() as store:
        secret, _ = create_token(store, team=team, scopes=list(scopes), name=name, expires_in_days=365)
    return secret


def check(api: Api, token: str, digest: str = DIGEST, env: str = "prod") -> dict[str, Any]:
    r = api.client.post(
        "/api/v1/gates/deploy",
        json={"service": "billing", "env": env, "artifact_digest": digest},
        headers=api.auth(token),
    )
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def review(api: Api, token: str, name: str, *, image: str | None = None) -> dict[str, Any]:
    doc = json.loads((FIXTURES / name).read_text())
    if image is not None:
        doc["request"]["object"]["spec"]["containers"][0]["image"] = image
        doc["request"]["object"]["spec"]["initContainers"] = []
        doc["request"]["object"]["metadata"]["labels"]["app.kubernetes.io/name"] = "billing"
    r = api.client.post("/api/v1/admission/prod", json=doc, headers=api.auth(token))
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["apiVersion"] == "admission.k8s.io/v1" and out["kind"] == "AdmissionReview"
    assert out["response"]["uid"] == doc["request"]["uid"]
    return out["response"]  # type: ignore[no-any-return]


def test_deploy_go_no_go_flow(api: Api, passing_run: PassingRun) -> None:
    admin = api.admin
    r = api.client.post(
        "/api/v1/keys",
        json={"team": "payments", "public_key_pem": passing_run.public_key},
        headers=api.auth(admin),
    )
    assert r.status_code == 201, r.text
    alice = named_token(api, "alice", "payments", "deploy", "ingest", "read")
    bob = named_token(api, "bob", "payments", "deploy")
    eve = named_token(api, "eve", "security", "deploy")
    mallory = named_token(api, "mallory", "marketing", "deploy")

    # 1. No evidence yet (the service is not even known): deny.
    first = check(api, alice)
    assert first["answer"] == "deny"
    assert {c["name"]: c["status"] for c in first["checks"]}["evidence"] == "fail"

    # 2. Push the passing, signed gate run of this digest.
    r = api.client.post(
        "/api/v1/runs",
        files={"report": ("report.json", passing_run.report), "bundle": ("b.tar.gz", passing_run.bundle)},
        data={"service": "billing", "version": "1.4.2"},
        headers=api.auth(alice),
    )
    assert r.status_code == 200, r.text
    assert r.json()["verified"] is True

    # 3. Evidence passes; prod needs two approvals (first deploy: no auto-approval).
    second = check(api, alice)
    checks = {c["name"]: c for c in second["checks"]}
    assert second["answer"] == "needs-approval", second
    assert checks["evidence"]["status"] == "pass" and checks["approvals"]["status"] == "fail"
    assert "first deploy" in checks["change-risk"]["reason"]
    # staging needs none
    assert check(api, alice, env="staging")["answer"] == "allow"

    # 4. Approvals: the requester's own and an outsider's do not count; bob (owners) and eve (security) do.
    for tok in (alice, mallory, bob):
        r = api.client.post(
            "/api/v1/approvals",
            json={"service": "billing", "env": "prod", "artifact_digest": DIGEST},
            headers=api.auth(tok),
        )
        assert r.status_code == 200, r.text
    third = check(api, alice)
    reason = {c["name"]: c for c in third["checks"]}["approvals"]["reason"]
    assert (
        third["answer"] == "needs-approval"
        and "alice (self-approval)" in reason
        and "mallory (not in" in reason
    )
    r = api.client.post(
        "/api/v1/approvals",
        json={"service": "billing", "env": "prod", "artifact_digest": DIGEST},
        headers=api.auth(eve),
    )
    assert r.status_code == 200, r.text
    allowed = check(api, alice)
    assert allowed["answer"] == "allow", allowed["reasons"]
    assert {c["name"]: c for c in allowed["checks"]}["approvals"]["used"]["approvers"] == ["bob", "eve"]

    # 5. Admission: the approved digest is admitted, an unknown digest and a tag are denied.
    assert (
        review(api, alice, "admission-pod-pinned.json", image=f"ghcr.io/acme/billing:1.4.2@{DIGEST}")[
            "allowed"
        ]
        is True
    )
    unknown = review(api, alice, "admission-pod-pinned.json")
    assert unknown["allowed"] is False and unknown["status"]["code"] == 403
    assert "deny: evidence: unknown service" in unknown["status"]["message"]
    tagged = review(api, alice, "admission-pod-pinned.json", image="ghcr.io/acme/billing:1.4.2")
    assert tagged["allowed"] is False and "tag only" in tagged["status"]["message"]
    # a review that cannot be read is denied, never admitted
    r = api.client.post("/api/v1/admission/prod", json={"kind": "AdmissionReview"}, headers=api.auth(alice))
    assert r.status_code == 200 and r.json()["response"]["allowed"] is False
    assert r.json()["response"]["status"]["code"] == 400
    # an environment the policy does not name is denied by default, even with evidence and approvals
    other = check(api, alice, env="sandbox")
    assert other["answer"] != "allow" and other["known_environment"] is False

    # 6. Drift is reported for billing in prod: deny again.
    plan = json.loads((FIXTURES / "tf-show-drift.json").read_text())
    r = api.client.post(
        "/api/v1/drift", json={"service": "billing", "env": "prod", "plan": plan}, headers=api.auth(alice)
    )
    assert r.status_code == 200 and r.json()["status"] == "drifted", r.text
    denied = check(api, alice)
    assert denied["answer"] == "deny"
    assert "aws_security_group.api" in {c["name"]: c for c in denied["checks"]}["drift"]["reason"]
    # a clean check clears it
    r = api.client.post(
        "/api/v1/drift", json={"service": "billing", "env": "prod", "exit_code": 0}, headers=api.auth(alice)
    )
    assert r.status_code == 200
    assert check(api, alice)["answer"] == "allow"

    # Every decision is stored and audited.
    log = api.client.get("/api/v1/gates/deploy/decisions", headers=api.auth(admin)).json()
    answers = [d["answer"] for d in reversed(log["decisions"])]
    assert answers[:3] == ["deny", "needs-approval", "allow"]
    assert "admission" in {d["source"] for d in log["decisions"]}
    audit = api.client.get("/api/v1/audit/entries", params={"limit": 1000}, headers=api.auth(admin))
    assert audit.status_code == 200, audit.text
    actions = [json.loads(e["entry"])["action"] for e in audit.json()["entries"]]
    assert actions.count("deploy.decision") == len(log["decisions"])
    assert "deploy.approval" in actions and "deploy.drift" in actions
    # Another team cannot ask about billing.
    r = api.client.post(
        "/api/v1/gates/deploy",
        json={"service": "billing", "env": "prod", "artifact_digest": DIGEST},
        headers=api.auth(mallory),
    )
    assert r.status_code == 403


def test_deployments_incidents_signals_and_metrics(api: Api, passing_run: PassingRun) -> None:
    alice = named_token(api, "alice", "payments", "deploy", "ingest", "read")
    r = api.client.post(
        "/api/v1/runs",
        files={"report": ("report.json", passing_run.report)},
        data={"service": "billing", "version": "1.4.2"},
        headers=api.auth(alice),
    )
    assert r.status_code == 200, r.text
    t0 = api.clock.now
    dep = {
        "service": "billing",
        "env": "prod",
        "artifact_digest": DIGEST,
        "version": "1.4.2",
        "status": "succeeded",
        "started_at": t0.isoformat(),
        "finished_at": (t0 + dt.timedelta(hours=3)).isoformat(),
        "commits": [{"sha": "abc1234", "committed_at": (t0 - dt.timedelta(hours=33)).isoformat()}],
    }
    r = api.client.post("/api/v1/deployments", json=dep, headers=api.auth(alice))
    assert r.status_code == 200, r.text
    # an incident without a release is attributed to what ran in prod when it opened
    api.clock.advance(1)
    pd = json.loads((FIXTURES / "pagerduty-triggered.json").read_text())
    pd["event"]["data"]["service"]["summary"] = "billing"
    pd["event"]["data"]["created_at"] = api.clock.now.isoformat()
    pd["event"]["occurred_at"] = api.clock.now.isoformat()
    r = api.client.post("/api/v1/incidents/pagerduty", json=pd, headers=api.auth(alice))
    assert r.status_code == 200, r.text
    assert r.json()["incidents"][0]["release_id"] is not None
    resolved = dict(
        pd,
        event=dict(
            pd["event"],
            event_type="incident.resolved",
            occurred_at=(api.clock.now + dt.timedelta(hours=2)).isoformat(),
        ),
    )
    resolved["event"]["data"] = dict(pd["event"]["data"], status="resolved")
    r = api.client.post("/api/v1/incidents/pagerduty", json=resolved, headers=api.auth(alice))
    assert r.status_code == 200, r.text
    r = api.client.post(
        "/api/v1/signals",
        json={
            "service": "billing",
            "env": "prod",
            "kind": "falco",
            "rule": "Terminal shell in container",
            "severity": "high",
            "observed_at": api.clock.now.isoformat(),
        },
        headers=api.auth(alice),
    )
    assert r.status_code == 200 and r.json()["release_id"] is not None, r.text
    incidents = api.client.get(
        "/api/v1/incidents", params={"service": "billing"}, headers=api.auth(alice)
    ).json()
    pd_row = next(i for i in incidents["incidents"] if i["source"] == "pagerduty")
    assert pd_row["release"] == "1.4.2" and pd_row["resolved_at"]
    running = api.client.get(
        "/api/v1/deployments", params={"service": "billing"}, headers=api.auth(alice)
    ).json()
    assert running["running"][0]["env"] == "prod" and running["running"][0]["version"] == "1.4.2"

    d = api.client.get(
        "/api/v1/metrics/dora", params={"team": "payments", "window": "30d"}, headers=api.auth(alice)
    ).json()
    assert d["deployments"] == 1 and d["lead_time_median_s"] == 36 * 3600.0
    assert d["change_failures"] == 1 and d["change_failure_rate"] == 1.0
    # restored: PagerDuty 2 h; the resolved staging alert is not prod; the firing alert (2026-11-21) is open
    assert d["time_to_restore_median_s"] == 2 * 3600.0 and d["time_to_restore_band"] == "high"
    s = api.client.get("/api/v1/metrics/security", params={"window": "30d"}, headers=api.auth(alice)).json()
    assert s["prod_deploys"] == 1 and s["prod_deploys_with_evidence"] == 0  # a JSON report only: unverified
    bad = api.client.get("/api/v1/metrics/dora", params={"window": "forever"}, headers=api.auth(alice))
    assert bad.status_code == 422


def test_admission_dry_run_is_recorded_as_such_and_left_out_of_metrics_and_routing(api: Api) -> None:
    """`dryRun: true` gets the same answer and is stored and audited, marked dry-run; it is not a
    deploy attempt: decisions by answer, approval waits and notifications leave it out."""
    from clearance.notify import store as notify_store

    alice = named_token(api, "alice", "payments", "deploy", "read")
    doc = json.loads((FIXTURES / "admission-pod-pinned.json").read_text())
    doc["request"]["dryRun"] = True
    r = api.client.post("/api/v1/admission/prod", json=doc, headers=api.auth(alice))
    assert r.status_code == 200, r.text
    assert r.json()["response"]["allowed"] is False  # an unknown digest: denied, dry run or not

    def decisions() -> list[tuple[str, str, bool]]:
        log = api.client.get("/api/v1/gates/deploy/decisions", headers=api.auth(api.admin)).json()
        return sorted((d["source"], d["answer"], d["dry_run"]) for d in log["decisions"])

    def by_answer() -> dict[str, int]:
        r = api.client.get("/api/v1/metrics/security", headers=api.auth(api.admin))
        assert r.status_code == 200, r.text
        return r.json()["decisions_by_answer"]  # type: ignore[no-any-return]

    assert decisions() == [("admission", "deny", True)] * 2  # one per container image
    assert by_answer() == {}
    entries = api.client.get("/api/v1/audit/entries", params={"limit": 1000}, headers=api.auth(api.admin))
    audited = [json.loads(e["entry"]) for e in entries.json()["entries"]]
    dry = [e for e in audited if e["action"] == "deploy.decision"]
    assert len(dry) == 2 and all(e["data"]["dry_run"] is True for e in dry)

    doc["request"]["dryRun"] = False
    r = api.client.post("/api/v1/admission/prod", json=doc, headers=api.auth(alice))
    assert r.status_code == 200 and r.json()["response"]["allowed"] is False
    assert decisions() == [("admission", "deny", False)] * 2 + [("admission", "deny", True)] * 2
    assert by_answer() == {"deny": 2}  # the cached metrics were recomputed after the write
    with api.ledger.read() as s:
        routed = notify_store.decision_changes(s.session, 0, 100)
    assert len(routed) == 2  # only the real review's decisions are routed
