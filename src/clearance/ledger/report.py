"""The gate's JSON report (docs/json-output.md, schema version 1) as the ledger reads it.

Pydantic models, because this is outside input: a report that does not validate is refused
with the path of the first problem. Unknown keys are ignored (the contract only adds fields).
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from clearance.errors import LedgerError
from clearance.model import Severity

SUPPORTED_SCHEMA_VERSIONS = ("1",)


class BadInput(LedgerError):
    """A pushed run is unusable (malformed, unknown schema version, too large…): a 4xx."""

    status_code = 400

    def __init__(self, message: str, *, status_code: int = 400, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status_code = status_code


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class ScannerInfo(_Model):
    """One scanner that ran."""

    id: str = Field(max_length=40)
    version: str = Field(default="", max_length=50)
    status: str = Field(default="succeeded", max_length=20)


class ToolInfo(_Model):
    """The tool and its scanners."""

    name: str = "clearance"
    version: str = Field(default="", max_length=50)
    scanners: tuple[ScannerInfo, ...] = ()


class TargetInfo(_Model):
    """What was scanned."""

    kind: str = Field(default="directory", max_length=40)
    path: str = Field(default="", max_length=4096)
    commit: str | None = Field(default=None, max_length=64)
    base: str | None = Field(default=None, max_length=200)


class LocationInfo(_Model):
    """Where a finding is."""

    path: str | None = Field(default=None, max_length=1000)
    start_line: int | None = None


class ComponentInfo(_Model):
    """The package a vulnerability is in."""

    ecosystem: str = Field(default="", max_length=60)
    name: str = Field(default="", max_length=300)
    version: str = Field(default="", max_length=200)
    purl: str | None = Field(default=None, max_length=1000)
    scope: str = Field(default="unknown", max_length=20)


class VerdictInfo(_Model):
    """The policy's decision on one finding."""

    action: str = Field(max_length=20)
    exception_id: str | None = Field(default=None, max_length=200)


class FindingInfo(_Model):
    """One finding of the report."""

    rule_id: str = Field(max_length=200)
    kind: str = Field(max_length=30)
    title: str = Field(default="", max_length=2000)
    severity: Severity
    scanner: str = Field(max_length=40)
    location: LocationInfo = LocationInfo()
    fingerprint: str = Field(min_length=8, max_length=64, pattern=r"^[0-9a-f]+$")
    evidence: str = Field(default="", max_length=200)
    component: ComponentInfo | None = None
    signals: dict[str, Any] = Field(default_factory=dict)
    verdict: VerdictInfo | None = None

    @field_validator("severity", mode="before")
    @classmethod
    def _severity(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @property
    def advisory_id(self) -> str | None:
        """The advisory of a vulnerability (`vuln.GHSA-…` → `GHSA-…`)."""
        if self.kind == "vulnerability" and self.rule_id.startswith("vuln."):
            return self.rule_id[len("vuln.") :]
        return None

    @property
    def owner(self) -> str | None:
        """The owner the gate resolved (CODEOWNERS / catalog), if any."""
        owner = self.signals.get("owner")
        return owner if isinstance(owner, str) and owner else None


class DecisionInfo(_Model):
    """The gate's decision (the parts the ledger records)."""

    outcome: str = Field(max_length=30)
    policy_digest: str | None = Field(default=None, max_length=100)
    extra: dict[str, Any] = Field(default_factory=dict)


class GateReport(_Model):
    """A whole `clearance gate --format json` document."""

    schema_version: Literal["1"]
    tool: ToolInfo = ToolInfo()
    target: TargetInfo = TargetInfo()
    context: dict[str, Any] = Field(default_factory=dict)
    findings: tuple[FindingInfo, ...] = ()
    decision: DecisionInfo | None = None

    @property
    def mode(self) -> Literal["full", "pr"]:
        """`pr` when the gate compared against a base ref (such a run never closes findings)."""
        baseline = (self.decision.extra.get("baseline") if self.decision else None) or {}
        if self.target.base or (isinstance(baseline, dict) and baseline.get("mode") == "pr"):
            return "pr"
        if self.target.kind == "git-diff":
            return "pr"
        return "full"

    def policy_context(self) -> dict[str, Any]:
        """`decision.extra.context` (service, owner, environment…) or `{}`."""
        ctx = self.decision.extra.get("context") if self.decision else None
        return ctx if isinstance(ctx, dict) else {}

    def exceptions(self) -> list[dict[str, Any]]:
        """The exceptions the policy evaluated (as `decision.extra.exceptions`)."""
        items = self.decision.extra.get("exceptions") if self.decision else None
        return [e for e in items if isinstance(e, dict)] if isinstance(items, list) else []


def parse_report(raw: bytes) -> GateReport:
    """Parse and validate a report (JSON parsed and validated in one pass by pydantic-core);
    `BadInput` with a precise message otherwise."""
    try:
        report = GateReport.model_validate_json(raw)
    except ValidationError as e:
        first = e.errors()[0]
        kind, loc = first["type"], first["loc"]
        if kind == "json_invalid":
            raise BadInput(f"the report is not valid JSON: {first['msg']}") from e
        if kind == "model_type" and not loc:
            raise BadInput("the report must be a JSON object (clearance gate --format json)") from e
        if loc == ("schema_version",):
            version = _schema_version(raw)
            raise BadInput(
                f"unsupported report schema_version {version!r}",
                status_code=422,
                hint=f"this ledger reads schema version(s) {', '.join(SUPPORTED_SCHEMA_VERSIONS)}",
            ) from e
        where = ".".join(str(p) for p in loc)
        raise BadInput(f"invalid report at {where}: {first['msg']}", status_code=422) from e
    if _has_nul_escape(raw):
        raise BadInput(
            "invalid report: a string holds a NUL character (\\u0000)",
            status_code=422,
            hint="a gate report never holds one; PostgreSQL cannot store it",
        )
    return report


def _has_nul_escape(raw: bytes) -> bool:
    """`\\u0000` in a JSON text, not preceded by an odd number of backslashes (`\\\\u0000` is
    the text `\\u0000`). A raw NUL byte is already invalid JSON. A substring search (memchr
    speed; a regex with a look-behind tried at every offset cost ~0.5 s on a 10,000-finding
    report) and a look back only where the sequence occurs."""
    at = raw.find(b"\\u0000")
    while at != -1:
        start = at
        while start > 0 and raw[start - 1] == 0x5C:  # backslashes before this one
            start -= 1
        if (at - start) % 2 == 0:
            return True
        at = raw.find(b"\\u0000", at + 1)
    return False


def _schema_version(raw: bytes) -> Any:
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    return data.get("schema_version") if isinstance(data, dict) else None
