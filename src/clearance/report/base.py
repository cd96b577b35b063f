"""What every report format receives, and the facts every format derives the same way.

A renderer is a function `ReportData -> str`. The shared helpers here decide, once for all
formats, which findings block, what the headline verdict says, how findings group into
families, and which words explain a blocking finding (what, where, why, how to fix).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from clearance.decision import Decision
from clearance.model import (
    Action,
    CIContext,
    Finding,
    FindingKind,
    Outcome,
    RuleInfo,
    ScanResult,
    Severity,
    Verdict,
)


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    """One component of a monorepo's service catalog, as reports list it."""

    name: str
    directory: str
    owner: str


_CONTEXT_FIELDS = ("service", "owner", "exposure", "data_classification", "environment")
_CI_KEYS = ("repository", "commit", "branch", "pr", "run_url", "actor", "base_ref", "server_url")


@dataclass(frozen=True)
class ReportContext:
    """The service and CI run a report is about, typed (built by `pipeline.gate`).

    `as_json()` is the JSON report's flat `context` object (schema 1: the CI provider is
    `ci_provider`); `get(key)` reads one value by that flat name (`provider` works too).
    """

    service: str | None = None
    owner: str | None = None
    """The service owner (a finding's own owner is on its verdict)."""
    exposure: str | None = None
    data_classification: str | None = None
    environment: str | None = None
    components: tuple[CatalogEntry, ...] = ()
    ci: CIContext | None = None
    repository_url: str | None = None
    """The repository's web URL when given directly (else `ci.server_url` + `ci.repository`)."""
    decided_at: str | None = None
    """When the gate decided (ISO 8601): the run's one clock reading."""
    extra: Mapping[str, Any] = field(default_factory=dict)
    """Anything else a caller passed in (shown in JSON, never read by renderers)."""

    @classmethod
    def of(cls, values: Mapping[str, Any]) -> ReportContext:
        """A context from a flat (or `ci`-nested) mapping, as library users and tests pass it."""
        known: dict[str, Any] = {}
        ci: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for key, value in values.items():
            if key == "ci" and isinstance(value, Mapping):
                ci.update({k: v for k, v in value.items() if k in ("provider", *_CI_KEYS)})
            elif key in ("provider", "ci_provider"):
                ci["provider"] = value
            elif key in _CI_KEYS:
                ci[key] = value
            elif key in (*_CONTEXT_FIELDS, "repository_url", "decided_at"):
                known[key] = value
            elif key == "components" and isinstance(value, list | tuple):
                known[key] = tuple(
                    CatalogEntry(str(c.get("name", "")), str(c.get("directory", "")), str(c.get("owner", "")))
                    for c in value
                    if isinstance(c, Mapping)
                )
            else:
                extra[str(key)] = value
        if ci:
            ci.setdefault("provider", None)
        return cls(**known, ci=CIContext(**ci) if ci else None, extra=extra)

    def get(self, key: str, default: Any = None) -> Any:
        """One value by its flat JSON name (`provider` and `ci_provider` name the CI provider)."""
        if key in ("provider", "ci_provider"):
            value = self.ci.provider if self.ci is not None else None
        elif key in _CI_KEYS:
            value = getattr(self.ci, key) if self.ci is not None else None
        elif key in (*_CONTEXT_FIELDS, "repository_url", "decided_at"):
            value = getattr(self, key)
        else:
            value = self.extra.get(key)
        return default if value is None else value

    def as_json(self) -> dict[str, Any]:
        """The JSON report's `context`: the values that are set, flat."""
        out: dict[str, Any] = {k: getattr(self, k) for k in _CONTEXT_FIELDS if getattr(self, k) is not None}
        if self.components:
            out["components"] = [
                {"name": c.name, "directory": c.directory, "owner": c.owner} for c in self.components
            ]
        if self.ci is not None:
            for key, value in self.ci.as_dict().items():
                out["ci_provider" if key == "provider" else key] = value
        if self.repository_url is not None:
            out["repository_url"] = self.repository_url
        if self.decided_at is not None:
            out["decided_at"] = self.decided_at
        for key, value in self.extra.items():
            out.setdefault(key, value)
        return out

    def items(self) -> list[tuple[str, Any]]:
        """`as_json()` items."""
        return list(self.as_json().items())


