"""The Kubernetes manifest parser: documents, addresses, lines, Helm output, bad input."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from work import calls

from clearance.config import Settings
from clearance.errors import MalformedInput, UnrenderedTemplate
from clearance.scanners.base import ScanContext
from clearance.scanners.iac.model import Resource, Unknown, is_unknown
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


@pytest.mark.parametrize("name", ["unrendered-helm-template.yaml", "privileged-if-true.yaml"])
def test_unrendered_template_is_an_error_that_says_how_to_scan_it(name: str) -> None:
    with pytest.raises(UnrenderedTemplate) as err:
        _parse(name)
    assert isinstance(err.value, MalformedInput)  # the path every unparseable IaC file takes
    message = str(err.value)
    assert "unrendered Helm/Go template" in message
    assert "render it (`helm template CHART`) and scan the output" in message
    assert err.value.line is not None


def test_quoted_template_values_are_unknown_not_literals() -> None:
    [worker] = _parse("quoted-template-values.yaml")
    assert worker.address == "Deployment/jobs/{{ .Release.Name }}-worker"
    c = "spec.template.spec.containers.0"
    for attr in (f"{c}.image", f"{c}.securityContext.privileged", f"{c}.securityContext.runAsNonRoot"):
        assert is_unknown(worker.get(attr)), attr
    assert worker.get(f"{c}.securityContext.privileged") == Unknown("{{ .Values.privileged }}")
    assert is_unknown(worker.get(f"{c}.env.0.value"))  # partly templated: still not a literal
    assert worker.get(f"{c}.env.1.value") == "info"
    assert worker.get(f"{c}.securityContext.allowPrivilegeEscalation") is False
    assert worker.extra["template_values"] == [6, 19, 21, 22, 26]


def test_rendered_helm_output_keeps_literal_values() -> None:
    text = (
        (PARSER / "helm-rendered.yaml")
        .read_text()
        .replace('image: "ghcr.io/example/shop:0.3.1"', 'image: "ghcr.io/example/shop:{{ tag }}"')
    )
    deployment = next(r for r in kubernetes.parse("k8s/shop.yaml", text) if r.type == "Deployment")
    # helm has rendered it: what is left of `{{` is content (escaped on purpose), not a template
    assert deployment.get("spec.template.spec.containers.0.image") == "ghcr.io/example/shop:{{ tag }}"
    assert "template_values" not in deployment.extra


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


CHART = FIXTURES / "_helm" / "shop"


def _chart_files() -> list[SourceFile]:
    files = []
    for path in sorted(CHART.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            files.append(
                SourceFile(
                    path=f"charts/shop/{path.relative_to(CHART).as_posix()}", size=len(data), data=data
                )
            )
    return files


def test_unrendered_chart_templates_make_the_scan_incomplete_by_default() -> None:
    out = IacScanner().scan(_chart_files(), ScanContext(root=Path("."), settings=Settings(), now=NOW))
    assert [e.path for e in out.errors] == [
        "charts/shop/templates/deployment.yaml",
        "charts/shop/templates/service.yaml",
    ]
    assert all("unrendered Helm/Go template" in e.message and e.scanner == "iac" for e in out.errors)
    assert out.status == "partial"
    assert out.skipped == [] and out.findings == []


def test_unrendered_templates_skip_lists_every_template_as_skipped() -> None:
    settings = Settings.model_validate({"iac": {"unrendered_templates": "skip"}})
    out = IacScanner().scan(_chart_files(), ScanContext(root=Path("."), settings=settings, now=NOW))
    assert out.errors == []
    assert [s.path for s in out.skipped] == [
        "charts/shop/templates/deployment.yaml",
        "charts/shop/templates/service.yaml",
    ]
    assert all("unrendered Helm/Go template" in s.reason for s in out.skipped)
    assert out.files == 0, "a skipped template is not counted as scanned"


def test_chart_metadata_and_values_are_not_manifests() -> None:
    files = [f for f in _chart_files() if "/templates/" not in f.path]
    assert {f.path for f in files} == {"charts/shop/Chart.yaml", "charts/shop/values.yaml"}
    out = IacScanner().scan(files, ScanContext(root=Path("."), settings=Settings(), now=NOW))
    assert (out.findings, out.errors, out.skipped, out.files) == ([], [], [], 0)


def test_unrendered_templates_setting_refuses_other_values() -> None:
    with pytest.raises(ValueError, match="unrendered_templates"):
        Settings.model_validate({"iac": {"unrendered_templates": "ignore"}})


def test_quoted_template_values_do_not_fire_as_literals_and_are_warned_about() -> None:
    data = (PARSER / "quoted-template-values.yaml").read_bytes()
    out = IacScanner().scan(
        [SourceFile(path="charts/jobs/templates/worker.yaml", size=len(data), data=data)],
        ScanContext(root=Path("."), settings=Settings(), now=NOW),
    )
    rules = {f.rule_id for f in out.findings}
    assert "iac.k8s-privileged" not in rules  # "{{ .Values.privileged }}" is not `true`
    assert "iac.k8s-run-as-root" not in rules  # ...nor a string that fails `runAsNonRoot: true`
    assert "iac.k8s-image-tag" not in rules
    assert out.errors == []
    [warning] = [w for w in out.warnings if "template" in w]
    assert warning.startswith("charts/jobs/templates/worker.yaml: templated kubernetes: values on 5 line(s)")
    assert "lines 6, 19, 21, 22, 26" in warning


def test_template_values_warning_is_one_per_file() -> None:
    doc = (PARSER / "quoted-template-values.yaml").read_text()
    data = (doc + "---\n" + doc.replace("-worker", "-reaper")).encode()
    out = IacScanner().scan(
        [SourceFile(path="charts/jobs/templates/workers.yaml", size=len(data), data=data)],
        ScanContext(root=Path("."), settings=Settings(), now=NOW),
    )
    [warning] = [w for w in out.warnings if "template" in w]
    assert "values on 10 line(s)" in warning and "lines 6, 19, 21, 22, 26, 35, 48, 50, 51, 55" in warning


def test_unquoted_template_values_that_parse_are_unknown_too() -> None:
    [ledger] = _parse("unquoted-template-values.yaml")
    c = "spec.template.spec.containers.0.securityContext"
    assert ledger.get(f"{c}.privileged") == Unknown("{{ .Values.privileged }}")
    assert ledger.get(f"{c}.runAsNonRoot") == Unknown("{{ .Values.securityContext.runAsNonRoot }}")
    assert ledger.get("spec.template.spec.hostNetwork") == Unknown("{{ .Values.hostNetwork }}")
    assert ledger.get("spec.replicas") == Unknown("{{ .Values.replicaCount }}")
    assert ledger.get(f"{c}.capabilities.drop") == ["ALL"]
    assert ledger.extra["template_values"] == [9, 18, 23, 24]


def test_a_comment_with_braces_does_not_make_a_literal_unknown() -> None:
    text = (PARSER / "privileged-if-true.yaml").read_text().replace("{{ if true }}\n", "")
    text = text.replace("privileged: true", "privileged: true  # {{ .Values.privileged }}")
    [payments] = kubernetes.parse("deploy/payments.yaml", text)
    assert payments.get("spec.template.spec.containers.0.securityContext.privileged") is True
    assert "template_values" not in payments.extra


def test_a_budget_error_in_a_templated_file_stays_a_budget_error() -> None:
    """With `skip`, only a file whose templates break the YAML is skipped: an alias bomb with a
    `{{ }}` in it is still the error it was (and the scan incomplete)."""
    data = ("# {{ .Values.note }}\n" + (PARSER / "alias-bomb.yaml").read_text()).encode()
    settings = Settings.model_validate({"iac": {"unrendered_templates": "skip"}})
    out = IacScanner().scan(
        [SourceFile(path="charts/x/templates/bomb.yaml", size=len(data), data=data)],
        ScanContext(root=Path("."), settings=settings, now=NOW),
    )
    assert out.skipped == []
    [error] = out.errors
    assert "alias bomb" in error.message and "unrendered" not in error.message
