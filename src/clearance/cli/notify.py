"""`clearance ledger worker`, `clearance ledger deliveries [retry]` and `clearance ledger routing-check`:
the notification outbox from the command line (docs/notifications.md)."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from clearance.cli.common import errors_to_exit
from clearance.cli.ledger import DB_OPT, FORMAT_OPT, KEY_OPT, _emit, _ledger, ledger_app
from clearance.decision import ExitCode
from clearance.errors import UsageError

ROUTING_OPT = typer.Option(
    ...,
    "--routing",
    envvar="CLEARANCE_ROUTING",
    metavar="FILE",
    help="The routing file (channels, subscriptions).",
)
deliveries_app = typer.Typer(
    help="The notification outbox: what was sent, what waits, what is dead.",
    invoke_without_command=True,
)


def register(app: typer.Typer) -> None:
    """Add the outbox commands to the `ledger` group (registered by cli/ledger.py)."""
    ledger_app.add_typer(deliveries_app, name="deliveries")


@ledger_app.command("worker")
def worker(
    routing: Path = ROUTING_OPT,
    db_url: str | None = DB_OPT,
    log_key: Path | None = KEY_OPT,
    once: bool = typer.Option(False, "--once", help="One pass, then exit (cron-style)."),
    interval: float = typer.Option(10.0, "--interval", min=0.5, help="Seconds between passes."),
) -> None:
    """Route new ledger changes and deliver the outbox, with retries."""
    from clearance.notify import subscriptions
    from clearance.notify.worker import Worker

    with errors_to_exit():
        config = subscriptions.load(routing)
        with _ledger(db_url, log_key) as ledger:
            runner = Worker(ledger, config)
            while True:
                report = runner.run_once()
                if report.claimed or once:
                    typer.echo(
                        f"outbox: {report.delivered} delivered, {report.retried} to retry, {report.dead} dead",
                        err=True,
                    )
                for error in report.errors:
                    typer.echo(f"  dead: {error}", err=True)
                if once:
                    raise typer.Exit(int(ExitCode.INCOMPLETE if report.dead else ExitCode.PASS))
                time.sleep(interval)


@deliveries_app.callback()
def deliveries(
    ctx: typer.Context,
    state: list[str] = typer.Option(
        [], "--state", help="pending, retry, sending, delivered or dead (repeatable)."
    ),
    team: str | None = typer.Option(None, "--team", help="Only this team's deliveries."),
    limit: int = typer.Option(100, "--limit", min=1, max=10_000),
    db_url: str | None = DB_OPT,
    fmt: str = FORMAT_OPT,
) -> None:
    """List outbox deliveries, newest first."""
    if ctx.invoked_subcommand is not None:
        return
    from clearance.notify import store

    with errors_to_exit():
        bad = sorted(set(state) - {"pending", "retry", "sending", "delivered", "dead"})
        if bad:
            raise UsageError(
                f"unknown state(s): {', '.join(bad)}", hint="pending, retry, sending, delivered, dead"
            )
        with _ledger(db_url) as ledger, ledger.read() as st:
            rows = [
                {
                    "id": r.id,
                    "state": r.state,
                    "event": r.event,
                    "team": r.team,
                    "channel": r.channel,
                    "attempts": r.attempts,
                    "next_try_at": r.next_try_at.isoformat(timespec="seconds"),
                    "title": r.payload.get("event", {}).get("title", ""),
                    "last_error": r.last_error,
                }
                for r in store.deliveries(st.session, states=state, team=team, limit=limit)
            ]
        _emit(
            rows,
            ["id", "state", "event", "team", "channel", "attempts", "next_try_at", "title", "last_error"],
            fmt,
        )


@deliveries_app.command("retry")
def retry(
    ids: list[int] = typer.Argument(
        None, metavar="[ID]...", help="Dead deliveries to retry (none: all dead)."
    ),
    db_url: str | None = DB_OPT,
    log_key: Path | None = KEY_OPT,
) -> None:
    """Put dead deliveries back in the queue (attempts start again); recorded in the audit log."""
    from clearance.notify import store
    from clearance.notify.audit import audit_append

    with errors_to_exit(), _ledger(db_url, log_key) as ledger, ledger.write() as st:
        count = store.retry_dead(st.session, ids or [], st.now)
        if count:
            audit_append(
                st.session, "deliveries.retried", {"ids": ",".join(map(str, ids or [])) or "all"}, st.now
            )
        typer.echo(f"{count} dead deliver{'y' if count == 1 else 'ies'} queued again")


@ledger_app.command("routing-check")
def routing_check(
    routing: Path = typer.Argument(..., metavar="FILE", help="The routing file to validate."),
) -> None:
    """Validate a routing file without starting anything (exit 4 with the key that is wrong)."""
    from clearance.notify import subscriptions
    from clearance.notify.router import kinds_routed

    with errors_to_exit():
        config = subscriptions.load(routing)
        typer.echo(
            f"{routing}: {len(config.channels)} channel(s), {len(config.subscriptions)} subscription(s); "
            f"events routed: {', '.join(kinds_routed(config)) or 'none'}"
        )
