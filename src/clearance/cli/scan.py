"""`clearance scan`, `clearance gate`, `clearance rules list` and `clearance init`."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import typer

from clearance import pipeline
from clearance.cli.common import (
    BarProgress,
    errors_to_exit,
    gate_options,
    is_offline,
    split_csv,
    stderr,
    wants_progress,
)
from clearance.cli.outputs import plan_evidence, plan_outputs, write_outputs
from clearance.config import discover_settings, load_settings, repository_root
from clearance.errors import UsageError
from clearance.model import RuleInfo, Severity
from clearance.pipeline import GateRequest, RunOptions, ScanRequest, system_clock
from clearance.scanners.registry import SCANNERS, build_scanner, scanner_ids

PATH_ARG = typer.Argument(
    None,
    help="Directory or file to scan (default: the current directory). Several files (as pre-commit "
    "passes them) are scanned relative to the current directory.",
    show_default=False,
)
SCANNERS_OPT = typer.Option(
    None, "--scanners", "-s", help=f"Comma-separated scanner ids ({','.join(scanner_ids())})."
)
OFFLINE_OPT = typer.Option(
    False,
    "--offline",
    help="Never use the network (or CLEARANCE_OFFLINE=1): refuse scanners that need it and --approvals github.",
)
FORMAT_OPT = typer.Option(
    None, "--format", "-f", help="Report format for stdout: console, json, sarif, markdown, junit."
)
OUTPUT_OPT = typer.Option(
    None,
    "--output",
    "-o",
    help="Write a report to a file: FORMAT:FILE (e.g. sarif:results.sarif) or FILE with --format. Repeatable.",
)
HISTORY_OPT = typer.Option(False, "--history", help="Scan every unique blob of the git history once.")
REF_OPT = typer.Option(None, "--ref", help="With --history: refs to walk (default: all refs). Repeatable.")
BASE_OPT = typer.Option(None, "--base", help="PR mode: scan only what changed since the merge base with REF.")
CONFIG_OPT = typer.Option(
    None, "--config", "-c", help="Configuration file (default: clearance.toml or pyproject.toml)."
)
QUIET_OPT = typer.Option(False, "--quiet", "-q", help="No progress bar.")
VERBOSE_OPT = typer.Option(False, "--verbose", "-v", help="Also show info-level findings.")
JOBS_OPT = typer.Option(None, "--jobs", "-j", min=1, help="Worker processes (default: available cores).")
MIN_SEVERITY_OPT = typer.Option(
    None,
    "--min-severity",
    help="Show only findings at or above this severity (display only: blocking findings are always "
    "shown; the decision, exit code and JSON/SARIF/GitLab reports are unchanged).",
)
PLATFORM_OPT = typer.Option(
    None, "--platform", help="Image targets: the platform of a multi-platform image (e.g. linux/arm64)."
)


def register(app: typer.Typer) -> None:
    """Add scan, gate, rules and init to the root app."""
    app.command("scan")(scan)
    app.command("gate")(gate)
    rules_app = typer.Typer(help="Show the rules clearance checks.", no_args_is_help=True)
    rules_app.command("list")(rules_list)
    app.add_typer(rules_app, name="rules")
    app.command("init")(init)


def scan(
    path: list[Path] | None = PATH_ARG,
    scanners: list[str] | None = SCANNERS_OPT,
    fmt: str | None = FORMAT_OPT,
    output: list[str] | None = OUTPUT_OPT,
    history: bool = HISTORY_OPT,
    ref: list[str] | None = REF_OPT,
    base: str | None = BASE_OPT,
    config: Path | None = CONFIG_OPT,
    quiet: bool = QUIET_OPT,
    verbose: bool = VERBOSE_OPT,
    jobs: int | None = JOBS_OPT,
    offline: bool = OFFLINE_OPT,
    platform: str | None = PLATFORM_OPT,
    min_severity: str | None = MIN_SEVERITY_OPT,
) -> None:
    """Scan and report. Exits 0 unless a scanner could not run at all (3) or the input is wrong.

    PATH may also be a container image: a `docker save` tarball, an OCI layout (directory or
    tarball), `docker-archive:PATH`, `oci:PATH` or `docker:NAME[:TAG]` (docs/images.md)."""
    with errors_to_exit():
        req = _request(path, scanners, history, ref, base, config, verbose, jobs, offline, platform)
        if min_severity:
            req = dataclasses.replace(req, min_severity=_severity(min_severity))
        plan = plan_outputs(fmt, output or [], quiet=quiet)
        progress = BarProgress() if wants_progress(quiet) else None
        done = pipeline.scan(req, system_clock(), progress)
        write_outputs(plan, done.report)
    raise typer.Exit(int(done.exit_code))


def gate(
    path: list[Path] | None = PATH_ARG,
    scanners: list[str] | None = SCANNERS_OPT,
    fmt: str | None = FORMAT_OPT,
    output: list[str] | None = OUTPUT_OPT,
    history: bool = HISTORY_OPT,
    ref: list[str] | None = REF_OPT,
    base: str | None = BASE_OPT,
    config: Path | None = CONFIG_OPT,
    quiet: bool = QUIET_OPT,
    verbose: bool = VERBOSE_OPT,
    jobs: int | None = JOBS_OPT,
    offline: bool = OFFLINE_OPT,
    platform: str | None = PLATFORM_OPT,
    min_severity: str | None = MIN_SEVERITY_OPT,
    fail_on: str | None = typer.Option(None, "--fail-on", help="Block findings at or above this severity."),
    evidence: Path | None = typer.Option(
        None, "--evidence", help="Write signed evidence and a release bundle here."
    ),
    key: Path | None = typer.Option(
        None, "--key", help="Signing key for --evidence (or CLEARANCE_SIGNING_KEY)."
    ),
    artifact: list[Path] | None = typer.Option(
        None, "--artifact", help="Built file the decision is about (sha256 computed). Repeatable."
    ),
    artifact_digest: list[str] | None = typer.Option(
        None,
        "--artifact-digest",
        help="NAME@sha256:<hex> or sha256:<hex> of an artifact (e.g. an OCI image). Repeatable.",
    ),
    env: str | None = typer.Option(
        None, "--env", help="Target environment: dev, staging, prod... (or CLEARANCE_ENV)."
    ),
    approvals: str | None = typer.Option(
        None,
        "--approvals",
        help="Reviews for high-risk paths: a JSON file (GitHub "
        'reviews API output or {"approved_by": [...]}) or `github` to fetch them.',
    ),
    explain: str | None = typer.Option(
        None,
        "--explain",
        help="Print the policy inputs and rule trace for this finding fingerprint (on stderr).",
    ),
    repository: str | None = typer.Option(
        None, "--repository", help="CI context: owner/repo (default from CI env)."
    ),
    commit: str | None = typer.Option(None, "--commit", help="CI context: commit sha."),
    branch: str | None = typer.Option(None, "--branch", help="CI context: branch."),
    pr: int | None = typer.Option(None, "--pr", help="CI context: pull/merge request number."),
    run_url: str | None = typer.Option(None, "--run-url", help="CI context: pipeline run URL."),
    actor: str | None = typer.Option(None, "--actor", help="CI context: who triggered the run."),
    annotations: Path | None = typer.Option(
        None,
        "--annotations",
        help="Write GitHub workflow annotations (::error/::warning) to this file ('-' for stdout).",
    ),
    gitlab_reports: Path | None = typer.Option(
        None,
        "--gitlab-reports",
        help="Write GitLab secret-detection, dependency-scanning and SAST (IaC) report JSON into this directory.",
    ),
    baseline: Path | None = typer.Option(
        None,
        "--baseline",
        help="A saved JSON or SARIF report: findings already in it count as existing debt (they warn "
        "instead of blocking, as pre-existing findings do in PR mode); new ones follow the policy.",
    ),
    update_db: bool = typer.Option(
        False,
        "--update-db",
        help="Download the advisory database first when it is missing or older than --db-max-age days.",
    ),
    db_max_age: int = typer.Option(
        1, "--db-max-age", min=0, metavar="DAYS", help="With --update-db: how old the database may be."
    ),
    push: str | None = typer.Option(
        None,
        "--push",
        help="Send the run (the bundle with --evidence, else the JSON report) to this ledger server "
        "(token from CLEARANCE_TOKEN); a failed push exits 3.",
    ),
) -> None:
    """Scan, decide and report. Exit 0 pass/warn, 1 blocked, 2 usage, 3 incomplete, 4 bad config."""
    with errors_to_exit():
        req = _request(path, scanners, history, ref, base, config, verbose, jobs, offline, platform)
        if min_severity:
            req = dataclasses.replace(req, min_severity=_severity(min_severity))
        threshold = _severity(fail_on) if fail_on else None  # None: the policy decides (docs/policy.md)
        if approvals and not base:
            raise UsageError(
                "--approvals needs --base: approvals are checked for the paths a change touches",
                hint="e.g. clearance gate --base origin/main --approvals reviews.json",
            )
        if pr is not None and not isinstance(pr, int):
            raise UsageError("--pr must be a number")
        if approvals == "github" and req.options.offline:
            raise UsageError(
                "--offline: --approvals github fetches the reviews from the GitHub API",
                hint="pass the reviews as a file (--approvals reviews.json), or run without --offline",
            )
        plan = plan_outputs(
            fmt,
            output or [],
            quiet=quiet,
            annotations=annotations,
            gitlab_dir=gitlab_reports,
            evidence=plan_evidence(evidence, key, artifact or [], artifact_digest or []),
            bundle_name=(req.target.resolve().name or "release").replace(" ", "-"),
        )
        ci = {
            "repository": repository,
            "commit": commit,
            "branch": branch,
            "pr": pr,
            "run_url": run_url,
            "actor": actor,
        }
        if update_db and offline:
            raise UsageError("--update-db downloads the advisory database; --offline forbids the network")
        if update_db and "deps" in (req.options.scanners or req.settings.scanners):
            from clearance.cli.advisories import refresh_if_stale

            root = req.target if req.target.is_dir() else req.target.parent
            refresh_if_stale(req.settings.deps.db_dir, root, db_max_age, quiet=quiet)
        request = GateRequest(req, gate_options(req.target, config, env, threshold, approvals, ci, baseline))
        progress = BarProgress() if wants_progress(quiet) else None
        done = pipeline.gate(request, system_clock, progress)
        for warning in done.inputs.context.catalog.warnings:
            stderr.print(f"[yellow]warning:[/] {warning}")
        if explain:
            from clearance.cli.policy import print_explanation

            print_explanation(done, explain, "stderr")
        write_outputs(plan, done.report, done.now)
        if push:
            from clearance.cli.ledger import push_gate_run

            push_gate_run(push, plan, done.report, quiet=quiet)
    raise typer.Exit(int(done.exit_code))


def rules_list(
    fmt: str = typer.Option("console", "--format", "-f", help="console or json."),
    scanners: list[str] | None = SCANNERS_OPT,
    config: Path | None = CONFIG_OPT,
) -> None:
    """List every rule with id, title, severity and description."""
    with errors_to_exit():
        settings, _ = load_settings(Path("."), config)
        ids = split_csv(scanners) or list(scanner_ids())
        _check_scanners(ids)
        rules = [r for sid in ids for r in build_scanner(sid).rules(settings)]
        if fmt == "json":
            typer.echo(json.dumps([_rule_json(r) for r in rules], indent=2, sort_keys=True))
            return
        if fmt != "console":
            raise UsageError(f"unknown format {fmt!r} for rules list", hint="use console or json")
        from rich.console import Console
        from rich.table import Table

        table = Table(title=f"{len(rules)} rules", show_lines=False)
        for col in ("id", "severity", "title"):
            table.add_column(col, overflow="fold")
        for r in rules:
            table.add_row(r.id, r.severity.value, r.title)
        Console().print(table)


INIT_TEMPLATE = """\
# clearance configuration — https://github.com/clearance-dev/clearance/blob/main/docs/configuration.md
# Every key is optional; the values shown are the defaults.

