#!/usr/bin/env python3
"""Before/after for the deps benchmarks: `db import` and cold matching, from two (or more) trees.

Each measurement runs in a fresh interpreter with one tree's `src/` (and that tree's own
`bench/deps/` scripts, so module paths that moved between the trees are theirs), interleaved
(the order rotates every round). CPU seconds (`time.process_time` around the measured call) and
wall seconds; min and median per side; the findings count must agree between trees.

    git archive 7fe1b64 | tar -x -C /tmp/before && git archive HEAD | tar -x -C /tmp/after
    .venv/bin/python bench/deps/compare_trees.py /tmp/before /tmp/after --rounds 5 \\
        [--data ../shared/data/osv]

Cases (same inputs as `bench_import.py` and `bench_match.py`):
`import` = the PyPI + Go + crates.io snapshots into a fresh database; `match-5k` = 5,000
components, 10 % from packages with advisories (seed 42); `match-20k` = 20,000 components, 10 %
(seed 7); `stress-5k` = 5,000 components, 60 % (seed 42). Each tree matches against its own
store (built once per tree under `bench/.work/deps-compare/`).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
DATA = REPO.parent / "shared" / "data" / "osv"
WORK = REPO / "bench" / ".work" / "deps-compare"
CASES = {
    "import": None,
    "match-5k": (5000, 42, 0.1),
    "match-20k": (20000, 7, 0.1),
    "stress-5k": (5000, 42, 0.6),
}

_CHILD = r"""
import datetime as dt, json, random, shutil, sys, time
from pathlib import Path
import bench_match as bm
case, data, work, candidates = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]
bm.DATA, bm.WORK = data, work
if case == "import":
    target = work / "import-run"
    shutil.rmtree(target, ignore_errors=True)
    sources = [data / z for z in ("PyPI.zip", "Go.zip", "crates.io.zip")]
    t0, c0 = time.perf_counter(), time.process_time()
    report = bm.import_osv(bm.database_path(target), sources, now=bm.NOW)
    cpu, wall = time.process_time() - c0, time.perf_counter() - t0
    shutil.rmtree(target, ignore_errors=True)
    print(json.dumps({"cpu": cpu, "wall": wall, "count": sum(dict(report.records).values())}))
else:
    n, seed, share = json.loads(sys.argv[5])
    cands = {k: [tuple(x) for x in v] for k, v in json.loads(Path(candidates).read_text()).items()}
    db = bm._store(1)
    comps, _ = bm._generate(n, cands, random.Random(seed), share)
    bm._parse_cached.cache_clear()
    t0, c0 = time.perf_counter(), time.process_time()
    with bm.AdvisoryStore.open(db) as store:
        outcome = bm.VulnerabilityMatcher(store).match(comps)
    cpu, wall = time.process_time() - c0, time.perf_counter() - t0
    print(json.dumps({"cpu": cpu, "wall": wall, "count": len(outcome.findings), "components": len(comps)}))
"""


def main() -> None:
    """Run the rounds and print one line per case and side."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("trees", nargs="+", type=Path, help="tree roots (with src/ and bench/deps/)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--data", type=Path, default=DATA, help="the OSV snapshots (default: %(default)s)")
    args = parser.parse_args()
    sides = {t.resolve().name: t.resolve() for t in args.trees}
    labels = list(sides)
    cases = args.cases.split(",")
    WORK.mkdir(parents=True, exist_ok=True)
    candidates = WORK / "candidates.json"
    if not candidates.is_file():
        sys.path.insert(0, str(HERE))
        import bench_match

        bench_match.DATA = args.data
        candidates.write_text(json.dumps(bench_match._candidates()))
    runs: dict[tuple[str, str], list[dict[str, float]]] = {(c, s): [] for c in cases for s in labels}
    loads = []
    for i in range(args.rounds):
        loads.append(os.getloadavg()[0])
        order = labels[i % len(labels) :] + labels[: i % len(labels)]
        for case in cases:
            for side in order:
                runs[(case, side)].append(_run(sides[side], side, case, candidates, args.data))
    loads.append(os.getloadavg()[0])
    print(f"load average (1 min) before each round and at the end: {' '.join(f'{x:.1f}' for x in loads)}")
    for case in cases:
        base = statistics.median(r["cpu"] for r in runs[(case, labels[0])])
        for side in labels:
            values = runs[(case, side)]
            cpu = [v["cpu"] for v in values]
            wall = [v["wall"] for v in values]
            counts = sorted({int(v["count"]) for v in values})
            change = 100 * (statistics.median(cpu) / base - 1)
            print(
                f"{case:10s} {side:8s} cpu min {min(cpu):6.3f} median {statistics.median(cpu):6.3f} s "
                f"({change:+.1f} %) | wall min {min(wall):6.3f} median {statistics.median(wall):6.3f} s | "
                f"count {counts} | cpu runs {' '.join(f'{c:.3f}' for c in cpu)}"
            )


def _run(tree: Path, side: str, case: str, candidates: Path, data: Path) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": f"{tree / 'src'}{os.pathsep}{tree / 'bench' / 'deps'}"}
    argv = [sys.executable, "-c", _CHILD, case, str(data), str(WORK / side), str(candidates)]
    if CASES[case] is not None:
        argv.append(json.dumps(CASES[case]))
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{tree}: {case} failed: {proc.stderr[-2000:]}")
    result: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


if __name__ == "__main__":
    main()
