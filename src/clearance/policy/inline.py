"""Whether an inline `clearance:ignore` comment may pass a finding, under the policy.

The scanners attach a suppression only when the comment is well formed (it names a reason and
has not expired, see `scanners/suppression.py`); a malformed one leaves a `suppression_note`
signal instead. The policy may still refuse inline suppression for some kinds or severities
(`[policy.inline_suppression]`): such a finding is decided as if the comment were absent, and its
verdict says why, so a comment in an attacker's PR can never silently pass a live secret.
"""

from __future__ import annotations

from clearance.config import InlineSuppressionSettings
from clearance.model import Action, Finding, Verdict

RULE = "inline-suppression"


def inline_suppression(
    finding: Finding, settings: InlineSuppressionSettings
) -> tuple[Verdict | None, str | None]:
    """(the passing verdict, None) when the suppression holds; (None, why it was refused) when the
    policy refuses it; (None, None) when the finding carries no suppression."""
    suppression = finding.suppression
    if suppression is None:
        return None, None
    refused = refusal(finding, settings)
    if refused:
        return None, f"inline suppression at {suppression.source} refused: {refused}"
    return Verdict(finding.fingerprint, Action.PASS, RULE, f"suppressed inline: {suppression.reason}"), None


def refusal(finding: Finding, settings: InlineSuppressionSettings) -> str | None:
    """Why the policy does not let this finding be suppressed inline, or None."""
    if finding.kind.value in settings.refuse_kinds:
        return f"policy.inline_suppression refuses {finding.kind.value} findings (request an exception)"
    if settings.refuse_at is not None and finding.severity.at_least(settings.refuse_at):
        return (
            f"policy.inline_suppression refuses {finding.severity.value} findings "
            f"(at or above {settings.refuse_at.value}; request an exception)"
        )
    return None


def suppression_note(finding: Finding) -> str | None:
    """The scanner's note about a suppression comment that did not apply (no reason, expired)."""
    note = finding.signals.get("suppression_note")
    return str(note) if note else None
