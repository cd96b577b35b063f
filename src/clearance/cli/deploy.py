"""`clearance deploy check|approve|record`, `clearance drift report`, `clearance ledger metrics`.

The deploy commands talk to the ledger server (`--server`, `$CLEARANCE_SERVER`; token from
`--token` / `$CLEARANCE_TOKEN`). `deploy check` exits 0 on allow and 1 on deny or
needs-approval, so it can be the last step of any pipeline.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import quote

import typer

from clearance.cli.common import errors_to_exit
from clearance.decision import ExitCode
from clearance.deploy.client import DEFAULT_SERVER, SERVER_ENV, TOKEN_ENV, DeployClient
from clearance.errors import UsageError

deploy_app = typer.Typer(help="Deploy go/no-go, approvals and deployment records.", no_args_is_help=True)
drift_app = typer.Typer(help="Infrastructure drift reports.", no_args_is_help=True)

_SERVER = typer.Option(
    None, "--server", help=f"Ledger server URL (default ${SERVER_ENV} or {DEFAULT_SERVER})."
)
_TOKEN = typer.Option(None, "--token", help=f"API token (default ${TOKEN_ENV}); never printed.")


def register(app: typer.Typer) -> None:
    """Add `deploy`, `drift` and the `ledger metrics` command (to the `ledger` group when one is
    registered before this call, else to a new `ledger` group)."""
    app.add_typer(deploy_app, name="deploy")
    app.add_typer(drift_app, name="drift")
    ledger = next((g.typer_instance for g in app.registered_groups if g.name == "ledger"), None)
    if ledger is None:
        ledger = typer.Typer(help="The evidence ledger.", no_args_is_help=True)
        app.add_typer(ledger, name="ledger")
    ledger.command("metrics")(metrics_command)
    ledger.command("demo")(demo_command)


def _client(server: str | None, token: str | None) -> DeployClient:
    return DeployClient(
        server or os.environ.get(SERVER_ENV) or DEFAULT_SERVER,
        token or os.environ.get(TOKEN_ENV),
    )


def _utc(value: str | None, what: str) -> str | None:
    if value is None:
        return None
    try:
        t = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"{what}: {value!r} is not an ISO 8601 time") from None
    if t.tzinfo is None:
        raise UsageError(f"{what} needs a time zone (e.g. 2026-12-01T10:00:00Z)")
    return t.astimezone(dt.UTC).isoformat()


@deploy_app.command("check")
def check(
    service: str = typer.Option(..., "--service", help="Service name."),
    env: str = typer.Option(..., "--env", help="Target environment (e.g. prod)."),
    digest: str | None = typer.Option(
        None, "--digest", help="Artifact digest (sha256:…); or give --version to look it up."
    ),
    version: str | None = typer.Option(
        None,
        "--version",
        help="Release version; without --digest, the digest of this version in the ledger "
        "(see `clearance deploy releases`).",
    ),
    commit: str | None = typer.Option(None, "--commit"),
    requester: str | None = typer.Option(
        None, "--requester", help="Who deploys (default: the token's name)."
    ),
    changed: Path | None = typer.Option(
        None,
        "--changed-files",
        help="File with the change's paths, one per line (for low-risk auto-approval).",
    ),
    changed_lines: int | None = typer.Option(None, "--changed-lines", min=0),
    output: str = typer.Option("text", "--format", help="text or json."),
    server: str | None = _SERVER,
    token: str | None = _TOKEN,
) -> None:
    """Ask the ledger whether DIGEST of SERVICE may run in ENV: exit 0 allow, 1 deny or needs-approval.
    Without --digest, --version looks the digest up in the ledger (`clearance deploy releases`)."""
    with errors_to_exit():
        client = _client(server, token)
        if digest is None:
            if version is None:
                raise UsageError(
                    "give --digest, or --version to look the digest up in the ledger",
                    hint=f"clearance deploy releases --service {service} lists version, commit and digest",
                )
            digest = _digest_of_version(client, service, version)
        body: dict[str, Any] = {
            "service": service,
            "env": env,
            "artifact_digest": digest,
            "version": version,
            "commit": commit,
            "requester": requester,
        }
        if changed is not None:
            try:
                body["changed_paths"] = [p for p in changed.read_text().splitlines() if p.strip()]
            except OSError as e:
                raise UsageError(f"cannot read {changed}: {e.strerror}") from None
            body["changed_lines"] = changed_lines
        answer = client.post("/api/v1/gates/deploy", {k: v for k, v in body.items() if v is not None})
        if output == "json":
            typer.echo(json.dumps(answer, indent=2))
        else:
            _print_decision(answer)
    # exit 0 allow, 1 deny or needs-approval (the README's table: "blocked … or waiting for approval")
    raise typer.Exit(int(ExitCode.PASS if answer.get("answer") == "allow" else ExitCode.BLOCKED))


def _releases(client: DeployClient, service: str, version: str | None, limit: int) -> list[dict[str, Any]]:
    params: dict[str, Any] = {"limit": limit}
    if version is not None:
        params["version"] = version
    answer = client.get(f"/api/v1/services/{quote(service, safe='')}/releases", params)
    return list(answer.get("releases", []))


def _digest_of_version(client: DeployClient, service: str, version: str) -> str:
    """The one artifact digest the ledger has for `version` of `service` (else a usage error)."""
    digests = sorted(
        {
            str(r["artifact_digest"])
            for r in _releases(client, service, version, 50)
            if r.get("artifact_digest")
        }
    )
    if not digests:
        raise UsageError(
            f"the ledger has no release {version!r} of {service!r} with an artifact digest",
            hint=f"clearance deploy releases --service {service} lists the versions it knows",
        )
    if len(digests) > 1:
        raise UsageError(
            f"release {version!r} of {service!r} has {len(digests)} artifact digests: {', '.join(digests)}",
            hint="pick one with --digest",
        )
    return digests[0]


@deploy_app.command("releases")
def releases(
    service: str = typer.Option(..., "--service", help="Service name."),
    version: str | None = typer.Option(None, "--version", help="Only this version."),
    limit: int = typer.Option(20, "--limit", min=1, max=1000),
    output: str = typer.Option("text", "--format", help="text or json."),
    server: str | None = _SERVER,
    token: str | None = _TOKEN,
) -> None:
    """List SERVICE's releases in the ledger, newest first: version, commit, artifact digest and
    where each runs now — the digest `deploy check` asks about.
    """
    with errors_to_exit():
        rows = _releases(_client(server, token), service, version, limit)
    if output == "json":
        typer.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        typer.echo(f"no releases of {service}" + (f" with version {version}" if version else ""))
        return
    # A digest is never broken: below 140 columns it goes on its own line under its release.
    wide = shutil.get_terminal_size((80, 24)).columns >= 140
    typer.echo(
        f"{'version':<16} {'commit':<12} {'created':<20} {'runs in':<16}"
        + (" artifact digest" if wide else "")
    )
    for r in rows:
        digest = r.get("artifact_digest") or "- (no digest recorded)"
        head = (
            f"{str(r.get('version') or '-')[:16]:<16} {str(r.get('commit') or '-')[:12]:<12} "
            f"{str(r.get('created_at', ''))[:19]:<20} {','.join(r.get('running_in', [])) or '-':<16}"
        )
        typer.echo(f"{head} {digest}" if wide else f"{head.rstrip()}\n  {digest}")


def _print_decision(answer: dict[str, Any]) -> None:
    mark = {"pass": "✓", "fail": "✗", "warn": "!", "skip": "-"}
    typer.echo(
        f"{answer.get('answer', '?').upper()}: {answer.get('service')} → {answer.get('env')} {answer.get('artifact_digest')}"
    )
    for c in answer.get("checks", []):
        typer.echo(f"  {mark.get(c.get('status'), '?')} {c.get('name'):<12} {c.get('reason')}")
    if answer.get("auto_approved_by"):
        typer.echo(f"  auto-approved by rule {answer['auto_approved_by']}")


@deploy_app.command("approve")
def approve(
    service: str = typer.Option(..., "--service"),
    env: str = typer.Option(..., "--env"),
    digest: str = typer.Option(..., "--digest"),
    comment: str = typer.Option("", "--comment"),
    server: str | None = _SERVER,
    token: str | None = _TOKEN,
) -> None:
    """Approve DIGEST of SERVICE for ENV as the token's holder (counted by the go/no-go)."""
    with errors_to_exit():
        answer = _client(server, token).post(
            "/api/v1/approvals",
            {"service": service, "env": env, "artifact_digest": digest, "comment": comment},
        )
    typer.echo(
        f"approval {answer['approval_id']} {'recorded' if answer.get('created') else 'already recorded'}"
    )