# Scanners to run:
{scanner_list}
scanners = [{default_scanners}]

# gitignore-style globs never scanned (on top of .gitignore and .clearanceignore).
ignore = [
  # "vendor/**",
]

# Size cap per file, in bytes (default 5 MiB). Above it, secrets are still scanned in chunks, and
# a lockfile or IaC file makes the scan incomplete (exit 3). Setting the cap here, even to the
# default, is choosing the budget: such files are then reported as skipped instead (0 = no cap).
# max_file_size = 5242880

# `clearance gate` decides with the built-in default policy (docs/policy.md): it blocks live
# secrets, exploitable vulnerabilities and dangerous IaC in exposed services, and warns on the rest.
# Uncomment to use a plain severity threshold instead (info, low, medium, high, critical).
# fail_on = "high"

# An incomplete scan (unreadable files, a scanner that could not run) fails the gate (exit 3).
fail_closed = true

# Who owns this service and how exposed it is (a Backstage catalog-info.yaml works too).
[service]
# name = "payments-api"
# owner = "team-payments"
# exposure = "internet"              # internet | internal | none (unknown counts as internet)
# data_classification = "restricted" # public | internal | confidential | restricted

[policy]
# Your rules run before the built-in default policy; the first match wins. See docs/policy.md.
# [[policy.rules]]
# name = "kev-anywhere"
# when = "finding.kind == 'vulnerability' && finding.signals.kev"
# action = "block"
# message = "exploited in the wild: upgrade now"

