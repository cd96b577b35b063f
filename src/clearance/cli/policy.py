"""`clearance policy explain` and `clearance exceptions list|add|check`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.table import Table

from clearance.cli.common import errors_to_exit, gate_options, split_csv, stderr
from clearance.config import load_settings
from clearance.decision import ExitCode
from clearance.errors import UsageError
from clearance.model import ScanResult, Severity
from clearance.pipeline import system_clock

if TYPE_CHECKING:  # the policy engine (and CEL) load only when a command needs them
    from clearance.pipeline import GateRun

ENV_OPT = typer.Option(
    None, "--env", help="Target environment (dev, staging, prod, ...; default CLEARANCE_ENV)."
)
CONFIG_OPT = typer.Option(
    None, "--config", "-c", help="Configuration file (default: clearance.toml or pyproject.toml)."
)
ROOT_OPT = typer.Option(Path("."), "--root", help="Repository root holding .clearance/exceptions.yaml.")

policy_app = typer.Typer(help="Inspect the policy: why did a finding block?", no_args_is_help=True)
exceptions_app = typer.Typer(
    help="Time-boxed risk acceptance in .clearance/exceptions.yaml.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    """Add the `policy` and `exceptions` command groups."""
    app.add_typer(policy_app, name="policy")
    app.add_typer(exceptions_app, name="exceptions")


# --- clearance policy explain -------------------------------------------------------------------


@policy_app.command("explain")
def policy_explain(
    fingerprint: str = typer.Argument(..., help="Fingerprint of the finding (or a unique prefix of it)."),
    path: Path = typer.Argument(Path("."), help="Directory to scan."),
    env: str | None = ENV_OPT,
    base: str | None = typer.Option(None, "--base", help="PR mode: compare with this base ref."),
    scanners: list[str] | None = typer.Option(None, "--scanners", "-s", help="Comma-separated scanner ids."),
    config: Path | None = CONFIG_OPT,
    fmt: str = typer.Option("console", "--format", "-f", help="console or json."),
) -> None:
    """Print the inputs the policy saw for one finding, every rule's result and the verdict."""
    from clearance import pipeline

    with errors_to_exit():
        if fmt not in ("console", "json"):
            raise UsageError(f"unknown format {fmt!r}", hint="use console or json")
        settings, used = load_settings(path, config)
        scan = pipeline.ScanRequest(
            path, settings, pipeline.RunOptions(scanners=split_csv(scanners), base=base)
        )
        done = pipeline.gate(
            pipeline.GateRequest(scan, gate_options(path, used, env, None, None, {})), system_clock
        )
        print_explanation(done, fingerprint, fmt)


def print_explanation(done: GateRun, fingerprint: str, fmt: str) -> None:
    """Print what the policy saw for one finding of a gate run (`fmt`: console, json or stderr)."""
    from clearance.policy.engine import explain

    _print_explanation(explain(_find(done.result, fingerprint), done.inputs, done.now), fmt)


def _find(result: ScanResult, fingerprint: str) -> Any:
    wanted = fingerprint.strip().lower()
    hits = [f for f in result.findings if f.fingerprint.startswith(wanted)] if wanted else []
    if len(hits) != 1:
        raise UsageError(
            f"{'no' if not hits else 'more than one'} finding with fingerprint {fingerprint!r}",
            hint="copy the fingerprint from a report (JSON `fingerprint`, SARIF partialFingerprints)",
        )
    return hits[0]


def _print_explanation(data: dict[str, Any], fmt: str) -> None:
    if fmt == "json":
        typer.echo(json.dumps(data, indent=2, sort_keys=True, default=str))
        return
    out = Console(stderr=fmt == "stderr")
    f, v = data["finding"], data["verdict"]
    out.print(f"[bold]{f['rule']}[/] {f['title']} at {f['location']} ({f['fingerprint']})", highlight=False)
    out.print(f"verdict: [bold]{v['action']}[/] by {v['rule']}: {v['message']}", highlight=False)
    for note in v["notes"]:
        out.print(f"  note: {note}", highlight=False)
    out.print(f"policy {data['policy']['name']} ({data['policy']['digest'][:19]}…)", highlight=False)
    table = Table(title="rules in order (first true wins)")
    for col in ("rule", "action", "result", "when"):
        table.add_column(col, overflow="fold")
    for r in data["rules"]:
        mark = "[bold]" if r["name"] == data["matched_rule"] else ""
        table.add_row(f"{mark}{r['name']}", r["action"], r["result"], r["when"])
        if r["name"] == data["matched_rule"]:
            break
    out.print(table)
    for exc in data["exceptions"]:
        out.print(
            f"exception {exc['id']} (owner {exc['owner']}, expires {exc['expires']}): {exc['state']}",
            highlight=False,
        )
    out.print("inputs:", highlight=False)
    out.print_json(json.dumps(data["inputs"], sort_keys=True, default=str))


# --- clearance exceptions ---------------------------------------------------------------------


