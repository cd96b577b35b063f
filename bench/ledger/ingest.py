"""Ingest benchmark: 10,000 findings into a fresh ledger, then a re-import with churn, then an
unchanged re-import — on SQLite and/or PostgreSQL.

The report is the gate's JSON (schema 1): the findings of a real `clearance gate` run of
examples/leaky-repo used as templates (secrets, IaC, vulnerabilities), replicated with distinct
paths and fingerprints up to N. Each measurement is one `ingest` call in one transaction, from
the report's bytes to commit (JSON parse + validation, dedup, batched SQL, audit entry, signed
checkpoint) — what `POST /api/v1/runs` does minus HTTP.

    python bench/ledger/ingest.py --findings 10000 --db sqlite --db postgresql+psycopg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import text

from clearance.ledger import db
from clearance.ledger.audit import LogKey
from clearance.ledger.ingest import Limits, Principal, Upload, ingest
from clearance.ledger.service import Ledger, system_clock

REPO = Path(__file__).resolve().parents[2]


def demo_report(work: Path) -> dict:  # type: ignore[type-arg]
    env = dict(os.environ, CLEARANCE_DB_DIR=str(work / "adv"))
    subprocess.run(
        [sys.executable, "-m", "clearance", "db", "import", str(REPO / "examples/advisories")],
        env=env,
        check=True,
        capture_output=True,
    )
    repo = work / "leaky-repo"  # a checkout of its own, as CI would scan it
    shutil.copytree(REPO / "examples/leaky-repo", repo)
    git = dict(
        env,
        GIT_AUTHOR_NAME="b",
        GIT_AUTHOR_EMAIL="b@example.com",
        GIT_COMMITTER_NAME="b",
        GIT_COMMITTER_EMAIL="b@example.com",
    )
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "demo"]):
        subprocess.run(["git", *args], cwd=repo, env=git, check=True, capture_output=True)
    out = subprocess.run(
        [sys.executable, "-m", "clearance", "gate", str(repo), "-q", "--format", "json"],
        env=env,
        capture_output=True,
    )
    assert json.loads(out.stdout)["findings"], "the demo gate run reported nothing"
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def synthetic(
    template: dict, n: int, seed: str, drop: float = 0.0, new: float = 0.0, bump: float = 0.0
) -> bytes:  # type: ignore[type-arg]
    """N findings cloned from the template's, each under its own path and fingerprint."""
    base = template["findings"]
    findings = []
    total = int(n * (1 + new))
    for i in range(total):
        if i < n and drop and (i * 7919) % 1000 < drop * 1000:
            continue  # fixed since the last run
        f = copy.deepcopy(base[i % len(base)])
        salt = "new" + seed if i >= n else "base"
        f["fingerprint"] = hashlib.sha256(f"{salt}:{i}".encode()).hexdigest()[:32]
        f["location"]["path"] = f"svc/module{i // 50}/{f['location']['path']}"
        if bump and (i * 104729) % 1000 < bump * 1000 and i < n:
            f["severity"] = "critical"
        findings.append(f)
    doc = dict(template, findings=findings)
    doc["target"] = dict(template["target"], commit=hashlib.sha1(seed.encode()).hexdigest())
    return json.dumps(doc).encode()


def run(url: str, template: dict, n: int) -> dict[str, float | dict[str, int]]:  # type: ignore[type-arg]
    schema = None
    if url.startswith("postgresql"):
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        admin = db.create_engine(url)
        with admin.begin() as c:
            c.execute(text(f'CREATE SCHEMA "{schema}"'))
        engine = db.create_engine(url, schema=schema)
    else:
        engine = db.create_engine(url)
    try:
        db.migrate(engine)
        with tempfile.TemporaryDirectory() as tmp:
            ledger = Ledger(engine, clock=system_clock, log_key=LogKey.load_or_create(Path(tmp) / "k"))
            admin_p = Principal("bench", None, admin=True)
            runs = {
                "first import (all created)": synthetic(template, n, "r1"),
                "re-import, churn (2% fixed, 2% new, 1% severity changed)": synthetic(
                    template, n, "r2", drop=0.02, new=0.02, bump=0.01
                ),
                "re-import, nothing changed": synthetic(template, n, "r2", drop=0.02, new=0.02, bump=0.01)
                + b" ",
            }
            out: dict[str, float | dict[str, int]] = {}
            for label, raw in runs.items():
                t, c = time.perf_counter(), time.process_time()
                with ledger.write() as store:
                    backend = server_cpu(store) if schema else None
                    res = ingest(store, Upload(report=raw, service="bench-svc"), admin_p, Limits())
                    if backend is not None:
                        out[label + " (server CPU s)"] = round(backend(), 3)
                out[label] = round(time.perf_counter() - t, 3)
                out[label + " (client CPU s)"] = round(time.process_time() - c, 3)
                out[label + " counts"] = dict(res.counts)
                out[label + " load average"] = os.getloadavg()  # type: ignore[assignment]
            return out
    finally:
        engine.dispose()
        if schema:
            with admin.begin() as c:
                c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()


def server_cpu(store: object) -> Callable[[], float]:
    """PostgreSQL on this machine: CPU seconds (user + system) the transaction's backend process
    spends from now until the returned function is called (read from /proc)."""
    pid = store.session.execute(text("SELECT pg_backend_pid()")).scalar()  # type: ignore[attr-defined]
    tick = os.sysconf("SC_CLK_TCK")

    def cpu() -> float:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / tick

    start = cpu()
    return lambda: cpu() - start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--findings", type=int, default=10_000)
    ap.add_argument("--db", action="append", default=[], help="'sqlite' (a temp file) or a PostgreSQL URL")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as work:
        template = demo_report(Path(work))
        for target in args.db or ["sqlite"]:
            url = f"sqlite:///{work}/bench-{uuid.uuid4().hex[:6]}.db" if target == "sqlite" else target
            result = run(url, template, args.findings)
            print(
                json.dumps(
                    {
                        "db": "sqlite" if target == "sqlite" else db.redact(target),
                        "findings": args.findings,
                        **result,
                    },
                    indent=1,
                )
            )


if __name__ == "__main__":
    main()
