"""What CEL rules see: a finding, its service, the environment and the change, as plain maps.

Every field is always present (with a neutral default) so rules can compare without
`has()`; scanner-specific signals beyond the documented ones are passed through as-is.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from clearance.model import Epss, Finding, FindingKind, Location, Severity, Signals

SIGNAL_DEFAULTS: Mapping[str, Any] = {
    "in_test_path": False,
    "verified": False,
    "reachable": "unknown",
    "kev": False,
    "epss": {"score": 0.0, "percentile": 0.0, "date": ""},
    "scope": "unknown",
    "direct": None,
    "fix_versions": [],
    "aliases": [],
    "cvss_score": 0.0,
    "category": "",
    "exposure": "",
    "confidence": "",
}


@dataclass(frozen=True)
class ChangeInfo:
    """The change under review (PR mode) or a full scan."""

    mode: str = "full"
    """`full` (whole tree) or `pr` (only what changed since `base`)."""
    base: str = ""
    files: tuple[str, ...] = ()
    high_risk: tuple[str, ...] = ()
    """High-risk path patterns the change touches."""
    pre_existing: frozenset[str] = field(default_factory=frozenset)
    """Fingerprints already present on the base ref."""

    def as_cel(self) -> dict[str, Any]:
        """The `change` value CEL rules see."""
        return {
            "mode": self.mode,
            "pr": self.mode == "pr",
            "base": self.base,
            "files": list(self.files),
            "high_risk": list(self.high_risk),
        }


def finding_as_cel(finding: Finding, *, owner: str = "", pre_existing: bool = False) -> dict[str, Any]:
    """The `finding` value CEL rules see."""
    signals = dict(SIGNAL_DEFAULTS)
    given = finding.signals.as_dict()
    for key, value in given.items():
        signals[str(key)] = _plain(value)
    signals["epss"] = _epss(given.get("epss"))
    for key in ("kev", "verified", "in_test_path"):
        signals[key] = bool(signals[key])
    signals["reachable"] = str(signals["reachable"] or "unknown")
    signals["cvss_score"] = float(signals["cvss_score"] or 0.0) if _number(signals["cvss_score"]) else 0.0
    comp = finding.component
    scope = str(signals.get("scope") or "unknown")
    if scope == "unknown" and comp is not None:
        scope = comp.scope.value
    signals["scope"] = scope
    return {
        "kind": finding.kind.value,
        "rule": finding.rule_id,
        "title": finding.title,
        "severity": finding.severity.value,
        "severity_rank": finding.severity.rank,
        "path": finding.location.path,
        "line": finding.location.start_line or 0,
        "fingerprint": finding.fingerprint,
        "scanner": finding.scanner,
        "message": finding.message,
        "scope": scope,
        "owner": owner,
        "new": not pre_existing,
        "pre_existing": pre_existing,
        "suppressed": finding.suppression is not None,
        "component": {
            "ecosystem": comp.ecosystem if comp else "",
            "name": comp.name if comp else "",
            "version": comp.version if comp else "",
            "purl": comp.purl if comp else "",
            "scope": comp.scope.value if comp else "",
            "direct": comp.direct if comp else None,
        },
        "signals": signals,
    }


def _epss(value: object) -> dict[str, Any]:
    if isinstance(value, Mapping):
        score = value.get("score", 0.0)
        pct = value.get("percentile", 0.0)
        return {
            "score": float(score) if _number(score) else 0.0,
            "percentile": float(pct) if _number(pct) else 0.0,
            "date": str(value.get("date") or ""),
        }
    if _number(value):
        assert isinstance(value, int | float)
        return {"score": float(value), "percentile": 0.0, "date": ""}
    return dict(SIGNAL_DEFAULTS["epss"])


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _plain(value: object) -> Any:
    """Convert a signal value to something CEL accepts (enums, tuples, sets...)."""
    if isinstance(value, enum.Enum):
        return _plain(value.value)
    if isinstance(value, str | bool | int | float) or value is None:
        return value
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted(str(_plain(v)) for v in value)
    return str(value)


def inputs_for(
    finding: Mapping[str, Any], service: Mapping[str, Any], env: str, change: Mapping[str, Any]
) -> dict[str, Any]:
    """The full variable map for one evaluation."""
    return {"finding": finding, "service": service, "env": env, "change": change}


def sample_inputs() -> list[dict[str, Any]]:
    """Representative inputs (one per finding kind) used to validate rules at load time."""
    from clearance.model import Component, Scope
    from clearance.policy.context import ServiceContext

    loc = Location(path="src/app/settings.py", start_line=3)
    comp = Component(
        ecosystem="PyPI",
        name="requests",
        version="2.0.0",
        purl="pkg:pypi/requests@2.0.0",
        location=Location(path="requirements.txt", start_line=1),
        direct=True,
        scope=Scope.RUNTIME,
    )
    findings = [
        Finding(
            FindingKind.SECRET,
            "secret.aws-access-key",
            "AWS access key",
            Severity.CRITICAL,
            loc,
            "0" * 32,
            "secrets",
            signals=Signals(verified=True, in_test_path=False),
        ),
        Finding(
            FindingKind.VULNERABILITY,
            "vuln.GHSA-0000-0000-0000",
            "vulnerable requests",
            Severity.HIGH,
            Location(path="requirements.txt", start_line=1),
            "1" * 32,
            "deps",
            component=comp,
            signals=Signals(
                reachable="yes",
                kev=True,
                epss=Epss(score=0.5, percentile=0.9, date="2026-01-01"),
                scope="runtime",
                direct=True,
                fix_versions=("2.31.0",),
                aliases=("CVE-2023-0000",),
                cvss_score=8.1,
            ),
        ),
        Finding(
            FindingKind.MISCONFIGURATION,
            "iac.aws-s3-public-access",
            "public bucket",
            Severity.HIGH,
            Location(path="infra/main.tf", start_line=10),
            "2" * 32,
            "iac",
            signals=Signals(category="public-access", exposure="public", confidence="high"),
        ),
        Finding(FindingKind.IMPORTED, "imported.sample", "imported", Severity.LOW, loc, "3" * 32, "import"),
    ]
    service = ServiceContext(name="sample", owner="team-sample").as_cel("prod")
    change = ChangeInfo(mode="pr", base="origin/main", files=("src/app/settings.py",)).as_cel()
    return [inputs_for(finding_as_cel(f, owner="@team"), service, "prod", change) for f in findings]
