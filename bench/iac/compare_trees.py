"""End-to-end IaC scan of one corpus by several source trees, interleaved, in fresh processes.

    python bench/iac/compare_trees.py CORPUS ROUNDS TREE [TREE ...]

Each TREE is a directory holding `src/` (e.g. `git archive 7fe1b64 | tar -x -C /tmp/iac_before`);
each round runs `python -m clearance scan CORPUS --scanners iac --jobs 1 --quiet --format json`
once per tree with `PYTHONPATH=TREE/src`, the order reversed every other round. Prints the
child's CPU time (user + sys, from `wait4`), wall time and load average per run, then the
minimum and median per tree and their change against the first tree.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time


def main() -> None:
    corpus, rounds, trees = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    cpu: dict[str, list[float]] = {t: [] for t in trees}
    print("load", os.getloadavg())
    for r in range(rounds):
        for tree in trees if r % 2 == 0 else list(reversed(trees)):
            env = dict(os.environ, PYTHONPATH=f"{tree}/src")
            args = [sys.executable, "-m", "clearance", "scan", corpus, "--scanners", "iac", "--jobs", "1"]
            started = time.time()
            proc = subprocess.Popen(
                [*args, "--quiet", "--format", "json"], env=env, stdout=subprocess.DEVNULL, cwd="/tmp"
            )
            _, _, usage = os.wait4(proc.pid, 0)
            seconds = usage.ru_utime + usage.ru_stime
            cpu[tree].append(seconds)
            print(
                f"round {r} {tree}: cpu {seconds:.3f} wall {time.time() - started:.2f} "
                f"load {os.getloadavg()[0]:.2f}",
                flush=True,
            )
    print("load", os.getloadavg())
    first = trees[0]
    for tree in trees:
        low, mid = min(cpu[tree]), statistics.median(cpu[tree])
        print(
            f"{tree}: min {low:.3f} median {mid:.3f} ({(low / min(cpu[first]) - 1) * 100:+.1f}% by min, "
            f"{(mid / statistics.median(cpu[first]) - 1) * 100:+.1f}% by median)"
        )


if __name__ == "__main__":
    main()
