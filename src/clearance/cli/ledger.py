"""`clearance ledger …` (serve, migrate, token, key, findings, debt, verify-log, sync-catalog,
rematch, triage), `clearance push` and `clearance affected`.

Queries go to a server (`--server URL`, token from `--token` / `CLEARANCE_TOKEN`) or, without
one, straight to the ledger database (`--db` / `CLEARANCE_LEDGER_DB` / the embedded default).
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import typer

from clearance.cli.common import errors_to_exit
from clearance.decision import verify_exit_code
from clearance.errors import LedgerError, UsageError
from clearance.report.base import count

TOKEN_ENV = "CLEARANCE_TOKEN"
SERVER_ENV = "CLEARANCE_SERVER"

DB_OPT = typer.Option(
    None, "--db", help="Ledger database URL (default: $CLEARANCE_LEDGER_DB or the embedded SQLite file)."
)
SERVER_OPT = typer.Option(
    None, "--server", help="Ledger server URL (or $CLEARANCE_SERVER); without it, the local database."
)
PUSH_SERVER_OPT = typer.Option(
    None, "--server", help="Ledger server URL (or $CLEARANCE_SERVER); required: a push goes to a server."
)
TOKEN_OPT = typer.Option(None, "--token", help=f"API token (default: ${TOKEN_ENV}).")
FORMAT_OPT = typer.Option("table", "--format", "-f", help="table, json or csv.")
TABLE_JSON_OPT = typer.Option("table", "--format", "-f", help="table or json.")
KEY_OPT = typer.Option(
    None, "--log-key", help="Checkpoint signing key (default: ledger-log.key in the user data dir)."
)

ledger_app = typer.Typer(
    help="The ledger: services, releases, findings, owners, exceptions.", no_args_is_help=True
)
token_app = typer.Typer(help="API tokens (shown once, stored hashed).", no_args_is_help=True)
key_app = typer.Typer(help="Signing keys trusted for a team's bundles.", no_args_is_help=True)
sla_app = typer.Typer(help="Days to fix per service tier and severity.", no_args_is_help=True)
ledger_app.add_typer(sla_app, name="sla")
ledger_app.add_typer(token_app, name="token")
ledger_app.add_typer(key_app, name="key")


def register(app: typer.Typer) -> None:
    """Add `ledger`, `push` and `affected` to the root app."""
    app.add_typer(ledger_app, name="ledger")
    app.command("push")(push)
    app.command("affected")(affected)


# --- local database --------------------------------------------------------------------------------


@contextmanager
def _ledger(
    db_url: str | None, log_key: Path | None = None, *, advisory_dir: Path | None = None
) -> Iterator[Any]:
    try:
        from clearance.ledger import db
        from clearance.ledger.audit import LogKey
        from clearance.ledger.service import Ledger
        from clearance.server.settings import default_key_path
    except ImportError as e:  # the server extra is not installed
        raise UsageError(
            f"the ledger needs the server extra ({e.name} is missing)", hint="pip install 'clearance[server]'"
        ) from e
    from sqlalchemy.exc import SQLAlchemyError

    engine = db.create_engine(db_url)
    try:
        db.migrate(engine)
        matcher = None
        if advisory_dir is not None:
            from clearance.ledger.matching import AdvisoryMatcher

            directory = advisory_dir

            def matcher() -> AdvisoryMatcher:
                return AdvisoryMatcher.open(directory)

        yield Ledger(engine, log_key=LogKey.load_or_create(log_key or default_key_path()), matcher=matcher)
    except SQLAlchemyError as e:
        raise _database_error(e) from e
    finally:
        engine.dispose()


def _note_if_empty(store: Any, db_url: str | None) -> None:
    """An empty answer read from a local database that holds nothing at all (created on first
    use, e.g. when --server was forgotten) says so, instead of passing for "nothing affected"."""
    if not store.has_services():
        from clearance.ledger import db

        typer.echo(
            f"note: the ledger database {db.redact(db.resolve_url(db_url))} holds no services yet; "
            f"to ask a ledger server, pass --server URL (or set {SERVER_ENV})",
            err=True,
        )


def _database_error(e: Exception) -> LedgerError:
    """A database that cannot be used (unreachable, refused, broken): the driver's first line."""
    return LedgerError(f"ledger database error: {type(e).__name__}: {str(e).splitlines()[0][:300]}")


# --- HTTP client -----------------------------------------------------------------------------------


def _server(server: str | None) -> str | None:
    return (server or os.environ.get(SERVER_ENV) or "").rstrip("/") or None


def _request(method: str, server: str, path: str, token: str | None, **kwargs: Any) -> Any:
    import httpx

    base, secret = _credentials(server, token)
    try:
        r = httpx.request(
            method, base + path, headers={"Authorization": f"Bearer {secret}"}, timeout=120, **kwargs
        )
    except httpx.HTTPError as e:
        raise LedgerError(f"cannot reach the ledger at {_safe(server)}: {type(e).__name__}") from e
    if r.status_code >= 400:
        try:
            err = r.json()["error"]
            message, hint = err["message"], err.get("hint")
        except (ValueError, KeyError, TypeError):
            message, hint = r.text[:300], None
        raise Refused(r.status_code, f"ledger refused ({r.status_code}): {message}", hint=hint)
    if r.headers.get("content-type", "").startswith("application/json"):
        return r.json()
    return r.text


