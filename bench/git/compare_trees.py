#!/usr/bin/env python3
"""Before/after on the PR-mode repository: `clearance scan|gate --base main` from two source trees.

Fresh processes, interleaved (the order alternates every round, so load drifts hit both sides),
CPU time of the process and its children (git) plus wall time; min and median per side. Build the
repository first with `bench/git/pr_mode.py`; extract the two trees with `git archive`:

    git archive 7fe1b64 | tar -x -C /tmp/before && git archive HEAD | tar -x -C /tmp/after
    .venv/bin/python bench/git/compare_trees.py /tmp/before/src /tmp/after/src --rounds 6

Each side keeps its own baseline cache (`CLEARANCE_CACHE_DIR`), so `gate` runs warm after the
first round on both sides alike.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2] / "bench" / ".work" / "git-pr" / "repo-50000"


def main() -> None:
    """Run the rounds and print one line per command and side."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("before", type=Path, help="src/ directory of the first tree")
    parser.add_argument("after", type=Path, help="src/ directory of the second tree")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--repo", type=Path, default=REPO)
    args = parser.parse_args()
    sides = {"before": args.before.resolve(), "after": args.after.resolve()}
    cache = Path(tempfile.mkdtemp(prefix="clearance-compare-"))
    runs: dict[tuple[str, str], list[tuple[float, float]]] = {
        (c, s): [] for c in ("--version", "scan", "gate") for s in sides
    }
    for i in range(args.rounds):
        order = list(sides) if i % 2 == 0 else list(reversed(sides))
        for command in ("--version", "scan", "gate"):
            for side in order:
                runs[(command, side)].append(_run(sides[side], command, args.repo, cache / side))
    for (command, side), values in runs.items():
        cpu = [v[0] for v in values]
        wall = [v[1] for v in values]
        print(
            f"{command:9s} {side:6s} cpu min {min(cpu):6.0f} median {statistics.median(cpu):6.0f} ms | "
            f"wall min {min(wall):6.0f} median {statistics.median(wall):6.0f} ms (n={len(values)})"
        )


def _run(src: Path, command: str, repo: Path, cache: Path) -> tuple[float, float]:
    env = {**os.environ, "PYTHONPATH": str(src), "CI": "true", "CLEARANCE_CACHE_DIR": str(cache)}
    argv = [sys.executable, "-m", "clearance", command]
    if command != "--version":
        argv += [str(repo), "--base", "main", "--scanners", "secrets", "--format", "json", "--quiet"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(argv, env=env, capture_output=True, check=False)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in (0, 1):
        raise SystemExit(
            f"{src}: clearance {command} failed ({proc.returncode}): {proc.stderr.decode()[-2000:]}"
        )
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return cpu * 1000, wall * 1000


if __name__ == "__main__":
    main()
