"""Dashboard and metrics server time on a big ledger (benchmark, not a test).

Generates a portfolio (default: 10,000 services in 100 teams, 3 releases each, staging + prod
deployments with commits, incidents, 100,000 findings, exceptions, gate runs, deploy decisions)
with batched inserts, then measures each dashboard page and the metrics endpoints in process
(FastAPI TestClient: server time, no network), median of --repeat requests.

    python bench/dashboard/bench_pages.py --db sqlite:///$PWD/bench/.work/dash.db --services 10000
    python bench/dashboard/bench_pages.py --db postgresql+psycopg://postgres@127.0.0.1:5432/test --schema bench_dash
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import insert, inspect, text

from clearance.ledger import db, metrics, snapshots
from clearance.ledger.service import Ledger, create_token
from clearance.ledger.store import DEFAULT_SLA_DAYS, Store, chunks
from clearance.ledger.tables import (
    Change,
    CurrentDeployment,
    Deployment,
    DeploymentChange,
    Environment,
    Finding,
    GateDecision,
    GateRun,
    Incident,
    Release,
    Service,
    Team,
    Waiver,
    refresh_lead_times,
)

NOW = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
SEVERITIES = ("critical", "high", "medium", "low")


def generate(engine: Any, services: int, findings_per_service: int, seed: int = 7) -> dict[str, int]:
    rng = random.Random(seed)
    counts: dict[str, int] = {}
    with engine.begin() as c:

        def put(table: Any, rows: list[dict[str, Any]]) -> None:
            for chunk in chunks(rows, 5000):
                c.execute(insert(table), chunk)
            counts[table.__tablename__] = counts.get(table.__tablename__, 0) + len(rows)

        teams = max(1, services // 100)
        put(
            Team,
            [{"id": t + 1, "name": f"team-{t:03d}", "contacts": {}, "created_at": NOW} for t in range(teams)],
        )
        put(Environment, [{"id": 1, "name": "staging", "rank": 2, "freeze_windows": [], "settings": {}},
                          {"id": 2, "name": "prod", "rank": 3, "freeze_windows": [], "settings": {}}])  # fmt: skip
        put(Service, [{"id": s + 1, "name": f"svc-{s:05d}", "team_id": s % teams + 1, "environments": [], "created_at": NOW}
                      for s in range(services)])  # fmt: skip
        releases, deps, current, changes, links, incidents, runs, decisions = [], [], [], [], [], [], [], []
        rid = did = cid = 0
        for s in range(1, services + 1):
            for v in range(3):
                rid += 1
                created = NOW - dt.timedelta(days=80 - v * 30 + rng.random() * 5)
                digest = "sha256:" + hashlib.sha256(f"{s}-{v}".encode()).hexdigest()
                releases.append(
                    {
                        "id": rid,
                        "service_id": s,
                        "version": f"1.{v}.0",
                        "artifact_digest": digest,
                        "created_at": created,
                    }
                )
                runs.append({"service_id": s, "release_id": rid, "report_sha256": f"{rid:064x}", "mode": "full",
                             "outcome": rng.choice(("pass", "pass", "warn", "block")), "decided_at": created,
                             "received_at": created, "verified": rng.random() < 0.7, "scanners": [], "counts": {}})  # fmt: skip
                for env in (1, 2):
                    did += 1
                    started = created + dt.timedelta(hours=env * 3)
                    status = "rolled_back" if env == 2 and rng.random() < 0.1 else "succeeded"
                    deps.append({"id": did, "release_id": rid, "environment_id": env, "status": status,
                                 "started_at": started, "finished_at": started + dt.timedelta(minutes=8)})  # fmt: skip
                    decisions.append({"service_id": s, "release_id": rid, "environment_id": env, "environment_name": "prod" if env == 2 else "staging",
                                      "artifact_digest": digest, "answer": "allow", "reasons": [], "checks": [], "decided_at": started})  # fmt: skip
                    if env == 2:
                        cid += 1
                        changes.append(
                            {
                                "id": cid,
                                "service_id": s,
                                "commit": f"{cid:040x}",
                                "committed_at": created - dt.timedelta(hours=rng.randint(2, 90)),
                            }
                        )
                        links.append({"deployment_id": did, "change_id": cid})
                        if rng.random() < 0.07:
                            opened = started + dt.timedelta(hours=rng.randint(1, 48))
                            incidents.append({"service_id": s, "environment_id": 2, "release_id": rid, "deployment_id": did, "source": "bench",
                                              "external_id": f"i{did}", "opened_at": opened, "resolved_at": opened + dt.timedelta(minutes=rng.randint(10, 900))})  # fmt: skip
                    if v == 2:
                        current.append(
                            {
                                "service_id": s,
                                "environment_id": env,
                                "release_id": rid,
                                "deployment_id": did,
                                "since": started,
                            }
                        )
        put(Release, releases)
        put(GateRun, runs)
        put(Deployment, deps)
        put(CurrentDeployment, current)
        put(Change, changes)
        put(DeploymentChange, links)
        # the lead-time rollup, by the function every ORM write path runs (bulk inserts skip it)
        refresh_lead_times(c)
        put(Incident, incidents)
        put(GateDecision, decisions)
        findings, waivers = [], []
        for s in range(1, services + 1):
            for k in range(findings_per_service):
                first = NOW - dt.timedelta(days=rng.randint(0, 200))
                sev = rng.choice(SEVERITIES)
                fixed = first + dt.timedelta(days=rng.randint(1, 60)) if rng.random() < 0.4 else None
                findings.append({"service_id": s, "fingerprint": f"{s}-{k}", "scanner": "deps", "kind": "vulnerability",
                                 "rule_id": f"vuln.GHSA-{k:04d}", "title": "", "severity": sev, "status": "fixed" if fixed and fixed < NOW else "open",
                                 "first_seen": first, "last_seen": NOW, "fixed_at": fixed if fixed and fixed < NOW else None,
                                 "due_at": first + dt.timedelta(days=DEFAULT_SLA_DAYS[sev]),
                                 "reopen_count": 1 if rng.random() < 0.02 else 0, "owner_team_id": (s - 1) % teams + 1, "evidence": ""})  # fmt: skip
            if rng.random() < 0.3:
                waivers.append({"service_id": s, "external_id": f"w{s}", "match": {}, "expires_at": NOW + dt.timedelta(days=rng.randint(-20, 90)),
                                "status": "active", "last_seen_at": NOW, "owner": "", "reason": ""})  # fmt: skip
        put(Finding, findings)
        put(Waiver, waivers)
    return counts


def _load() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


def _timed(fn: Callable[[], Any]) -> tuple[float, float]:
    t0, c0 = time.perf_counter(), time.process_time()
    fn()
    return (time.perf_counter() - t0) * 1000, (time.process_time() - c0) * 1000


TARGETS = (
    "/ui/",
    "/ui/teams/team-007",
    "/ui/services/svc-04242",
    "/ui/affected?q=CVE-2024-56326",
    "/ui/deploys",
    "/ui/audit",
    "/api/v1/metrics/dora?window=90d",
    "/api/v1/metrics/security?window=90d",
    "/api/v1/metrics/dora?team=team-007&window=90d",
)


def measure(url: str, repeat: int) -> list[tuple[str, float, float, float, float, str]]:
    """Per page: median wall and CPU ms of a **cold** request (right after a ledger write, so the
    metrics cache is invalid) and of a **warm** one (nothing written since the previous)."""
    from fastapi.testclient import TestClient

    from clearance.server.app import create_app
    from clearance.server.settings import ServerSettings

    engine = db.create_engine(url)
    app = create_app(
        ServerSettings(db_url=url, log_key_path=Path("bench/.work/dash-log.key"), migrate=False),
        clock=lambda: NOW,
        engine=engine,
    )
    ledger: Ledger = app.state.ledger
    with ledger.write() as store:
        secret, _ = create_token(store, team=None, scopes=["admin"], name="bench", expires_in_days=30)
    out = []
    with TestClient(app) as client:
        nonce = client.get("/ui/login").cookies.get("clearance_login_csrf")
        r = client.post("/ui/login", data={"token": secret, "csrf": nonce}, follow_redirects=False)
        assert r.status_code == 303, r.text
        auth = {"Authorization": f"Bearer {secret}"}
        for path in TARGETS:
            headers = auth if path.startswith("/api/") else {}

            def get(path: str = path, headers: dict[str, str] = headers) -> None:
                r = client.get(path, headers=headers)
                assert r.status_code == 200, (path, r.status_code, r.text[:200])

            cold, warm = [], []
            for _ in range(repeat):
                with ledger.write():  # an empty write transaction: bumps the generation
                    pass
                cold.append(_timed(get))
                warm.append(_timed(get))
            out.append(
                (
                    path,
                    statistics.median(w for w, _ in cold),
                    statistics.median(c for _, c in cold),
                    statistics.median(w for w, _ in warm),
                    statistics.median(c for _, c in warm),
                    _load(),
                )
            )
    engine.dispose()
    return out


def _overview(store: Store) -> Any:
    """What the cold org overview computes: DORA, security and overdue-by-team through an empty
    metrics cache (the findings pass, where shared, runs once)."""
    cache = snapshots.MetricsCache()
    scope = metrics.Scope()
    return (
        cache.dora(store, scope, 90),
        cache.security(store, scope, 90),
        cache.overdue_by_team(store, None, 90),
    )


def explain(url: str) -> list[tuple[str, float, float, float]]:
    """What the cold org overview and team page compute, part by part, through the library:
    wall and CPU ms in this process and, on PostgreSQL, the server's execution time (the sum of
    EXPLAIN ANALYZE over the part's statements, run again afterwards)."""
    from sqlalchemy import event

    engine = db.create_engine(url)
    ledger = Ledger(engine, clock=lambda: NOW)
    statements: list[tuple[str, Any]] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _capture(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        statements.append((statement, params))

    parts: list[tuple[str, Callable[[Store], Any]]] = [
        ("dora_metrics(org)", lambda s: metrics.dora_metrics(s.session, metrics.Scope(), s.now)),
        ("security_metrics(org)", lambda s: metrics.security_metrics(s.session, metrics.Scope(), s.now)),
        ("overdue_by_team(org)", lambda s: s.overdue_by_team(None)),
        ("org overview (as the page)", _overview),
        ("repeat_offenders(team-007)", lambda s: s.repeat_offenders((8,))),
        ("repeat_offenders(org)", lambda s: s.repeat_offenders(None)),
        ("dora_metrics(team-007)", lambda s: metrics.dora_metrics(s.session, metrics.Scope(team="team-007"), s.now)),
    ]  # fmt: skip
    out = []
    for name, fn in parts:
        with ledger.read() as store:
            statements.clear()
            wall, cpu = _timed(lambda fn=fn, store=store: fn(store))
            captured = list(statements)
        server = float("nan")
        if engine.dialect.name == "postgresql":
            event.remove(engine, "before_cursor_execute", _capture)
            server = 0.0
            with engine.connect() as c:
                for statement, params in captured:
                    plan = c.exec_driver_sql("EXPLAIN (ANALYZE, FORMAT JSON) " + statement, params).scalar()
                    server += float(plan[0]["Execution Time"])
            event.listen(engine, "before_cursor_execute", _capture)
        out.append((name, wall, cpu, server))
    engine.dispose()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--db", default="sqlite:///bench/.work/dash.db")
    ap.add_argument("--schema", help="PostgreSQL schema to (re)create for the run")
    ap.add_argument("--services", type=int, default=10_000)
    ap.add_argument("--findings", type=int, default=10, help="findings per service")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--reuse", action="store_true", help="measure the existing database, do not regenerate")
    args = ap.parse_args()
    url = args.db
    if args.schema:
        sep = "&" if "?" in url else "?"
        schema_url = f"{url}{sep}options=-csearch_path%3D{args.schema}"
    if not args.reuse:
        if url.startswith("sqlite:///"):
            path = Path(url.removeprefix("sqlite:///"))
            path.parent.mkdir(parents=True, exist_ok=True)
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        elif args.schema:
            admin = db.create_engine(url)
            with admin.begin() as c:
                c.execute(text(f'DROP SCHEMA IF EXISTS "{args.schema}" CASCADE'))
                c.execute(text(f'CREATE SCHEMA "{args.schema}"'))
            admin.dispose()
    if args.schema:
        url = schema_url
    engine = db.create_engine(url)
    db.migrate(engine)
    if not args.reuse:
        t0 = time.perf_counter()
        counts = generate(engine, args.services, args.findings)
        print(
            f"generated in {time.perf_counter() - t0:.1f} s: "
            + ", ".join(f"{k} {v}" for k, v in counts.items())
        )
    if engine.dialect.name == "postgresql":
        # what autovacuum does after a bulk load of this size (this test server runs with
        # autovacuum off): statistics — without them the planner guesses, and a guess can cost
        # seconds (repeat offenders: 19 s before the index) — and the visibility map that lets
        # index-only scans skip the table
        # — the bench schema's tables only (search_path), not the whole shared database
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            for table in inspect(c).get_table_names():
                c.execute(text(f'VACUUM ANALYZE "{table}"'))
    engine.dispose()
    Path("bench/.work").mkdir(parents=True, exist_ok=True)
    print(f"load average before: {Path('/proc/loadavg').read_text().strip()}")
    print("cold = first request after a ledger write (metrics cache invalid); warm = the next one")
    print(
        f"{'cold wall':>10} {'cold cpu':>9} {'warm wall':>10} {'warm cpu':>9} {'load1':>6}  page (ms, median of --repeat)"
    )
    for path, cw, cc, ww, wc, load in measure(url, args.repeat):
        print(f"{cw:10.1f} {cc:9.1f} {ww:10.1f} {wc:9.1f} {load:>6}  {path}")
    print(
        f"\n{'wall':>8} {'cpu':>8} {'server':>8}  cold part of a page (ms; server = EXPLAIN ANALYZE, PostgreSQL)"
    )
    for name, wall, cpu, server in explain(url):
        print(f"{wall:8.1f} {cpu:8.1f} {server:8.1f}  {name}")
    print(f"load average after: {Path('/proc/loadavg').read_text().strip()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