@dataclass(frozen=True)
class ReportData:
    """Everything a report shows: the scan, the decision (None for `clearance scan`) and context."""

    result: ScanResult
    decision: Decision | None
    """None when nothing was decided (`clearance scan`)."""
    rules: Mapping[str, RuleInfo]
    """Rule metadata by rule id (SARIF rule descriptions, markdown titles)."""
    tool_version: str
    verbose: bool = False
    """Show info-severity and ignored findings in human formats."""
    min_severity: Severity | None = None
    """`--min-severity`: human formats hide non-blocking findings below it (display only: the
    decision, the counts and the machine formats are unchanged)."""
    context: ReportContext = field(default_factory=ReportContext)
    """The service and CI run (typed); a plain mapping given here is converted (`ReportContext.of`).
    Used for links and ownership, and copied into the JSON output."""

    def __post_init__(self) -> None:
        if not isinstance(self.context, ReportContext):
            object.__setattr__(self, "context", ReportContext.of(self.context))


TOOL_NAME = "clearance"
INFORMATION_URI = "https://github.com/clearance-dev/clearance"

SEVERITY_ORDER: tuple[Severity, ...] = (
    Severity.CRITICAL,
    Severity.HIGH,
    Severity.MEDIUM,
    Severity.UNKNOWN,
    Severity.LOW,
    Severity.INFO,
)
"""Most severe first: the order human formats group findings in."""

_FAMILY_BY_KIND = {
    FindingKind.SECRET: "secrets",
    FindingKind.VULNERABILITY: "vulnerabilities",
    FindingKind.MISCONFIGURATION: "misconfigurations",
    FindingKind.IMPORTED: "imported",
}

_HEADLINE = {
    Outcome.BLOCK: "BLOCKED",
    Outcome.WARN: "PASSED WITH WARNINGS",
    Outcome.PASS: "PASSED",
    Outcome.INCOMPLETE: "INCOMPLETE",
    Outcome.NEEDS_APPROVAL: "NEEDS APPROVAL",
}


def family(finding: Finding) -> str:
    """The rule family a finding belongs to (secrets, vulnerabilities, misconfigurations, imported)."""
    return _FAMILY_BY_KIND[finding.kind]


def verdict_of(data: ReportData, finding: Finding) -> Verdict | None:
    """The policy's verdict on a finding, or None when there was no decision."""
    return data.decision.verdict_for(finding) if data.decision is not None else None


def action_of(data: ReportData, finding: Finding) -> Action | None:
    """The action decided for a finding (None without a decision)."""
    verdict = verdict_of(data, finding)
    return verdict.action if verdict is not None else None


def is_blocking(data: ReportData, finding: Finding) -> bool:
    """True if the decision blocks on this finding."""
    return action_of(data, finding) is Action.BLOCK


def is_quiet(data: ReportData, finding: Finding) -> bool:
    """True for findings human formats do not list: info severity or ignored by policy (shown with
    `verbose`), or below `min_severity` (never shown). A blocking finding is never quiet."""
    if is_blocking(data, finding):
        return False
    if data.min_severity is not None and not finding.severity.at_least(data.min_severity):
        return True
    if data.verbose:
        return False
    return finding.severity is Severity.INFO or action_of(data, finding) is Action.IGNORE


def headline(data: ReportData) -> str:
    """One clear word for the outcome: BLOCKED, PASSED WITH WARNINGS, PASSED, INCOMPLETE, NEEDS APPROVAL.

    Without a decision (`clearance scan`): SCANNED, or INCOMPLETE when something could not be read.
    """
    if data.decision is not None:
        return _HEADLINE[data.decision.outcome]
    return "SCANNED" if data.result.complete else "INCOMPLETE"