@deploy_app.command("record")
def record(
    service: str = typer.Option(..., "--service"),
    env: str = typer.Option(..., "--env"),
    digest: str = typer.Option(..., "--digest"),
    status: str = typer.Option(
        "succeeded", "--status", help="in_progress, succeeded, failed or rolled_back."
    ),
    started: str = typer.Option(..., "--started", help="ISO 8601 time with zone."),
    finished: str | None = typer.Option(None, "--finished"),
    version: str | None = typer.Option(None, "--version"),
    commit: list[str] = typer.Option(
        [], "--commit", help="SHA=TIME of a commit this deployment shipped (repeatable), for lead time."
    ),
    external_id: str | None = typer.Option(
        None, "--id", help="The deploy tool's id (re-recording updates it)."
    ),
    server: str | None = _SERVER,
    token: str | None = _TOKEN,
) -> None:
    """Record a deployment; a succeeded one becomes what runs in ENV now."""
    with errors_to_exit():
        commits = []
        for c in commit:
            sha, sep, when = c.partition("=")
            if not sep:
                raise UsageError(f"--commit {c!r}: expected SHA=TIME")
            commits.append({"sha": sha, "committed_at": _utc(when, f"--commit {sha}")})
        body = {
            "service": service,
            "env": env,
            "artifact_digest": digest,
            "status": status,
            "started_at": _utc(started, "--started"),
            "finished_at": _utc(finished, "--finished"),
            "version": version,
            "commits": commits,
            "external_id": external_id,
            "source": "cli",
        }
        answer = _client(server, token).post(
            "/api/v1/deployments", {k: v for k, v in body.items() if v is not None}
        )
    typer.echo(f"deployment {answer['deployment_id']} recorded ({answer['status']})")


