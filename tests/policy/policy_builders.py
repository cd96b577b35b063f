"""Hand-built findings and contexts for the policy tests (no scanner involved)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from clearance.model import (
    Component,
    Finding,
    FindingKind,
    Location,
    ScanResult,
    Scope,
    Severity,
    Target,
    fingerprint,
)
from clearance.policy.context import PolicyContext, ServiceCatalog, ServiceContext

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "policy"


def secret(
    path: str = "app/config.py",
    *,
    verified: bool = True,
    in_test_path: bool = False,
    severity: Severity = Severity.CRITICAL,
    confidence: str = "high",
) -> Finding:
    """A live-format AWS key (signals as the secrets scanner sets them)."""
    return Finding(
        FindingKind.SECRET,
        "secret.aws-access-key-id",
        "AWS access key id",
        severity,
        Location(path, 12, 12),
        fingerprint("secret", path, "AKIA"),
        "secrets",
        evidence="AKIA…MPLE",
        signals={"verified": verified, "in_test_path": in_test_path, "confidence": confidence},
    )


def public_bucket(
    path: str = "infra/s3.tf", *, severity: Severity = Severity.HIGH, category: str = "public-access"
) -> Finding:
    """An S3 bucket open to the world (signals as the IaC scanner sets them)."""
    return Finding(
        FindingKind.MISCONFIGURATION,
        "iac.aws-s3-public-access",
        "S3 bucket allows public access",
        severity,
        Location(path, 4, 9),
        fingerprint("iac", path, "aws_s3_bucket.assets", category),
        "iac",
        signals={"category": category, "exposure": "public", "confidence": "high"},
    )


def vulnerability(
    *,
    severity: Severity = Severity.MEDIUM,
    scope: Scope = Scope.DEV,
    reachable: str = "unknown",
    kev: bool = False,
    epss: float = 0.01,
    name: str = "lodash",
    version: str = "4.17.15",
    advisory: str = "GHSA-p6mc-m468-83gw",
    aliases: tuple[str, ...] = ("CVE-2020-8203",),
    path: str = "package-lock.json",
    fixes: tuple[str, ...] = ("4.17.21",),
) -> Finding:
    """A vulnerable npm component (signals as the deps scanner sets them)."""
    comp = Component(
        "npm", name, version, f"pkg:npm/{name}@{version}", Location(path, 20), direct=False, scope=scope
    )
    signals: dict[str, Any] = {
        "reachable": reachable,
        "kev": kev,
        "epss": {"score": epss, "percentile": 0.5, "date": "2026-09-01"},
        "scope": scope.value,
        "direct": False,
        "fix_versions": list(fixes),
        "fix": "available" if fixes else "none",
        "aliases": list(aliases),
        "cvss_score": 7.4,
    }
    return Finding(
        FindingKind.VULNERABILITY,
        f"vuln.{advisory}",
        f"{name} {version}: prototype pollution",
        severity,
        Location(path, 20),
        fingerprint("vuln", path, name, version, advisory),
        "deps",
        component=comp,
        signals=signals,
    )


def result(*findings: Finding) -> ScanResult:
    """A complete scan result holding these findings."""
    return ScanResult(Target("directory", "."), tuple(findings), (), ())


def context(
    *,
    exposure: str = "internet",
    data: str = "unknown",
    env: str = "prod",
    owner: str = "team-payments",
    name: str = "payments-api",
) -> PolicyContext:
    """A single-service context."""
    svc = ServiceContext(name=name, owner=owner, exposure=exposure, data_classification=data, source="test")
    return PolicyContext(catalog=ServiceCatalog(default=svc), env=env)