def severity_counts(findings: Sequence[Finding]) -> dict[str, int]:
    """Findings per severity, every severity present (most severe first)."""
    c = Counter(f.severity for f in findings)
    return {s.value: c.get(s, 0) for s in SEVERITY_ORDER}


def kind_counts(findings: Sequence[Finding]) -> dict[str, int]:
    """Findings per kind, every kind present."""
    c = Counter(f.kind for f in findings)
    return {k.value: c.get(k, 0) for k in FindingKind}


def action_counts(data: ReportData) -> dict[str, int] | None:
    """Findings per decided action (None without a decision). Findings without a verdict are not counted."""
    if data.decision is None:
        return None
    c = Counter(action_of(data, f) for f in data.result.findings)
    return {a.value: c.get(a, 0) for a in Action}


def ordered(findings: Sequence[Finding]) -> list[Finding]:
    """Findings most severe first, keeping the scan order within a severity (stable)."""
    rank = {s: i for i, s in enumerate(SEVERITY_ORDER)}
    return sorted(findings, key=lambda f: rank[f.severity])


def why(verdict: Verdict | None) -> str:
    """Why a finding got its verdict: `rule: message` plus any notes (e.g. an expired exception)."""
    if verdict is None:
        return ""
    parts = [f"{verdict.rule}: {verdict.message}" if verdict.message else verdict.rule]
    if verdict.exception_id:
        parts.append(f"exception {verdict.exception_id}")
    parts.extend(verdict.notes)
    return "; ".join(parts)


def owner_of(data: ReportData, finding: Finding) -> str | None:
    """Who owns a finding: the owner the policy decided (CODEOWNERS, else the catalog), else an
    `owner` signal an imported finding carried, else the service owner in the context."""
    decided = data.decision.owner_of(finding) if data.decision is not None else None
    if decided:
        return decided
    value = finding.signals.get("owner")
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value) or None
    return str(value) if value else context_value(data, "owner")


def signals_of(data: ReportData, finding: Finding) -> dict[str, Any]:
    """The signals a report shows for a finding: what the scanner said, plus the decided `owner`
    (JSON schema 1 has always shown the owner among the signals)."""
    shown: dict[str, Any] = finding.signals.as_dict()
    decided = data.decision.owner_of(finding) if data.decision is not None else None
    if decided and "owner" not in shown:
        shown["owner"] = decided
    return shown


def remediation_of(data: ReportData, finding: Finding) -> str:
    """How to fix: the finding's own remediation, else its rule's, else a generic next step."""
    if finding.remediation:
        return finding.remediation
    rule = data.rules.get(finding.rule_id)
    if rule is not None and rule.remediation:
        return rule.remediation
    return _GENERIC_FIX[finding.kind]


_GENERIC_FIX = {
    FindingKind.SECRET: "Remove the secret from the code, rotate it, and load it from a secret store at run time.",
    FindingKind.VULNERABILITY: "Upgrade the component to a fixed version.",
    FindingKind.MISCONFIGURATION: "Change the configuration as the rule describes.",
    FindingKind.IMPORTED: "See the originating tool's guidance.",
}


def exception_command(data: ReportData, finding: Finding) -> str:
    """The exact command that requests a time-boxed exception for one finding (its fingerprint is the
    narrowest match; critical findings also need an approver and a compensating control)."""
    return _exception_command(
        finding.fingerprint, owner_of(data, finding), critical=finding.severity is Severity.CRITICAL
    )


def exception_template(data: ReportData, findings: Sequence[Finding]) -> str:
    """`exception_command` with `FP` in place of one fingerprint: the one command a
    report shows once for many findings (the owner when they share one; the critical-only
    options only when one of them is critical)."""
    owners = {owner_of(data, f) for f in findings}
    owner = owners.pop() if len(owners) == 1 else None
    critical = any(f.severity is Severity.CRITICAL for f in findings)
    return _exception_command("FP", owner, critical=critical, reason="WHY", control="CONTROL")


