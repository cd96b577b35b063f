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
import json
import random
import sqlite3
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import text

from clearance.ledger import db
from clearance.ledger.affected import affected_query, rematch
from clearance.ledger.matching import AdvisoryMatcher
from clearance.ledger.service import Ledger
from clearance.scanners.vulns.advisories import OsvSource, database_path, import_osv

OSV = Path("/work/shared/data/osv")
NOW = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
PURL_TYPE = {"PyPI": "pypi", "crates.io": "cargo", "Go": "golang"}


def advisory_store(directory: Path, ecosystems: list[str]) -> None:
    import_osv(
        database_path(directory), [OsvSource(OSV / f"{e}.zip", ecosystem=e) for e in ecosystems], now=NOW
    )


def vulnerable_versions(
    store_dir: Path, ecosystems: list[str], limit: int, rng: random.Random
) -> list[tuple[str, str, str]]:
    """(ecosystem, name, version) with one enumerated affected version per package."""
    con = sqlite3.connect(database_path(store_dir))
    out = []
    for eco, name, versions in con.execute(
        "SELECT ecosystem, name, versions FROM affected WHERE ecosystem IN (%s)"
        % ",".join("?" * len(ecosystems)),
        ecosystems,
    ):
        vs = [v for v in (versions or "").split("\n") if v]
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
    return unique[:limit]


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
    links = []
    for r in range(1, rid + 1):
        for cid in rng.sample(range(1, len(pool) + 1), args.components):
            links.append((r, cid, "runtime"))
    tables = [
        ("teams", "id, name, contacts, created_at", teams),
        (
            "services",
            "id, name, team_id, tier, exposure, data_class, environments, source, created_at",
            services,
        ),
        ("releases", 'id, service_id, version, "commit", created_at', releases),
        ("components", "id, purl, ecosystem, name, version", components),
        ("release_components", "release_id, component_id, scope", links),
    ]
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        for table, cols, rows in tables:
            if engine.dialect.name == "postgresql":
                with cur.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:  # type: ignore[attr-defined]
                    for row in rows:
                        copy.write_row(row)
            else:
                marks = ",".join("?" * len(cols.split(",")))
                cur.executemany(f"INSERT INTO {table} ({cols}) VALUES ({marks})", rows)
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


def timed_queries(ledger: Ledger, queries: list[dict[str, str]]) -> dict[str, float]:
    times = []
    cpu = []
    rows = 0
    for q in queries:
        t, c = time.perf_counter(), time.process_time()
        with ledger.read() as store:
            rows += len(affected_query(store, **q)["results"])
        times.append((time.perf_counter() - t) * 1000)
        cpu.append((time.process_time() - c) * 1000)
    cpu.sort()
    times.sort()
    return {
        "queries": len(times),
        "p50_ms": round(statistics.median(times), 1),
        "p95_ms": round(times[int(len(times) * 0.95) - 1], 1),
        "max_ms": round(times[-1], 1),
        "client_cpu_p95_ms": round(cpu[int(len(cpu) * 0.95) - 1], 1),
        "rows_returned": rows,
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
    args = ap.parse_args()
    rng = random.Random(42)
    out: dict[str, object] = {
        "db": args.db if args.db == "sqlite" else db.redact(args.db),
        "services": args.services,
        "releases": args.services * args.releases,
        "release_components": args.services * args.releases * args.components,
        "pool": args.pool,
    }
    with tempfile.TemporaryDirectory() as work:
        w = Path(work)
        t = time.perf_counter()
        advisory_store(w / "adv", ["PyPI", "crates.io"])
        out["advisory_import_s"] = round(time.perf_counter() - t, 2)
        vuln = vulnerable_versions(w / "adv", ["PyPI", "crates.io"], args.vulnerable, rng)
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
        schema = None
        url = f"sqlite:///{w / 'ledger.db'}" if args.db == "sqlite" else args.db
        if args.db != "sqlite":
            schema = f"bench_{uuid.uuid4().hex[:8]}"
            admin = db.create_engine(url)
            with admin.begin() as c:
                c.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            t = time.perf_counter()
            load(url, schema, args, pool, rng)
            out["load_s"] = round(time.perf_counter() - t, 1)
            engine = db.create_engine(url, schema=schema)
            ledger = Ledger(engine, clock=lambda: NOW)
            matcher = AdvisoryMatcher.open(w / "adv")
            t, c = time.perf_counter(), time.process_time()
            with ledger.write() as store:
                first = rematch(store, matcher, "bench")
            out["initial_match_s"] = round(time.perf_counter() - t, 1)
            out["initial_match_cpu_s"] = round(time.process_time() - c, 1)
            out["initial_match"] = {
                "components": first.components,
                "matches": first.new_matches,
                "affected_release_rows": len(first.newly_affected),
                "findings_recorded": first.findings_recorded,
            }
            matcher.close()
            with ledger.read() as store:
                ids = [
                    r[0]
                    for r in store.session.execute(
                        text("SELECT DISTINCT advisory_id FROM advisory_matches ORDER BY advisory_id")
                    ).all()
                ]
                aliases = [
                    r[0]
                    for r in store.session.execute(
                        text("SELECT alias FROM advisory_aliases WHERE alias LIKE 'CVE-%' ORDER BY alias")
                    ).all()
                ]
                purls = [
                    r[0]
                    for r in store.session.execute(
                        text(
                            "SELECT c.purl FROM components c JOIN advisory_matches m ON m.component_id = c.id ORDER BY c.purl"
                        )
                    ).all()
                ]
            qrng = random.Random(7)
            out["affected_by_advisory_id"] = timed_queries(
                ledger, [{"advisory": a} for a in qrng.sample(ids, min(args.queries, len(ids)))]
            )
            out["affected_by_cve_alias"] = timed_queries(
                ledger, [{"advisory": a} for a in qrng.sample(aliases, min(args.queries, len(aliases)))]
            )
            out["affected_by_purl"] = timed_queries(
                ledger, [{"purl": p} for p in qrng.sample(purls, min(args.queries, len(purls)))]
            )
            # a new advisory set arrives: Go
            import shutil

            shutil.copy(database_path(w / "adv"), w / "adv-before")
            t = time.perf_counter()
            import_osv(database_path(w / "adv"), [OsvSource(OSV / "Go.zip", ecosystem="Go")], now=NOW)
            out["go_import_s"] = round(time.perf_counter() - t, 1)
            matcher = AdvisoryMatcher.open(w / "adv")
            t, c = time.perf_counter(), time.process_time()
            with ledger.write() as store:
                second = rematch(store, matcher, "bench")
            out["rematch_after_new_advisories_s"] = round(time.perf_counter() - t, 1)
            out["rematch_after_new_advisories_cpu_s"] = round(time.process_time() - c, 1)
            out["rematch_after_new_advisories"] = {
                "components": second.components,
                "new_matches": second.new_matches,
                "newly_affected_release_rows": len(second.newly_affected),
                "findings_recorded": second.findings_recorded,
            }
            matcher.close()
            engine.dispose()
        finally:
            if schema:
                with admin.begin() as c:
                    c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                admin.dispose()
    out["load_average_at_end"] = __import__("os").getloadavg()
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
