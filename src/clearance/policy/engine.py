"""The policy engine: context + rules + exceptions + PR baseline + approvals → `Decision`.

For each finding, in order:

1. an inline suppression passes it (kept and shown);
2. the rules decide (environment rules, `[[policy.rules]]`, then the built-in default policy
   or a severity threshold, then `informational` and `default.warn`) — first match wins;
3. a matching, unexpired exception turns block/warn into `excepted`; an expired one does
   not apply and the verdict says which exception expired, when, and who owns it;
4. in PR mode a finding already on the base ref that would block only warns
   (`baseline.pre-existing`), unless `policy.pre_existing = "policy"`.

Then the outcome: block beats needs-approval (a high-risk path without its risk owner's
approval), which beats incomplete (fail closed), warn and pass.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from clearance.config import ExceptionLimitSettings, InlineSuppressionSettings, PolicySettings, Settings
from clearance.decision import (
    ApprovalUse,
    BaselineSummary,
    Decision,
    DecisionDetails,
    ExceptionUse,
    PolicyInfo,
    overall_outcome,
)
from clearance.model import Action, Finding, Outcome, ScanResult, Severity, Verdict
from clearance.policy.approvals import Requirement
from clearance.policy.context import PolicyContext
from clearance.policy.default import default_rules, final_rules, threshold_rules
from clearance.policy.exceptions import ExceptionSet, RiskException
from clearance.policy.inline import inline_suppression, suppression_note
from clearance.policy.inputs import ChangeInfo, finding_as_cel, inputs_for, sample_inputs
from clearance.policy.rules import Match, RuleSet, RuleSpec, compile_rules


@dataclass(frozen=True)
class Policy:
    """A compiled policy for one environment: its rules, name and digest."""

    rules: RuleSet
    name: str
    digest: str
    env: str
    fail_on: Severity | None
    pre_existing: str = "warn"


def load_policy(
    settings: PolicySettings,
    env: str,
    fail_on: Severity | None = None,
    origin: str = "clearance.toml",
    source_text: str | None = None,
) -> Policy:
    """Compile the policy for `env`; an invalid rule raises `PolicyError` (exit 4).

    `fail_on` (from `--fail-on`) overrides the environment's and the policy's threshold.
    `source_text` (the configuration file's text) lets errors name the line of a rule.
    """
    env_section = settings.environments.get(env) if env else None
    threshold = fail_on or (env_section.fail_on if env_section else None) or settings.fail_on
    specs: list[RuleSpec] = []
    if env_section is not None:
        specs += [
            _spec(
                r.name,
                r.when,
                r.action,
                r.message,
                f"{origin}{_line(source_text, r.name)} [policy.environments.{env}] rules[{i}]",
            )
            for i, r in enumerate(env_section.rules)
        ]
    specs += [
        _spec(
            r.name,
            r.when,
            r.action,
            r.message,
            f"{origin}{_line(source_text, r.name)} [[policy.rules]] #{i + 1}",
        )
        for i, r in enumerate(settings.rules)
    ]
    if threshold is not None:
        specs += threshold_rules(threshold)
    elif settings.builtin:
        specs += default_rules(settings.epss_threshold)
    specs += final_rules()
    # The dry run on sample inputs checks rules from configuration; a policy made only of
    # clearance's own templates (no configuration at all: every pre-commit run) needs no samples.
    samples = sample_inputs() if not all(s.generated for s in specs) else []
    ruleset = compile_rules(
        specs,
        samples,
        max_cost=settings.max_rule_cost,
        time_budget_ms=settings.rule_time_budget_ms,
    )
    if threshold is not None:
        name = f"threshold:{threshold.value}"
    else:
        name = "default" if not settings.rules and not env_section else "custom"
    if env:
        name += f"@{env}"
    canonical = json.dumps(
        [[r.name, r.when, r.action.value, r.message] for r in ruleset.rules]
        + [["pre_existing", settings.pre_existing]],
        separators=(",", ":"),
    )
    digest = "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()
    return Policy(ruleset, name, digest, env, threshold, settings.pre_existing)


def _spec(name: str, when: str, action: str, message: str, origin: str) -> RuleSpec:
    return RuleSpec(name=name, when=when, action=action, message=message, origin=origin)


def _line(text: str | None, name: str) -> str:
    """`:N` — the line of the rule's `when` (or its `name`) in the configuration text."""
    if not text:
        return ""
    lines = text.splitlines()
    for number, line in enumerate(lines, start=1):
        stripped = line.replace(" ", "")
        if stripped.startswith((f'name="{name}"', f"name='{name}'")):
            for offset, after in enumerate(lines[number:], start=number + 1):
                if after.lstrip().startswith("["):
                    break
                if after.replace(" ", "").startswith("when="):
                    return f":{offset}"
            return f":{number}"
    return ""


@dataclass(frozen=True)
class DecisionInputs:
    """Everything besides the scan result that the engine needs."""

    policy: Policy
    context: PolicyContext = field(default_factory=PolicyContext)
    exceptions: ExceptionSet = field(default_factory=ExceptionSet)
    change: ChangeInfo = field(default_factory=ChangeInfo)
    approvals: Sequence[Requirement] = ()
    approvals_source: str = "none"
    fail_closed: bool = True
    expiring_soon_days: int = 14
    limits: ExceptionLimitSettings = field(default_factory=ExceptionLimitSettings)
    """Maximum exception lengths per severity and the expiring-soon window."""
    inline_suppression: InlineSuppressionSettings = field(default_factory=InlineSuppressionSettings)
    """Kinds and severities that a `clearance:ignore` comment may not pass."""
    notices: Sequence[str] = ()
    """Lines for the decision's reasons from preparing the inputs (e.g. PR mode: the policy
    came from the merge base and the change edits it)."""


def decide(result: ScanResult, inputs: DecisionInputs, now: dt.datetime) -> Decision:
    """Decide every finding and the overall outcome."""
    limits = inputs.limits
    book = _Book()
    verdicts: dict[str, Verdict] = {}
    for finding in result.findings:
        verdicts[finding.fingerprint] = _verdict(finding, inputs, limits, now, book)
    outcome = overall_outcome(result, verdicts, inputs.fail_closed)
    missing = [r for r in inputs.approvals if not r.satisfied]
    if missing and outcome is not Outcome.BLOCK:
        outcome = Outcome.NEEDS_APPROVAL
    reasons = _reasons(result, verdicts, inputs, missing, book, now)
    details = _details(result, verdicts, inputs, book, now)
    return Decision(
        outcome=outcome,
        verdicts=verdicts,
        policy=inputs.policy.name,
        policy_digest=inputs.policy.digest,
        reasons=tuple(reasons),
        details=details,
    )


def decide_with_settings(
    result: ScanResult,
    settings: Settings,
    now: dt.datetime,
    *,
    env: str = "",
    fail_on: Severity | None = None,
    context: PolicyContext | None = None,
    exceptions: ExceptionSet | None = None,
    change: ChangeInfo | None = None,
    approvals: Sequence[Requirement] = (),
) -> Decision:
    """Convenience for library users and tests: compile the policy from settings and decide."""
    policy = load_policy(settings.policy, env, fail_on)
    ctx = context or PolicyContext(env=env)
    return decide(
        result,
        DecisionInputs(
            policy=policy,
            context=ctx,
            exceptions=exceptions or ExceptionSet(),
            change=change or ChangeInfo(),
            approvals=approvals,
            fail_closed=settings.fail_closed,
            expiring_soon_days=settings.policy.exceptions.expiring_soon_days,
            limits=settings.policy.exceptions,
        ),
        now,
    )


@dataclass
class _Book:
    """What happened to exceptions during one decision."""

    applied: dict[str, list[str]] = field(default_factory=dict)
    expired: dict[str, list[str]] = field(default_factory=dict)
    rejected: dict[str, list[str]] = field(default_factory=dict)
    matched: set[str] = field(default_factory=set)
    by_id: dict[str, RiskException] = field(default_factory=dict)
    rule_errors: list[str] = field(default_factory=list)


def evaluation_inputs(finding: Finding, inputs: DecisionInputs, owner: str | None = None) -> dict[str, Any]:
    """The CEL variables for one finding (also what `policy explain` prints)."""
    ctx = inputs.context
    service = ctx.catalog.for_path(finding.location.path)
    pre = finding.fingerprint in inputs.change.pre_existing
    if owner is None:
        owner = ctx.owner_of(finding.location.path)
    return inputs_for(
        finding_as_cel(finding, owner=owner, pre_existing=pre),
        service.as_cel(ctx.env),
        ctx.env,
        inputs.change.as_cel(),
    )


def _verdict(
    finding: Finding, inputs: DecisionInputs, limits: ExceptionLimitSettings, now: dt.datetime, book: _Book
) -> Verdict:
    fp = finding.fingerprint
    owner = inputs.context.owner_of(finding.location.path)
    suppressed, refusal = inline_suppression(finding, inputs.inline_suppression)
    if suppressed is not None:
        return dataclasses.replace(suppressed, owner=owner)
    match: Match = inputs.policy.rules.first_match(evaluation_inputs(finding, inputs, owner))
    rule = match.rule.name if match.rule else "default.warn"
    message = match.rule.message if match.rule else ""
    notes: list[str] = [f"rule could not be evaluated (failing closed): {e}" for e in match.errors]
    notes += [n for n in (refusal, suppression_note(finding)) if n]
    book.rule_errors.extend(match.errors)
    action = match.action
    for exc in inputs.exceptions.matching(finding):
        book.matched.add(exc.id)
        book.by_id[exc.id] = exc
        if action not in (Action.BLOCK, Action.WARN):
            continue
        if exc.expired(now):
            notes.append(f"exception {exc.id} (owner {exc.owner}) expired on {exc.expires.isoformat()}")
            book.expired.setdefault(exc.id, []).append(fp)
            continue
        problem = exc.applicable_to(finding, limits, now)
        if problem:
            notes.append(problem)
            book.rejected.setdefault(exc.id, []).append(fp)
            continue
        book.applied.setdefault(exc.id, []).append(fp)
        notes.insert(
            0,
            f"policy rule {rule} would {action.value}: {message}"
            if message
            else f"policy rule {rule} would {action.value}",
        )
        if exc.pending:
            notes.append(
                f"exception {exc.id} was added or changed by this change: it holds only once the "
                "approval it needs is given (see the decision's reasons)"
            )
        return Verdict(
            fp,
            Action.EXCEPTED,
            rule,
            f"excepted by {exc.id} (owner {exc.owner}, expires {exc.expires.isoformat()}): {exc.reason}",
            exception_id=exc.id,
            notes=tuple(notes),
            owner=owner,
        )
    pre_existing = fp in inputs.change.pre_existing
    if pre_existing and action is Action.BLOCK and inputs.policy.pre_existing == "warn":
        base = inputs.change.base or "the base ref"
        notes.insert(
            0, f"policy rule {rule} would block: {message}" if message else f"policy rule {rule} would block"
        )
        return Verdict(
            fp,
            Action.WARN,
            "baseline.pre-existing",
            f"already present on {base}: security debt, not introduced by this change",
            notes=tuple(notes),
            owner=owner,
        )
    if pre_existing:
        notes.append(f"pre-existing on {inputs.change.base or 'the base ref'}")
    return Verdict(fp, action, rule, message, notes=tuple(notes), owner=owner)


def _reasons(
    result: ScanResult,
    verdicts: Mapping[str, Verdict],
    inputs: DecisionInputs,
    missing: Sequence[Requirement],
    book: _Book,
    now: dt.datetime,
) -> list[str]:
    reasons: list[str] = []
    blocked = [v for v in verdicts.values() if v.action is Action.BLOCK]
    if blocked:
        by_rule: dict[str, int] = {}
        for v in blocked:
            by_rule[v.rule] = by_rule.get(v.rule, 0) + 1
        reasons.append(
            f"{len(blocked)} finding(s) blocked by policy: "
            + ", ".join(f"{k} ({n})" for k, n in sorted(by_rule.items()))
        )
    for req in missing:
        reasons.append(f"needs approval: {req.describe()}")
    if not result.complete:
        reasons.append(
            f"scan incomplete: {len(result.errors)} unreadable input(s)"
            + (" (fail closed)" if inputs.fail_closed else "")
        )
    for exc_id, fps in sorted(book.expired.items()):
        exc = book.by_id[exc_id]
        reasons.append(
            f"exception {exc_id} (owner {exc.owner}) expired on {exc.expires.isoformat()}; "
            f"{len(fps)} finding(s) decided again"
        )
    for exc in _expiring_soon(inputs, now):
        reasons.append(
            f"exception {exc.id} (owner {exc.owner}) expires in {exc.days_left(now)} day(s) "
            f"on {exc.expires.isoformat()}"
        )
    reasons.extend(inputs.notices)
    reasons.extend(inputs.exceptions.warnings)
    for exc in _stale(inputs, book):
        reasons.append(f"exception {exc.id} ({exc.where()}) matched no finding: stale, remove it")
    pre = [v for v in verdicts.values() if v.rule == "baseline.pre-existing"]
    if inputs.change.mode == "pr":
        new = len(verdicts) - len([f for f in result.findings if f.fingerprint in inputs.change.pre_existing])
        reasons.append(
            f"PR mode against {inputs.change.base}: {new} new finding(s), "
            f"{len(inputs.change.pre_existing)} pre-existing ({len(pre)} would block)"
        )
    if book.rule_errors:
        reasons.append(f"{len(book.rule_errors)} rule evaluation error(s); see the verdict notes")
    return reasons


def _expiring_soon(inputs: DecisionInputs, now: dt.datetime) -> list[RiskException]:
    return [
        e
        for e in inputs.exceptions.entries
        if not e.expired(now) and e.days_left(now) <= inputs.expiring_soon_days
    ]


def _stale(inputs: DecisionInputs, book: _Book) -> list[RiskException]:
    if inputs.change.mode == "pr":
        return []  # a PR scan sees only the change; unmatched exceptions prove nothing
    return [e for e in inputs.exceptions.entries if e.id not in book.matched]


def _details(
    result: ScanResult, verdicts: Mapping[str, Verdict], inputs: DecisionInputs, book: _Book, now: dt.datetime
) -> DecisionDetails:
    soon = {e.id for e in _expiring_soon(inputs, now)}
    stale = {e.id for e in _stale(inputs, book)}

    def status(exc_id: str) -> str:
        if exc_id in book.applied:
            return "applied"
        if exc_id in book.expired:
            return "expired"
        if exc_id in book.rejected:
            return "not-applicable"
        if exc_id in stale:
            return "stale"
        return "unmatched"

    exceptions = tuple(
        ExceptionUse(
            id=e.id,
            owner=e.owner,
            expires=e.expires.isoformat(),
            days_left=e.days_left(now),
            reason=e.reason,
            approved_by=e.approved_by,
            where=e.where(),
            match=e.match.describe(),
            status=status(e.id),
            expiring_soon=e.id in soon,
            findings=tuple(sorted(book.applied.get(e.id, []))),
            expired_findings=tuple(sorted(book.expired.get(e.id, []))),
            rejected_findings=tuple(sorted(book.rejected.get(e.id, []))),
        )
        for e in inputs.exceptions.entries
    )
    ctx = inputs.context
    owners = {fp: v.owner for fp, v in verdicts.items() if v.owner}
    services = {f.fingerprint: ctx.catalog.for_path(f.location.path).name for f in result.findings}
    pre = inputs.change.pre_existing
    return DecisionDetails(
        policy=PolicyInfo(
            name=inputs.policy.name,
            env=inputs.policy.env or None,
            digest=inputs.policy.digest,
            fail_on=inputs.policy.fail_on.value if inputs.policy.fail_on else None,
            rules=tuple(r.name for r in inputs.policy.rules.rules),
        ),
        exceptions=exceptions,
        exceptions_file=inputs.exceptions.source,
        baseline=BaselineSummary(
            mode=inputs.change.mode,
            base=inputs.change.base or None,
            pre_existing=tuple(sorted(f.fingerprint for f in result.findings if f.fingerprint in pre)),
            new=tuple(sorted(f.fingerprint for f in result.findings if f.fingerprint not in pre)),
        ),
        approvals=tuple(
            ApprovalUse(
                pattern=r.pattern,
                reason=r.reason,
                owners=tuple(r.owners),
                paths=tuple(r.paths),
                approved_by=tuple(r.approved_by),
                at=r.approved_at,
                satisfied=r.satisfied,
                by=", ".join(r.approved_by) or None,
            )
            for r in inputs.approvals
        ),
        approvals_source=inputs.approvals_source,
        approvals_missing=tuple(r.describe() for r in inputs.approvals if not r.satisfied),
        owners=dict(sorted(owners.items())),
        services={k: v for k, v in sorted(services.items()) if v},
        context=ctx.as_report_context(),
    )


def explain(finding: Finding, inputs: DecisionInputs, now: dt.datetime) -> dict[str, Any]:
    """Everything the policy saw for one finding and how each rule and exception evaluated."""
    variables = evaluation_inputs(finding, inputs)
    trace = inputs.policy.rules.trace(variables)
    limits = inputs.limits
    verdict = _verdict(finding, inputs, limits, now, _Book())
    exceptions = []
    for exc in inputs.exceptions.matching(finding):
        state = "expired" if exc.expired(now) else (exc.applicable_to(finding, limits, now) or "applies")
        exceptions.append(
            {"id": exc.id, "owner": exc.owner, "expires": exc.expires.isoformat(), "state": state}
        )
    first = next(
        (
            r.name
            for r, res in trace
            if res == "true" or (res.startswith("error") and r.action is Action.BLOCK)
        ),
        None,
    )
    return {
        "finding": {
            "fingerprint": finding.fingerprint,
            "rule": finding.rule_id,
            "title": finding.title,
            "location": finding.location.display(),
        },
        "inputs": variables,
        "policy": {"name": inputs.policy.name, "digest": inputs.policy.digest},
        "rules": [
            {"name": r.name, "action": r.action.value, "when": r.when, "origin": r.origin, "result": res}
            for r, res in trace
        ],
        "matched_rule": first,
        "exceptions": exceptions,
        "verdict": {
            "action": verdict.action.value,
            "rule": verdict.rule,
            "message": verdict.message,
            "exception": verdict.exception_id,
            "notes": list(verdict.notes),
        },
    }
