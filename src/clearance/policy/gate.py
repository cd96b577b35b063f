"""The policy stage of `clearance gate`, as one library call `pipeline.gate` makes.

Reads the context (catalog, CODEOWNERS, environment, CI) and the exceptions file, takes the
PR change and its baseline as the pipeline computed them, checks the approvals the change
needs, compiles the policy, and decides. Nothing here scans, runs git, prints or exits.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clearance.config import CONFIG_FILE, ExceptionLimitSettings, Settings
from clearance.decision import Decision
from clearance.errors import PolicyError, UsageError
from clearance.model import Baseline, ChangeSet, ScanResult, Severity
from clearance.policy.approvals import (
    Approvals,
    ChangedFile,
    GitHubReviewsClient,
    Requirement,
    ReviewsClient,
    approvals_from_reviews,
    check_approvals,
    high_risk_paths,
    load_approvals_file,
    required_approvals,
)
from clearance.policy.context import ci_context, load_context, resolve_env
from clearance.policy.engine import DecisionInputs, Policy, decide, load_policy
from clearance.policy.exceptions import ExceptionSet, load_exceptions, parse_exceptions
from clearance.policy.inputs import ChangeInfo

GITHUB = "github"


@dataclass(frozen=True)
class GateOptions:
    """What the command line asked of the policy stage."""

    env: str | None = None
    fail_on: Severity | None = None
    """Only when given explicitly (`--fail-on`): replaces the default triage by a threshold."""
    approvals: str | None = None
    """A file path, or `github` to fetch the pull request's reviews from the API."""
    ci_overrides: Mapping[str, Any] = field(default_factory=dict)
    config_path: Path | None = None
    environ: Mapping[str, str] = field(default_factory=dict)
    cache_dir: Path | None = None
    """Where the PR-mode baseline is cached (None: not cached)."""
    baseline_report: frozenset[str] = frozenset()
    """`--baseline REPORT`: fingerprints of a saved report, treated as already existing."""
    baseline_label: str = ""
    """What to call that report in verdicts (e.g. `baseline baseline.json`)."""


@dataclass(frozen=True)
class PolicyAtBase:
    """PR mode: where the policy came from and what the change does to it (from the pipeline)."""

    origin: str
    """E.g. `clearance.toml at 1a2b3c4d5e6f`: the merge base's configuration the gate applied."""
    edited: tuple[str, ...] = ()
    """Policy files the change edits."""
    exceptions_at_base: str | None = None
    """The exceptions file's text at the merge base (None: absent there)."""


POLICY_EDIT = "gate policy"
"""The pattern name of the approval a change that edits the gate's policy needs."""
EXCEPTION_EDIT = "exceptions"
"""The pattern name of the approval for exceptions a change adds or extends."""
INLINE_EDIT = "inline suppressions"
"""The pattern name of the approval for inline suppressions a change adds."""


@dataclass(frozen=True)
class PolicyRun:
    """The decision and the inputs the policy saw (context, exceptions, change, approvals)."""

    decision: Decision
    inputs: DecisionInputs


def prepare(
    root: Path,
    settings: Settings,
    result: ScanResult,
    options: GateOptions,
    now: dt.datetime,
    *,
    change: ChangeSet | None = None,
    baseline: Baseline | None = None,
    read_changed: Callable[[str], bytes | None] | None = None,
    catalog_files: Sequence[str] | None = None,
    reviews_client: ReviewsClient | None = None,
    at_base: PolicyAtBase | None = None,
) -> DecisionInputs:
    """Gather context, exceptions, the PR change and approvals, and compile the policy.

    `change` and `baseline` come from the pipeline (PR mode); `read_changed` reads a changed
    file's content when a high-risk pattern with `contains` needs it; `catalog_files` are the
    catalog-info files git knows (None: walk `root`). `at_base` (PR mode): `settings` are the
    merge base's; a change that edits the policy files, or adds or extends exceptions, needs the
    approval of the base's risk owner (`default_risk_owner`) before it can pass.
    """
    env = resolve_env(options.env, options.environ)
    ci = ci_context(options.environ, options.ci_overrides)
    context = load_context(root, settings.service, env, ci, catalog_files)
    policy = _policy(settings, env, options)
    limits = settings.policy.exceptions
    exceptions = load_exceptions(root / limits.file, limits, display=limits.file, now=now)
    change_info = ChangeInfo()
    requirements: list[Requirement] = []
    approvals_source = "none"
    notices: list[str] = []
    if change is not None:
        touched = [
            ChangedFile(p, reader=functools.partial(read_changed, p) if read_changed else None)
            for p in change.paths
        ]
        needed = required_approvals(touched, high_risk_paths(settings.policy))
        if at_base is not None:
            exceptions = exceptions.against_base(_exceptions_at_base(at_base, limits, now))
            needed = _policy_requirements(at_base, exceptions, settings, result, change) + needed
            notices.append(f"policy and configuration from the merge base: {at_base.origin}")
            if at_base.edited:
                notices.append(
                    f"this change edits the gate's policy: {', '.join(at_base.edited)} "
                    "(not applied until merged; the edit needs approval)"
                )
        if needed:
            approvals = _approvals(options, ci.repository, ci.pr, reviews_client)
            approvals_source = approvals.source
            requirements = check_approvals(needed, approvals, settings.policy.teams)
        change_info = ChangeInfo(
            mode="pr",
            base=change.base,
            files=change.paths,
            pre_existing=baseline.pre_existing(result) if baseline is not None else frozenset(),
            high_risk=tuple(r.pattern for r in needed),
        )
    if options.baseline_report:
        change_info = dataclasses.replace(
            change_info,
            pre_existing=change_info.pre_existing | options.baseline_report,
            base=change_info.base or options.baseline_label,
        )
    return DecisionInputs(
        policy=policy,
        context=context,
        exceptions=exceptions,
        change=change_info,
        approvals=tuple(requirements),
        approvals_source=approvals_source,
        fail_closed=settings.fail_closed,
        expiring_soon_days=limits.expiring_soon_days,
        limits=limits,
        inline_suppression=settings.policy.inline_suppression,
        notices=tuple(notices),
    )


