"""A hand-built scan result and decision covering every shape a report must handle."""

from __future__ import annotations

from clearance.decision import Decision
from clearance.model import (
    Action,
    Component,
    Finding,
    FindingKind,
    Location,
    Outcome,
    RuleInfo,
    ScanError,
    ScannerRun,
    ScannerStatus,
    ScanResult,
    Scope,
    Severity,
    SkippedFile,
    Suppression,
    Target,
    Verdict,
)
from clearance.report.base import ReportData

SECRET = Finding(
    kind=FindingKind.SECRET,
    rule_id="secret.aws-access-key",
    title="AWS access key ID",
    severity=Severity.CRITICAL,
    location=Location("deploy/settings.py", start_line=12, end_line=12, start_column=18),
    fingerprint="5f2c0a7d9e4b41c38a7d2f0e9b6c1a55",
    scanner="secrets",
    message="An AWS access key ID is committed in source.",
    evidence="AKIA…Q7ZK",
    remediation="Deactivate the key in IAM, rotate it, and read credentials from the environment or a secret store.",
    references=("https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_access-keys.html",),
    signals={"verified": True, "in_test_path": False, "owner": "@acme/platform"},
)

REQUESTS = Component(
    ecosystem="PyPI",
    name="requests",
    version="2.25.0",
    purl="pkg:pypi/requests@2.25.0",
    location=Location("requirements.txt", start_line=4),
    direct=True,
    scope=Scope.RUNTIME,
)

VULN = Finding(
    kind=FindingKind.VULNERABILITY,
    rule_id="vuln.GHSA-j8r2-6x86-q33q",
    title="Requests leaks Proxy-Authorization header to destination servers",
    severity=Severity.HIGH,
    location=Location("requirements.txt", start_line=4),
    fingerprint="a1b2c3d4e5f60718293a4b5c6d7e8f90",
    scanner="deps",
    message="requests 2.25.0 is affected by GHSA-j8r2-6x86-q33q (CVE-2023-32681).",
    remediation="Upgrade requests to 2.31.0 or later.",
    references=("https://github.com/advisories/GHSA-j8r2-6x86-q33q",),
    component=REQUESTS,
    signals={
        "reachable": "unknown",
        "kev": False,
        "epss": {"score": 0.0213, "percentile": 0.61, "date": "2026-11-30"},
        "fix_versions": ("2.31.0",),
        "aliases": ("CVE-2023-32681",),
    },
)

MISCONFIG = Finding(
    kind=FindingKind.MISCONFIGURATION,
    rule_id="iac.aws-s3-public-access",
    title="S3 bucket allows public access",
    severity=Severity.MEDIUM,
    location=Location("infra/storage.tf", start_line=3, end_line=9),
    fingerprint="0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f",
    scanner="iac",
    message="aws_s3_bucket_public_access_block.assets sets block_public_acls = false | pipes and `ticks` <b>stay literal</b>",
    remediation="Set all four public access block settings to true.",
    signals={"category": "public-access", "exposure": "internet"},
)

SUPPRESSED = Finding(
    kind=FindingKind.SECRET,
    rule_id="secret.generic-password",
    title="Hard-coded password",
    severity=Severity.HIGH,
    location=Location("tests/fixtures/db.env", start_line=2),
    fingerprint="ffeeddccbbaa99887766554433221100",
    scanner="secrets",
    evidence="hu…2x",
    remediation="Move the password to a secret store.",
    signals={"in_test_path": True},
    suppression=Suppression(reason="test fixture database", source="inline:tests/fixtures/db.env:1"),
)

INFO = Finding(
    kind=FindingKind.MISCONFIGURATION,
    rule_id="iac.dockerfile-no-healthcheck",
    title="Dockerfile has no HEALTHCHECK",
    severity=Severity.INFO,
    location=Location("Dockerfile"),
    fingerprint="1234567890abcdef1234567890abcdef",
    scanner="iac",
)

FINDINGS = (SECRET, VULN, MISCONFIG, SUPPRESSED, INFO)

RESULT = ScanResult(
    target=Target(kind="directory", path="/src/acme-shop", commit="9f8e7d6c5b4a39281706f5e4d3c2b1a098765432"),
    findings=FINDINGS,
    components=(REQUESTS,),
    runs=(
        ScannerRun(
            "secrets",
            "1.0.0",
            ScannerStatus.SUCCEEDED,
            files=140,
            bytes=812_345,
            duration_s=0.212,
            detail={"rules": 96},
        ),
        ScannerRun("deps", "1.0.0", ScannerStatus.SUCCEEDED, files=2, bytes=1_024, duration_s=0.051),
        ScannerRun("iac", "1.0.0", ScannerStatus.PARTIAL, files=6, bytes=9_876, duration_s=0.034),
    ),
    skipped=(SkippedFile("assets/logo.png", "binary"), SkippedFile("data/dump.sql", "larger than 5 MB")),
    errors=(ScanError("infra/broken.tf", "HCL parse error at line 7: unexpected '}'", scanner="iac"),),
    warnings=("advisory database is 9 days old",),
    files_scanned=148,
    bytes_scanned=823_245,
    duration_s=0.301,
)

VERDICTS = {
    SECRET.fingerprint: Verdict(
        SECRET.fingerprint, Action.BLOCK, "threshold:high", "severity critical is at or above high"
    ),
    VULN.fingerprint: Verdict(
        VULN.fingerprint,
        Action.BLOCK,
        "threshold:high",
        "severity high is at or above high",
        notes=("exception EXC-12 (owner team-payments) expired on 2026-10-01",),
    ),
    MISCONFIG.fingerprint: Verdict(
        MISCONFIG.fingerprint, Action.WARN, "threshold:high", "severity medium is below high"
    ),
    SUPPRESSED.fingerprint: Verdict(
        SUPPRESSED.fingerprint, Action.PASS, "inline-suppression", "suppressed inline: test fixture database"
    ),
    INFO.fingerprint: Verdict(INFO.fingerprint, Action.PASS, "threshold:high", "informational"),
}

DECISION = Decision(
    outcome=Outcome.BLOCK,
    verdicts=VERDICTS,
    policy="threshold:high",
    policy_digest="sha256:3b1c6f1e0d2a9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b",
    reasons=("2 findings block at severity high or above", "scan incomplete: 1 file could not be read"),
)

RULES = {
    "secret.aws-access-key": RuleInfo(
        id="secret.aws-access-key",
        title="AWS access key ID",
        severity=Severity.CRITICAL,
        scanner="secrets",
        description="An AWS access key ID (AKIA/ASIA prefix) that grants API access to an AWS account.",
        remediation="Deactivate and rotate the key in IAM; load credentials from the environment.",
        references=("https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_access-keys.html",),
        tags=("aws", "cloud"),
    ),
}

CONTEXT = {
    "repository_url": "https://github.com/acme/shop",
    "commit": "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432",
    "branch": "feature/cart",
}


def gate_data(**overrides: object) -> ReportData:
    """The sample as `clearance gate` would report it."""
    fields: dict[str, object] = {
        "result": RESULT,
        "decision": DECISION,
        "rules": RULES,
        "tool_version": "0.1.0",
        "context": CONTEXT,
    }
    fields.update(overrides)
    return ReportData(**fields)  # type: ignore[arg-type]


def scan_data() -> ReportData:
    """The sample as `clearance scan` would report it (no decision, no context)."""
    return ReportData(result=RESULT, decision=None, rules=RULES, tool_version="0.1.0")
