"""Minified package-lock.json parse time: this tree against a peer checkout (issue 10 #12).

    .venv/bin/python bench/deps/bench_lockfile_lines.py --peer-src /work/main/src 3000 6000 15000

Generates one minified lockfile v3 per package count (about 260 bytes per package), then parses
it with `clearance.scanners.deps.lockfiles.parse` in a fresh interpreter for each source tree and
prints CPU seconds (a peer run is stopped after --timeout seconds).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE_SRC = Path(__file__).resolve().parents[2] / "src"
CHILD = """
import sys, time
from pathlib import Path
from clearance.scanners.deps.lockfiles import parse
from clearance.sources.base import SourceFile
path = Path(sys.argv[1])
start = time.process_time()
result = parse(SourceFile(path="package-lock.json", size=path.stat().st_size, disk_path=path))
print(f"{time.process_time() - start:.2f} {len(result.components)}")
"""


def lockfile(packages: int) -> str:
    """A minified lockfileVersion 3 document with `packages` registry packages."""
    entries: dict[str, object] = {"": {"name": "app", "version": "1.0.0", "dependencies": {"pkg-0": "^1.0.0"}}}
    for i in range(packages):
        entries[f"node_modules/pkg-{i}"] = {
            "version": f"1.{i % 7}.{i % 13}",
            "resolved": f"https://registry.npmjs.org/pkg-{i}/-/pkg-{i}-1.0.0.tgz",
            "integrity": "sha512-" + "A" * 86 + "==",
            "dependencies": {f"pkg-{(i + 1) % packages}": "^1.0.0"},
        }
    return json.dumps({"name": "app", "lockfileVersion": 3, "packages": entries}, separators=(",", ":"))


def run(src: Path, path: Path, timeout: float) -> str:
    """CPU seconds and component count, or the timeout."""
    try:
        out = subprocess.run(
            [sys.executable, "-c", CHILD, str(path)],
            env={"PYTHONPATH": str(src)},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
        )
    except subprocess.TimeoutExpired:
        return f"> {timeout:.0f} s (stopped)"
    seconds, count = out.stdout.split()
    return f"{seconds} s ({count} packages)"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("sizes", nargs="+", type=int)
    parser.add_argument("--peer-src", type=Path)
    parser.add_argument("--timeout", type=float, default=240)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            path = Path(tmp) / f"lock-{size}.json"
            path.write_text(lockfile(size))
            mine = run(HERE_SRC, path, args.timeout)
            peer = run(args.peer_src, path, args.timeout) if args.peer_src else "-"
            print(f"| {size} | {path.stat().st_size / 1e6:.2f} MB | {mine} | {peer} |", flush=True)


if __name__ == "__main__":
    main()
