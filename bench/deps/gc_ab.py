#!/usr/bin/env python3
"""The deps matcher of two trees with the cyclic garbage collector treated three ways.

    python bench/deps/gc_ab.py MODE TREE_A TREE_B [--rounds 7] [--case stress-5k]

MODE: `off` (`gc.disable()` before anything), `freeze` (`gc.collect(); gc.freeze()` just before
matching, as the gate's scan stage keeps the start-up objects out of full collections) or
`default` (the collector left alone, as `compare_trees.py` runs it). Each round runs
`compare_trees.py`'s child once per tree, interleaved (order reversed every other round); prints
the CPU min and median per tree. Uses the stores `compare_trees.py` built (run it once first).
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
sys.path.insert(0, str(HERE))
import compare_trees as ct  # noqa: E402


def child_code(mode: str) -> str:
    """`compare_trees._CHILD` with the collector set up for `mode`."""
    if mode == "off":
        return "import gc; gc.disable()\n" + ct._CHILD
    if mode == "freeze":
        hook = "    bm._parse_cached.cache_clear()\n"
        assert hook in ct._CHILD
        return ct._CHILD.replace(hook, hook + "    import gc; gc.collect(); gc.freeze()\n")
    return ct._CHILD


def main() -> None:
    """Run the rounds and print one line per tree."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("mode", choices=("off", "freeze", "default"))
    parser.add_argument("trees", nargs=2, type=Path)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--case", default="stress-5k", choices=[c for c in ct.CASES if c != "import"])
    args = parser.parse_args()
    code = child_code(args.mode)
    cpu: dict[str, list[float]] = {}
    for r in range(args.rounds):
        for tree in args.trees if r % 2 == 0 else list(reversed(args.trees)):
            tree = tree.resolve()
            env = dict(os.environ, PYTHONPATH=f"{tree}/src:{tree}/bench/deps")
            argv = [
                sys.executable,
                "-c",
                code,
                args.case,
                str(ct.DATA),
                str(ct.WORK / tree.name),
                str(ct.WORK / "candidates.json"),
                json.dumps(ct.CASES[args.case]),
            ]
            out = subprocess.run(argv, env=env, capture_output=True, text=True, cwd=tree / "bench" / "deps")
            if out.returncode:
                sys.exit(out.stderr[-2000:])
            cpu.setdefault(tree.name, []).append(json.loads(out.stdout.strip().splitlines()[-1])["cpu"])
    for name, runs in cpu.items():
        print(f"{args.mode} {name}: cpu min {min(runs):.3f} median {statistics.median(runs):.3f} s")


if __name__ == "__main__":
    main()