[secrets]
# Rule ids to switch off, e.g. ["secret.generic-assignment"].
disable = []
# Extra globs whose findings are marked in_test_path (tests/, fixtures/, examples/ are built in).
test_paths = []

# A custom rule: id, title, severity, regex with one capture group, keywords for the prefilter,
# and examples that the rule must (and must not) match.
# [[secrets.rules]]
# id = "secret.acme-api-key"
# title = "ACME API key"
# severity = "high"
# regex = '(acme_[A-Za-z0-9]{32})'
# keywords = ["acme_"]
# examples = ["key = acme_9f8e7d6c5b4a39281706f5e4d3c2b1a0"]
# negative_examples = ["key = acme_example"]

[deps]
# Where the advisory database lives (default: the user data dir; or set CLEARANCE_DB_DIR).
# db_dir = "/var/cache/clearance"
# Warn when the advisory database is older than this many days.
max_db_age_days = 7

[iac]
# IaC rule ids to switch off.
disable = []
# Extra Terraform variable files, relative to the scanned root.
var_files = []
# A Kubernetes manifest that is an unrendered Helm/Go template cannot be scanned:
# "incomplete" (the scan is incomplete, exit 3) or "skip" (listed as skipped in every report).
# Better: scan `helm template` output, or list charts/*/templates/ in .clearanceignore.
# unrendered_templates = "incomplete"
"""


def init_template() -> str:
    """The starter clearance.toml, listing the registry's scanners."""
    listed = "\n".join(f"#   {s.id}: {s.summary}" for s in SCANNERS)
    defaults = ", ".join(f'"{s.id}"' for s in SCANNERS if s.default)
    return INIT_TEMPLATE.replace("{scanner_list}", listed).replace("{default_scanners}", defaults)


