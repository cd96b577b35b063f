"""`affected` benchmark on a generated portfolio, with real advisories.

Advisories: the shared OSV snapshots (/work/shared/data/osv: PyPI and crates.io first, Go later).
Portfolio: T teams, S services, R releases per service, C components per release sampled from a
pool of P component versions — real package names that have advisories (one affected version
each, plus a fixed one) and filler packages without any. Steps, each timed:

1. generate and load the portfolio (bulk: executemany on SQLite, COPY on PostgreSQL);
2. initial full match (`rematch`: every stored component against the advisory store, matches
   stored, findings recorded for every affected service);
3. `affected` by advisory id / alias (CVE) and by purl: Q queries each, p50/p95 in ms;
4. import a new advisory set (Go) and re-match every stored release (the zero-day case).

    python bench/ledger/affected.py --db sqlite --services 10000   # 50k releases, 2M rows
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import random
import sqlite3
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, text
from sqlalchemy.schema import CreateIndex

from clearance.ledger import db
from clearance.ledger.affected import affected_query, rematch
from clearance.ledger.matching import AdvisoryMatcher
from clearance.ledger.service import Ledger
from clearance.ledger.tables import ReleaseComponent
from clearance.scanners.vulns.advisories import OsvSource, database_path, import_osv

OSV = Path("/work/shared/data/osv")
NOW = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
PURL_TYPE = {"PyPI": "pypi", "crates.io": "cargo", "Go": "golang"}


def advisory_store(directory: Path, ecosystems: list[str]) -> None:
    import_osv(
        database_path(directory), [OsvSource(OSV / f"{e}.zip", ecosystem=e) for e in ecosystems], now=NOW
    )


def vulnerable_versions(
    store_dir: Path, ecosystems: list[str], limit: int, rng: random.Random, hot: int = 0
) -> list[tuple[str, str, str]]:
    """(ecosystem, name, version) with one enumerated affected version per package. The first
    `hot` entries are packages with one or two advisories and an enumerated version (the popular
    components: a library with hundreds of advisories at version 0.0.1 would make every release
    that ships it carry hundreds of findings, which is not what a portfolio looks like)."""
    con = sqlite3.connect(database_path(store_dir))
    out = []
    advisories: dict[tuple[str, str], int] = {}
    marks = ",".join("?" * len(ecosystems))
    for eco, name, versions in con.execute(
        f"SELECT ecosystem, name, versions FROM affected WHERE ecosystem IN ({marks})", ecosystems
    ):
        vs = [v for v in (versions or "").split("\n") if v]
        advisories[(eco, name)] = advisories.get((eco, name), 0) + 1
        # enumerated affected versions when the record lists them; else an early version that
        # ranges starting at 0 (most Go and crates.io records) include
        out.append((eco, name, rng.choice(vs) if vs else "0.0.1"))
    con.close()
    rng.shuffle(out)
    seen, unique = set(), []
    for eco, name, v in out:
        if (eco, name) not in seen:
            seen.add((eco, name))
            unique.append((eco, name, v))
    popular = [u for u in unique if advisories[(u[0], u[1])] <= 2 and u[2] != "0.0.1"][:hot]
    rest = [u for u in unique if u not in popular]
    return (popular + rest)[:limit]


def purl(eco: str, name: str, version: str) -> str:
    from packageurl import PackageURL

    if eco == "Go" and "/" in name:
        ns, _, n = name.rpartition("/")
        return PackageURL(type="golang", namespace=ns, name=n, version=version).to_string()
    return PackageURL(type=PURL_TYPE[eco], name=name, version=version).to_string()


def load(
    url: str,
    schema: str | None,
    args: argparse.Namespace,
    pool: list[tuple[str, str, str, str]],
    rng: random.Random,
) -> None:
    """Bulk-load teams, services, releases, components and release_components."""
    engine = db.create_engine(url, schema=schema)
    db.migrate(engine)
    now = (
        NOW.isoformat()
        if engine.dialect.name == "postgresql"
        else NOW.replace(tzinfo=None).isoformat(sep=" ")
    )
    teams = [(i + 1, f"team-{i}", "{}", now) for i in range(args.teams)]
    services = [
        (i + 1, f"svc-{i:05d}", (i % args.teams) + 1, "default", "internet", "internal", "[]", "bench", now)
        for i in range(args.services)
    ]
    releases = []
    rid = 0
    for s in range(args.services):
        for r in range(args.releases):
            rid += 1
            releases.append((rid, s + 1, f"1.{r}.0", f"{rid:040x}", now))
    components = [(i + 1, p, e, n, v) for i, (p, e, n, v) in enumerate(pool)]
    # A few vulnerable components are everywhere (a popular library at an affected version): each
    # release ships `--hot-per-release` of the first `--hot` pool entries (so each of them is in
    # releases * hot_per_release / hot releases), the rest uniformly from the whole pool.
    links = []
    hot = range(1, args.hot + 1)
    for r in range(1, rid + 1):
        chosen = set(rng.sample(hot, args.hot_per_release)) if args.hot else set()
        while len(chosen) < args.components:
            chosen.add(rng.randrange(args.hot + 1, len(pool) + 1))
        links.extend((r, releases[r - 1][1], cid, "runtime") for cid in sorted(chosen))
    tables = [
        ("teams", "id, name, contacts, created_at", teams),
        (
            "services",
            "id, name, team_id, tier, exposure, data_class, environments, source, created_at",
            services,
        ),
        ("releases", 'id, service_id, version, "commit", created_at', releases),
        ("components", "id, purl, ecosystem, name, version", components),
        ("release_components", "release_id, service_id, component_id, scope", links),
    ]
    # Secondary indexes of the big link table are dropped during the load and rebuilt after it
    # (one sort instead of 2M random index inserts); foreign keys are not checked row by row.
    link_indexes = list(ReleaseComponent.__table__.indexes)  # type: ignore[attr-defined]
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        if engine.dialect.name == "sqlite":
            cur.execute("PRAGMA foreign_keys=OFF")
        else:  # the ids are generated consistent; skip the per-row foreign-key triggers
            cur.execute("SET session_replication_role = replica")
        for ix in link_indexes:
            cur.execute(f"DROP INDEX {ix.name}")
        for table, cols, rows in tables:
            if engine.dialect.name == "postgresql":
                with cur.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:  # type: ignore[attr-defined]
                    for row in rows:
                        copy.write_row(row)
            else:
                marks = ",".join("?" * len(cols.split(",")))
                cur.executemany(f"INSERT INTO {table} ({cols}) VALUES ({marks})", rows)
        for ix in link_indexes:
            cur.execute(str(CreateIndex(ix).compile(dialect=engine.dialect)))
        if engine.dialect.name == "postgresql":
            for t in ("teams", "services", "releases", "components"):
                cur.execute(f"SELECT setval(pg_get_serial_sequence('{t}', 'id'), (SELECT max(id) FROM {t}))")
            cur.execute("ANALYZE")
        else:
            cur.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()
    engine.dispose()


class StatementLog:
    """Captures the SQL statements (with parameters) an `affected` call sends, so that on
    PostgreSQL each can be re-run under EXPLAIN ANALYZE: the server's own execution time, much less
    sensitive to a loaded machine than the client's wall clock."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.on = False
        self.statements: list[tuple[str, Any]] = []
        event.listen(engine, "before_cursor_execute", self._before)

    def _before(
        self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> None:
        if self.on and not many:
            self.statements.append((statement, parameters))

    def server_ms(self) -> float:
        """Planning + execution time the server reports for the captured statements (the statement
        run again under EXPLAIN ANALYZE without per-node timing)."""
        total = 0.0
        raw = self.engine.raw_connection()
        try:
            cur = raw.cursor()
            for statement, params in self.statements:
                # TIMING OFF: per-node clocks cost more than the work itself on nodes of thousands
                # of rows (an aggregate of 5,000 links: 4.5 ms timed per node, 1.3 ms not)
                cur.execute("EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) " + statement, params)
                plan = cur.fetchone()[0][0]
                total += plan["Planning Time"] + plan["Execution Time"]
            raw.rollback()
        finally:
            raw.close()
        return total


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return round(values[max(0, int(len(values) * p + 0.999999) - 1)], 1)


_FULL_COLLECTIONS = [0]


def _count_full_collections(phase: str, info: dict[str, Any]) -> None:
    if phase == "start" and info["generation"] == 2:
        _FULL_COLLECTIONS[0] += 1


def timed_queries(ledger: Ledger, log: StatementLog | None, queries: list[dict[str, str]]) -> dict[str, Any]:
    times, cpu, server = [], [], []
    rows = total = biggest = 0
    full_before = _FULL_COLLECTIONS[0]
    for q in queries:
        if log is not None:
            log.statements.clear()
            log.on = True
        t, c = time.perf_counter(), time.process_time()
        with ledger.read() as store:
            answer = affected_query(store, **q)
        times.append((time.perf_counter() - t) * 1000)
        cpu.append((time.process_time() - c) * 1000)
        rows += len(answer["results"])
        total += answer["count"]
        biggest = max(biggest, answer["count"])
        if log is not None:
            log.on = False
            server.append(log.server_ms())
    out = {
        "queries": len(times),
        "p50_ms": round(statistics.median(times), 1),
        "p95_ms": pct(times, 0.95),
        "max_ms": round(max(times), 1),
        "client_cpu_p50_ms": round(statistics.median(cpu), 1),
        "client_cpu_p95_ms": pct(cpu, 0.95),
        "rows_returned": rows,
        "rows_total": total,
        "max_rows_total": biggest,
        "gc_full_collections": _FULL_COLLECTIONS[0] - full_before,
    }
    if server:
        out["server_p50_ms"] = round(statistics.median(server), 1)
        out["server_p95_ms"] = pct(server, 0.95)
        out["server_max_ms"] = round(max(server), 1)
        # per answer, the client's CPU plus the server's own time: what the answer costs without
        # waiting for a CPU (an estimate of the wall time on an idle machine, round trips aside)
        work = [c + s for c, s in zip(cpu, server, strict=True)]
        out["work_p50_ms"] = round(statistics.median(work), 1)
        out["work_p95_ms"] = pct(work, 0.95)
    return out


def _timed_rematch(ledger: Ledger, adv: Path, label: str, matches_key: str, rows_key: str) -> dict[str, Any]:
    """Re-match every stored component against the advisory store at `adv`, timed (wall and CPU)."""
    matcher = AdvisoryMatcher.open(adv)
    try:
        t, c = time.perf_counter(), time.process_time()
        with ledger.write() as store:
            result = rematch(store, matcher, "bench")
        wall, cpu = time.perf_counter() - t, time.process_time() - c
    finally:
        matcher.close()
    return {
        f"{label}_s": round(wall, 1),
        f"{label}_cpu_s": round(cpu, 1),
        label: {
            "components": result.components,
            matches_key: result.new_matches,
            rows_key: len(result.newly_affected),
            "findings_recorded": result.findings_recorded,
            "load_average": os.getloadavg(),
        },
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default="sqlite")
    ap.add_argument("--teams", type=int, default=100)
    ap.add_argument("--services", type=int, default=10_000)
    ap.add_argument("--releases", type=int, default=5)
    ap.add_argument("--components", type=int, default=40)
    ap.add_argument("--pool", type=int, default=50_000)
    ap.add_argument(
        "--vulnerable", type=int, default=1000, help="packages with a known-affected version in the pool"
    )
    ap.add_argument("--queries", type=int, default=50)
    ap.add_argument("--hot", type=int, default=10, help="popular vulnerable components")
    ap.add_argument("--hot-per-release", type=int, default=1, help="popular components per release")
    ap.add_argument(
        "--gc",
        choices=("frozen", "default"),
        default="frozen",
        help="frozen: after set-up, keep the process's start-up objects out of the garbage collector's "
        "full passes (gc.freeze), as `clearance ledger serve` does once the app is up; default: leave "
        "the collector as it is",
    )
    ap.add_argument(
        "--keep",
        help="keep the generated ledger (SQLite: this file; PostgreSQL: this schema) and, when it is "
        "already there, reuse it: only the queries are timed",
    )
    args = ap.parse_args()
    rng = random.Random(42)
    out: dict[str, object] = {
        "db": args.db if args.db == "sqlite" else db.redact(args.db),
        "services": args.services,
        "releases": args.services * args.releases,
        "release_components": args.services * args.releases * args.components,
        "pool": args.pool,
        "load_average_at_start": os.getloadavg(),
    }
    with tempfile.TemporaryDirectory() as work:
        w = Path(work)
        schema = None
        if args.db == "sqlite":
            url = f"sqlite:///{Path(args.keep).resolve() if args.keep else w / 'ledger.db'}"
        else:
            url = args.db
            schema = args.keep or f"bench_{uuid.uuid4().hex[:8]}"
            admin = db.create_engine(url)
            with admin.begin() as c:
                c.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        reuse = False
        if args.keep:
            probe = db.create_engine(url, schema=schema)
            with probe.connect() as c:
                reuse = bool(
                    c.execute(
                        text(
                            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'services'"
                            + (" AND table_schema = :s" if schema else "")
                        ),
                        {"s": schema} if schema else {},
                    ).scalar()
                    if schema
                    else c.execute(
                        text("SELECT count(*) FROM sqlite_master WHERE name = 'services'")
                    ).scalar()
                )
                if reuse:
                    reuse = (c.execute(text("SELECT count(*) FROM services")).scalar() or 0) > 0
            probe.dispose()
        out["reused"] = reuse
        try:
            if not reuse:
                generate_and_match(w, url, schema, args, rng, out)
            engine = db.create_engine(url, schema=schema)
            ledger = Ledger(engine, clock=lambda: NOW)
            with ledger.read() as store:
                counts = {
                    t: store.session.execute(text(f"SELECT count(*) FROM {t}")).scalar()
                    for t in (
                        "services",
                        "releases",
                        "release_components",
                        "components",
                        "advisory_matches",
                        "findings",
                    )
                }
                out["rows"] = counts
                ids = [
                    r[0]
                    for r in store.session.execute(
                        text("SELECT DISTINCT advisory_id FROM advisory_matches ORDER BY advisory_id")
                    ).all()
                ]
                aliases = [
                    r[0]
                    for r in store.session.execute(
                        text(
                            "SELECT DISTINCT a.alias FROM advisory_aliases a JOIN advisory_matches m "
                            "ON m.advisory_id = a.advisory_id WHERE a.alias LIKE 'CVE-%' ORDER BY a.alias"
                        )
                    ).all()
                ]
                purls = [
                    r[0]
                    for r in store.session.execute(
                        text(
                            "SELECT DISTINCT c.purl FROM components c JOIN advisory_matches m "
                            "ON m.component_id = c.id ORDER BY c.purl"
                        )
                    ).all()
                ]
                packages = sorted({p.split("@", 1)[0] for p in purls})
                hot_purls = [
                    r[0]
                    for r in store.session.execute(
                        text(
                            "SELECT DISTINCT c.purl FROM components c JOIN advisory_matches m "
                            "ON m.component_id = c.id WHERE c.id <= :hot ORDER BY c.purl"
                        ),
                        {"hot": args.hot},
                    ).all()
                ]
                hot_ids = [
                    r[0]
                    for r in store.session.execute(
                        text(
                            "SELECT DISTINCT m.advisory_id FROM advisory_matches m "
                            "WHERE m.component_id <= :hot ORDER BY m.advisory_id"
                        ),
                        {"hot": args.hot},
                    ).all()
                ]
            log = StatementLog(engine) if engine.dialect.name == "postgresql" else None
            gc.callbacks.append(_count_full_collections)
            out["gc"] = args.gc
            if args.gc == "frozen":
                gc.collect()
                gc.freeze()
            qrng = random.Random(7)
            for label, queries in (
                (
                    "affected_by_advisory_id",
                    [{"advisory": a} for a in qrng.sample(ids, min(args.queries, len(ids)))],
                ),
                (
                    "affected_by_cve_alias",
                    [{"advisory": a} for a in qrng.sample(aliases, min(args.queries, len(aliases)))],
                ),
                (
                    "affected_by_purl",
                    [{"purl": p} for p in qrng.sample(purls, min(args.queries, len(purls)))],
                ),
                (
                    "affected_by_package",
                    [{"purl": p} for p in qrng.sample(packages, min(args.queries, len(packages)))],
                ),
                (
                    "affected_by_advisory_id_popular",
                    [{"advisory": a} for a in qrng.sample(hot_ids, min(args.queries, len(hot_ids)))],
                ),
                (
                    "affected_by_purl_popular",
                    [{"purl": p} for p in qrng.sample(hot_purls, min(args.queries, len(hot_purls)))],
                ),
            ):
                timed_queries(ledger, None, queries[:5])  # warm the caches
                out[label] = timed_queries(ledger, log, queries)
                out[label]["load_average"] = os.getloadavg()
            engine.dispose()
        finally:
            if schema and not args.keep:
                with admin.begin() as c:
                    c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            if schema:
                admin.dispose()
    out["load_average_at_end"] = os.getloadavg()
    print(json.dumps(out, indent=1))


def generate_and_match(
    w: Path, url: str, schema: str | None, args: argparse.Namespace, rng: random.Random, out: dict[str, Any]
) -> None:
    """Generate and load the portfolio, match it, then import Go advisories and re-match."""
    t = time.perf_counter()
    advisory_store(w / "adv", ["PyPI", "crates.io"])
    out["advisory_import_s"] = round(time.perf_counter() - t, 2)
    vuln = vulnerable_versions(w / "adv", ["PyPI", "crates.io"], args.vulnerable, rng, hot=args.hot)
    # Go packages are in the portfolio from the start; their advisories arrive later.
    go_store = w / "go"
    advisory_store(go_store, ["Go"])
    go = vulnerable_versions(go_store, ["Go"], args.vulnerable // 4, rng)
    from clearance.ledger.matching import component_key

    pool = []
    for eco, name, version in vuln + go:
        p = purl(eco, name, version)
        k = component_key(p)
        if k is not None:
            pool.append((k.purl, k.ecosystem, k.name, k.version))
    pool = list({p[0]: p for p in pool}.values())
    i = 0
    while len(pool) < args.pool:
        pool.append((f"pkg:pypi/filler-{i}@1.{i % 7}.0", "PyPI", f"filler-{i}", f"1.{i % 7}.0"))
        i += 1
    t, c = time.perf_counter(), time.process_time()
    load(url, schema, args, pool, rng)
    out["load_s"] = round(time.perf_counter() - t, 1)
    out["load_cpu_s"] = round(time.process_time() - c, 1)
    out["load_average_after_load"] = os.getloadavg()
    engine = db.create_engine(url, schema=schema)
    ledger = Ledger(engine, clock=lambda: NOW)
    out.update(_timed_rematch(ledger, w / "adv", "initial_match", "matches", "affected_release_rows"))
    # a new advisory set arrives: Go
    t = time.perf_counter()
    import_osv(database_path(w / "adv"), [OsvSource(OSV / "Go.zip", ecosystem="Go")], now=NOW)
    out["go_import_s"] = round(time.perf_counter() - t, 1)
    out.update(
        _timed_rematch(
            ledger, w / "adv", "rematch_after_new_advisories", "new_matches", "newly_affected_release_rows"
        )
    )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c2:
        # PostgreSQL: VACUUM sets the visibility map, so index-only scans skip the heap
        c2.execute(text("VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE"))
    engine.dispose()


if __name__ == "__main__":
    main()
