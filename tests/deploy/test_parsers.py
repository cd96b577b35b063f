"""Deploy policy file, AdmissionReview, Terraform drift, incident webhooks and DORA bands."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from clearance.deploy import admission, dora, drift, incidents
from clearance.deploy.policy import Enforcement, default_policy, load_policy, parse_policy
from clearance.errors import ConfigError, MalformedInput

FIXTURES = Path(__file__).parent.parent / "fixtures" / "deploy"


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


# --- policy file -----------------------------------------------------------------------------


def test_policy_yaml_and_toml_load() -> None:
    yaml_policy = load_policy(FIXTURES / "deploy-policy.yaml")
    prod = yaml_policy.for_env("PROD")
    assert prod.required_approvals == 2 and prod.drift is Enforcement.DENY
    assert [w.name for w in prod.freeze_windows] == ["year-end", "friday-evening"]
    assert yaml_policy.for_env("dev").drift is Enforcement.OFF
    toml_policy = load_policy(FIXTURES / "deploy-policy.toml")
    assert toml_policy.for_env("prod").freeze_windows[0].action == "deny"
    assert toml_policy.for_env("qa") == toml_policy.default
    assert not toml_policy.is_known("qa")
    assert default_policy().for_env("sandbox").required_approvals == 1  # deny-by-default


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("environments: {prod: {required_approvals: -1}}", "environments.prod.required_approvals"),
        ("environments: {prod: {evidence: maybe}}", "environments.prod.evidence"),
        ("environments: {prod: {blocking_severities: [urgent]}}", "blocking_severities"),
        ("environments: {prod: {surprise: 1}}", "environments.prod.surprise"),
        ("environments: {prod: {freeze_windows: [{start: 2026-12-01T00:00:00Z}]}}", "freeze_windows"),
        (
            "environments: {prod: {freeze_windows: [{days: [fri], start: 2026-12-01T00:00:00Z, end: 2026-12-02T00:00:00Z}]}}",
            "freeze_windows",
        ),
        ("environments: {prod: {required_approvals: 2, approver_groups: []}}", "environments.prod"),
        ("environments: {prod: {auto_approval: {low_risk_paths: ['']}}}", "low_risk_paths"),
        ("- just a list", "mapping"),
        ("version: 2", "version"),
    ],
)
def test_policy_errors_name_the_key(text: str, where: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse_policy(text, "yaml", "p.yaml")
    assert where in e.value.message


def test_policy_bad_toml() -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        parse_policy("[environments.prod\n", "toml")


# --- admission -------------------------------------------------------------------------------


def test_admission_pod_images_and_service() -> None:
    req = admission.parse_review(load("admission-pod-pinned.json"))
    assert req.uid == "705ab4f5-6393-11e8-b7cc-42010a800002" and req.kind == "Pod"
    assert req.service == "payments-api" and req.namespace == "payments"
    assert [(c.list_name, c.container) for c in req.images] == [
        ("initContainers", "migrate"),
        ("containers", "api"),
    ]
    api = req.images[1].image
    assert api.name == "registry.example.com/payments/api" and api.tag == "1.4.2"
    assert admission.is_pinned(api) and api.digest is not None and api.digest.startswith("sha256:3b3a")


def test_admission_deployment_tag_only_and_cronjob() -> None:
    req = admission.parse_review(load("admission-deployment-tag.json"))
    assert req.service == "checkout" and req.operation == "UPDATE" and req.username == "alice@example.com"
    web, envoy = (c.image for c in req.images)
    assert not admission.is_pinned(web) and web.tag == "2.7.0"
    assert admission.is_pinned(envoy)
    cron = admission.parse_review(load("admission-cronjob.json"))
    assert cron.service == "reports"
    assert [c.image.reference for c in cron.images] == ["reports:latest"]
    assert admission.parse_review(load("admission-configmap.json")).images == ()


def test_admission_answer_shape() -> None:
    denied = admission.answer("u1", [admission.ImageVerdict("img", False, "no evidence")])
    assert denied == {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "response": {
            "uid": "u1",
            "allowed": False,
            "status": {"code": 403, "reason": "Forbidden", "message": "clearance: img: no evidence"},
        },
    }
    warned = admission.answer("u1", [admission.ImageVerdict("img", False, "no evidence")], warn_only=True)
    assert warned["response"]["allowed"] is True and warned["response"]["warnings"] == ["img: no evidence"]
    assert admission.answer("u2", [admission.ImageVerdict("img", True, "ok")])["response"] == {
        "uid": "u2",
        "allowed": True,
    }


@pytest.mark.parametrize(
    "doc",
    [
        [],
        {"apiVersion": "admission.k8s.io/v1beta1", "kind": "AdmissionReview", "request": {"uid": "x"}},
        {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"},
        {
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "request": {"kind": {"kind": "Pod"}},
        },
        {
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "request": {
                "uid": "x",
                "kind": {"kind": "Pod"},
                "object": {"spec": {"containers": [{"name": "a"}]}},
            },
        },
        {
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "request": {
                "uid": "x",
                "kind": {"kind": "Pod"},
                "object": {"spec": {"containers": [{"image": "a b"}]}},
            },
        },
    ],
)
def test_admission_malformed(doc: Any) -> None:
    with pytest.raises(MalformedInput):
        admission.parse_review(doc)


def test_parse_image_forms() -> None:
    assert admission.parse_image("nginx").tag is None
    ref = admission.parse_image("localhost:5000/team/app:v1")
    assert (ref.name, ref.tag, ref.digest) == ("localhost:5000/team/app", "v1", None)
    ref = admission.parse_image("localhost:5000/app@sha256:" + "A" * 64)
    assert ref.tag is None and ref.digest == "sha256:" + "a" * 64


# --- drift -----------------------------------------------------------------------------------


def test_drift_from_show_json() -> None:
    report = drift.parse_plan((FIXTURES / "tf-show-drift.json").read_bytes())
    assert report.status is drift.DriftStatus.DRIFTED and report.terraform_version == "1.9.5"
    assert [(r.address, r.source) for r in report.resources] == [
        ("aws_s3_bucket.logs", "resource_drift"),
        ("aws_security_group.api", "resource_changes"),
        ("aws_security_group.api", "resource_drift"),
    ]
    only_drift = drift.parse_plan((FIXTURES / "tf-show-drift.json").read_bytes(), changes_are_drift=False)
    assert len(only_drift.resources) == 2
    clean = drift.parse_plan((FIXTURES / "tf-show-clean.json").read_bytes())
    assert clean.status is drift.DriftStatus.CLEAN and clean.resources == ()


def test_drift_from_plan_ui_log() -> None:
    report = drift.parse_plan((FIXTURES / "tf-plan-ui.jsonl").read_bytes())
    assert report.status is drift.DriftStatus.DRIFTED and report.terraform_version == "1.9.5"
    assert {r.source for r in report.resources} == {"resource_drift", "resource_changes"}


def test_drift_exit_codes_and_errors() -> None:
    assert drift.from_exit_code(0).status is drift.DriftStatus.CLEAN
    assert drift.from_exit_code(2).status is drift.DriftStatus.DRIFTED
    assert drift.from_exit_code(1).status is drift.DriftStatus.UNKNOWN
    errored = json.dumps({"format_version": "1.2", "errored": True})
    assert drift.parse_plan(errored.encode()).status is drift.DriftStatus.UNKNOWN
    for bad in (
        b"",
        b"[1]",
        b'{"a": 1}',
        b"not json\n",
        b'{"format_version":"1","resource_drift":[{"change":{}}]}',
    ):
        with pytest.raises(MalformedInput):
            drift.parse_plan(bad)


# --- incidents -------------------------------------------------------------------------------


def test_pagerduty_v3() -> None:
    (opened,) = incidents.from_pagerduty(load("pagerduty-triggered.json"), default_env="prod")
    assert (opened.source, opened.external_id, opened.service, opened.env) == (
        "pagerduty",
        "PGR0VU2",
        "payments-api",
        "prod",
    )
    assert opened.severity == "critical" and opened.resolved_at is None
    assert opened.opened_at == dt.datetime(2026, 11, 20, 14, 4, 30, tzinfo=dt.UTC)
    (closed,) = incidents.from_pagerduty(load("pagerduty-resolved.json"))
    assert closed.resolved_at == dt.datetime(2026, 11, 20, 15, 35, tzinfo=dt.UTC)
    assert (
        incidents.from_pagerduty({"event": {"event_type": "service.updated", "resource_type": "service"}})
        == []
    )
    with pytest.raises(MalformedInput):
        incidents.from_pagerduty({"messages": []})


def test_alertmanager() -> None:
    firing, resolved = incidents.from_alertmanager(load("alertmanager-firing.json"))
    assert (firing.service, firing.env, firing.severity, firing.resolved_at) == (
        "checkout",
        "prod",
        "critical",
        None,
    )
    assert firing.title == "checkout error rate above 10%"
    assert resolved.env == "staging" and resolved.severity == "medium"
    assert resolved.resolved_at == dt.datetime(2026, 11, 21, 7, 20, tzinfo=dt.UTC)
    with pytest.raises(MalformedInput):
        incidents.from_alertmanager({"version": "4", "alerts": [{"startsAt": "2026-01-01T00:00:00Z"}]})
    with pytest.raises(MalformedInput):
        incidents.from_alertmanager(
            {"version": "4", "alerts": [{"fingerprint": "a", "startsAt": "yesterday"}]}
        )


# --- DORA bands ------------------------------------------------------------------------------


def test_dora_bands_boundaries() -> None:
    B = dora.Band
    assert dora.deployment_frequency_band(90, 90) is B.ELITE
    assert dora.deployment_frequency_band(89, 90) is B.HIGH
    assert dora.deployment_frequency_band(13, 90) is B.HIGH  # 13/90*7 = 1.01 per week
    assert dora.deployment_frequency_band(12, 90) is B.MEDIUM
    assert dora.deployment_frequency_band(3, 90) is B.MEDIUM
    assert dora.deployment_frequency_band(2, 90) is B.LOW
    assert dora.deployment_frequency_band(0, 90) is B.LOW
    assert dora.lead_time_band(None) is None
    assert [dora.lead_time_band(s) for s in (dora.DAY - 1, dora.DAY, dora.WEEK, dora.MONTH)] == [
        B.ELITE,
        B.HIGH,
        B.MEDIUM,
        B.LOW,
    ]
    assert [dora.change_failure_band(r) for r in (0.05, 0.1, 0.15, 0.151)] == [
        B.ELITE,
        B.HIGH,
        B.MEDIUM,
        B.LOW,
    ]
    assert [dora.time_to_restore_band(s) for s in (3599, 3600, dora.DAY, dora.WEEK)] == [
        B.ELITE,
        B.HIGH,
        B.MEDIUM,
        B.LOW,
    ]