def init(
    path: Path = typer.Argument(Path("."), help="Directory to write clearance.toml into."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing clearance.toml."),
) -> None:
    """Write a commented starter clearance.toml."""
    with errors_to_exit():
        target = path / "clearance.toml"
        if not path.is_dir():
            raise UsageError(f"{path} is not a directory")
        if target.exists() and not force:
            raise UsageError(f"{target} already exists", hint="use --force to overwrite it")
        target.write_text(init_template(), encoding="utf-8")
        stderr.print(f"wrote {target}")


def _request(
    given: list[Path] | None,
    scanners: list[str] | None,
    history: bool,
    ref: list[str] | None,
    base: str | None,
    config: Path | None,
    verbose: bool,
    jobs: int | None,
    offline: bool = False,
    platform: str | None = None,
) -> ScanRequest:
    if history and base:
        raise UsageError(
            "--history and --base cannot be combined", hint="use --history for a full audit, --base for a PR"
        )
    if ref and not history:
        raise UsageError("--ref only applies with --history")
    from clearance.sources.image import image_spec_for, parse_spec

    # One path may be an image (by content); among several (pre-commit's file list) only a
    # prefixed one (docker:, oci:, docker-archive:) is: committed archives stay files to scan.
    single = len(given or []) == 1
    images = [p for p in given or [] if (image_spec_for(p) if single else parse_spec(str(p))) is not None]
    if images and (history or base or len(given or []) > 1):
        raise UsageError(
            f"{images[0]} is a container image: --history, --base and extra paths apply to git checkouts",
            hint="scan the image alone (clearance gate IMAGE), and the source tree in a separate run",
        )
    for p in given or []:
        if p not in images and not p.exists() and not p.is_symlink():
            raise UsageError(f"{p} does not exist")
    extra: tuple[Path, ...] = ()
    if given and len(given) > 1:
        if history or base:
            raise UsageError("several paths cannot be combined with --history or --base")
        path, extra = Path("."), tuple(given)
    else:
        path = given[0] if given else Path(".")
    # Like git and ruff: the configuration is found from the target (or the passed files) upwards
    # to the repository root, and a target inside a repository is scanned from that root (limited
    # to the target), so every report names repository-relative paths (SARIF URIs resolve on
    # GitHub) and the root's .gitignore and exceptions apply. An image target reads the
    # configuration of the current directory.
    start = Path(".").resolve() if images else _common_dir(list(extra) or [path])
    repo = None if images else repository_root(start)
    settings, _ = discover_settings(start, repo, config)
    explicit = False
    if repo is not None and not history and not base and (extra or path.resolve() != repo):
        # One named target is scanned even where an ignore file above it excludes it (as ruff and
        # gitleaks treat a path on the command line); a list of files (pre-commit) keeps them.
        path, extra, explicit = repo, tuple(extra or [path]), not extra
    ids = split_csv(scanners)
    if ids is not None:
        _check_scanners(ids)
    kwargs: dict[str, Any] = {
        "scanners": ids,
        "history": history,
        "refs": tuple(ref or ()),
        "base": base,
        "paths": extra,
        "explicit": explicit,
        "offline": offline or is_offline(),
        "platform": platform,
    }
    if jobs is not None:
        kwargs["jobs"] = jobs
    return ScanRequest(target=path, settings=settings, options=RunOptions(**kwargs), verbose=verbose)


def _common_dir(paths: list[Path]) -> Path:
    """The deepest directory holding every path (a file's own directory for one file)."""
    dirs = [p.resolve() if p.is_dir() else p.resolve().parent for p in paths]
    return Path(os.path.commonpath(dirs)) if dirs else Path(".").resolve()


def _check_scanners(ids: list[str]) -> None:
    unknown = [i for i in ids if i not in scanner_ids()]
    if unknown:
        raise UsageError(
            f"unknown scanner(s): {', '.join(unknown)}", hint=f"available: {', '.join(scanner_ids())}"
        )


def _severity(value: str) -> Severity:
    try:
        return Severity.parse(value)
    except ValueError as e:
        raise UsageError(str(e)) from None


def _rule_json(r: RuleInfo) -> dict[str, Any]:
    return {
        "id": r.id,
        "title": r.title,
        "severity": r.severity.value,
        "scanner": r.scanner,
        "description": r.description,
        "remediation": r.remediation,
        "references": list(r.references),
        "tags": list(r.tags),
    }
