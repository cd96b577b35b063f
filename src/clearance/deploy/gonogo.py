"""Deploy go/no-go: five checks over typed facts, one answer (allow | deny | needs-approval).

The ledger gathers the facts (evidence bundles for the digest, approvals, the latest drift
report, the service's open risk, the change) and `decide()` turns them into a decision that
names every check with its status and reason and the evidence it used. No I/O and no clock
here: `now` is passed in, so every rule is unit-testable.

Checks, in order:
1. evidence     — a verified bundle from a key trusted for the owning team has this exact digest
                  as subject and its decision passed, with every exception it used unexpired now;
2. approvals    — enough distinct approvers from the allowed groups, never the requester
                  (skipped when the change-risk rule auto-approved a low-risk change);
3. drift        — the latest drift report for (service, env) is clean;
4. open-risk    — no open finding of a blocking severity past its SLA, no expired exception;
5. change-risk  — low-risk changes are auto-approved by a named rule; high-risk ones (high-risk
                  paths, new blocking findings, first deploy, freeze window) need approvals.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from clearance.deploy.policy import OWNERS_GROUP, Enforcement, EnvironmentPolicy
from clearance.globs import path_glob
from clearance.model import Severity

DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
_ANY_DIGEST_RE = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[0-9a-f]{32,128}$")
PASSING_OUTCOMES = frozenset({"pass", "warn"})


class Answer(enum.StrEnum):
    """The go/no-go answer."""

    ALLOW = "allow"
    DENY = "deny"
    NEEDS_APPROVAL = "needs-approval"


class CheckStatus(enum.StrEnum):
    """One check's result. `warn` admits with a warning; `skip` means not applicable here."""

    PASS = "pass"
    FAIL = "fail"
    WARN = "warn"
    SKIP = "skip"


class CheckName(enum.StrEnum):
    """The five checks, in evaluation order."""

    EVIDENCE = "evidence"
    APPROVALS = "approvals"
    DRIFT = "drift"
    OPEN_RISK = "open-risk"
    CHANGE_RISK = "change-risk"


@dataclass(frozen=True, slots=True)
class DeployRequest:
    """Who asks to run which digest of which service where."""

    service: str
    env: str
    digest: str
    version: str | None = None
    commit: str | None = None
    requester: str | None = None


@dataclass(frozen=True, slots=True)
class EvidenceFact:
    """One ingested evidence bundle (or report) whose subjects include the digest."""

    bundle_id: str
    subject_digests: tuple[str, ...]
    verified: bool
    """The DSSE signatures verified at ingest."""
    key_trusted: bool
    """Signed by a key trusted for the service's owning team."""
    outcome: str | None
    """The gate decision in the bundle (pass, warn, block, needs-approval, incomplete)."""
    signer_key_id: str | None = None
    verify_error: str | None = None
    exception_expiries: tuple[dt.datetime, ...] = ()
    """Expiry of every exception the decision relied on."""
    ingested_at: dt.datetime | None = None
    new_blocking_findings: int = 0


@dataclass(frozen=True, slots=True)
class ApprovalFact:
    """One recorded approval of (service, env, digest)."""

    approver: str
    groups: tuple[str, ...]
    """The approver's teams (lower-case, without `@`)."""
    at: dt.datetime


@dataclass(frozen=True, slots=True)
class DriftFact:
    """The latest drift report for (service, env)."""

    status: str
    """`clean`, `drifted` or `unknown` (the drift check itself failed: fail closed)."""
    reported_at: dt.datetime
    resources: tuple[str, ...] = ()
    report_id: str | None = None


@dataclass(frozen=True, slots=True)
class RiskFact:
    """One open or excepted finding of the service."""

    finding_id: str
    rule_id: str
    severity: Severity
    status: str
    """`open`, `reopened` or `excepted`."""
    due_at: dt.datetime | None
    exception_expires: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class ChangeFacts:
    """What the change being deployed touches, when known."""

    changed_paths: tuple[str, ...] | None = None
    """None: unknown (never low-risk)."""
    changed_lines: int | None = None
    first_deploy: bool = False
    """No earlier successful deployment of this service to this environment."""


@dataclass(frozen=True, slots=True)
class DeployFacts:
    """Everything `decide()` needs, gathered by the ledger."""

    request: DeployRequest
    service_known: bool
    owner_team: str | None
    evidence: tuple[EvidenceFact, ...] = ()
    approvals: tuple[ApprovalFact, ...] = ()
    drift: DriftFact | None = None
    risks: tuple[RiskFact, ...] = ()
    change: ChangeFacts = field(default_factory=ChangeFacts)


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One check: status, a one-line reason, the answer it forces when it fails, what it used."""

    name: CheckName
    status: CheckStatus
    reason: str
    on_fail: Answer = Answer.DENY
    used: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON for the API, the CLI and the audit log."""
        return {
            "name": self.name.value,
            "status": self.status.value,
            "reason": self.reason,
            "on_fail": self.on_fail.value,
            "used": dict(self.used),
        }