class Refused(LedgerError):
    """The ledger answered with an error status."""

    def __init__(self, status: int, message: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status


def _credentials(server: str, token: str | None) -> tuple[str, str]:
    """(server URL without credentials, API token). A token embedded in the URL
    (`https://user:TOKEN@host` or `https://TOKEN@host`) is used when no other is given and is
    never sent in, or printed with, the URL; two different tokens are refused."""
    from urllib.parse import unquote, urlsplit, urlunsplit

    parts = urlsplit(server)
    embedded = unquote(parts.password or parts.username or "") if "@" in parts.netloc else ""
    explicit = token or os.environ.get(TOKEN_ENV)
    if embedded and explicit and embedded != explicit:
        raise UsageError(
            f"the server URL {_safe(server)} carries a token that differs from --token / ${TOKEN_ENV}",
            hint="give the token once: --token or $CLEARANCE_TOKEN, not in the URL",
        )
    secret = explicit or embedded
    if not secret:
        raise UsageError("no API token", hint=f"pass --token or set {TOKEN_ENV}")
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment)), secret


def _safe(url: str) -> str:
    """A URL without credentials."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


# --- output ------------------------------------------------------------------------------------------


WRAPPING_COLUMNS = frozenset({"title", "by_severity", "environments", "fixed_versions", "scopes", "reason"})
"""Columns of prose or lists, which may wrap at spaces; every other column holds an identifier
(service, purl, rule id, advisory id, date…) and is never broken across lines."""


def _emit(
    rows: Sequence[dict[str, Any]],
    columns: Sequence[str],
    fmt: str,
    title: str = "",
    whole: Any = None,
    priority: Sequence[str] | None = None,
) -> None:
    """Rows as json, csv (every column) or a table that fits the terminal: columns are kept in
    `priority` order (default: `columns` order) while they fit, the rest are dropped and named."""
    if fmt == "json":
        typer.echo(
            json.dumps(whole if whole is not None else list(rows), indent=2, sort_keys=True, default=str)
        )
        return
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({k: _cell(r.get(k)) for k in columns})
        typer.echo(buf.getvalue(), nl=False)
        return
    if fmt != "table":
        raise UsageError(f"unknown format {fmt!r}", hint="table, json or csv")
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not rows:  # a title and "none", not a frame of bare headers
        typer.echo(title if re.search(r"(^|\s)0 ", title) else f"{title}: none" if title else "none")
        return
    cells = [{c: _short(_cell(r.get(c))) for c in columns} for r in rows]
    shown, hidden = fit_columns(cells, columns, console.width, priority)
    table = Table(title=title or None, collapse_padding=True, pad_edge=False, expand=False)
    for c in shown:
        if c in WRAPPING_COLUMNS:
            table.add_column(LABELS.get(c, c), overflow="fold", min_width=min(12, _natural(cells, c)))
        else:
            table.add_column(
                LABELS.get(c, c), no_wrap=True, overflow="ellipsis", min_width=_natural(cells, c)
            )
    for r in cells:
        table.add_row(*(r[c] for c in shown))
    console.print(table)
    if hidden and rows:
        typer.echo(
            f"({len(hidden)} column(s) left out at {console.width} columns: {', '.join(hidden)}; "
            "widen the terminal or use --format json/csv)",
            err=True,
        )


LABELS = {
    "finding_status": "status",
    "fixed_versions": "fixed in",
    "environments": "runs in",
    "excepted_until": "excepted until",
    "analysis_state": "analysis",
    "days_overdue": "overdue",
}
"""Table headers shorter than the json/csv keys they show (the keys stay as they are there)."""


def _natural(cells: Sequence[dict[str, str]], column: str) -> int:
    return max([len(LABELS.get(column, column)), *(len(r[column]) for r in cells)])


def fit_columns(
    cells: Sequence[dict[str, str]], columns: Sequence[str], width: int, priority: Sequence[str] | None = None
) -> tuple[list[str], list[str]]:
    """(columns shown, in display order; columns left out) so a table of `cells` fits `width`:
    identifier columns need their longest value, wrapping ones 12 characters; 3 characters of
    border and padding per column. The first column of `priority` is always shown; a column that
    is empty in every row gives its place to the others."""
    order = [c for c in (priority or columns) if c in columns] + [
        c for c in columns if c not in (priority or ())
    ]
    if cells:
        order = [c for c in order if any(r[c] for r in cells)] + [
            c for c in order if not any(r[c] for r in cells)
        ]
    need = {
        c: (min(12, _natural(cells, c)) if c in WRAPPING_COLUMNS else _natural(cells, c)) + 3 for c in columns
    }
    chosen: set[str] = set()
    used = 1
    for c in order:
        if not chosen or used + need[c] <= width:
            chosen.add(c)
            used += need[c]
    return [c for c in columns if c in chosen], [c for c in order if c not in chosen]


_COMMIT = re.compile(r"^[0-9a-f]{40}$|^[0-9a-f]{64}$")


def _short(text: str) -> str:
    """Tables show ISO timestamps as dates and commit ids as their first 12 digits (git's short
    form); json and csv keep them whole."""
    if len(text) >= 19 and text[4] == "-" and text[10] == "T":
        return text[:10]
    return text[:12] if _COMMIT.match(text) else text


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):  # counts by severity: "critical 3, high 10", worst first
        return ", ".join(f"{k} {n}" for k, n in sorted(value.items(), key=_worst_first))
    return str(value)


def _worst_first(item: tuple[Any, Any]) -> tuple[int, int, int, str]:
    """Severities from critical down to info, then any other key by name."""
    from clearance.model import Severity

    try:
        rank, order = Severity(item[0]).sort_key()
    except ValueError:
        return (1, 0, 0, str(item[0]))
    return (0, -rank, -order, "")


# --- commands ----------------------------------------------------------------------------------------


@ledger_app.command("serve")
def serve(
    db_url: str | None = DB_OPT,
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
    port: int = typer.Option(8080, "--port", help="TCP port."),
    log_key: Path | None = KEY_OPT,
    advisory_db: Path | None = typer.Option(
        None,
        "--advisory-db",
        help="Advisory database directory for matching releases (default: $CLEARANCE_DB_DIR if set).",
    ),
    routing: Path | None = typer.Option(
        None,
        "--routing",
        envvar="CLEARANCE_ROUTING",
        metavar="FILE",
        help="Notification channels and subscriptions (docs/notifications.md); validated at start.",
    ),
    worker: bool = typer.Option(
        True, "--worker/--no-worker", help="Deliver notifications from the server (off: run `ledger worker`)."
    ),
    link_base: str = typer.Option(
        "", "--public-url", metavar="URL", help="The dashboard's public URL, for links in notifications."
    ),
    deploy_policy: Path | None = typer.Option(
        None,
        "--deploy-policy",
        help="Deploy go/no-go policy per environment (YAML or TOML; docs/deploy.md). Default: built in.",
    ),
) -> None:
    """Run the ledger API (uvicorn). SQLite by default; PostgreSQL with --db postgresql+psycopg://…"""
    with errors_to_exit():
        try:
            import uvicorn

            from clearance.ledger import db
            from clearance.server.app import create_app, freeze_after_start_up
            from clearance.server.settings import ServerSettings, default_key_path
        except ImportError as e:
            raise UsageError(
                f"serving needs the server extra ({e.name} is missing)",
                hint="pip install 'clearance[server]'",
            ) from e
        advisory = advisory_db or (
            Path(os.environ["CLEARANCE_DB_DIR"]) if os.environ.get("CLEARANCE_DB_DIR") else None
        )
        if deploy_policy is not None:
            from clearance.deploy.policy import load_policy

            load_policy(deploy_policy)  # refuse an invalid file before serving anything
        settings = ServerSettings(
            db_url=db_url,
            log_key_path=log_key or default_key_path(),
            advisory_db_dir=advisory,
            routing_path=routing,
            run_worker=worker,
            link_base=link_base,
            deploy_policy_path=deploy_policy,
        )
        typer.echo(
            f"ledger: {db.redact(db.resolve_url(db_url))} on http://{host}:{port} (API docs at /api/docs)",
            err=True,
        )
        from sqlalchemy.exc import SQLAlchemyError

        try:
            app = create_app(settings)
        except SQLAlchemyError as e:
            raise _database_error(e) from e
        freeze_after_start_up(app)
        uvicorn.run(app, host=host, port=port, log_level="info", server_header=False)


