"""The policy stage of `clearance gate`, as one library call the CLI wires.

Reads the context (catalog, CODEOWNERS, environment, CI), the exceptions file, the PR
baseline and the approvals a change needs, compiles the policy, and decides. Nothing here
prints or exits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clearance.config import CONFIG_FILE, Settings
from clearance.decision import Decision
from clearance.errors import UsageError
from clearance.model import ScanResult, Severity
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
from clearance.policy.context import PolicyContext, ci_context, load_context, resolve_env
from clearance.policy.engine import DecisionInputs, Policy, annotate_owners, decide, load_policy
from clearance.policy.exceptions import load_exceptions
from clearance.policy.inputs import ChangeInfo

GITHUB = "github"


@dataclass(frozen=True)
class GateOptions:
    """What the command line asked of the policy stage."""

    env: str | None = None
    fail_on: Severity | None = None
    """Only when given explicitly (`--fail-on`): replaces the default triage by a threshold."""
    base: str | None = None
    approvals: str | None = None
    """A file path, or `github` to fetch the pull request's reviews from the API."""
    ci_overrides: Mapping[str, Any] = field(default_factory=dict)
    config_path: Path | None = None
    environ: Mapping[str, str] = field(default_factory=dict)
    cache_dir: Path | None = None
    scanners: tuple[str, ...] = ()


@dataclass(frozen=True)
class PolicyRun:
    """The decision plus what reports need: the owner-annotated result and the context."""

    decision: Decision
    result: ScanResult
    inputs: DecisionInputs
    report_context: dict[str, Any]


def prepare(
    root: Path,
    settings: Settings,
    result: ScanResult,
    options: GateOptions,
    now: dt.datetime,
    reviews_client: ReviewsClient | None = None,
) -> DecisionInputs:
    """Gather context, exceptions, baseline and approvals, and compile the policy."""
    env = resolve_env(options.env, options.environ)
    ci = ci_context(options.environ, options.ci_overrides)
    context = load_context(root, settings.service, env, ci)
    policy = _policy(settings, env, options)
    limits = settings.policy.exceptions
    exc_path = root / limits.file
    exceptions = load_exceptions(exc_path, limits, display=limits.file)
    change = ChangeInfo()
    requirements: list[Requirement] = []
    approvals_source = "none"
    if options.base:
        from clearance.policy.baseline import changed_files_for_approvals, compute_baseline

        baseline = compute_baseline(
            root,
            options.base,
            result,
            settings,
            options.scanners or tuple(settings.scanners),
            now,
            options.cache_dir,
        )
        changed = changed_files_for_approvals(root, options.base, settings)
        change = ChangeInfo(
            mode="pr",
            base=options.base,
            files=tuple(p for p, _ in changed),
            pre_existing=baseline.pre_existing(result),
        )
        needed = required_approvals([ChangedFile(p, c) for p, c in changed], high_risk_paths(settings.policy))
        if needed:
            approvals = _approvals(options, ci.repository, ci.pr, reviews_client)
            approvals_source = approvals.source
            requirements = check_approvals(needed, approvals, settings.policy.teams)
        change = ChangeInfo(
            mode="pr",
            base=options.base,
            files=change.files,
            pre_existing=change.pre_existing,
            high_risk=tuple(r.pattern for r in needed),
        )
    return DecisionInputs(
        policy=policy,
        context=context,
        exceptions=exceptions,
        change=change,
        approvals=tuple(requirements),
        approvals_source=approvals_source,
        fail_closed=settings.fail_closed,
        expiring_soon_days=limits.expiring_soon_days,
        limits=limits,
    )


def run_policy(
    root: Path,
    settings: Settings,
    result: ScanResult,
    options: GateOptions,
    now: dt.datetime,
    reviews_client: ReviewsClient | None = None,
) -> PolicyRun:
    """Decide a scan result under the repository's policy."""
    inputs = prepare(root, settings, result, options, now, reviews_client)
    decision = decide(result, inputs, now)
    annotated = annotate_owners(result, inputs.context)
    context = report_context(inputs.context)
    context["decided_at"] = now.isoformat()
    return PolicyRun(decision, annotated, inputs, context)


def report_context(context: PolicyContext) -> dict[str, Any]:
    """`ReportData.context`: service, owner, environment and the CI run, flat as reports read it."""
    out: dict[str, Any] = {
        k: v for k, v in context.as_report_context().items() if k != "ci" and v is not None
    }
    for key, value in context.ci.as_dict().items():
        out[key] = value
    if "provider" in out:
        out["ci_provider"] = out.pop("provider")
    return out


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
