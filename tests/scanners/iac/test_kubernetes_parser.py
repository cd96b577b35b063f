"""The Kubernetes manifest parser: documents, addresses, lines, Helm output, bad input."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from work import calls

from clearance.config import Settings
from clearance.errors import MalformedInput
from clearance.scanners.base import ScanContext
from clearance.scanners.iac.model import Resource
from clearance.scanners.iac.parsers import kubernetes
from clearance.scanners.iac.scanner import IacScanner
from clearance.sources.base import SourceFile

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "iac" / "kubernetes"
PARSER = FIXTURES / "_parser"
NOW = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)


def _parse(name: str) -> list[Resource]:
    return kubernetes.parse(f"deploy/{name}", (PARSER / name).read_text())


def test_helm_rendered_file_yields_every_object_with_its_template() -> None:
    resources = _parse("helm-rendered.yaml")
    assert [r.address for r in resources] == [
        "ServiceAccount/default/shop",
        "Service/default/shop",
        "Deployment/web/shop",
        "Pod/default/shop-test-connection",
    ]
    assert [r.extra.get("helm_source") for r in resources] == [
        "shop/templates/serviceaccount.yaml",
        "shop/templates/service.yaml",
        "shop/templates/deployment.yaml",
        "shop/templates/tests/test-connection.yaml",
    ]
    deployment = resources[2]
    assert deployment.type == "Deployment" and deployment.source == "kubernetes"
    assert deployment.start_line == 26
    assert deployment.line_of("spec.template.spec.containers.0.securityContext.privileged") == 46
    assert deployment.get("spec.template.spec.containers.0.image") == "ghcr.io/example/shop:0.3.1"


def test_kubectl_list_is_unpacked_with_item_lines() -> None:
    resources = _parse("kubectl-list.yaml")
    assert [r.address for r in resources] == ["ConfigMap/prod/app-config", "Job/prod/migrate"]
    job = resources[1]
    assert job.start_line == 13
    assert job.line_of("spec.template.spec.containers.0.securityContext.runAsUser") == 26
    assert [p for p, _c in kubernetes.iter_containers(job)] == ["spec.template.spec.containers.0"]


def test_non_kubernetes_yaml_is_skipped_quietly() -> None:
    assert _parse("not-kubernetes.yaml") == []


def test_unrendered_helm_template_is_skipped_quietly() -> None:
    assert _parse("unrendered-helm-template.yaml") == []


def test_malformed_yaml_raises_with_line() -> None:
    with pytest.raises(MalformedInput) as err:
        _parse("malformed.yaml")
    assert err.value.line is not None and 8 <= err.value.line <= 9


def test_alias_bomb_is_refused_quickly() -> None:
    def parse() -> None:
        with pytest.raises(MalformedInput, match="alias bomb"):
            _parse("alias-bomb.yaml")

    work, _ = calls(parse)
    assert work < 200_000, f"{work} calls: the expansion limit must stop the bomb early"  # not a clock


def test_cronjob_containers_and_pod_spec_paths() -> None:
    text = """apiVersion: batch/v1
kind: CronJob
metadata: {name: report}
spec:
  schedule: "@daily"
  jobTemplate:
    spec:
      template:
        spec:
          initContainers: [{name: init, image: "busybox:1.36"}]
          containers: [{name: main, image: "busybox:1.36"}]
          ephemeralContainers: [{name: debug, image: "busybox:1.36"}]
"""
    (cron,) = kubernetes.parse("cron.yaml", text)
    paths = [p for p, _c in kubernetes.iter_containers(cron)]
    base = "spec.jobTemplate.spec.template.spec"
    assert paths == [f"{base}.initContainers.0", f"{base}.containers.0", f"{base}.ephemeralContainers.0"]
    assert kubernetes.pod_spec_path("Service") is None


def test_generate_name_and_missing_metadata() -> None:
    text = "apiVersion: batch/v1\nkind: Job\nmetadata:\n  generateName: backup-\n---\napiVersion: v1\nkind: Namespace\n"
    assert [r.address for r in kubernetes.parse("x.yaml", text)] == [
        "Job/default/backup-*",
        "Namespace/default/unnamed",
    ]


def _scan(files: dict[str, bytes]) -> tuple[list[str], list[str]]:
    sources = [SourceFile(path=p, size=len(d), data=d) for p, d in files.items()]
    out = IacScanner().scan(sources, ScanContext(root=Path("."), settings=Settings(), now=NOW))
    return [f"{f.rule_id}@{f.location.display()}" for f in out.findings], [
        f"{e.path}: {e.message}" for e in out.errors
    ]


def test_scanner_reports_bad_files_as_errors_and_goes_on() -> None:
    findings, errors = _scan(
        {
            "k8s/bomb.yaml": (PARSER / "alias-bomb.yaml").read_bytes(),
            "k8s/broken.yaml": (PARSER / "malformed.yaml").read_bytes(),
            "k8s/shop.yaml": (PARSER / "helm-rendered.yaml").read_bytes(),
            "ci/workflow.yaml": (PARSER / "not-kubernetes.yaml").read_bytes(),
        }
    )
    assert len(errors) == 2
    assert errors[0].startswith("k8s/bomb.yaml: kubernetes: line ") and "alias bomb" in errors[0]
    assert errors[1].startswith("k8s/broken.yaml: kubernetes: line ")
    assert "iac.k8s-privileged@k8s/shop.yaml:46" in findings
    assert not any(f.split("@")[1].startswith("ci/") for f in findings)