def _exception_command(
    fingerprint: str,
    owner: str | None,
    *,
    critical: bool,
    reason: str = "WHY THIS RISK IS ACCEPTED",
    control: str = "WHAT LIMITS THE RISK",
) -> str:
    command = (
        f"clearance exceptions add --fingerprint {fingerprint} "
        f'--owner {_shell_word(owner or "OWNER")} --reason "{reason}" --expires 30d'
    )
    if critical:  # an exception without these does not cover a critical finding
        command += f' --approved-by APPROVER --compensating-control "{control}"'
    return command


def _shell_word(value: str) -> str:
    if value and all(c.isalnum() or c in "@/._-" for c in value):
        return value
    return "'" + value.replace("'", "'\\''") + "'"


def context_value(data: ReportData, key: str) -> str | None:
    """A context value as text, by its flat name (`ReportContext.get`); None when not set."""
    value = data.context.get(key)
    return str(value) if value not in (None, "") else None


def repository_url(data: ReportData) -> str | None:
    """The web URL of the repository, from the context (`repository_url`, or `server_url` + `repository`)."""
    url = context_value(data, "repository_url")
    server, repo = context_value(data, "server_url"), context_value(data, "repository")
    if url is None and server and repo:
        url = f"{server.rstrip('/')}/{repo.strip('/')}"
    return url.rstrip("/") if url else None


def source_link(data: ReportData, finding: Finding) -> str | None:
    """A web link to a finding's lines at its commit (GitHub style; GitLab when the provider says so)."""
    url, commit = repository_url(data), commit_of(data, finding)
    if url is None or commit is None:
        return None
    loc = finding.location
    gitlab = context_value(data, "provider") == "gitlab"
    anchor = ""
    if loc.start_line:
        anchor = f"#L{loc.start_line}"
        if loc.end_line and loc.end_line > loc.start_line:
            anchor += f"-{loc.end_line}" if gitlab else f"-L{loc.end_line}"
    blob = "/-/blob/" if gitlab else "/blob/"
    return f"{url}{blob}{quote(commit, safe='')}/{quote(loc.path.lstrip('/'), safe='/-._~')}{anchor}"


def commit_of(data: ReportData, finding: Finding) -> str | None:
    """The commit a finding's location refers to: its own, else the context's, else the target's."""
    return finding.location.commit or context_value(data, "commit") or data.result.target.commit


def count(n: int, noun: str) -> str:
    """`1 file`, `2 files`: a number with its noun (regular English plurals only)."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def human_bytes(n: int) -> str:
    """`1.2 MB`-style size for humans (decimal units)."""
    value = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


def skipped_by_reason(data: ReportData) -> dict[str, int]:
    """How many files were skipped for each reason (sorted by reason)."""
    c = Counter(s.reason for s in data.result.skipped)
    return dict(sorted(c.items()))


_SECRET_KEY = re.compile(
    r"token|secret|password|passwd|credential|private[_-]?key|api[_-]?key", re.IGNORECASE
)


def public_context(data: ReportData) -> dict[str, Any]:
    """The context as JSON data, without any key that names a credential (a token never reaches a report)."""
    return {
        str(k): jsonable(v)
        for k, v in sorted(data.context.as_json().items())
        if not _SECRET_KEY.search(str(k))
    }


def jsonable(value: Any) -> Any:
    """Convert a value (signals, context, decision extras) to plain JSON data, deterministically.

    Enums become their value, tuples lists, sets sorted lists, dataclasses dicts, datetimes ISO
    strings; non-finite floats become strings; anything else unknown becomes `str(value)`.
    """
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, enum.Enum):
        return jsonable(value.value)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted((jsonable(v) for v in value), key=repr)
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return str(value)