@ledger_app.command("migrate")
def migrate(db_url: str | None = DB_OPT) -> None:
    """Create or upgrade the ledger schema (Alembic) to the newest revision."""
    with errors_to_exit():
        from clearance.ledger import db

        engine = db.create_engine(db_url)
        try:
            before = db.current_revision(engine)
            after = db.migrate(engine)
        finally:
            engine.dispose()
        typer.echo(f"ledger schema: {before or 'empty'} -> {after} ({db.redact(db.resolve_url(db_url))})")


@token_app.command("create")
def token_create(
    team: str | None = typer.Option(
        None, "--team", help="The team the token acts for (omit only for admin tokens)."
    ),
    scope: list[str] = typer.Option(
        ..., "--scope", help="ingest, read, deploy or admin (repeatable, or comma-separated)."
    ),
    name: str = typer.Option("", "--name", help="A label (e.g. the CI pipeline)."),
    expires_days: int = typer.Option(90, "--expires-days", min=0, help="Days until it expires (0: never)."),
    db_url: str | None = DB_OPT,
    log_key: Path | None = KEY_OPT,
) -> None:
    """Create a token; the secret is printed once and stored only as a hash."""
    from clearance.ledger.service import create_token

    scopes = sorted({s.strip() for item in scope for s in item.split(",") if s.strip()})
    with errors_to_exit(), _ledger(db_url, log_key) as ledger, ledger.write() as store:
        secret, info = create_token(
            store, team=team, scopes=scopes, name=name, expires_in_days=expires_days or None
        )
    typer.echo(secret)
    typer.echo(
        f"token {info.id} ({info.prefix}…) team={info.team or '-'} scopes={','.join(info.scopes)} "
        f"expires={info.expires_at.date() if info.expires_at else 'never'} — store it now, it is not shown again",
        err=True,
    )


