"""`clearance db import|update|status|import-kev|import-epss`: the offline advisory database (OSV, KEV, EPSS)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from clearance.cli.common import OFFLINE_ENV, errors_to_exit, is_offline, stderr, wants_progress
from clearance.config import load_settings
from clearance.errors import ClearanceError, UsageError
from clearance.pipeline import system_clock

if TYPE_CHECKING:
    from clearance.scanners.vulns.advisories import ByteProgress

DB_DIR_OPT = typer.Option(
    None,
    "--db-dir",
    help="Database directory (default: $CLEARANCE_DB_DIR, db_dir in the configuration's \\[deps] table, or the user data dir).",
)
QUIET_OPT = typer.Option(False, "--quiet", "-q", help="No progress bar.")
CONFIG_OPT = typer.Option(
    None, "--config", "-c", help="Configuration file (for db_dir in its \\[deps] table)."
)

LEDGER_DB_OPT = typer.Option(
    None,
    "--ledger-db",
    metavar="URL",
    help="Ledger database to re-match after the import (default: $CLEARANCE_LEDGER_DB; "
    "neither: no ledger is touched).",
)
NO_LEDGER_OPT = typer.Option(
    False, "--no-ledger", help="Do not re-match the ledger even when $CLEARANCE_LEDGER_DB is set."
)
LEDGER_KEY_OPT = typer.Option(
    None,
    "--log-key",
    help="The ledger's checkpoint signing key (default: ledger-log.key in the user data dir).",
)
LEDGER_FORMAT_OPT = typer.Option(
    "table", "--format", "-f", help="Newly affected releases as table, json or csv."
)

db_app = typer.Typer(help="Manage the offline advisory database (OSV, KEV, EPSS).", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add the `db` command group to the root app."""
    app.add_typer(db_app, name="db")


def _db_path(db_dir: Path | None, config: Path | None) -> Path:
    from clearance.scanners.vulns.advisories import database_dir, database_path

    if db_dir is not None:
        return database_path(db_dir)
    settings, _ = load_settings(Path("."), config)
    return database_path(database_dir(settings.deps.db_dir, Path(".")))


@db_app.command("import")
def import_(
    paths: list[Path] = typer.Argument(
        ..., help="OSV zips (<ECOSYSTEM>/all.zip layout), directories of OSV JSON, or JSON files."
    ),
    ecosystem: str | None = typer.Option(
        None,
        "--ecosystem",
        help="The ecosystem these sources are the full dump of (default: from the file name).",
    ),
    db_dir: Path | None = DB_DIR_OPT,
    config: Path | None = CONFIG_OPT,
    ledger_db: str | None = LEDGER_DB_OPT,
    no_ledger: bool = NO_LEDGER_OPT,
    log_key: Path | None = LEDGER_KEY_OPT,
    fmt: str = LEDGER_FORMAT_OPT,
) -> None:
    """Import OSV advisories offline (air-gapped CI); replaces only the ecosystems imported. With a
    ledger configured (`--ledger-db` / $CLEARANCE_LEDGER_DB) every stored release is then re-matched
    and the newly affected ones are listed and recorded as findings."""
    from clearance.scanners.vulns.advisories import OsvSource, import_osv

    with errors_to_exit():
        db = _db_path(db_dir, config)
        report = import_osv(db, [OsvSource(p, ecosystem=ecosystem) for p in paths], now=system_clock())
        for eco, count in report.records.items():
            stderr.print(f"{eco}: {count} advisories")
        stderr.print(
            f"imported into {db} in {report.seconds:.1f}s ({report.size / 1e6:.1f} MB); "
            f"{report.withdrawn} withdrawn and {report.skipped} unusable record(s) skipped"
        )
        _rematch_ledger(db, ledger_db, no_ledger, log_key, fmt)


