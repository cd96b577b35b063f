"""The decision and its exit code: the one mapping from outcome to process exit status."""

from __future__ import annotations

import dataclasses
import enum
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from clearance.model import Action, Finding, Outcome, ScannerStatus, ScanResult, Verdict


class ExitCode(enum.IntEnum):
    """Every process exit code clearance uses (the README's table; a test keeps them equal).

    The error classes in `errors.py` carry theirs; outcomes map through `exit_code_for`.
    `clearance verify` reuses 0 and 1 with its own documented meaning (valid / invalid bundle).
    """

    PASS = 0
    """pass (warnings allowed); `verify`: the bundle is valid"""
    BLOCKED = 1
    """blocked by policy (or waiting for a required approval); `verify`: the bundle is invalid"""
    USAGE = 2
    """usage error"""
    INCOMPLETE = 3
    """incomplete: unreadable source, parse failure under fail-closed, missing advisory DB, evidence
    that could not be written"""
    CONFIG = 4
    """invalid configuration, policy or exceptions file"""
    INTERNAL = 70
    """internal error: a bug in clearance (sysexits' EX_SOFTWARE)"""
    INTERRUPTED = 130
    """interrupted (Ctrl-C), as shells report SIGINT"""
    OUTPUT_CLOSED = 141
    """the reader of the output went away (`clearance gate | head`): a closed pipe, as shells report
    SIGPIPE): says nothing about the verdict, never to be taken for "blocked" or "invalid"."""


INVALID_BUNDLE = ExitCode.BLOCKED
"""`clearance verify`'s "the bundle is invalid" — the same number as blocked, its own contract."""


@dataclass(frozen=True, slots=True)
class PolicyInfo:
    """Which policy decided: name, environment, digest, threshold and rule names in order."""

    name: str
    env: str | None
    digest: str
    fail_on: str | None
    rules: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ExceptionUse:
    """One entry of the exceptions file and what it did in this decision."""

    id: str
    owner: str
    expires: str
    """ISO date."""
    days_left: int
    reason: str
    approved_by: str
    where: str
    """`file:line` of the entry."""
    match: str
    status: str
    """applied | expired | not-applicable | stale | unmatched."""
    expiring_soon: bool
    findings: tuple[str, ...] = ()
    """Fingerprints it excepted."""
    expired_findings: tuple[str, ...] = ()
    rejected_findings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ApprovalUse:
    """One approval a change needed (a high-risk path) and who gave it."""

    pattern: str
    reason: str
    owners: tuple[str, ...]
    paths: tuple[str, ...]
    approved_by: tuple[str, ...]
    at: str | None
    """When the latest counted approval was submitted (GitHub reviews only)."""
    satisfied: bool
    by: str | None
    """`approved_by` as one line (None when nobody approved)."""


@dataclass(frozen=True, slots=True)
class BaselineSummary:
    """PR mode: which findings were already on the base and which are new."""

    mode: str
    """`full` or `pr`."""
    base: str | None
    pre_existing: tuple[str, ...]
    new: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DecisionDetails:
    """What the policy stage used and concluded besides the verdicts (reports, evidence, ledger).

    Rendered as the JSON report's `decision.extra`, field for field.
    """

    policy: PolicyInfo
    exceptions: tuple[ExceptionUse, ...]
    exceptions_file: str | None
    baseline: BaselineSummary
    approvals: tuple[ApprovalUse, ...]
    approvals_source: str
    approvals_missing: tuple[str, ...]
    owners: Mapping[str, str]
    """Owner per finding fingerprint (findings without an owner are left out)."""
    services: Mapping[str, str]
    """Catalog service name per finding fingerprint."""
    context: Mapping[str, Any]
    """The service and CI context the policy saw (as the JSON report shows it)."""


@dataclass(frozen=True)
class Decision:
    """The policy's overall outcome plus one verdict per finding."""

    outcome: Outcome
    verdicts: Mapping[str, Verdict]
    """Verdict per finding fingerprint."""
    policy: str
    """Name of the policy that decided (e.g. `threshold:high`, `default`)."""
    policy_digest: str
    reasons: tuple[str, ...] = ()
    """Why the outcome is what it is, one line each (e.g. 'scan incomplete: 2 files unreadable')."""
    details: DecisionDetails | None = None
    """Policy-stage facts: exceptions used/expired/stale, approvals, baseline, owners (None for the
    plain threshold policy)."""

    @property
    def extra(self) -> Mapping[str, Any]:
        """`details` as plain JSON data: the JSON report's `decision.extra` (`{}` without details)."""
        return _plain(self.details) if self.details is not None else {}

    def verdict_for(self, finding: Finding) -> Verdict | None:
        """The verdict recorded for a finding, if any."""
        return self.verdicts.get(finding.fingerprint)

    def owner_of(self, finding: Finding) -> str | None:
        """Who the policy routed a finding to (None when nobody owns it or nothing was decided)."""
        verdict = self.verdicts.get(finding.fingerprint)
        return verdict.owner if verdict is not None and verdict.owner else None

    def counts(self) -> dict[str, int]:
        """How many findings got each action."""
        c = Counter(v.action.value for v in self.verdicts.values())
        return {a.value: c.get(a.value, 0) for a in Action}

    def exit_code(self) -> ExitCode:
        """The exit status for this decision."""
        return exit_code_for(self.outcome)


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def exit_code_for(outcome: Outcome) -> ExitCode:
    """Map an outcome to its exit code."""
    match outcome:
        case Outcome.PASS | Outcome.WARN:
            return ExitCode.PASS
        case Outcome.BLOCK | Outcome.NEEDS_APPROVAL:
            return ExitCode.BLOCKED
        case Outcome.INCOMPLETE:
            return ExitCode.INCOMPLETE


def scan_exit_code(result: ScanResult) -> ExitCode:
    """`clearance scan` decides nothing: it fails only when a scanner could not run at all."""
    failed = any(r.status is ScannerStatus.FAILED for r in result.runs)
    return ExitCode.INCOMPLETE if failed else ExitCode.PASS


def verify_exit_code(valid: bool) -> ExitCode:
    """`clearance verify`: 0 when every check passed, 1 otherwise."""
    return ExitCode.PASS if valid else INVALID_BUNDLE


def overall_outcome(result: ScanResult, verdicts: Mapping[str, Verdict], fail_closed: bool) -> Outcome:
    """Combine verdicts into an outcome. An incomplete scan never passes under fail-closed."""
    actions = {v.action for v in verdicts.values()}
    if Action.BLOCK in actions:
        return Outcome.BLOCK
    if fail_closed and not result.complete:
        return Outcome.INCOMPLETE
    if Action.WARN in actions:
        return Outcome.WARN
    return Outcome.PASS