@token_app.command("list")
def token_list(db_url: str | None = DB_OPT, fmt: str = FORMAT_OPT) -> None:
    """List tokens (prefix, team, scopes, expiry, revoked) — never the secrets."""
    with errors_to_exit(), _ledger(db_url) as ledger, ledger.read() as store:
        rows = [t.as_json() for t in store.tokens()]
        _emit(
            rows,
            ["id", "prefix", "name", "team", "scopes", "expires_at", "revoked_at"],
            fmt,
            "tokens",
            priority=["id", "prefix", "team", "scopes", "expires_at", "revoked_at", "name"],
        )


@token_app.command("revoke")
def token_revoke(
    token_id: int = typer.Argument(..., help="Token id (see `token list`)."),
    db_url: str | None = DB_OPT,
    log_key: Path | None = KEY_OPT,
) -> None:
    """Revoke a token (takes effect on the next request)."""
    from clearance.ledger.service import revoke_token

    with errors_to_exit(), _ledger(db_url, log_key) as ledger, ledger.write() as store:
        info = revoke_token(store, token_id, "cli")
    typer.echo(f"revoked token {info.id} ({info.prefix}…)")


@sla_app.command("set")
def sla_set(
    tier: str = typer.Option(
        "default", "--tier", help="Service tier (`default` applies to every tier without its own rule)."
    ),
    severity: str = typer.Option(..., "--severity", help="critical, high, medium, unknown, low or info."),
    days: int = typer.Option(..., "--days", min=1, max=3650),
    db_url: str | None = DB_OPT,
    log_key: Path | None = KEY_OPT,
) -> None:
    """Set the days to fix findings of a severity in a tier (applies to findings created from now on)."""
    if severity not in _SEVERITIES:
        with errors_to_exit():
            raise UsageError(f"unknown severity {severity!r}")
    with errors_to_exit(), _ledger(db_url, log_key) as ledger, ledger.write() as store:
        store.set_sla(tier, severity, days)
        store.append_audit("cli", "sla.set", {"tier": tier, "severity": severity, "days": days})
    typer.echo(f"SLA {tier}/{severity}: {days} days")


@sla_app.command("show")
def sla_show(
    tier: str = typer.Option("default", "--tier"), db_url: str | None = DB_OPT, fmt: str = FORMAT_OPT
) -> None:
    """Show the days to fix per severity that apply to a tier."""
    with errors_to_exit(), _ledger(db_url) as ledger, ledger.read() as store:
        days = store.sla_days(tier)
    _emit(
        [{"severity": k, "days": v} for k, v in days.items()],
        ["severity", "days"],
        fmt,
        f"SLA for tier {tier}",
    )


@key_app.command("add")
def key_add(
    public_key: Path = typer.Argument(..., help="PEM public key (from `clearance keygen`)."),
    team: str = typer.Option(..., "--team", help="The team whose bundles this key signs."),
    db_url: str | None = DB_OPT,
    log_key: Path | None = KEY_OPT,
) -> None:
    """Trust a public key for a team's evidence bundles."""
    from clearance.evidence.keys import load_public_key

    with errors_to_exit():
        key = load_public_key(public_key)
        with _ledger(db_url, log_key) as ledger, ledger.write() as store:
            t = store.ensure_team(team)
            row = store.add_trusted_key(t, key.keyid, public_key.read_text(encoding="utf-8"))
            store.append_audit("cli", "key.trusted", {"team": t.name, "key_id": row.key_id})
        typer.echo(f"team {t.name} trusts key {row.key_id}")


FINDING_COLUMNS = [
    "service",
    "team",
    "severity",
    "status",
    "rule_id",
    "path",
    "line",
    "days_open",
    "due_at",
    "days_overdue",
]


FINDING_PRIORITY = [
    "service",
    "rule_id",
    "severity",
    "status",
    "days_overdue",
    "due_at",
    "team",
    "path",
    "line",
    "days_open",
]
"""Which finding columns stay when the terminal is narrow (first: kept longest)."""


def _check_affected_query(purl: str | None, version_range: str | None) -> None:
    """A malformed purl or range is a usage error here, before any request or database opens."""
    if purl is None:
        if version_range:
            raise UsageError("--range applies to a purl without version (pkg:pypi/jinja2), not an advisory")
        return
    from clearance.ledger.affected import check_purl_query

    try:
        check_purl_query(purl, version_range)
    except LedgerError as e:
        raise UsageError(e.message, hint=e.hint) from None


_SEVERITIES = ("critical", "high", "medium", "unknown", "low", "info")
_STATUSES = ("open", "fixed", "all")


def _check_choice(option: str, value: str | None, choices: Sequence[str]) -> None:
    if value is not None and value not in choices:
        raise UsageError(f"{option} {value!r} is not one of: {', '.join(choices)}")


