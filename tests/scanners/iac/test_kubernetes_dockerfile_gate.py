"""End to end: a repository with a privileged Deployment and a root Dockerfile, through the pipeline.

Issue #4's "done" scenario for these inputs: each problem is reported at the right file
and line, with the risk sentence and a remediation, and the gate blocks on it.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

from clearance import pipeline
from clearance.config import Settings
from clearance.model import Finding, Outcome, Severity
from clearance.policy.threshold import decide_by_threshold
from clearance.scanners.iac.rules.dockerfile import RULES as DOCKER_RULES
from clearance.scanners.iac.rules.kubernetes import RULES as K8S_RULES

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "iac"
NOW = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)


def _repo(tmp_path: Path) -> Path:
    (tmp_path / "deploy").mkdir()
    shutil.copy(
        FIXTURES / "kubernetes" / "privileged" / "privileged-deployment.yaml",
        tmp_path / "deploy" / "api.yaml",
    )
    shutil.copy(FIXTURES / "dockerfile" / "root-user" / "root-user.Dockerfile", tmp_path / "Dockerfile")
    (tmp_path / "README.md").write_text("# api\n")
    return tmp_path


def _one(findings: tuple[Finding, ...], rule_id: str) -> Finding:
    matching = [f for f in findings if f.rule_id == rule_id]
    assert len(matching) == 1, [f.rule_id for f in findings]
    return matching[0]


def test_privileged_deployment_and_root_dockerfile_are_reported_at_their_lines(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    result = pipeline.run(repo, Settings(), pipeline.RunOptions(scanners=["iac"], jobs=1), NOW)
    assert result.errors == ()

    privileged = _one(result.findings, "iac.k8s-privileged")
    assert (privileged.location.path, privileged.location.start_line) == ("deploy/api.yaml", 28)
    assert privileged.evidence == "spec.template.spec.containers.0.securityContext.privileged = true"
    k8s_rule = next(r for r in K8S_RULES if r.id == "iac.k8s-privileged")
    assert privileged.message.startswith(k8s_rule.risk)
    assert "privileged: false" in privileged.remediation
    assert privileged.signals["resource"] == "Deployment/prod/node-agent"
    assert privileged.signals["category"] == "privilege-escalation"
    assert privileged.severity is Severity.HIGH

    root = _one(result.findings, "iac.docker-root-user")
    assert (root.location.path, root.location.start_line) == ("Dockerfile", 8)
    assert "USER root" in root.evidence
    docker_rule = next(r for r in DOCKER_RULES if r.id == "iac.docker-root-user")
    assert root.message.startswith(docker_rule.risk)
    assert "USER 10001" in root.remediation

    decision = decide_by_threshold(result, Severity.HIGH)
    assert decision.outcome is Outcome.BLOCK


def test_fingerprints_survive_line_moves(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    options = pipeline.RunOptions(scanners=["iac"], jobs=1)
    before = {f.rule_id: f.fingerprint for f in pipeline.run(repo, Settings(), options, NOW).findings}
    manifest = repo / "deploy" / "api.yaml"
    manifest.write_text("# owned by team-api\n\n" + manifest.read_text())
    docker = repo / "Dockerfile"
    docker.write_text("# build: docker build -t api .\n" + docker.read_text())
    after = pipeline.run(repo, Settings(), options, NOW).findings
    assert {f.rule_id: f.fingerprint for f in after} == before
    assert _one(after, "iac.k8s-privileged").location.start_line == 30
    assert _one(after, "iac.docker-root-user").location.start_line == 9


def test_inline_suppression_in_a_dockerfile_comment(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    docker = repo / "Dockerfile"
    lines = docker.read_text().splitlines()
    at = lines.index("USER root")
    lines.insert(
        at, '# clearance:ignore[iac.docker-root-user] reason="init container needs root" until=2027-01-31'
    )
    docker.write_text("\n".join(lines) + "\n")
    result = pipeline.run(repo, Settings(), pipeline.RunOptions(scanners=["iac"], jobs=1), NOW)
    root = _one(result.findings, "iac.docker-root-user")
    assert root.suppression is not None and root.suppression.reason == "init container needs root"
