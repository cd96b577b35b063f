"""Audit-log benchmark: proof latency and `verify-log` on a large log (issue 12 §6 follow-up).

Three phases, each its own process so old and new code can be compared on the same data
(run a phase with an older tree's `src/` on PYTHONPATH to time the old code):

    # 1. build: a log of N entries written by the schema before subtree hashes were stored
    #    (rollup_0005), a signed checkpoint every K entries, then `migrate` to head (the backfill
    #    of audit_nodes, timed)
    python bench/ledger/auditlog.py build --entries 1000000 --checkpoint-every 1000 \
        --db sqlite --keep bench/.work/auditlog/ledger.db
    python bench/ledger/auditlog.py build … --db postgresql+psycopg://postgres@127.0.0.1:5432/test \
        --keep bench_auditlog
    # 2. proofs: inclusion and consistency proofs at random positions of the latest tree
    python bench/ledger/auditlog.py proofs --db … --keep … --count 200
    # 3. verify: `verify_log` over the whole log (wall, CPU, peak RSS of this process)
    python bench/ledger/auditlog.py verify --db … --keep …
    # 4. append: write transactions of one entry each (changes the log: last; old code after new)
    python bench/ledger/auditlog.py append --db … --keep … --count 50
    # drop a kept PostgreSQL schema
    python bench/ledger/auditlog.py drop --db postgresql+psycopg://… --keep bench_auditlog

Entries look like the ledger's own (ingest counts, token and VEX events; RFC 8785 JSON ~200–300
bytes). Output: one JSON line per phase on stdout.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, text

from clearance.ledger import audit, db, service
from clearance.ledger.audit import LogKey
from clearance.ledger.service import Ledger

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
ACTIONS = ("run.ingested", "finding.status", "token.created", "analysis", "deploy.decision")


def _engine(url: str, keep: str) -> Engine:
    if url == "sqlite":
        return db.create_engine(f"sqlite:///{Path(keep).resolve()}")
    return db.create_engine(url, schema=keep)


def _entry(seq: int) -> bytes:
    action = ACTIONS[seq % len(ACTIONS)]
    data: dict[str, Any] = {
        "service": f"svc-{seq * 7919 % 10000:05d}",
        "release": f"1.{seq % 97}.{seq % 13}",
        "counts": {
            "created": seq % 11,
            "updated": seq % 5,
            "fixed": seq % 3,
            "reopened": 0,
            "unchanged": seq % 300,
        },
        "run_id": seq // 3,
    }
    at = (T0 + dt.timedelta(seconds=seq * 7)).isoformat()
    return audit.canonical(
        {"seq": seq, "at": at, "actor": f"token:clr_{seq % 50:04x}", "action": action, "data": data}
    )


def build(url: str, keep: str, n: int, every: int, key_path: Path) -> dict[str, Any]:
    if url == "sqlite":
        Path(keep).parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(keep + suffix).unlink(missing_ok=True)
    else:
        admin = db.create_engine(url)
        with admin.begin() as c:
            c.execute(text(f'DROP SCHEMA IF EXISTS "{keep}" CASCADE'))
            c.execute(text(f'CREATE SCHEMA "{keep}"'))
        admin.dispose()
    engine = _engine(url, keep)
    db.migrate(engine, "rollup_0005")
    key = LogKey.load_or_create(key_path)
    t = time.perf_counter()
    frontier: list[bytes] = []
    size = 0
    chunk = 20_000
    with engine.begin() as c:
        raw = c.connection.dbapi_connection
        assert raw is not None
        for lo in range(0, n, chunk):
            rows = []
            leaves = []
            for seq in range(lo, min(n, lo + chunk)):
                body = _entry(seq)
                leaf = audit.leaf_hash(body)
                leaves.append(leaf)
                at = T0 + dt.timedelta(seconds=seq * 7)
                rows.append((seq, at, "bench", ACTIONS[seq % len(ACTIONS)], body.decode(), leaf.hex()))
            if url == "sqlite":
                cur = raw.cursor()
                cur.executemany(
                    "INSERT INTO audit_entries (seq, at, actor, action, entry, leaf_hash) VALUES (?, ?, ?, ?, ?, ?)",
                    [
                        (s, a.replace(tzinfo=None).isoformat(sep=" "), ac, act, e, h)
                        for s, a, ac, act, e, h in rows
                    ],
                )
            else:
                with (
                    raw.cursor() as cur,
                    cur.copy(  # type: ignore[attr-defined]
                        "COPY audit_entries (seq, at, actor, action, entry, leaf_hash) FROM STDIN"
                    ) as cp,
                ):
                    for r in rows:
                        cp.write_row(r)
            cps = []
            for i, leaf in enumerate(leaves):
                frontier = audit.extend_frontier(size, frontier, [leaf])
                size += 1
                if size % every == 0 or size == n:
                    root = audit.frontier_root(frontier)
                    cps.append(
                        {
                            "size": size,
                            "root": root.hex(),
                            "kid": key.key_id,
                            "sig": key.sign(size, root),
                            "at": T0 + dt.timedelta(seconds=(lo + i) * 7),
                            "fr": json.dumps([h.hex() for h in frontier]),
                        }
                    )
            if cps:
                c.execute(
                    text(
                        "INSERT INTO checkpoints (size, root_hash, key_id, signature, signed_at, frontier)"
                        " VALUES (:size, :root, :kid, :sig, :at, :fr)"
                    ),
                    cps,
                )
    generated = time.perf_counter() - t
    t, cpu = time.perf_counter(), time.process_time()
    db.migrate(engine)  # auditlog_0006: creates audit_nodes and backfills it
    backfill = {"wall_s": time.perf_counter() - t, "cpu_s": time.process_time() - cpu}
    with engine.connect() as c:
        nodes = c.execute(text("SELECT count(*) FROM audit_nodes")).scalar_one()
        if url != "sqlite":
            c.execute(text("ANALYZE"))
            c.commit()
    engine.dispose()
    return {
        "phase": "build",
        "entries": n,
        "checkpoints": -(-n // every),
        "audit_nodes": nodes,
        "generate_s": round(generated, 1),
        "migration_backfill": {k: round(v, 2) for k, v in backfill.items()},
    }


def _pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(p * (len(xs) - 1)))]


def proofs(url: str, keep: str, count: int, key_path: Path) -> dict[str, Any]:
    engine = _engine(url, keep)
    ledger = Ledger(engine, log_key=LogKey.load_or_create(key_path))
    statements = [0]
    event.listen(engine, "before_cursor_execute", lambda *_: statements.__setitem__(0, statements[0] + 1))
    rng = random.Random(12)
    with ledger.read() as store:
        size = store.audit_next_seq()
    out: dict[str, Any] = {"phase": "proofs", "size": size, "count": count, "code": service.__file__}
    for kind in ("inclusion", "consistency"):
        wall, cpu, stmts = [], [], []
        for _ in range(count):
            seq = rng.randrange(size)
            with ledger.read() as store:
                s0, t, c = statements[0], time.perf_counter(), time.process_time()
                if kind == "inclusion":
                    p = service.inclusion(store, seq)
                    ok = audit.verify_inclusion(
                        bytes.fromhex(p["leaf_hash"]),
                        seq,
                        p["tree_size"],
                        [bytes.fromhex(x) for x in p["proof"]],
                        bytes.fromhex(p["checkpoint"]["root"]),
                    )
                else:
                    p = service.consistency(store, seq + 1, size)
                    ok = audit.verify_consistency(
                        seq + 1,
                        size,
                        [bytes.fromhex(x) for x in p["proof"]],
                        bytes.fromhex(p["old_root"]),
                        bytes.fromhex(p["new_root"]),
                    )
                wall.append((time.perf_counter() - t) * 1000)
                cpu.append((time.process_time() - c) * 1000)
                stmts.append(statements[0] - s0)
            assert ok, (kind, seq)
        out[kind] = {
            "wall_ms_p50": round(statistics.median(wall), 2),
            "wall_ms_p95": round(_pct(wall, 0.95), 2),
            "cpu_ms_p50": round(statistics.median(cpu), 2),
            "cpu_ms_p95": round(_pct(cpu, 0.95), 2),
            "statements": sorted(set(stmts)),
        }
    engine.dispose()
    return out


def append(url: str, keep: str, count: int, key_path: Path) -> dict[str, Any]:
    """`count` write transactions of one audit entry each (what every ingest, token or VEX write
    adds to the log: the entry, its subtree hashes, a signed checkpoint). Changes the log: run it
    after the other phases (and the old code's last: it writes no subtree hashes)."""
    engine = _engine(url, keep)
    ledger = Ledger(engine, log_key=LogKey.load_or_create(key_path))
    statements = [0]
    event.listen(engine, "before_cursor_execute", lambda *_: statements.__setitem__(0, statements[0] + 1))
    wall, cpu, stmts = [], [], []
    for i in range(count):
        s0, t, c = statements[0], time.perf_counter(), time.process_time()
        with ledger.write(bump=False) as store:
            store.append_audit("bench", "note", {"i": i})
        wall.append((time.perf_counter() - t) * 1000)
        cpu.append((time.process_time() - c) * 1000)
        stmts.append(statements[0] - s0)
    engine.dispose()
    return {
        "phase": "append",
        "code": service.__file__,
        "count": count,
        "wall_ms_p50": round(statistics.median(wall), 2),
        "wall_ms_p95": round(_pct(wall, 0.95), 2),
        "cpu_ms_p50": round(statistics.median(cpu), 2),
        "cpu_ms_p95": round(_pct(cpu, 0.95), 2),
        "statements": sorted(set(stmts)),
    }


def verify(url: str, keep: str, key_path: Path) -> dict[str, Any]:
    engine = _engine(url, keep)
    ledger = Ledger(engine, log_key=LogKey.load_or_create(key_path))
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t, c = time.perf_counter(), time.process_time()
    with ledger.read() as store:
        check = service.verify_log(store, ledger.log_key.public_pem if ledger.log_key else None)
    out = {
        "phase": "verify",
        "code": service.__file__,
        "ok": check.ok,
        "entries": check.entries,
        "checkpoints": check.checkpoints,
        "nodes": getattr(check, "nodes", None),
        "wall_s": round(time.perf_counter() - t, 2),
        "cpu_s": round(time.process_time() - c, 2),
        "rss_before_mb": round(rss0 / 1024, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    engine.dispose()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("phase", choices=("build", "proofs", "verify", "append", "drop"))
    ap.add_argument("--db", required=True, help="'sqlite' or a PostgreSQL URL")
    ap.add_argument("--keep", required=True, help="SQLite file, or PostgreSQL schema name")
    ap.add_argument("--entries", type=int, default=1_000_000)
    ap.add_argument("--checkpoint-every", type=int, default=1000)
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--key", type=Path, default=Path("bench/.work/auditlog/log.key"))
    a = ap.parse_args()
    if a.phase == "drop":
        admin = db.create_engine(a.db)
        with admin.begin() as c:
            c.execute(text(f'DROP SCHEMA IF EXISTS "{a.keep}" CASCADE'))
        return
    load = os.getloadavg()
    if a.phase == "build":
        res = build(a.db, a.keep, a.entries, a.checkpoint_every, a.key)
    elif a.phase == "proofs":
        res = proofs(a.db, a.keep, a.count, a.key)
    elif a.phase == "append":
        res = append(a.db, a.keep, a.count, a.key)
    else:
        res = verify(a.db, a.keep, a.key)
    res.update(
        db="sqlite" if a.db == "sqlite" else "postgresql",
        at=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        load=[round(x, 2) for x in (*load, *os.getloadavg())],
    )
    print(json.dumps(res), flush=True)


if __name__ == "__main__":
    sys.exit(main())