@ledger_app.command("findings")
def findings(
    team: str | None = typer.Option(None, "--team"),
    service: str | None = typer.Option(None, "--service"),
    severity: str | None = typer.Option(None, "--severity"),
    status: str = typer.Option("open", "--status", help="open, fixed or all."),
    overdue: bool = typer.Option(False, "--overdue", help="Only findings past their SLA due date."),
    fmt: str = FORMAT_OPT,
    server: str | None = SERVER_OPT,
    token: str | None = TOKEN_OPT,
    db_url: str | None = DB_OPT,
) -> None:
    """Open findings by team/service/severity; --overdue for SLA breaches (with days over)."""
    with errors_to_exit():
        _check_choice("--severity", severity, _SEVERITIES)
        _check_choice("--status", status, _STATUSES)
        url = _server(server)
        if url:
            params = {
                k: v
                for k, v in {
                    "team": team,
                    "service": service,
                    "severity": severity,
                    "status": status,
                    "overdue": str(overdue).lower(),
                }.items()
                if v
            }
            rows = _request("GET", url, "/api/v1/findings", token, params=params)["findings"]
        else:
            from clearance.ledger.store import FindingFilter

            with _ledger(db_url) as ledger, ledger.read() as store:
                flt = FindingFilter(
                    team=team, service=service, severity=severity, status=status, overdue=overdue
                )
                rows = [f.as_json() for f in store.findings(flt)]
                if not rows:
                    _note_if_empty(store, db_url)
        _emit(rows, FINDING_COLUMNS, fmt, count(len(rows), "finding"), priority=FINDING_PRIORITY)


@ledger_app.command("debt")
def debt(
    within_days: int = typer.Option(30, "--within-days", help="Exceptions expiring within this many days."),
    fmt: str = TABLE_JSON_OPT,
    server: str | None = SERVER_OPT,
    token: str | None = TOKEN_OPT,
    db_url: str | None = DB_OPT,
) -> None:
    """Security debt: overdue by team, aging buckets, repeat offenders, exceptions expiring/expired."""
    with errors_to_exit():
        url = _server(server)
        if url:
            data = {
                "overdue": _request("GET", url, "/api/v1/debt/overdue", token)["teams"],
                "aging": _request("GET", url, "/api/v1/debt/aging", token)["buckets"],
                "repeat_offenders": _request("GET", url, "/api/v1/debt/repeat-offenders", token),
                "exceptions": _request(
                    "GET", url, "/api/v1/exceptions", token, params={"within_days": within_days}
                ),
            }
        else:
            with _ledger(db_url) as ledger, ledger.read() as store:
                data = {
                    "overdue": store.overdue_by_team(),
                    "aging": store.aging(),
                    "repeat_offenders": store.repeat_offenders(),
                    "exceptions": store.exceptions_report(within_days),
                }
        if fmt == "json":
            typer.echo(json.dumps(data, indent=2, sort_keys=True))
            return
        _emit(
            data["overdue"],
            ["team", "overdue", "by_severity", "max_days_overdue"],
            "table",
            "overdue by team",
        )
        aging_rows = [
            {
                "bucket": b,
                **{"total": sum(v.values())},
                "by_severity": v,
            }
            for b, v in data["aging"].items()
        ]
        _emit(aging_rows, ["bucket", "total", "by_severity"], "table", "open findings by age (days)")
        _emit(
            data["repeat_offenders"]["rules"],
            ["service", "team", "rule_id", "reopened_findings"],
            "table",
            "rules re-introduced after a fix",
        )
        _emit(
            data["exceptions"]["expiring"],
            ["id", "service", "owner", "expires_at", "days_left"],
            "table",
            f"exceptions expiring within {within_days} days",
        )
        _emit(
            data["exceptions"]["expired"],
            ["id", "service", "owner", "expires_at", "matching_open_findings"],
            "table",
            "expired exceptions still matching",
        )


@ledger_app.command("verify-log")
def verify_log(
    db_url: str | None = DB_OPT,
    key: Path | None = typer.Option(
        None, "--key", help="The server's checkpoint public key (default: the local ledger key)."
    ),
    log_key: Path | None = KEY_OPT,
    rebuild: bool = typer.Option(
        False,
        "--rebuild-subtree-hashes",
        help="When only the stored subtree hashes (what proofs are built from) are damaged, rewrite "
        "them from the entries' leaf hashes (recorded in the audit log) and verify again.",
    ),
) -> None:
    """Recompute the audit log against its signed checkpoints; name the first entry that no longer matches."""
    from clearance.ledger.service import rebuild_subtree_hashes
    from clearance.ledger.service import verify_log as check_log

    with errors_to_exit(), _ledger(db_url, log_key) as ledger:
        pem = (
            key.read_text(encoding="utf-8")
            if key
            else (ledger.log_key.public_pem if ledger.log_key else None)
        )
        with ledger.read() as store:
            result = check_log(store, pem)
        if rebuild and result.only_subtree_hashes:
            with ledger.write(bump=False) as store:
                written = rebuild_subtree_hashes(store)
                store.append_audit(
                    "cli", "audit.subtree_hashes_rebuilt", {"written": written, "problems": result.problems}
                )
            typer.echo(f"rebuilt {written} stored subtree hashes from the entries' leaf hashes")
            with ledger.read() as store:
                result = check_log(store, pem)
        elif rebuild and not result.ok:
            typer.echo(
                "not rebuilding the stored subtree hashes: the entries or checkpoints themselves do not verify",
                err=True,
            )
    if result.ok:
        typer.echo(
            f"audit log OK: {result.entries} entries, {result.checkpoints} signed checkpoints, "
            f"{result.nodes} stored subtree hashes verified"
        )
        return
    for p in result.problems:
        typer.echo(f"FAIL: {p}", err=True)
    if result.first_bad_seq is None and result.first_bad_node is not None:
        level, idx = result.first_bad_node
        typer.echo(
            "audit log BROKEN: the entries match their signed checkpoints, but the stored subtree "
            f"hashes proofs are built from do not (first: entries {idx << level}–{((idx + 1) << level) - 1}); "
            "proofs that use them will not verify",
            err=True,
        )
    elif result.first_bad_seq is None:  # no entry found modified: checkpoint signatures fail
        typer.echo(
            "audit log BROKEN: no entry found modified, but checkpoint signatures do not verify "
            "with this key (signed with another --log-key? pass the server's with --key)",
            err=True,
        )
    else:
        typer.echo(f"audit log BROKEN: first entry that no longer matches: {result.first_bad_seq}", err=True)
    raise typer.Exit(int(verify_exit_code(False)))