@exceptions_app.command("list")
def exceptions_list(
    root: Path = ROOT_OPT,
    config: Path | None = CONFIG_OPT,
    fmt: str = typer.Option("console", "--format", "-f", help="console or json."),
) -> None:
    """List exceptions with owner, what they match and the days left."""
    from clearance.policy.exceptions import load_exceptions

    with errors_to_exit():
        settings, _ = load_settings(root, config)
        limits = settings.policy.exceptions
        entries = load_exceptions(root / limits.file, limits, display=limits.file).entries
        now = system_clock()
        rows = [
            {
                "id": e.id,
                "owner": e.owner,
                "match": e.match.describe(),
                "expires": e.expires.isoformat(),
                "days_left": e.days_left(now),
                "status": _status(e.days_left(now), limits.expiring_soon_days),
                "reason": e.reason,
                "approved_by": e.approved_by,
                "where": e.where(),
            }
            for e in entries
        ]
        if fmt == "json":
            typer.echo(json.dumps(rows, indent=2, sort_keys=True))
            return
        if fmt != "console":
            raise UsageError(f"unknown format {fmt!r}", hint="use console or json")
        table = Table(title=f"{len(rows)} exception(s) in {limits.file}")
        for col in ("id", "owner", "match", "expires", "days left", "status"):
            table.add_column(col, overflow="fold")
        for r in rows:
            style = {"expired": "red", "expiring": "yellow"}.get(str(r["status"]), "")
            table.add_row(
                str(r["id"]),
                str(r["owner"]),
                str(r["match"]),
                str(r["expires"]),
                str(r["days_left"]),
                f"[{style}]{r['status']}[/]" if style else str(r["status"]),
            )
        Console().print(table)


def _status(days_left: int, soon: int) -> str:
    if days_left <= 0:
        return "expired"
    return "expiring" if days_left <= soon else "active"


@exceptions_app.command("add")
def exceptions_add(
    owner: str = typer.Option(..., "--owner", help="Team or person who owns the accepted risk."),
    reason: str = typer.Option(..., "--reason", help="Why the risk is accepted."),
    expires: str = typer.Option(..., "--expires", help="30d, 2w or a date YYYY-MM-DD (capped by policy)."),
    rule: str | None = typer.Option(None, "--rule", help="Rule id (globs allowed, e.g. 'vuln.*')."),
    fingerprint: str | None = typer.Option(None, "--fingerprint", help="One finding's fingerprint."),
    component: str | None = typer.Option(None, "--component", help="A purl, e.g. pkg:npm/lodash@4.17.15."),
    path: str | None = typer.Option(None, "--path", help="Path glob, e.g. 'infra/**'."),
    advisory: str | None = typer.Option(None, "--advisory", help="Advisory id or alias (GHSA-…, CVE-…)."),
    approved_by: str | None = typer.Option(
        None, "--approved-by", help="Who approved (required for critical findings)."
    ),
    control: str | None = typer.Option(
        None, "--compensating-control", help="Required for critical findings."
    ),
    ticket: str | None = typer.Option(None, "--ticket", help="Tracking URL."),
    severity: str | None = typer.Option(
        None, "--severity", help="Severity of the accepted risk (caps the length)."
    ),
    ident: str | None = typer.Option(None, "--id", help="Entry id (default: the next EXC-<n>)."),
    root: Path = ROOT_OPT,
    config: Path | None = CONFIG_OPT,
) -> None:
    """Append a valid exception, keeping the file's comments and order."""
    from clearance.policy.exceptions import NewException, add_exception, parse_expiry

    with errors_to_exit():
        settings, _ = load_settings(root, config)
        limits = settings.policy.exceptions
        now = system_clock()
        sev = None
        if severity:
            try:
                sev = Severity.parse(severity)
            except ValueError as e:
                raise UsageError(str(e)) from None
        new = NewException(
            owner=owner,
            reason=reason,
            expires=parse_expiry(expires, now),
            approved_by=approved_by or "",
            rule=rule,
            fingerprint=fingerprint,
            component=component,
            path=path,
            advisory=advisory,
            compensating_control=control or "",
            ticket=ticket or "",
            severity=sev,
            id=ident,
        )
        entry = add_exception(root / limits.file, new, limits, now, display=limits.file)
        stderr.print(
            f"added {entry.id} to {limits.file} (owner {entry.owner}, expires {entry.expires.isoformat()})"
        )


@exceptions_app.command("check")
def exceptions_check(root: Path = ROOT_OPT, config: Path | None = CONFIG_OPT) -> None:
    """Validate the exceptions file (for pre-commit and CI): exit 4 with line-numbered errors."""
    from clearance.policy.exceptions import load_exceptions

    with errors_to_exit():
        settings, _ = load_settings(root, config)
        limits = settings.policy.exceptions
        now = system_clock()
        loaded = load_exceptions(root / limits.file, limits, display=limits.file, now=now)
        entries = loaded.entries
        for warning in loaded.warnings:
            stderr.print(f"[yellow]warning:[/] {warning}", markup=True, highlight=False)
        for e in entries:
            left = e.days_left(now)
            if left <= 0:
                stderr.print(
                    f"[yellow]warning:[/] {e.where()}: {e.id} (owner {e.owner}) expired on "
                    f"{e.expires.isoformat()}; it no longer applies"
                )
            elif left <= limits.expiring_soon_days:
                stderr.print(
                    f"[yellow]warning:[/] {e.where()}: {e.id} (owner {e.owner}) expires in {left} day(s)"
                )
        stderr.print(f"{limits.file}: {len(entries)} valid exception(s)")
    raise typer.Exit(int(ExitCode.PASS))
