"""Before/after start-up of two source trees, run alternately so both see the same load.

    git archive REV src | tar -x -C /tmp/before
    python bench/startup/compare.py /tmp/before/src [--rounds 10]

Runs the pre-commit row and the 22k-file PR gate row of `run.py` (build the repository with
`run.py` first) from `BEFORE/` and from this checkout's `src/` (via PYTHONPATH, same
interpreter and packages), alternating the order each round; the first round warms the caches
and is not counted. Prints wall and CPU (user + sys of the child) medians and minima.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

WORK = Path(__file__).resolve().parents[1] / ".work" / "startup"
AFTER = Path(__file__).resolve().parents[2] / "src"


def main() -> int:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path, help="the other tree's src/ directory")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--repo", type=Path, default=WORK / "repo-22000-20")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from run import build_small

    build_small(WORK)
    trees = {"before": str(args.before.resolve()), "after": str(AFTER)}
    commands = {
        "pre-commit: one small file": (
            ["clearance", "gate", "app.py", "--scanners", "secrets", "--quiet"],
            WORK / "one-file",
        ),
        "PR gate: 22,000 files, 20 changed": (
            ["clearance", "gate", ".", "--base", "main", "--scanners", "secrets,iac", "--quiet"],
            args.repo,
        ),
    }
    env = {**os.environ, "CI": "true", "CLEARANCE_CACHE_DIR": str(WORK / "cache")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    samples: dict[tuple[str, str], tuple[list[float], list[float]]] = {
        (c, t): ([], []) for c in commands for t in trees
    }
    loads: list[float] = []
    for i in range(args.rounds + 1):
        order = list(trees) if i % 2 == 0 else list(reversed(trees))
        for label, (argv, cwd) in commands.items():
            for tree in order:
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                start = time.perf_counter()
                proc = subprocess.run(
                    argv, cwd=cwd, env={**env, "PYTHONPATH": trees[tree]}, capture_output=True
                )
                wall = time.perf_counter() - start
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                if proc.returncode != 0:
                    sys.stderr.write(f"{tree}: {' '.join(argv)} exited {proc.returncode}\n")
                    return 1
                if i > 0:
                    samples[(label, tree)][0].append(wall)
                    samples[(label, tree)][1].append(
                        after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
                    )
        loads.append(os.getloadavg()[0])
    print(
        f"rounds: {args.rounds} (+1 warm-up), cores: {os.cpu_count()}, load average {min(loads):.1f}–{max(loads):.1f}"
    )
    print(
        "\n| what | tree | wall median s | wall best s | CPU median s | CPU best s |"
        "\n| --- | --- | ---: | ---: | ---: | ---: |"
    )
    for (label, tree), (wall_s, cpu_s) in samples.items():
        print(
            f"| {label} | {tree} | {statistics.median(wall_s):.2f} | {min(wall_s):.2f} "
            f"| {statistics.median(cpu_s):.2f} | {min(cpu_s):.2f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