@ledger_app.command("sync-catalog")
def sync_catalog(
    paths: list[Path] = typer.Argument(
        ..., help="Repository checkouts (catalog-info.yaml, clearance.toml, CODEOWNERS)."
    ),
    db_url: str | None = DB_OPT,
    log_key: Path | None = KEY_OPT,
) -> None:
    """Import services, owners, tiers, exposure and CODEOWNERS from repositories."""
    from clearance.config import load_settings
    from clearance.policy.context import load_catalog, load_codeowners

    with errors_to_exit(), _ledger(db_url, log_key) as ledger, ledger.write() as store:
        for root in paths:
            if not root.is_dir():
                raise UsageError(f"{root} is not a directory")
            settings, _ = load_settings(root)
            catalog = load_catalog(root, settings.service)
            owners = load_codeowners(root)
            components = list(catalog.components) or [catalog.default]
            for comp in components:
                name = comp.name or root.resolve().name
                team = store.ensure_team(comp.owner) if comp.owner else None
                svc, created = store.upsert_service(
                    name,
                    team=team,
                    source="catalog",
                    tier=comp.tier or None,
                    exposure=comp.exposure if comp.exposure != "unknown" else None,
                    data_class=comp.data_classification if comp.data_classification != "unknown" else None,
                    repository=root.resolve().name,
                )
                rules = [(pattern, owners_[0]) for pattern, owners_, _spec in owners.entries if owners_]
                store.set_code_owners(svc, rules)
                store.append_audit(
                    "cli",
                    "service.synced",
                    {
                        "service": name,
                        "team": team.name if team else None,
                        "created": created,
                        "codeowners": len(rules),
                    },
                )
                typer.echo(
                    f"{'created' if created else 'updated'} service {name} (team {team.name if team else '-'}, tier {svc.tier}, {len(rules)} CODEOWNERS rules)"
                )
            for w in catalog.warnings:
                typer.echo(f"warning: {w}", err=True)


@ledger_app.command("rematch")
def rematch(
    db_url: str | None = DB_OPT,
    advisory_db: Path | None = typer.Option(
        None,
        "--advisory-db",
        help="Advisory database directory (default: $CLEARANCE_DB_DIR or the user data dir).",
    ),
    fmt: str = FORMAT_OPT,
    log_key: Path | None = KEY_OPT,
) -> None:
    """Re-match every stored release against the advisory database (`db import`/`db update` do it
    themselves when a ledger is configured); lists the newly affected releases and records findings
    for them."""
    from clearance.scanners.vulns.advisories import database_dir

    with errors_to_exit():
        rematch_ledger(db_url, advisory_db or database_dir(), log_key, fmt)


def rematch_ledger(db_url: str | None, advisory_dir: Path, log_key: Path | None, fmt: str) -> None:
    """Re-match every release stored in the ledger at `db_url` against the advisory database in
    `advisory_dir`; record findings for the new matches and list the newly affected releases
    (stdout; the summary on stderr). Shared by `ledger rematch` and `db import`/`db update`."""
    from clearance.ledger.affected import rematch as run_rematch

    if fmt not in ("table", "json", "csv"):
        raise UsageError(f"unknown format {fmt!r}", hint="table, json or csv")
    with _ledger(db_url, log_key, advisory_dir=advisory_dir) as ledger:
        with ledger.advisory_matcher() as matcher, ledger.write() as store:
            assert matcher is not None
            result = run_rematch(store, matcher)
        where = _safe_db(db_url)
    if fmt == "json":
        typer.echo(json.dumps(result.as_json(), indent=2, sort_keys=True))
        return
    typer.echo(
        f"ledger {where}: {result.components} components re-matched: {result.new_matches} new matches, "
        f"{len({(i['service'], i['release_id']) for i in result.newly_affected})} newly affected releases, "
        f"{result.findings_recorded} findings recorded",
        err=True,
    )
    _emit(
        list(result.newly_affected),
        ["service", "release", "component", "advisory_id"],
        fmt,
        "newly affected releases",
    )


