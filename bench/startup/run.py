"""Start-up and PR-gate latency of clearance, beside the same machine's `python -c pass` and
(when installed) gitleaks and trivy. Timing lives here, never in the test suite.

    python bench/startup/run.py [--repeat 7] [--files 22000] [--changed 20]

Builds (once, under bench/.work/startup) a git repository of FILES small source files with a
`topic` branch changing CHANGED of them, then reports the median wall time of:
`clearance --version`, a pre-commit style run on one small file, and `clearance gate --base main`
(warm: the first run fills the caches and is not counted). Prints a markdown table.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

WORK = Path(__file__).resolve().parents[1] / ".work" / "startup"


def timed(argv: list[str], cwd: Path, repeat: int, env: dict[str, str]) -> tuple[float, float]:
    """Median and minimum wall time of `argv` over `repeat` runs (after one warm-up run)."""
    subprocess.run(argv, cwd=cwd, env=env, capture_output=True, check=False)
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(argv, cwd=cwd, env=env, capture_output=True, check=False)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples), min(samples)


def build_repo(root: Path, files: int, changed: int) -> Path:
    """A repository of `files` small Python/YAML/Terraform files; `topic` changes `changed` of them."""
    repo = root / f"repo-{files}-{changed}"
    if (repo / ".git").is_dir():
        return repo
    shutil.rmtree(repo, ignore_errors=True)
    git = ["git", "-C", str(repo), "-c", "user.name=bench", "-c", "user.email=bench@example.com"]
    repo.mkdir(parents=True)
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    for i in range(files):
        d = repo / f"pkg{i % 200:03d}" / f"mod{i % 7}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"f{i:05d}.py").write_text(
            f'"""Module {i}."""\n\nVALUE_{i} = {i}\n\n\ndef f{i}():\n    return VALUE_{i}\n'
        )
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "base"], check=True)
    subprocess.run([*git, "checkout", "-qb", "topic"], check=True)
    for i in range(changed):
        path = repo / f"pkg{i % 200:03d}" / f"mod{i % 7}" / f"f{i:05d}.py"
        path.write_text(path.read_text() + f"\nTIMEOUT_{i} = {i * 10}\n")
    subprocess.run([*git, "commit", "-qam", "change"], check=True)
    return repo


def main() -> int:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--files", type=int, default=22_000)
    parser.add_argument("--changed", type=int, default=20)
    args = parser.parse_args()
    clearance = shutil.which("clearance") or "clearance"
    env = {**os.environ, "CI": "true", "CLEARANCE_CACHE_DIR": str(WORK / "cache")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # users' Pythons cache bytecode; without it every run recompiles
    WORK.mkdir(parents=True, exist_ok=True)
    small = WORK / "one-file"
    small.mkdir(exist_ok=True)
    (small / "app.py").write_text("DEBUG = False\nTIMEOUT = 30\n")
    repo = build_repo(WORK, args.files, args.changed)
    rows: list[tuple[str, str, float, float]] = []

    def measure(label: str, argv: list[str], cwd: Path) -> None:
        median, best = timed(argv, cwd, args.repeat, env)
        rows.append((label, " ".join(argv).replace(clearance, "clearance"), median, best))

    measure("python start-up (floor)", [sys.executable, "-c", "pass"], small)
    measure("clearance --version", [clearance, "--version"], small)
    measure(
        "pre-commit: one small file", [clearance, "gate", "app.py", "--scanners", "secrets", "--quiet"], small
    )
    measure(
        f"PR gate: {args.files} files, {args.changed} changed (warm)",
        [clearance, "gate", ".", "--base", "main", "--scanners", "secrets,iac", "--quiet"],
        repo,
    )
    for tool, argv in (("gitleaks", ["gitleaks", "version"]), ("trivy", ["trivy", "--version"])):
        if shutil.which(tool):
            measure(f"{tool} start-up", argv, small)
        else:
            rows.append((f"{tool} start-up", "not installed on this machine", float("nan"), float("nan")))
    load = os.getloadavg()
    print(f"cores: {os.cpu_count()}, load average at the end: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    print("\n| what | command | median s | best s |\n| --- | --- | ---: | ---: |")
    for label, cmd, median, best in rows:
        print(f"| {label} | `{cmd}` | {median:.2f} | {best:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
