#!/usr/bin/env python3
"""Before/after for the secrets scan: the same `clearance scan` from two (or more) source trees.

Fresh processes, interleaved (the order rotates every round, so load drifts hit every side),
CPU time of the process and the children it waited for (git; user + system, from `wait4`) next
to wall time and peak RSS; min and median per side, the load average before each round, and a check
that every side reports the same findings (rule, path, line, fingerprint).

    bash bench/secrets/build_corpus.sh && mv bench/.work/corpus /tmp/corpus   # outside the repo:
    # the repository's .clearanceignore excludes bench/
    git archive 7fe1b64 | tar -x -C /tmp/before && git archive HEAD | tar -x -C /tmp/after
    .venv/bin/python bench/secrets/compare_trees.py /tmp/before/src /tmp/after/src \\
        --corpus /tmp/corpus --cases worktree,history --rounds 7

Cases: `worktree` = `scan <corpus> --scanners secrets --jobs 1`; `history` = `scan <repo>
--history --scanners secrets --jobs 1` on the 3-commit repository of `run.py --history` (built
from the corpus on first use, under `--history-repo`).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from run import build_history_repo  # noqa: E402


def main() -> None:
    """Run the rounds, print one line per case and side, and fail if findings differ."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("trees", nargs="+", type=Path, help="src/ directories to compare (first = reference)")
    parser.add_argument("--corpus", type=Path, default=Path("/tmp/corpus"))
    parser.add_argument("--history-repo", type=Path, default=Path("/tmp/secrets-history"))
    parser.add_argument("--cases", default="worktree,history")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args()
    sides = {_label(t, i): t.resolve() for i, t in enumerate(args.trees)}
    cases = args.cases.split(",")
    if "history" in cases:
        build_history_repo(args.corpus.resolve(), args.history_repo.resolve())
    targets = {"worktree": args.corpus.resolve(), "history": args.history_repo.resolve()}
    out_dir = Path(tempfile.mkdtemp(prefix="clearance-secrets-compare-"))
    runs: dict[tuple[str, str], list[tuple[float, float, float]]] = {(c, s): [] for c in cases for s in sides}
    findings: dict[tuple[str, str], set[tuple[str, str, int, str]]] = {}
    loads: list[float] = []
    labels = list(sides)
    for i in range(args.rounds):
        loads.append(os.getloadavg()[0])
        order = labels[i % len(labels) :] + labels[: i % len(labels)]
        for case in cases:
            for side in order:
                report = out_dir / f"{case}-{side}.json"
                runs[(case, side)].append(_run(sides[side], case, targets[case], args.jobs, report))
                found = _findings(report)
                if findings.setdefault((case, side), found) != found:
                    raise SystemExit(f"{side}: {case} findings changed between rounds")
    loads.append(os.getloadavg()[0])
    print(f"load average (1 min) before each round and at the end: {' '.join(f'{x:.1f}' for x in loads)}")
    for case in cases:
        ref = findings[(case, labels[0])]
        for side in labels:
            values = runs[(case, side)]
            cpu = [v[0] for v in values]
            wall = [v[1] for v in values]
            rss = max(v[2] for v in values)
            same = "same findings" if findings[(case, side)] == ref else "FINDINGS DIFFER"
            print(
                f"{case:9s} {side:10s} cpu min {min(cpu):6.2f} median {statistics.median(cpu):6.2f} s | "
                f"wall min {min(wall):6.2f} median {statistics.median(wall):6.2f} s | "
                f"rss {rss:4.0f} MB | {len(findings[(case, side)])} findings, {same} (n={len(values)})"
            )
            print(f"          {'':10s} cpu runs: {' '.join(f'{c:.2f}' for c in cpu)}")
        base = statistics.median(c for c, _, _ in runs[(case, labels[0])])
        for side in labels[1:]:
            med = statistics.median(c for c, _, _ in runs[(case, side)])
            print(f"{case:9s} {side:10s} median CPU vs {labels[0]}: {100 * (med / base - 1):+.1f} %")
    if any(findings[(c, s)] != findings[(c, labels[0])] for c in cases for s in labels):
        raise SystemExit("findings differ between trees")


def _label(tree: Path, index: int) -> str:
    name = tree.resolve().parent.name if tree.name == "src" else tree.name
    return name or f"tree{index}"


def _run(src: Path, case: str, target: Path, jobs: int, report: Path) -> tuple[float, float, float]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    argv = [sys.executable, "-m", "clearance", "scan", str(target), "--scanners", "secrets"]
    if case == "history":
        argv.append("--history")
    argv += ["--jobs", str(jobs), "--format", "json", "--quiet"]
    t0 = time.perf_counter()
    with report.open("wb") as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage (CPU, peak RSS)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - t0
        if proc.returncode not in (0, 1):
            err.seek(0)
            raise SystemExit(
                f"{src}: clearance scan ({case}) failed ({proc.returncode}): {err.read().decode()[-2000:]}"
            )
    return usage.ru_utime + usage.ru_stime, wall, usage.ru_maxrss / 1024


def _findings(report: Path) -> set[tuple[str, str, int, str]]:
    doc = json.loads(report.read_text())
    return {
        (f["rule_id"], f["location"]["path"], f["location"].get("start_line") or 0, f["fingerprint"])
        for f in doc["findings"]
    }


if __name__ == "__main__":
    main()