def _safe_db(db_url: str | None) -> str:
    from clearance.ledger import db

    return db.redact(db.resolve_url(db_url))


@ledger_app.command("triage")
def triage(
    service: str = typer.Option(..., "--service"),
    component: str = typer.Option(..., "--component", help="purl, e.g. pkg:pypi/jinja2@2.11.2"),
    advisory: str = typer.Option(..., "--advisory"),
    state: str = typer.Option(
        ..., "--state", help="exploitable, in_triage, false_positive, not_affected, resolved"
    ),
    justification: str | None = typer.Option(
        None, "--justification", help="e.g. code_not_reachable (required for not_affected)"
    ),
    response: list[str] | None = typer.Option(
        None, "--response", help="can_not_fix, will_not_fix, update, rollback, workaround_available"
    ),
    detail: str = typer.Option("", "--detail"),
    author: str = typer.Option(os.environ.get("USER", "cli"), "--author"),
    server: str | None = SERVER_OPT,
    token: str | None = TOKEN_OPT,
    db_url: str | None = DB_OPT,
    log_key: Path | None = KEY_OPT,
) -> None:
    """Record a VEX triage decision for (service, component, advisory)."""
    with errors_to_exit():
        url = _server(server)
        body = {
            "service": service,
            "component": component,
            "advisory": advisory,
            "state": state,
            "justification": justification,
            "responses": response or [],
            "detail": detail,
        }
        if url:
            out = _request("POST", url, "/api/v1/analyses", token, json=body)
        else:
            from clearance.ledger.vex import record_analysis

            with _ledger(db_url, log_key) as ledger, ledger.write() as store:
                out = record_analysis(
                    store,
                    service=service,
                    component_purl=component,
                    advisory_id=advisory,
                    state=state,
                    justification=justification,
                    responses=response or [],
                    detail=detail,
                    author=author,
                )
        typer.echo(json.dumps(out, indent=2, sort_keys=True))


def push(
    path: Path = typer.Argument(
        ..., help="A gate JSON report (--format json) or an evidence bundle (.tar.gz)."
    ),
    server: str | None = PUSH_SERVER_OPT,
    token: str | None = TOKEN_OPT,
    service: str | None = typer.Option(None, "--service", help="Service name (default: from the report)."),
    version: str | None = typer.Option(None, "--version", help="Release version (default: the commit)."),
    report: Path | None = typer.Option(
        None, "--report", help="With a bundle: also send this report (must equal the bundle's)."
    ),
    fmt: str = TABLE_JSON_OPT,
) -> None:
    """Send a gate run to the ledger; prints created / updated / fixed / reopened / unchanged."""
    with errors_to_exit():
        url = _server(server)
        if not url:
            raise UsageError("no ledger server", hint=f"pass --server URL or set {SERVER_ENV}")
        result = push_run(url, token, path, service=service, version=version, report=report)
        print_push(result, fmt)


def push_run(
    url: str,
    token: str | None,
    path: Path,
    *,
    service: str | None = None,
    version: str | None = None,
    report: Path | None = None,
) -> dict[str, Any]:
    """POST a report or bundle to `url`; returns the ledger's answer. The server's size limits
    are asked first (`GET /api/v1/limits`) so an oversized push is refused before any byte of
    it is uploaded; the files are streamed from disk, never read whole into memory."""
    sizes: dict[str, int] = {}
    try:
        with path.open("rb") as fh:
            is_bundle = fh.read(2) == b"\x1f\x8b"
        sizes["bundle" if is_bundle else "report"] = path.stat().st_size
        if is_bundle and report is not None:
            sizes["report"] = report.stat().st_size
    except OSError as e:
        raise UsageError(f"cannot read {e.filename or path}: {e.strerror}") from e
    _check_limits(url, token, sizes)
    form = {k: v for k, v in {"service": service, "version": version}.items() if v}
    with ExitStack() as stack:
        files: dict[str, tuple[str, Any, str]] = {}
        if is_bundle:
            files["bundle"] = (path.name, stack.enter_context(path.open("rb")), "application/gzip")
            if report is not None:
                files["report"] = (report.name, stack.enter_context(report.open("rb")), "application/json")
        else:
            files["report"] = (path.name, stack.enter_context(path.open("rb")), "application/json")
        result: dict[str, Any] = _request("POST", url, "/api/v1/runs", token, files=files, data=form)
    return result


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB" if n >= 10 * 1024 * 1024 else f"{n:,} bytes"


MULTIPART_SLACK = 64 * 1024
"""Bytes of multipart framing and form fields counted on top of the files against the request limit."""


