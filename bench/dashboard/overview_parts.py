"""The cold org overview's cost, part by part, robust to a loaded machine (benchmark, not a test).

Computes what `/ui/` computes on its first view after a write — DORA, security metrics and
overdue-by-team through an empty `MetricsCache` (so a part the views share runs once) — on an
existing bench database (made by bench_pages.py), N times. Prints the client CPU and wall time
(min and median of N) and, on PostgreSQL, each part's server time: the sum over the part's
statements of the **minimum** of N `EXPLAIN ANALYZE` execution times (another process's load
inflates single runs up to 2×). Run it with another tree's `src` on PYTHONPATH to compare.

    python bench/dashboard/overview_parts.py sqlite:///bench/.work/dash.db 5
    python bench/dashboard/overview_parts.py 'postgresql+psycopg://postgres@127.0.0.1:5432/test?options=-csearch_path%3Dbench_dash' 5
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from typing import Any

from sqlalchemy import event

from clearance.ledger import db, metrics, snapshots
from clearance.ledger.service import Ledger
from clearance.ledger.store import Store

NOW = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)


def main() -> int:
    url, n = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 5
    engine = db.create_engine(url)
    ledger = Ledger(engine, clock=lambda: NOW)
    captured: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        captured.append((statement, params))

    def overview(store: Store) -> dict[str, list[tuple[str, Any]]]:
        cache = snapshots.MetricsCache()
        parts: dict[str, list[tuple[str, Any]]] = {}
        for name, fn in (
            ("dora", lambda: cache.dora(store, metrics.Scope(), 90)),
            ("security", lambda: cache.security(store, metrics.Scope(), 90)),
            ("overdue", lambda: cache.overdue_by_team(store, None)),
        ):
            captured.clear()
            fn()
            parts[name] = list(captured)
        return parts

    runs: list[tuple[float, float]] = []
    parts: dict[str, list[tuple[str, Any]]] = {}
    for _ in range(n):
        with ledger.read() as store:
            event.listen(engine, "before_cursor_execute", capture)
            c0, w0 = time.process_time(), time.perf_counter()
            parts = overview(store)
            runs.append(((time.process_time() - c0) * 1000, (time.perf_counter() - w0) * 1000))
            event.remove(engine, "before_cursor_execute", capture)
    if engine.dialect.name == "postgresql":
        total = 0.0
        with engine.connect() as c:
            for name, statements in parts.items():
                part = 0.0
                for statement, params in statements:
                    if statement.lstrip().upper().startswith("SELECT"):
                        part += min(
                            float(
                                c.exec_driver_sql(
                                    "EXPLAIN (ANALYZE, FORMAT JSON) " + statement, params
                                ).scalar()[0]["Execution Time"]
                            )
                            for _ in range(n)
                        )
                total += part
                print(f"  {name:9s} server {part:7.1f} ms ({len(statements)} statements)")
        print(f"  overview server {total:7.1f} ms")
    cpu, wall = sorted(r[0] for r in runs), sorted(r[1] for r in runs)
    print(
        f"  client cpu min {cpu[0]:.1f} median {cpu[n // 2]:.1f} ms; wall min {wall[0]:.1f} median {wall[n // 2]:.1f} ms"
    )
    print(f"  load {open('/proc/loadavg').read().strip()}")
    engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
