"""GitHub Actions workflow commands: `::error` for blocking findings, `::warning` for warnings.

GitHub shows at most 10 annotations of each level per step, so at most `limit` of each are
emitted (most severe first) and a final `::notice` counts what was left out. Every error
says what, where, why it blocks (the deciding rule), who owns it, how to fix it and the
exact `clearance exceptions add` command.
"""

from __future__ import annotations

from clearance.model import Action, Finding
from clearance.report.base import (
    ReportData,
    action_of,
    exception_command,
    is_quiet,
    ordered,
    owner_of,
    remediation_of,
    verdict_of,
    why,
)

GITHUB_LIMIT = 10
"""Annotations of one level GitHub displays per step."""


def render_annotations(data: ReportData, limit: int = GITHUB_LIMIT) -> str:
    """Workflow commands for the decided findings (empty text without a decision)."""
    if data.decision is None:
        return ""
    errors: list[Finding] = []
    warnings: list[Finding] = []
    for finding in ordered(list(data.result.findings)):
        action = action_of(data, finding)
        if action is Action.BLOCK:
            errors.append(finding)
        elif action is Action.WARN and not is_quiet(data, finding):
            warnings.append(finding)
    lines = [_command("error", data, f) for f in errors[:limit]]
    lines += [_command("warning", data, f) for f in warnings[:limit]]
    hidden_errors, hidden_warnings = max(0, len(errors) - limit), max(0, len(warnings) - limit)
    if hidden_errors or hidden_warnings:
        lines.append(
            "::notice title=clearance::"
            + _data(
                f"{hidden_errors} more blocking and {hidden_warnings} more warning finding(s) are not shown as "
                "annotations; see the job summary or the SARIF results"
            )
        )
    for reason in data.decision.reasons:
        if reason.startswith("needs approval"):
            lines.append(f"::error title={_prop('clearance: approval required')}::" + _data(reason))
    return "\n".join(lines) + ("\n" if lines else "")


def _command(level: str, data: ReportData, finding: Finding) -> str:
    loc = finding.location
    props = [f"file={_prop(loc.path)}"]
    if loc.start_line:
        props.append(f"line={loc.start_line}")
        if loc.end_line and loc.end_line != loc.start_line:
            props.append(f"endLine={loc.end_line}")
    props.append(f"title={_prop(f'{finding.rule_id} ({finding.severity.value}): {finding.title}')}")
    parts = [f"why: {why(verdict_of(data, finding))}"]
    owner = owner_of(data, finding)
    parts.append(f"owner: {owner or 'unknown'}")
    if finding.evidence:
        parts.append(f"evidence: {finding.evidence}")
    parts.append(f"fix: {remediation_of(data, finding)}")
    if level == "error":
        parts.append(f"exception: {exception_command(data, finding)}")
    return f"::{level} {','.join(props)}::{_data(chr(10).join(parts))}"


def _data(text: str) -> str:
    """Escape a workflow command's message."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _prop(text: str) -> str:
    """Escape a workflow command's property value."""
    return _data(text).replace(":", "%3A").replace(",", "%2C")
