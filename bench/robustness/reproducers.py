"""Time and peak memory of `clearance gate` on the issue-10 reproducers, one process each.

Usage (from the repository root, in the dev environment):

    python bench/robustness/reproducers.py

Each reproducer is built in a temporary directory by the same builders the tests use
(`tests/test_robustness.py`), then `python -m clearance gate DIR --format json` runs as a child
process; its wall time and peak RSS (`os.wait4` rusage) are printed with its exit code. The
peer in the same run is `git status` on the same tree: a floor for "one process that reads the
files". Nothing here asserts on time: the numbers go to bench/RESULTS.md.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))

import test_robustness as t  # noqa: E402


def _runaway_cel(root: Path) -> None:
    lst = "[" + ",".join(["'x'"] * 20) + "]"
    when = f"{lst}.map(a, {lst}.map(b, {lst}.map(c, {lst}.map(d, {lst}.map(e, 1))))).size() > 0"
    (root / "clearance.toml").write_text(f'[[policy.rules]]\nname = "r"\naction = "block"\nwhen = "{when}"\n')


def _deep_config(root: Path) -> None:
    (root / "clearance.toml").write_text("x = " + "[" * 5000 + "]" * 5000 + "\n")


def _big_secret_file(root: Path) -> None:
    t._single_line(root / "bundle.js", 6 * 1024 * 1024, t.FAKE_STRIPE_KEY)


def _lockfile_45mb(root: Path) -> None:
    with (root / "package-lock.json").open("w") as fh:
        fh.write('{"name": "x", "lockfileVersion": 3, "packages": {')
        fh.write(",".join(f'"node_modules/p{i}": {{"version": "1.0.0"}}' for i in range(1_200_000)))
        fh.write("}}")


def _terraform_10mb(root: Path) -> None:
    t._big_terraform(root / "main.tf", 10 * 1024 * 1024)


CASES: list[tuple[str, Callable[[Path], None], str]] = [
    *[(name, build, scanners) for name, build, scanners, _code, _needle in t.REPRODUCERS],
    ("runaway-cel-rule", _runaway_cel, "secrets"),
    ("5000-deep-config-array", _deep_config, "secrets"),
    ("6MB-file-with-a-key (streamed)", _big_secret_file, "secrets"),
    ("45MB-package-lock (over the cap)", _lockfile_45mb, "deps"),
    ("10MB-terraform (over the cap)", _terraform_10mb, "iac"),
]


_WRAPPER = """
import atexit, runpy, sys
PEAK = sys.argv[1]
def _peak():
    with open("/proc/self/status") as fh:
        hwm = next(line.split()[1] for line in fh if line.startswith("VmHWM:"))
    with open(PEAK, "w") as out:
        out.write(hwm)
atexit.register(_peak)
sys.argv = ["clearance", *sys.argv[2:]]
runpy.run_module("clearance", run_name="__main__")
"""


def run(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, float]:
    """Exit code and wall seconds of one child process."""
    started = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return proc.returncode, time.perf_counter() - started


def run_clearance(args: list[str], cwd: Path, env: dict[str, str], peak_file: Path) -> tuple[int, float, int]:
    """Exit code, wall seconds and peak RSS in MiB (VmHWM of the process after exec, so the
    parent's memory at fork does not count)."""
    code, seconds = run([sys.executable, "-c", _WRAPPER, str(peak_file), *args], cwd, env)
    return code, seconds, int(peak_file.read_text()) // 1024


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "db"
        env = {**os.environ, "CLEARANCE_DB_DIR": str(db)}
        subprocess.run(
            [sys.executable, "-m", "clearance", "db", "import", str(REPO / "examples" / "advisories")],
            env=env,
            check=True,
            capture_output=True,
        )
        print(f"{'reproducer':36} {'exit':>4} {'seconds':>8} {'peak MiB':>9}   git status (s)")
        for name, build, scanners in CASES:
            root = Path(tmp) / name.split()[0]
            root.mkdir()
            build(root)
            subprocess.run(["git", "init", "-q"], cwd=root, check=True)
            args = ["gate", str(root), "--scanners", scanners, "--format", "json", "--jobs", "1"]
            code, seconds, rss = run_clearance(args, root, env, Path(tmp) / "peak")
            _c, git_s = run(["git", "status", "--porcelain", "-uall"], root, env)
            print(f"{name:36} {code:>4} {seconds:>8.2f} {rss:>9}   {git_s:.2f}")


if __name__ == "__main__":
    main()
