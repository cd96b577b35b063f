"""Benchmark: `db import` of the full shared PyPI + Go + crates.io OSV snapshots.

Usage: .venv/bin/python bench/deps/bench_import.py [--repeat N] [--data DIR]
Prints seconds per run (fresh database each time), the median, and the database size.
Run it pinned to one core with `taskset -c 0` to measure single-core time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import statistics
import sys
import time
from pathlib import Path

from clearance.scanners.vulns.advisories import database_path, import_osv

REPO = Path(__file__).resolve().parents[2]
DATA = REPO.parent / "shared" / "data" / "osv"
WORK = REPO / "bench" / ".work" / "deps"
ZIPS = ("PyPI.zip", "Go.zip", "crates.io.zip")
NOW = dt.datetime(2026, 11, 22, tzinfo=dt.UTC)


def main() -> int:
    """Run the import benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()
    sources = [args.data / z for z in ZIPS]
    missing = [str(s) for s in sources if not s.is_file()]
    if missing:
        print(f"missing OSV snapshots: {', '.join(missing)}", file=sys.stderr)
        return 2
    times: list[float] = []
    cpus: list[float] = []
    report = None
    for i in range(args.repeat):
        target = WORK / f"import-{i}"
        shutil.rmtree(target, ignore_errors=True)
        cpu = time.process_time()
        report = import_osv(database_path(target), sources, now=NOW)
        cpus.append(time.process_time() - cpu)
        times.append(report.seconds)
        print(
            f"run {i + 1}: {report.seconds:.2f} s wall / {cpus[-1]:.2f} s cpu  records={dict(report.records)}  "
            f"withdrawn skipped={report.withdrawn}"
        )
        shutil.rmtree(target, ignore_errors=True)
    assert report is not None
    input_mb = sum(s.stat().st_size for s in sources) / 1e6
    print(
        f"median {statistics.median(times):.2f} s wall / {statistics.median(cpus):.2f} s cpu "
        f"(min {min(times):.2f} s wall) for {input_mb:.1f} MB of zips; database {report.size / 1e6:.1f} MB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
