"""The decision and its exit code: the one mapping from outcome to process exit status."""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
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


INVALID_BUNDLE = ExitCode.BLOCKED
"""`clearance verify`'s "the bundle is invalid" — the same number as blocked, its own contract."""


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
    extra: Mapping[str, Any] = field(default_factory=dict)
    """Policy-stage facts for reports/evidence: exceptions used/expired/stale, approvals..."""

    def verdict_for(self, finding: Finding) -> Verdict | None:
        """The verdict recorded for a finding, if any."""
        return self.verdicts.get(finding.fingerprint)

    def counts(self) -> dict[str, int]:
        """How many findings got each action."""
        c = Counter(v.action.value for v in self.verdicts.values())
        return {a.value: c.get(a.value, 0) for a in Action}

    def exit_code(self) -> ExitCode:
        """The exit status for this decision."""
        return exit_code_for(self.outcome)


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