@drift_app.command("report")
def drift_report(
    service: str = typer.Option(..., "--service"),
    env: str = typer.Option(..., "--env"),
    plan: Path | None = typer.Option(
        None, "--plan", help="`terraform show -json` output, or `terraform plan -json` lines ('-' for stdin)."
    ),
    exit_code: int | None = typer.Option(
        None, "--exit-code", help="The exit status of `terraform plan -refresh-only -detailed-exitcode`."
    ),
    only_drift: bool = typer.Option(
        False, "--only-drift", help="Count resource_drift only (not the plan's resource_changes)."
    ),
    server: str | None = _SERVER,
    token: str | None = _TOKEN,
) -> None:
    """Report a Terraform drift check for (SERVICE, ENV); open drift blocks prod deploys."""
    with errors_to_exit():
        if (plan is None) == (exit_code is None):
            raise UsageError("give exactly one of --plan and --exit-code")
        body: dict[str, Any] = {"service": service, "env": env, "changes_are_drift": not only_drift}
        if plan is not None:
            import sys

            try:
                raw = sys.stdin.buffer.read() if str(plan) == "-" else plan.read_bytes()
            except OSError as e:
                raise UsageError(f"cannot read {plan}: {e.strerror}") from None
            try:
                doc = json.loads(raw)
                body["plan"] = doc if isinstance(doc, dict) and "format_version" in doc else None
            except ValueError:
                doc = None
            if body.get("plan") is None:
                body.pop("plan", None)
                body["plan_log"] = raw.decode("utf-8", "replace")
        else:
            body["exit_code"] = exit_code
        answer = _client(server, token).post("/api/v1/drift", body)
    typer.echo(f"drift {answer['status']}: {answer.get('detail', '')}")
    for r in answer.get("resources", [])[:50]:
        typer.echo(f"  {r['address']} ({', '.join(r['actions'])}; {r['source']})")