@db_app.command("update")
def update(
    ecosystems: list[str] | None = typer.Option(
        None,
        "--ecosystem",
        "-e",
        help="Ecosystem to download (repeatable; default: those already imported, else the common ones).",
    ),
    kev: bool = typer.Option(True, "--kev/--no-kev", help="Also fetch the CISA KEV catalog."),
    epss: bool = typer.Option(True, "--epss/--no-epss", help="Also fetch the FIRST EPSS scores."),
    db_dir: Path | None = DB_DIR_OPT,
    config: Path | None = CONFIG_OPT,
    quiet: bool = QUIET_OPT,
    ledger_db: str | None = LEDGER_DB_OPT,
    no_ledger: bool = NO_LEDGER_OPT,
    log_key: Path | None = LEDGER_KEY_OPT,
    fmt: str = LEDGER_FORMAT_OPT,
) -> None:
    """Download the OSV dumps (plus KEV and EPSS) with conditional requests and import them; then,
    with a ledger configured (`--ledger-db` / $CLEARANCE_LEDGER_DB), re-match every stored release."""
    with errors_to_exit():
        db = _db_path(db_dir, config)
        download(db, list(ecosystems or []), kev=kev, epss=epss, quiet=quiet)
        _rematch_ledger(db, ledger_db, no_ledger, log_key, fmt)


def _rematch_ledger(db: Path, ledger_db: str | None, no_ledger: bool, log_key: Path | None, fmt: str) -> None:
    """After an advisory import: re-match the configured ledger (none configured: nothing)."""
    import os

    from clearance.ledger import DB_ENV

    url = None if no_ledger else (ledger_db or os.environ.get(DB_ENV) or None)
    if url is None:
        return
    from clearance.cli.ledger import rematch_ledger

    rematch_ledger(url, db.parent, log_key, fmt)


def download(
    db: Path, ecosystems: list[str], *, kev: bool = True, epss: bool = True, quiet: bool = False
) -> None:
    """Fetch the OSV dumps (default: the ecosystems already imported, else the common ones) and the
    KEV/EPSS feeds into `db`, with conditional requests."""
    import httpx

    from clearance.scanners.vulns.advisories import DEFAULT_ECOSYSTEMS, AdvisoryStore, update_osv
    from clearance.scanners.vulns.exploit import update_feeds

    if is_offline():
        raise UsageError(
            f"{OFFLINE_ENV} is set: downloading the advisory database needs the network",
            hint="import dumps fetched elsewhere with `clearance db import` (and import-kev, import-epss)",
        )
    chosen = list(ecosystems)
    if not chosen and db.is_file():
        try:
            with AdvisoryStore.open(db) as store:
                chosen = [s.ecosystem for s in store.ecosystems()]
        except Exception:
            chosen = []
    chosen = chosen or list(DEFAULT_ECOSYSTEMS)
    now = system_clock()
    with (
        _progress(quiet) as progress,
        httpx.Client(timeout=httpx.Timeout(60.0, connect=15.0), follow_redirects=True) as client,
    ):
        for outcome in update_osv(db, chosen, client=client, now=now, progress=progress):
            count = "" if outcome.records is None else f" ({outcome.records} advisories)"
            stderr.print(f"{outcome.ecosystem}: {outcome.outcome}{count}")
        feeds = [f for f, on in (("kev", kev), ("epss", epss)) if on]
        for feed in update_feeds(db, feeds, client=client, now=now, progress=progress):
            count = "" if feed.records is None else f" ({feed.records} entries)"
            stderr.print(f"{feed.feed.upper()}: {feed.outcome}{count}")
    stderr.print(f"database: {db}")


def stale_reason(db: Path, max_age_days: int, now: dt.datetime) -> str | None:
    """Why the database at `db` needs a download (missing, empty, an import older than
    `max_age_days`), or None when it is fresh."""
    from clearance.scanners.vulns.advisories import status as db_status

    if not db.is_file():
        return f"no advisory database at {db}"
    try:
        ecosystems, _ = db_status(db)
    except ClearanceError as e:
        return f"the advisory database at {db} is unusable ({e.message})"
    if not ecosystems:
        return f"the advisory database at {db} holds no advisories"
    oldest = min(dt.datetime.fromisoformat(s.imported_at.replace("Z", "+00:00")) for s in ecosystems)
    if oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=dt.UTC)
    age = now - oldest
    if age > dt.timedelta(days=max_age_days):
        ago = f"{age.days} days" if age.days >= 2 else f"{age.total_seconds() / 3600:.0f} hours"
        return f"the advisory database was imported {ago} ago (limit: {max_age_days} days)"
    return None