@dataclass(frozen=True, slots=True)
class DeployDecision:
    """The answer plus every check that led to it."""

    request: DeployRequest
    answer: Answer
    checks: tuple[CheckResult, ...]
    decided_at: dt.datetime
    auto_approved_by: str | None = None

    @property
    def reasons(self) -> tuple[str, ...]:
        """One line per check that did not pass."""
        return tuple(
            f"{c.name.value}: {c.reason}"
            for c in self.checks
            if c.status in (CheckStatus.FAIL, CheckStatus.WARN)
        )

    def check(self, name: CheckName) -> CheckResult:
        """The result of one check."""
        return next(c for c in self.checks if c.name is name)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON for the API, the CLI and the audit log."""
        r = self.request
        return {
            "answer": self.answer.value,
            "service": r.service,
            "env": r.env,
            "artifact_digest": r.digest,
            "version": r.version,
            "commit": r.commit,
            "requester": r.requester,
            "decided_at": self.decided_at.isoformat(),
            "auto_approved_by": self.auto_approved_by,
            "checks": [c.to_json() for c in self.checks],
            "reasons": list(self.reasons),
        }


def is_digest(value: str, *, sha256_only: bool = True) -> bool:
    """True if `value` is a content digest (`sha256:` + 64 lower-case hex by default)."""
    return bool((DIGEST_RE if sha256_only else _ANY_DIGEST_RE).match(value))


def decide(facts: DeployFacts, policy: EnvironmentPolicy, now: dt.datetime) -> DeployDecision:
    """Run the five checks and combine them: any failing deny-check denies; otherwise a failing
    approval check asks for approval; otherwise allow (warnings are reported, not blocking)."""
    change = check_change_risk(facts, policy, now)
    auto_rule = change.used.get("auto_approved_by") if change.status is CheckStatus.PASS else None
    checks = (
        check_evidence(facts, policy, now),
        check_approvals(facts, policy, change, auto_rule),
        check_drift(facts, policy),
        check_open_risk(facts, policy, now),
        change,
    )
    failing = [c for c in checks if c.status is CheckStatus.FAIL]
    if any(c.on_fail is Answer.DENY for c in failing):
        answer = Answer.DENY
    elif failing:
        answer = Answer.NEEDS_APPROVAL
    else:
        answer = Answer.ALLOW
    return DeployDecision(
        request=facts.request,
        answer=answer,
        checks=checks,
        decided_at=now,
        auto_approved_by=str(auto_rule) if auto_rule else None,
    )


def _enforced(enforcement: Enforcement, name: CheckName, reason: str, used: Mapping[str, Any]) -> CheckResult:
    if enforcement is Enforcement.OFF:
        return CheckResult(name, CheckStatus.SKIP, f"not required here ({reason})", used=used)
    status = CheckStatus.FAIL if enforcement is Enforcement.DENY else CheckStatus.WARN
    return CheckResult(name, status, reason, used=used)


def check_evidence(facts: DeployFacts, policy: EnvironmentPolicy, now: dt.datetime) -> CheckResult:
    """Check 1: a trusted, verified, passing bundle for this exact digest."""
    digest = facts.request.digest
    name = CheckName.EVIDENCE
    if not is_digest(digest, sha256_only=policy.digests_required):
        # A malformed digest can never match evidence: deny whatever the enforcement says.
        return CheckResult(name, CheckStatus.FAIL, f"{digest!r} is not a sha256 content digest")
    if not facts.service_known:
        return CheckResult(name, CheckStatus.FAIL, f"unknown service {facts.request.service!r}")
    candidates = sorted(
        (e for e in facts.evidence if digest in e.subject_digests),
        key=lambda e: (e.ingested_at or dt.datetime.min.replace(tzinfo=dt.UTC), e.bundle_id),
        reverse=True,
    )
    if not candidates:
        return _enforced(policy.evidence, name, f"no evidence has subject {digest}", {})
    problems: list[str] = []
    for ev in candidates:
        problem = _evidence_problem(ev, now)
        if problem is None:
            used = {"bundle": ev.bundle_id, "signer_key_id": ev.signer_key_id, "outcome": ev.outcome}
            return CheckResult(
                name, CheckStatus.PASS, f"bundle {ev.bundle_id} verified, decision {ev.outcome}", used=used
            )
        problems.append(f"bundle {ev.bundle_id}: {problem}")
    return _enforced(
        policy.evidence, name, "; ".join(problems[:3]), {"bundles": [e.bundle_id for e in candidates]}
    )


def _evidence_problem(ev: EvidenceFact, now: dt.datetime) -> str | None:
    if not ev.verified:
        return f"signature not verified ({ev.verify_error or 'unsigned report'})"
    if not ev.key_trusted:
        return f"signed by key {ev.signer_key_id or '?'} not trusted for the owning team"
    if ev.outcome not in PASSING_OUTCOMES:
        return f"gate decision was {ev.outcome or 'missing'}"
    expired = sorted(x for x in ev.exception_expiries if x <= now)
    if expired:
        return f"an exception it relied on expired at {expired[0].isoformat()}"
    return None


def check_approvals(
    facts: DeployFacts, policy: EnvironmentPolicy, change: CheckResult, auto_rule: object
) -> CheckResult:
    """Check 2: distinct approvers from allowed groups, never the requester."""
    name = CheckName.APPROVALS
    needed = policy.required_approvals
    freeze = change.used.get("freeze")
    if freeze and needed == 0:
        needed = 1
    if needed == 0:
        return CheckResult(name, CheckStatus.PASS, "no approvals required", on_fail=Answer.NEEDS_APPROVAL)
    if auto_rule:
        return CheckResult(
            name,
            CheckStatus.PASS,
            f"auto-approved by rule {auto_rule} (low-risk change)",
            on_fail=Answer.NEEDS_APPROVAL,
            used={"auto_approved_by": auto_rule},
        )
    allowed = {g for g in policy.approver_groups if g != OWNERS_GROUP}
    if OWNERS_GROUP in policy.approver_groups and facts.owner_team:
        allowed.add(facts.owner_team.lstrip("@").lower())
    requester = (facts.request.requester or "").lower()
    counted: dict[str, ApprovalFact] = {}
    refused: list[str] = []
    for ap in sorted(facts.approvals, key=lambda a: a.at):
        who = ap.approver.lower()
        if requester and who == requester:
            refused.append(f"{ap.approver} (self-approval)")
        elif not allowed.intersection(g.lstrip("@").lower() for g in ap.groups):
            refused.append(f"{ap.approver} (not in {', '.join(sorted(allowed))})")
        else:
            counted.setdefault(who, ap)
    used = {"approvers": sorted(counted), "refused": refused, "required": needed}
    if len(counted) >= needed:
        return CheckResult(
            name,
            CheckStatus.PASS,
            f"{len(counted)}/{needed} approvals ({', '.join(sorted(counted))})",
            on_fail=Answer.NEEDS_APPROVAL,
            used=used,
        )
    reason = f"{len(counted)}/{needed} approvals from {', '.join(sorted(allowed)) or 'nobody allowed'}"
    if refused:
        reason += f"; not counted: {', '.join(refused)}"
    return CheckResult(name, CheckStatus.FAIL, reason, on_fail=Answer.NEEDS_APPROVAL, used=used)


def check_drift(facts: DeployFacts, policy: EnvironmentPolicy) -> CheckResult:
    """Check 3: the latest drift report for (service, env) is clean."""
    name = CheckName.DRIFT
    drift = facts.drift
    if drift is None:
        return CheckResult(name, CheckStatus.PASS, "no drift reported")
    used = {
        "report": drift.report_id,
        "reported_at": drift.reported_at.isoformat(),
        "resources": list(drift.resources[:20]),
    }
    if drift.status == "clean":
        return CheckResult(name, CheckStatus.PASS, f"clean since {drift.reported_at.isoformat()}", used=used)
    if drift.status == "drifted":
        shown = ", ".join(drift.resources[:5]) + (" …" if len(drift.resources) > 5 else "")
        reason = (
            f"open drift in {len(drift.resources)} resource(s): {shown}" if drift.resources else "open drift"
        )
    else:
        reason = "the last drift check failed (status unknown): treated as drift"
    return _enforced(policy.drift, name, reason, used)


def check_open_risk(facts: DeployFacts, policy: EnvironmentPolicy, now: dt.datetime) -> CheckResult:
    """Check 4: no blocking finding past its SLA and no expired exception still matching."""
    name = CheckName.OPEN_RISK
    blocking = set(policy.blocking_severities)
    overdue: list[RiskFact] = []
    expired: list[RiskFact] = []
    for r in facts.risks:
        if r.status == "excepted":
            if r.exception_expires is not None and r.exception_expires <= now:
                expired.append(r)
        elif r.severity in blocking and r.due_at is not None and r.due_at < now:
            overdue.append(r)
    if not overdue and not expired:
        return CheckResult(name, CheckStatus.PASS, "no overdue blocking findings, no expired exceptions")
    parts = []
    if overdue:
        parts.append(
            f"{len(overdue)} {'/'.join(s.value for s in policy.blocking_severities)} finding(s) past SLA: "
            + ", ".join(r.rule_id for r in overdue[:3])
        )
    if expired:
        parts.append(
            f"{len(expired)} expired exception(s) still matching: "
            + ", ".join(r.rule_id for r in expired[:3])
        )
    used = {"overdue": [r.finding_id for r in overdue], "expired_exceptions": [r.finding_id for r in expired]}
    return _enforced(policy.open_risk, name, "; ".join(parts), used)


def check_change_risk(facts: DeployFacts, policy: EnvironmentPolicy, now: dt.datetime) -> CheckResult:
    """Check 5: classify the change. Pass = low-risk and auto-approved by a named rule; warn =
    high-risk (the approval check then asks for people); fail = a deny freeze window."""
    name = CheckName.CHANGE_RISK
    for window in policy.freeze_windows:
        if window.contains(now):
            if window.action == "deny":
                return CheckResult(
                    name, CheckStatus.FAIL, f"freeze window {window.name!r} denies deploys now"
                )
            return CheckResult(
                name,
                CheckStatus.WARN,
                f"high-risk: freeze window {window.name!r} is active",
                on_fail=Answer.NEEDS_APPROVAL,
                used={"freeze": window.name},
            )
    high = high_risk_reasons(facts, policy)
    if high:
        return CheckResult(
            name,
            CheckStatus.WARN,
            "high-risk: " + "; ".join(high),
            on_fail=Answer.NEEDS_APPROVAL,
            used={"high_risk": high},
        )
    auto = policy.auto_approval
    if not auto.enabled:
        return CheckResult(
            name, CheckStatus.SKIP, "auto-approval not enabled here", on_fail=Answer.NEEDS_APPROVAL
        )
    low, why = _low_risk(facts, auto.low_risk_paths, auto.max_changed_files, auto.max_changed_lines)
    if not low:
        return CheckResult(name, CheckStatus.SKIP, f"not low-risk: {why}", on_fail=Answer.NEEDS_APPROVAL)
    return CheckResult(
        name,
        CheckStatus.PASS,
        f"low-risk change ({why}) auto-approved by rule {auto.rule}",
        on_fail=Answer.NEEDS_APPROVAL,
        used={"auto_approved_by": auto.rule},
    )


def high_risk_reasons(facts: DeployFacts, policy: EnvironmentPolicy) -> list[str]:
    """Why the change is high-risk (empty: it is not)."""
    reasons: list[str] = []
    if facts.change.first_deploy and policy.first_deploy_needs_approval:
        reasons.append(f"first deploy of {facts.request.service} to {facts.request.env}")
    digest = facts.request.digest
    new_blocking = sum(e.new_blocking_findings for e in facts.evidence if digest in e.subject_digests)
    if new_blocking:
        reasons.append(f"{new_blocking} new blocking finding(s)")
    paths = facts.change.changed_paths or ()
    hits = [p for p in paths if any(path_glob(g).match_file(p) for g in policy.auto_approval.high_risk_paths)]
    if hits:
        reasons.append("touches high-risk paths: " + ", ".join(hits[:5]))
    return reasons


def _low_risk(
    facts: DeployFacts, low_paths: Sequence[str], max_files: int, max_lines: int
) -> tuple[bool, str]:
    paths = facts.change.changed_paths
    if paths is None or facts.change.changed_lines is None:
        return False, "the change's files are unknown"
    if not paths:
        return False, "no changed files recorded"
    if len(paths) > max_files:
        return False, f"{len(paths)} files changed (max {max_files})"
    if facts.change.changed_lines > max_lines:
        return False, f"{facts.change.changed_lines} lines changed (max {max_lines})"
    outside = [p for p in paths if not any(path_glob(g).match_file(p) for g in low_paths)]
    if outside:
        return False, "changes outside low-risk paths: " + ", ".join(outside[:5])
    if not any(e.outcome in PASSING_OUTCOMES and e.verified for e in facts.evidence):
        return False, "no passing verified gate run"
    return True, f"{len(paths)} file(s), {facts.change.changed_lines} line(s) in low-risk paths"