def run_policy(
    root: Path,
    settings: Settings,
    result: ScanResult,
    options: GateOptions,
    now: dt.datetime,
    *,
    change: ChangeSet | None = None,
    baseline: Baseline | None = None,
    read_changed: Callable[[str], bytes | None] | None = None,
    catalog_files: Sequence[str] | None = None,
    reviews_client: ReviewsClient | None = None,
    at_base: PolicyAtBase | None = None,
) -> PolicyRun:
    """Decide a scan result under the repository's policy."""
    inputs = prepare(
        root,
        settings,
        result,
        options,
        now,
        change=change,
        baseline=baseline,
        read_changed=read_changed,
        catalog_files=catalog_files,
        reviews_client=reviews_client,
        at_base=at_base,
    )
    return PolicyRun(decide(result, inputs, now), inputs)


def _exceptions_at_base(
    at_base: PolicyAtBase, limits: ExceptionLimitSettings, now: dt.datetime
) -> ExceptionSet:
    """The exceptions the merge base held; an absent or no longer valid file holds none (so
    every current entry counts as added by the change)."""
    if not at_base.exceptions_at_base:
        return ExceptionSet()
    try:
        return parse_exceptions(
            at_base.exceptions_at_base, f"{limits.file} at the merge base", limits, now=now
        )
    except PolicyError:
        return ExceptionSet()


def _policy_requirements(
    at_base: PolicyAtBase, exceptions: ExceptionSet, settings: Settings, result: ScanResult, change: ChangeSet
) -> list[Requirement]:
    """Approvals for editing the gate's own policy, for exceptions the change adds or extends, and
    for inline suppressions it adds (the same rule for both ways of accepting a risk)."""
    owners = (settings.policy.default_risk_owner,)
    out: list[Requirement] = []
    if at_base.edited:
        out.append(Requirement(POLICY_EDIT, "this change edits the gate's policy", owners, at_base.edited))
    pending = exceptions.pending()
    if pending:
        ids = ", ".join(e.id for e in pending)
        out.append(
            Requirement(
                EXCEPTION_EDIT,
                f"exception(s) {ids} added or extended by this change",
                owners,
                (settings.policy.exceptions.file,),
            )
        )
    added = _added_suppressions(result, change)
    if added:
        out.append(
            Requirement(
                INLINE_EDIT,
                f"inline suppression(s) added by this change: {', '.join(added)}",
                owners,
                tuple(sorted({a.rpartition(":")[0] for a in added})),
            )
        )
    return out


def _added_suppressions(result: ScanResult, change: ChangeSet) -> list[str]:
    """`path:line` of every inline suppression in use that sits on a line the change adds."""
    added = {c.path: c.added_lines for c in change.changed}
    places = []
    for finding in result.findings:
        if finding.suppression is None or not finding.suppression.source.startswith("inline:"):
            continue
        path, _, line = finding.suppression.source.removeprefix("inline:").rpartition(":")
        if path not in added:
            continue
        lines = added[path]
        if lines is None or (line.isdigit() and int(line) in lines):
            places.append(f"{path}:{line}")
    return sorted(set(places))


def _policy(settings: Settings, env: str, options: GateOptions) -> Policy:
    path = options.config_path
    text = None
    origin = CONFIG_FILE
    if path is not None and path.is_file():
        origin = path.name
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            text = None
    # A top-level `fail_on` written in the configuration file keeps its old meaning (a threshold);
    # the built-in default applies only when nobody asked for a threshold.
    legacy = settings.fail_on if "fail_on" in settings.model_fields_set else None
    return load_policy(settings.policy, env, options.fail_on or legacy, origin=origin, source_text=text)


def _approvals(
    options: GateOptions, repository: str | None, pr: int | None, client: ReviewsClient | None
) -> Approvals:
    if options.approvals is None:
        return Approvals(source="none")
    if options.approvals == GITHUB:
        if not repository or pr is None:
            raise UsageError(
                "--approvals github needs the repository and pull request number",
                hint="run in a GitHub Actions pull_request workflow, or pass --repository and --pr",
            )
        reviews = client or GitHubReviewsClient(
            token=options.environ.get("GITHUB_TOKEN"),
            base_url=options.environ.get("GITHUB_API_URL", "https://api.github.com"),
        )
        return approvals_from_reviews(reviews.reviews(repository, pr), f"github:{repository}#{pr}")
    return load_approvals_file(Path(options.approvals))
