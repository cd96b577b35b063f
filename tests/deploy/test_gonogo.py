"""The five deploy checks over typed facts (no database)."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

import pytest

from clearance.deploy.gonogo import (
    Answer,
    ApprovalFact,
    ChangeFacts,
    CheckName,
    CheckStatus,
    DeployFacts,
    DeployRequest,
    DriftFact,
    EvidenceFact,
    RiskFact,
    decide,
)
from clearance.deploy.policy import load_policy
from clearance.model import Severity

FIXTURES = Path(__file__).parent.parent / "fixtures" / "deploy"
POLICY = load_policy(FIXTURES / "deploy-policy.yaml")
PROD = POLICY.for_env("prod")
STAGING = POLICY.for_env("staging")
NOW = dt.datetime(2026, 12, 2, 10, 0, tzinfo=dt.UTC)  # a Wednesday, outside every freeze window
DIGEST = "sha256:" + "ab" * 32
GOOD = EvidenceFact(
    bundle_id="b1",
    subject_digests=(DIGEST,),
    verified=True,
    key_trusted=True,
    outcome="pass",
    signer_key_id="key-payments",
    ingested_at=NOW - dt.timedelta(hours=1),
)
REQ = DeployRequest(service="payments-api", env="prod", digest=DIGEST, requester="carol")


def facts(**kw: object) -> DeployFacts:
    base = DeployFacts(request=REQ, service_known=True, owner_team="payments", evidence=(GOOD,))
    return replace(base, **kw)  # type: ignore[arg-type]


def approvals(*who: tuple[str, str]) -> tuple[ApprovalFact, ...]:
    return tuple(ApprovalFact(name, (group,), NOW - dt.timedelta(minutes=5)) for name, group in who)


def test_no_evidence_denies() -> None:
    d = decide(facts(evidence=()), PROD, NOW)
    assert d.answer is Answer.DENY
    assert d.check(CheckName.EVIDENCE).status is CheckStatus.FAIL
    assert "no evidence has subject" in d.check(CheckName.EVIDENCE).reason


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        (replace(GOOD, subject_digests=("sha256:" + "cd" * 32,)), "no evidence has subject"),
        (replace(GOOD, verified=False, verify_error="signature mismatch"), "signature mismatch"),
        (replace(GOOD, key_trusted=False), "not trusted"),
        (replace(GOOD, outcome="block"), "decision was block"),
        (replace(GOOD, exception_expiries=(NOW - dt.timedelta(days=1),)), "expired"),
    ],
)
def test_bad_evidence_denies(bad: EvidenceFact, why: str) -> None:
    d = decide(
        facts(evidence=(bad,), approvals=approvals(("dan", "payments"), ("eve", "security"))), PROD, NOW
    )
    assert d.answer is Answer.DENY
    assert why in d.check(CheckName.EVIDENCE).reason


def test_unexpired_exception_passes_and_good_bundle_wins_over_bad() -> None:
    ok = replace(GOOD, exception_expiries=(NOW + dt.timedelta(days=3),))
    bad = replace(GOOD, bundle_id="b0", verified=False, ingested_at=NOW)
    d = decide(
        facts(evidence=(bad, ok), approvals=approvals(("dan", "payments"), ("eve", "security"))), PROD, NOW
    )
    assert d.answer is Answer.ALLOW, d.reasons
    assert d.check(CheckName.EVIDENCE).used["bundle"] == "b1"


def test_tag_or_short_digest_is_refused() -> None:
    d = decide(facts(request=replace(REQ, digest="latest")), PROD, NOW)
    assert d.answer is Answer.DENY and "not a sha256" in d.check(CheckName.EVIDENCE).reason


def test_prod_needs_two_approvals_not_self() -> None:
    d = decide(facts(), PROD, NOW)
    assert d.answer is Answer.NEEDS_APPROVAL
    d = decide(facts(approvals=approvals(("carol", "payments"), ("dan", "payments"))), PROD, NOW)
    assert d.answer is Answer.NEEDS_APPROVAL
    assert "carol (self-approval)" in d.check(CheckName.APPROVALS).reason
    d = decide(facts(approvals=approvals(("mallory", "marketing"), ("dan", "payments"))), PROD, NOW)
    assert d.answer is Answer.NEEDS_APPROVAL and "mallory (not in" in d.check(CheckName.APPROVALS).reason
    # the same approver twice counts once
    d = decide(facts(approvals=approvals(("dan", "payments"), ("dan", "payments"))), PROD, NOW)
    assert d.answer is Answer.NEEDS_APPROVAL
    d = decide(facts(approvals=approvals(("dan", "payments"), ("eve", "security"))), PROD, NOW)
    assert d.answer is Answer.ALLOW
    assert d.check(CheckName.APPROVALS).used["approvers"] == ["dan", "eve"]


def test_staging_needs_no_approval() -> None:
    d = decide(facts(request=replace(REQ, env="staging")), STAGING, NOW)
    assert d.answer is Answer.ALLOW


def test_drift_blocks_prod_warns_staging_and_unknown_fails_closed() -> None:
    two = approvals(("dan", "payments"), ("eve", "security"))
    drift = DriftFact("drifted", NOW, ("aws_security_group.api",), "r1")
    d = decide(facts(approvals=two, drift=drift), PROD, NOW)
    assert d.answer is Answer.DENY and "aws_security_group.api" in d.check(CheckName.DRIFT).reason
    d = decide(facts(drift=drift), STAGING, NOW)
    assert d.answer is Answer.ALLOW and d.check(CheckName.DRIFT).status is CheckStatus.WARN
    d = decide(facts(approvals=two, drift=replace(drift, status="unknown")), PROD, NOW)
    assert d.answer is Answer.DENY
    d = decide(facts(approvals=two, drift=replace(drift, status="clean")), PROD, NOW)
    assert d.answer is Answer.ALLOW


def test_open_risk_past_sla_and_expired_exception() -> None:
    two = approvals(("dan", "payments"), ("eve", "security"))
    overdue = RiskFact("f1", "vuln.GHSA-x", Severity.HIGH, "open", NOW - dt.timedelta(days=1))
    d = decide(facts(approvals=two, risks=(overdue,)), PROD, NOW)
    assert d.answer is Answer.DENY and "past SLA" in d.check(CheckName.OPEN_RISK).reason
    # not yet due, or a medium: allowed
    for r in (
        replace(overdue, due_at=NOW + dt.timedelta(days=1)),
        replace(overdue, severity=Severity.MEDIUM),
    ):
        assert decide(facts(approvals=two, risks=(r,)), PROD, NOW).answer is Answer.ALLOW
    expired = RiskFact("f2", "iac.x", Severity.LOW, "excepted", None, NOW - dt.timedelta(seconds=1))
    d = decide(facts(approvals=two, risks=(expired,)), PROD, NOW)
    assert d.answer is Answer.DENY and "expired exception" in d.check(CheckName.OPEN_RISK).reason


def test_low_risk_change_is_auto_approved_with_rule() -> None:
    change = ChangeFacts(changed_paths=("docs/runbook.md", "tests/test_api.py"), changed_lines=40)
    d = decide(facts(change=change), PROD, NOW)
    assert d.answer is Answer.ALLOW
    assert d.auto_approved_by == "docs-and-tests"
    assert "docs-and-tests" in d.check(CheckName.APPROVALS).reason


@pytest.mark.parametrize(
    "change",
    [
        ChangeFacts(changed_paths=("src/app.py",), changed_lines=3),
        ChangeFacts(changed_paths=("docs/a.md",), changed_lines=5000),
        ChangeFacts(changed_paths=("docs/a.md", "infra/main.tf"), changed_lines=3),
        ChangeFacts(changed_paths=("docs/a.md",), changed_lines=3, first_deploy=True),
        ChangeFacts(changed_paths=None, changed_lines=None),
    ],
)
def test_not_low_risk_needs_people(change: ChangeFacts) -> None:
    assert decide(facts(change=change), PROD, NOW).answer is Answer.NEEDS_APPROVAL


def test_new_blocking_findings_are_high_risk() -> None:
    ev = replace(GOOD, new_blocking_findings=1, outcome="warn")
    change = ChangeFacts(changed_paths=("docs/a.md",), changed_lines=3)
    d = decide(facts(evidence=(ev,), change=change), PROD, NOW)
    assert d.answer is Answer.NEEDS_APPROVAL and "new blocking" in d.check(CheckName.CHANGE_RISK).reason


def test_freeze_windows() -> None:
    change = ChangeFacts(changed_paths=("docs/a.md",), changed_lines=3)
    friday = dt.datetime(2026, 12, 4, 17, 0, tzinfo=dt.UTC)
    d = decide(facts(change=change), PROD, friday)
    assert d.answer is Answer.NEEDS_APPROVAL and "friday-evening" in d.check(CheckName.CHANGE_RISK).reason
    year_end = dt.datetime(2026, 12, 24, 9, 0, tzinfo=dt.UTC)
    assert decide(facts(change=change), PROD, year_end).answer is Answer.NEEDS_APPROVAL
    toml = load_policy(FIXTURES / "deploy-policy.toml")
    saturday = dt.datetime(2026, 12, 5, 9, 0, tzinfo=dt.UTC)
    two = approvals(("dan", "payments"), ("eve", "security"))
    d = decide(facts(approvals=two), toml.for_env("prod"), saturday)
    assert d.answer is Answer.DENY and "weekend" in d.check(CheckName.CHANGE_RISK).reason


def test_unknown_service_denies_and_decision_serialises() -> None:
    d = decide(facts(service_known=False, evidence=()), PROD, NOW)
    assert d.answer is Answer.DENY
    doc = d.to_json()
    assert doc["answer"] == "deny" and [c["name"] for c in doc["checks"]] == [
        "evidence",
        "approvals",
        "drift",
        "open-risk",
        "change-risk",
    ]
