"""Start-up and PR-gate latency of clearance, beside the same machine's `python -c pass` and
(when installed) gitleaks and trivy. Timing lives here, never in the test suite.

    python bench/startup/run.py [--repeat 7] [--files 22000] [--changed 20] [--peers DIR]

Builds (once, under bench/.work/startup) a git repository of FILES small source files with a
`topic` branch changing CHANGED of them, then reports, per command, the median and best wall
time and the median and best CPU time (user + sys of the child process, from getrusage) of:
`clearance --version`, a pre-commit style run on one small file, and `clearance gate --base main`
(warm: the first run fills the caches and is not counted), and the same for the peers found on
PATH or in `--peers` (default bench/.work/peers/bin): `trivy` and `gitleaks`. CPU time is the
figure to compare on a loaded machine; wall time is what a user waits. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

WORK = Path(__file__).resolve().parents[1] / ".work" / "startup"


@dataclass(frozen=True)
class Timing:
    """Wall and CPU (user + sys of the child) seconds over the counted runs, and the exit code."""

    wall: list[float]
    cpu: list[float]
    exit_code: int


def timed(argv: list[str], cwd: Path, repeat: int, env: dict[str, str]) -> Timing:
    """`argv` run `repeat` times after one uncounted warm-up run."""
    subprocess.run(argv, cwd=cwd, env=env, capture_output=True, check=False)
    wall: list[float] = []
    cpu: list[float] = []
    code = 0
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        code = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, check=False).returncode
        wall.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return Timing(wall, cpu, code)


def build_small(root: Path) -> Path:
    """The pre-commit row's repository: one committed `app.py`, a git repository of its own.

    A hook runs inside the user's repository; without its own `.git` the directory would belong
    to the clearance checkout that holds bench/.work, and every run would list that checkout's
    files and read its test fixtures' catalog-info.yaml files (until 2026-12-06 10:45 UTC it did).
    """
    small = root / "one-file"
    small.mkdir(parents=True, exist_ok=True)
    (small / "app.py").write_text("DEBUG = False\nTIMEOUT = 30\n")
    if not (small / ".git").is_dir():
        git = ["git", "-C", str(small), "-c", "user.name=bench", "-c", "user.email=bench@example.com"]
        subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
        subprocess.run([*git, "add", "app.py"], check=True)
        subprocess.run([*git, "commit", "-qm", "app"], check=True)
    return small


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
    parser.add_argument("--peers", type=Path, default=WORK.parent / "peers" / "bin")
    parser.add_argument("--only", default="", help="comma-separated row labels' first words to run")
    args = parser.parse_args()
    clearance = shutil.which("clearance") or "clearance"
    env = {**os.environ, "CI": "true", "CLEARANCE_CACHE_DIR": str(WORK / "cache")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # users' Pythons cache bytecode; without it every run recompiles
    WORK.mkdir(parents=True, exist_ok=True)
    small = build_small(WORK)
    repo = build_repo(WORK, args.files, args.changed)
    search = os.pathsep.join([str(args.peers), env.get("PATH", "")])
    only = {w for w in args.only.split(",") if w}
    rows: list[tuple[str, str, Timing | None]] = []

    def measure(label: str, argv: list[str], cwd: Path) -> None:
        if only and label.split()[0].rstrip(":") not in only:
            return
        shown = " ".join(argv).replace(clearance, "clearance").replace(str(args.peers) + "/", "")
        rows.append((label, shown.replace(sys.executable, "python"), timed(argv, cwd, args.repeat, env)))

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
    trivy = shutil.which("trivy", path=search)
    gitleaks = shutil.which("gitleaks", path=search)
    if trivy:
        env["TRIVY_CACHE_DIR"] = str(WORK / "trivy-cache")
        measure("trivy --version", [trivy, "--version"], small)
        measure(
            "trivy fs: one small file, secrets only (warm)",
            [trivy, "fs", "--scanners", "secret", "--quiet", "--offline-scan", "app.py"],
            small,
        )
    else:
        rows.append(("trivy", "not installed on this machine", None))
    if gitleaks:
        measure("gitleaks version", [gitleaks, "version"], small)
        measure(
            "gitleaks: one small file",
            [gitleaks, "detect", "--no-git", "--no-banner", "--source", "app.py"],
            small,
        )
    else:
        rows.append(("gitleaks", "not installed on this machine", None))
    load = os.getloadavg()
    print(f"cores: {os.cpu_count()}, load average at the end: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    print(
        "\n| what | command | wall median s | wall best s | CPU median s | CPU best s | exit |"
        "\n| --- | --- | ---: | ---: | ---: | ---: | ---: |"
    )
    for label, cmd, t in rows:
        if t is None:
            print(f"| {label} | {cmd} | — | — | — | — | — |")
            continue
        print(
            f"| {label} | `{cmd}` | {statistics.median(t.wall):.2f} | {min(t.wall):.2f} "
            f"| {statistics.median(t.cpu):.2f} | {min(t.cpu):.2f} | {t.exit_code} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
