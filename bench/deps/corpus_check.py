"""Robustness check: evaluate every stored affected entry of the shared OSV snapshots.

Usage: .venv/bin/python bench/deps/corpus_check.py

For each `affected[]` entry of the full store (built by bench_match.py, or imported here), the
matcher evaluates every version that appears in the entry's own events and `versions` list. It
counts outcomes and lists every exception that escaped `evaluate` (there should be none) and the
ranges that could not be evaluated (bad event versions: reported, never guessed).
"""

from __future__ import annotations

import collections
import datetime as dt
import sqlite3
import sys
import time
from pathlib import Path

from clearance.scanners.vulns.advisories import AdvisoryStore, OsvSource, database_path, import_osv
from clearance.scanners.vulns.match import UnsupportedEcosystem, VersionParseError, evaluate, parse_version

REPO = Path(__file__).resolve().parents[2]
DATA = REPO.parent / "shared" / "data" / "osv"
WORK = REPO / "bench" / ".work" / "deps"


def main() -> int:
    """Run the check and print the counts."""
    db = database_path(WORK / "store-x1")
    if not db.is_file():
        sources = [OsvSource(DATA / f"{e}.zip", ecosystem=e) for e in ("PyPI", "Go", "crates.io", "npm")]
        import_osv(db, sources, now=dt.datetime(2026, 11, 22, tzinfo=dt.UTC))
    counts: collections.Counter[str] = collections.Counter()
    escaped: list[str] = []
    undecided: set[tuple[str, str]] = set()
    started = time.perf_counter()
    with sqlite3.connect(db) as con:
        packages = con.execute("SELECT DISTINCT ecosystem, name FROM affected").fetchall()
    with AdvisoryStore.open(db) as store:
        for eco, name in packages:
            for entry in store.affected(eco, name):
                versions = {
                    e.version for r in entry.spec.ranges for e in r.events if e.version not in ("0", "*")
                }
                for version in sorted(versions):
                    try:
                        parse_version(eco, version)
                    except (VersionParseError, UnsupportedEcosystem):
                        counts["event version unparseable (skipped as installed version)"] += 1
                        continue
                    try:
                        result = evaluate(entry.spec, version)
                    except Exception as e:
                        escaped.append(f"{entry.advisory_id} {name} {version}: {type(e).__name__}: {e}")
                        continue
                    counts["affected" if result.affected else "not affected"] += 1
                    if result.undecided:
                        undecided.add((entry.advisory_id, name))
                counts["entries"] += 1
    print(
        f"{len(packages)} packages, {counts['entries']} affected entries in {time.perf_counter() - started:.1f} s"
    )
    for key, value in sorted(counts.items()):
        print(f"  {key}: {value}")
    print(f"entries with an undecidable range (reported as scan errors when matched): {len(undecided)}")
    for advisory_id, name in sorted(undecided)[:20]:
        print(f"  {advisory_id} {name}")
    print(f"exceptions escaping evaluate(): {len(escaped)}")
    for line in escaped[:20]:
        print(f"  {line}")
    return 1 if escaped else 0


if __name__ == "__main__":
    sys.exit(main())
