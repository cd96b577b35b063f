"""The simplest policy: block at or above a severity threshold, warn on the rest above info.

Inline-suppressed findings pass (kept and shown, never hidden). This is the seam the full
policy engine (context, CEL rules, exceptions) plugs into: same inputs, same `Decision`.
"""

from __future__ import annotations

import hashlib

from clearance.config import InlineSuppressionSettings
from clearance.decision import Decision, overall_outcome
from clearance.model import Action, Finding, ScanResult, Severity, Verdict
from clearance.policy.inline import inline_suppression


def decide_by_threshold(result: ScanResult, fail_on: Severity, *, fail_closed: bool = True) -> Decision:
    """Decide every finding by comparing its severity with `fail_on`."""
    name = f"threshold:{fail_on.value}"
    verdicts = {f.fingerprint: _verdict(f, fail_on, name) for f in result.findings}
    outcome = overall_outcome(result, verdicts, fail_closed)
    digest = hashlib.sha256(name.encode()).hexdigest()
    return Decision(outcome=outcome, verdicts=verdicts, policy=name, policy_digest=f"sha256:{digest}")


def _verdict(finding: Finding, fail_on: Severity, name: str) -> Verdict:
    suppressed, _ = inline_suppression(finding, InlineSuppressionSettings())
    if suppressed is not None:
        return suppressed
    if finding.severity.at_least(fail_on):
        return Verdict(
            finding.fingerprint,
            Action.BLOCK,
            name,
            f"severity {finding.severity.value} is at or above {fail_on.value}",
        )
    if finding.severity.at_least(Severity.LOW):
        return Verdict(
            finding.fingerprint,
            Action.WARN,
            name,
            f"severity {finding.severity.value} is below {fail_on.value}",
        )
    return Verdict(finding.fingerprint, Action.PASS, name, "informational")