def metrics_command(
    kind: str = typer.Argument("dora", help="dora or security."),
    team: str | None = typer.Option(None, "--team"),
    service: str | None = typer.Option(None, "--service"),
    window: str = typer.Option("90d", "--window"),
    output: str = typer.Option("table", "--format", help="table, json or csv."),
    server: str | None = _SERVER,
    token: str | None = _TOKEN,
) -> None:
    """DORA or security metrics of the org, a team or a service (from the ledger server)."""
    with errors_to_exit():
        if kind not in ("dora", "security"):
            raise UsageError("metrics kind must be dora or security")
        if output not in ("table", "json", "csv"):
            raise UsageError("--format must be table, json or csv")
        answer = _client(server, token).get(
            f"/api/v1/metrics/{kind}", {"team": team, "service": service, "window": window}
        )
    typer.echo(render_metrics(answer, output))


def render_metrics(doc: dict[str, Any], output: str) -> str:
    """Metrics as JSON, CSV (metric,value) or an aligned table."""
    if output == "json":
        return json.dumps(doc, indent=2)
    rows = list(_flatten("", doc))
    if output == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["metric", "value"])
        w.writerows(rows)
        return buf.getvalue().rstrip("\n")
    width = max((len(k) for k, _ in rows), default=0)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def _flatten(prefix: str, value: Any) -> list[tuple[str, str]]:
    if isinstance(value, dict):
        out: list[tuple[str, str]] = []
        for k, v in value.items():
            out += _flatten(f"{prefix}.{k}" if prefix else str(k), v)
        return out
    if isinstance(value, list):
        return [(prefix, json.dumps(value, separators=(",", ":")))]
    return [(prefix, "" if value is None else str(value))]


def demo_command(
    db: str | None = typer.Option(
        None, "--db", help="Database URL (default: a new SQLite file under --workdir)."
    ),
    workdir: Path = typer.Option(
        Path(".clearance-demo"), "--workdir", help="Where the demo repositories, keys and tokens go."
    ),
    examples: Path | None = typer.Option(
        None, "--examples", help="The examples/ directory of a clearance clone."
    ),
) -> None:
    """Seed a ledger with a small organisation (teams, services, three months of runs, deploys,
    incidents) through the real gate and ingest, then print how to open its dashboard."""
    import datetime as _dt

    from clearance.cli import demo
    from clearance.ledger import db as ledger_db
    from clearance.ledger.audit import LogKey
    from clearance.ledger.service import Ledger

    with errors_to_exit():
        workdir = workdir.resolve()
        url = db or f"sqlite:///{workdir / 'ledger.db'}"
        engine = ledger_db.create_engine(url)
        ledger_db.migrate(engine)
        ledger = Ledger(engine, log_key=LogKey.load_or_create(workdir / "ledger-log.key"))
        with ledger.read() as store:
            if store.services():
                raise UsageError(
                    f"{ledger_db.redact(url)} already holds services", hint="use a new --db or --workdir"
                )
        result = demo.seed(
            ledger,
            workdir,
            now=_dt.datetime.now(_dt.UTC),
            examples=examples,
            progress=lambda m: typer.echo(f"  {m}", err=True),
        )
        engine.dispose()
    typer.echo(f"demo ledger: {ledger_db.redact(url)}")
    typer.echo(
        f"{result.runs} gate runs, {result.deployments} deployments, {result.decisions} deploy decisions"
    )
    typer.echo(f"tokens (log in with the admin one): {result.tokens_file}")
    # The demo signed its audit checkpoints with its own key: serving with another one would sign
    # new checkpoints with a second key and `ledger verify-log` would call the log broken.
    log_key = workdir / "ledger-log.key"
    typer.echo(
        f"serve it: clearance ledger serve --db {ledger_db.redact(url)} --log-key {log_key}"
        "  → http://127.0.0.1:8080/ui/"
    )