def refresh_if_stale(configured: str | None, root: Path, max_age_days: int, *, quiet: bool) -> None:
    """`gate --update-db`: download the advisory database (where the deps scanner will read it:
    `$CLEARANCE_DB_DIR`, else `[deps] db_dir` under `root`, else the user data dir) when it is
    missing or older than `max_age_days`."""
    from clearance.scanners.vulns.advisories import database_dir, database_path

    db = database_path(database_dir(configured, root))
    reason = stale_reason(db, max_age_days, system_clock())
    if reason is None:
        if not quiet:
            stderr.print(f"advisory database is fresh (within {max_age_days} days): {db}", soft_wrap=True)
        return
    stderr.print(f"updating the advisory database: {reason}", soft_wrap=True)
    download(db, [], quiet=quiet)


@db_app.command("status")
def status(
    fmt: str = typer.Option("console", "--format", "-f", help="console or json."),
    db_dir: Path | None = DB_DIR_OPT,
    config: Path | None = CONFIG_OPT,
) -> None:
    """Show per ecosystem: record count, newest `modified`, imported at, source; and the KEV/EPSS feeds."""
    from clearance.scanners.vulns.advisories import status as db_status

    with errors_to_exit():
        if fmt not in ("console", "json"):
            raise UsageError(f"unknown format {fmt!r} for db status", hint="use console or json")
        db = _db_path(db_dir, config)
        ecosystems, feeds = db_status(db)
        if fmt == "json":
            typer.echo(
                json.dumps(
                    {
                        "path": str(db),
                        "ecosystems": [
                            {
                                "ecosystem": s.ecosystem,
                                "records": s.records,
                                "newest_modified": s.newest_modified,
                                "imported_at": s.imported_at,
                                "source": s.source,
                            }
                            for s in ecosystems
                        ],
                        "feeds": [
                            {
                                "feed": f.feed,
                                "records": f.records,
                                "newest": f.newest,
                                "imported_at": f.imported_at,
                                "source": f.source,
                            }
                            for f in feeds
                        ],
                    },
                    indent=2,
                )
            )
            return
        from rich.table import Table

        table = Table(title=f"advisory database {db}")
        for col in ("ecosystem", "records", "newest modified", "imported at", "source"):
            table.add_column(col, overflow="fold")
        for s in ecosystems:
            table.add_row(s.ecosystem, str(s.records), s.newest_modified or "-", s.imported_at, s.source)
        for f in feeds:
            table.add_row(f.feed.upper(), str(f.records), f.newest or "-", f.imported_at, f.source)
        Console().print(table)


@db_app.command("import-kev")
def import_kev(
    file: Path = typer.Argument(
        ..., help="The CISA KEV catalog JSON (known_exploited_vulnerabilities.json)."
    ),
    db_dir: Path | None = DB_DIR_OPT,
    config: Path | None = CONFIG_OPT,
) -> None:
    """Import the CISA Known Exploited Vulnerabilities catalog from a file."""
    from clearance.scanners.vulns.exploit import import_kev as do_import

    with errors_to_exit():
        db = _db_path(db_dir, config)
        report = do_import(db, file, now=system_clock())
        stderr.print(f"KEV: {report.records} entries (newest added {report.newest or '-'}) into {db}")


@db_app.command("import-epss")
def import_epss(
    file: Path = typer.Argument(..., help="The FIRST EPSS daily CSV (.csv or .csv.gz)."),
    db_dir: Path | None = DB_DIR_OPT,
    config: Path | None = CONFIG_OPT,
) -> None:
    """Import FIRST EPSS scores from a file."""
    from clearance.scanners.vulns.exploit import import_epss as do_import

    with errors_to_exit():
        db = _db_path(db_dir, config)
        report = do_import(db, file, now=system_clock())
        stderr.print(f"EPSS: {report.records} scores (score date {report.newest or '-'}) into {db}")


@contextmanager
def _progress(quiet: bool) -> Iterator[ByteProgress | None]:
    """A Rich download bar on stderr (TTY only), exposed as a `ByteProgress` callback."""
    if not wants_progress(quiet):
        yield None
        return
    bar = Progress(
        TextColumn("{task.description:<10}"),
        BarColumn(),
        DownloadColumn(),
        TimeElapsedColumn(),
        console=stderr,
        transient=True,
    )
    tasks: dict[str, TaskID] = {}

    def advance(label: str, nbytes: int, total: int | None) -> None:
        task = tasks.get(label)
        if task is None:
            task = tasks[label] = bar.add_task(label, total=total)
        bar.update(task, advance=nbytes)

    with bar:
        yield advance
