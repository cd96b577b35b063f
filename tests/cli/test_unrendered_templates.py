"""An unrendered Helm/Go template in a Kubernetes manifest is never a silent pass: through the
real CLI, the default policy (`fail_closed`) ends an unparseable template in exit 3 naming the
file; `[iac] unrendered_templates = "skip"` lists it as skipped instead (read, in PR mode, from
the merge base); rendered `helm template` output is scanned as before."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from clearance.cli import app
from clearance.decision import ExitCode

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "tests" / "fixtures" / "iac" / "kubernetes"
CHART = K8S / "_helm" / "shop"
IF_TRUE = K8S / "_parser" / "privileged-if-true.yaml"
RENDERED = K8S / "_parser" / "helm-rendered.yaml"
TEMPLATES = ["charts/shop/templates/deployment.yaml", "charts/shop/templates/service.yaml"]

runner = CliRunner()


def _gate(target: Path, *args: str) -> tuple[int, dict[str, Any]]:
    result = runner.invoke(
        app, ["gate", str(target), "--scanners", "iac", "--format", "json", "--quiet", *args]
    )
    return result.exit_code, json.loads(result.stdout)


def _write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _errors(report: dict[str, Any]) -> dict[str, str]:
    return {e["path"]: e["message"] for e in report["errors"]}


def _skipped(report: dict[str, Any]) -> dict[str, str]:
    return {s["path"]: s["reason"] for s in report["skipped"]}


@pytest.fixture
def service(tmp_path: Path) -> Path:
    """A service repository: a Helm chart (`helm create` layout) and a plain manifest."""
    root = tmp_path / "service"
    shutil.copytree(CHART, root / "charts" / "shop")
    return root


def test_if_true_does_not_hide_a_privileged_deployment(tmp_path: Path) -> None:
    plain = IF_TRUE.read_text(encoding="utf-8").replace("{{ if true }}\n", "")
    _write(tmp_path, "deploy/payments.yaml", plain)
    code, report = _gate(tmp_path)
    assert code == ExitCode.BLOCKED, "control: the deployment itself is blocked"

    _write(tmp_path, "deploy/payments.yaml", IF_TRUE.read_text(encoding="utf-8"))
    code, report = _gate(tmp_path)
    assert code == ExitCode.INCOMPLETE
    assert report["summary"]["complete"] is False
    message = _errors(report)["deploy/payments.yaml"]
    assert message.startswith("kubernetes: line ")
    assert "unrendered Helm/Go template" in message
    assert "render it (`helm template CHART`) and scan the output" in message


def test_a_chart_is_incomplete_by_default_and_names_each_template(service: Path) -> None:
    code, report = _gate(service)
    assert code == ExitCode.INCOMPLETE
    assert sorted(_errors(report)) == TEMPLATES  # Chart.yaml, values.yaml, _helpers.tpl: nothing
    assert report["skipped"] == [] and report["findings"] == []


def test_skip_lists_templates_as_skipped_and_the_exit_follows_the_findings(service: Path) -> None:
    _write(service, "clearance.toml", '[iac]\nunrendered_templates = "skip"\n')
    _write(service, "deploy/payments.yaml", IF_TRUE.read_text(encoding="utf-8"))
    code, report = _gate(service)
    assert code == ExitCode.PASS
    assert report["errors"] == [] and report["summary"]["complete"] is True
    skipped = _skipped(report)
    assert sorted(skipped) == sorted([*TEMPLATES, "deploy/payments.yaml"])
    assert all("unrendered Helm/Go template" in reason for reason in skipped.values())
    assert report["summary"]["files_skipped"] == 3

    _write(service, "rendered/shop.yaml", RENDERED.read_text(encoding="utf-8"))
    code, report = _gate(service)
    assert code == ExitCode.BLOCKED
    blocked = [f for f in report["findings"] if f["verdict"]["action"] == "block"]
    assert {f["rule_id"] for f in blocked} == {"iac.k8s-privileged"}
    assert [(f["location"]["path"], f["location"]["start_line"]) for f in blocked] == [
        ("rendered/shop.yaml", 46)
    ]
    assert sorted(_skipped(report)) == sorted([*TEMPLATES, "deploy/payments.yaml"])


def test_rendered_helm_output_is_scanned_as_before(tmp_path: Path) -> None:
    _write(tmp_path, "rendered/shop.yaml", RENDERED.read_text(encoding="utf-8"))
    code, report = _gate(tmp_path)
    assert code == ExitCode.BLOCKED
    assert report["errors"] == [] and report["skipped"] == []
    assert {f["location"]["path"] for f in report["findings"]} == {"rendered/shop.yaml"}


def test_clearanceignore_of_chart_templates_still_works(service: Path) -> None:
    _write(service, ".clearanceignore", "charts/*/templates/\n")
    _write(service, "rendered/shop.yaml", RENDERED.read_text(encoding="utf-8"))
    code, report = _gate(service)
    assert code == ExitCode.BLOCKED  # the rendered output decides, the templates are ignored
    assert report["errors"] == []
    assert not any(p.startswith("charts/shop/templates/") for p in _errors(report))


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


def test_a_change_cannot_switch_skip_on_for_itself(service: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """PR mode reads `clearance.toml` at the merge base: a change that adds the setting and a
    template in the same commit is still incomplete (and its edit of the gate's configuration
    waits for an approval, which is what decides the exit code here)."""
    _git(service, "init", "-q", "-b", "main")
    _git(service, "add", ".")
    _git(service, "commit", "-q", "-m", "chart")
    _git(service, "checkout", "-q", "-b", "topic")
    _write(service, "clearance.toml", '[iac]\nunrendered_templates = "skip"\n')
    _write(service, "deploy/payments.yaml", IF_TRUE.read_text(encoding="utf-8"))
    _git(service, "add", ".")
    _git(service, "commit", "-q", "-m", "payments")
    monkeypatch.chdir(service)
    code, report = _gate(Path("."), "--base", "main")
    assert code != ExitCode.PASS
    assert list(_errors(report)) == ["deploy/payments.yaml"]
    assert "deploy/payments.yaml" not in _skipped(report)
    assert report["summary"]["complete"] is False
    reasons = report["decision"]["reasons"]
    assert any(r.startswith("scan incomplete") for r in reasons), reasons
    assert any(r.startswith("policy and configuration from the merge base") for r in reasons), reasons

    _git(service, "checkout", "-q", "main")  # the setting merged first: then it applies
    _write(service, "clearance.toml", '[iac]\nunrendered_templates = "skip"\n')
    _git(service, "add", ".")
    _git(service, "commit", "-q", "-m", "accept unrendered chart templates")
    _git(service, "checkout", "-q", "topic")
    _git(service, "rebase", "-q", "main")
    code, report = _gate(Path("."), "--base", "main")
    assert code == ExitCode.PASS
    assert report["errors"] == [] and "deploy/payments.yaml" in _skipped(report)