def _check_limits(url: str, token: str | None, sizes: dict[str, int]) -> None:
    """Refuse a push the server would refuse for its size (servers without `/api/v1/limits`:
    the upload goes ahead and the server's own 413 is shown)."""
    try:
        limits = _request("GET", url, "/api/v1/limits", token)
    except Refused as e:
        if e.status == 404:  # an older server: it will answer 413 itself
            return
        raise
    if not isinstance(limits, dict):
        return
    checks = [
        ("bundle", sizes.get("bundle"), limits.get("max_bundle_bytes"), "max_bundle_bytes"),
        ("report", sizes.get("report"), limits.get("max_report_bytes"), "max_report_bytes"),
        ("push", sum(sizes.values()) + MULTIPART_SLACK, limits.get("max_request_bytes"), "max_request_bytes"),
    ]
    for what, size, limit, setting in checks:
        if size is not None and isinstance(limit, int) and size > limit:
            raise LedgerError(
                f"the {what} is {_size(size)}; the ledger at {_safe(url)} accepts at most "
                f"{_size(limit)} ({setting}); nothing was uploaded",
                hint=f"raise {setting} in the server's settings, or push the JSON report alone",
            )


def print_push(result: dict[str, Any], fmt: str = "table") -> None:
    """Show a push answer."""
    if fmt == "json":
        typer.echo(json.dumps(result, indent=2, sort_keys=True))
        return
    c = result["counts"]
    state = (
        "duplicate (nothing changed)"
        if result.get("duplicate")
        else (
            "verified bundle, key " + str(result.get("signer_key_id"))
            if result.get("verified")
            else "unverified report"
        )
    )
    typer.echo(
        f"ledger: {result['service']} release {result['release']['version']} ({result['mode']} run {result['run_id']}, {state}): "
        f"created {c['created']}, updated {c['updated']}, fixed {c['fixed']}, reopened {c['reopened']}, unchanged {c['unchanged']}"
    )


AFFECTED_COLUMNS = [
    "service",
    "team",
    "version",
    "latest",
    "environments",
    "component",
    "advisory_id",
    "finding_status",
    "excepted_until",
    "analysis_state",
    "fixed_versions",
]


AFFECTED_PRIORITY = [  # the 9:00 question first: which service, whose, where it runs, status, fix
    "service",
    "team",
    "environments",
    "version",
    "finding_status",
    "component",
    "fixed_versions",
    "advisory_id",
    "latest",
    "excepted_until",
    "analysis_state",
]


def affected(
    query: str = typer.Argument(
        ...,
        help="An advisory id (CVE-…, GHSA-…, PYSEC-…) or a purl (pkg:pypi/jinja2@2.11.2, or without version).",
    ),
    version_range: str | None = typer.Option(
        None, "--range", help="With a purl without version: e.g. '<3.1.5'."
    ),
    fmt: str = FORMAT_OPT,
    server: str | None = SERVER_OPT,
    token: str | None = TOKEN_OPT,
    db_url: str | None = DB_OPT,
    limit: int = typer.Option(500, "--limit", min=1, max=5000, help="Rows per page."),
    offset: int = typer.Option(
        0, "--offset", min=0, metavar="ROWS", help="Rows to skip (the answer's next_offset)."
    ),
) -> None:
    """Which services and releases an advisory or package affects, where they run, who owns them."""
    with errors_to_exit():
        key = "purl" if query.startswith("pkg:") else "advisory"
        _check_affected_query(query if key == "purl" else None, version_range)
        url = _server(server)
        if url:
            params: dict[str, Any] = {key: query, "limit": limit, "offset": offset}
            if version_range:
                params["range"] = version_range
            data = _request("GET", url, "/api/v1/affected", token, params=params)
        else:
            from clearance.ledger.affected import affected_query

            with _ledger(db_url) as ledger, ledger.read() as store:
                data = affected_query(
                    store,
                    advisory=query if key == "advisory" else None,
                    purl=query if key == "purl" else None,
                    version_range=version_range,
                    limit=limit,
                    offset=offset,
                )
                if not data["results"]:
                    _note_if_empty(store, db_url)
        rows = data["results"]
        title = f"{query}: {count(len(data['services']), 'service')} affected"
        if len(rows) < data.get("count", len(rows)):
            title += (
                f"; rows {data.get('offset', 0) + 1}-{data.get('offset', 0) + len(rows)} of {data['count']}"
            )
            if data.get("next_offset") is not None:
                title += f" (next: --offset {data['next_offset']})"
        _emit(rows, AFFECTED_COLUMNS, fmt, title, whole=data, priority=AFFECTED_PRIORITY)


def push_gate_run(url: str, plan: Any, report: Any, *, quiet: bool) -> None:
    """`clearance gate --push URL`: send the bundle just written (or the JSON report) to the ledger."""
    import tempfile

    from clearance.report import Format, render

    server = _server(url)
    assert server is not None
    with tempfile.TemporaryDirectory(prefix="clearance-push-") as tmp:
        if plan.evidence is not None:
            path = Path(plan.evidence.out_dir) / f"{plan.bundle_name}.bundle.tar.gz"
        else:
            path = Path(tmp) / "report.json"
            path.write_text(render(Format.json, report), encoding="utf-8")
        result = push_run(server, None, path)
    if not quiet:
        from clearance.cli.common import stderr

        c = result["counts"]
        stderr.print(
            f"pushed to {_safe(server)}: {result['service']} release {result['release']['version']}: created {c['created']}, "
            f"updated {c['updated']}, fixed {c['fixed']}, reopened {c['reopened']}, unchanged {c['unchanged']}"
        )
