#!/usr/bin/env python3
"""PR-mode benchmark: `clearance scan --base main` on a 50k-file repository with a 20-file change.

Builds (once, cached) a synthetic repository under bench/.work/git-pr/: `main` holds
50,000 source-like files in 500 directories; branch `change` forks from it and changes 20
files (15 edited with lines inserted in the middle, 5 new, one with a planted fake AWS key).
Then times, each several times (min and median reported):

1. `clearance.sources.git.changed_files` — the git source alone;
2. `clearance.pipeline.run(..., RunOptions(base="main", scanners=["secrets"]))` in-process;
3. the CLI end to end: `clearance scan <repo> --base main --scanners secrets --format json`
   and the same with `gate` (policy stage, base-ref baseline) — fresh processes, so interpreter
   start and imports are included — next to `clearance --version` (start-up alone) for reference;
4. for contrast, the working-tree walk of the same 50k files (what PR mode avoids).

Usage: .venv/bin/python bench/git/pr_mode.py [--files 50000] [--repeat 5] [--rebuild]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve()
ROOT = HERE.parents[2]
WORK = ROOT / "bench" / ".work" / "git-pr"
sys.path.insert(0, str(ROOT / "src"))

from clearance.config import Settings  # noqa: E402
from clearance.pipeline import RunOptions, run  # noqa: E402
from clearance.sources import files as files_source  # noqa: E402
from clearance.sources import git  # noqa: E402

FAKE_KEY = "AKIA" + "Z4Q7X2M7TBCD3EFG"  # split so this script is not itself a finding
WORDS = ("user", "order", "invoice", "account", "session", "cache", "report", "item", "price", "token_count")
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "Bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
    "GIT_AUTHOR_DATE": "2026-01-01T00:00:00+00:00",
    "GIT_COMMITTER_DATE": "2026-01-01T00:00:00+00:00",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def main() -> None:
    """Build (or reuse) the repository, time each stage and print the figures."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()

    repo = WORK / f"repo-{args.files}"
    if args.rebuild or not (repo / ".git" / "clearance-bench-ready").exists():
        build(repo, args.files)
    tracked = len(_git(repo, "ls-files", "-z").split(b"\0")) - 1
    print(f"repository: {repo} ({tracked} tracked files, git {_git(repo, 'version').decode().split()[-1]})")
    settings = Settings(scanners=["secrets"])

    changed = git.changed_files(repo, base="main", ignore=[], max_file_size=settings.max_file_size)
    print(
        f"change: {len(changed.files)} files, {sum(f.size for f in changed.files)} bytes, "
        f"{sum(len(f.added_lines) for f in changed.files if f.added_lines)} added lines in edited files"
    )

    report(
        "git source: changed_files (merge base + diff + untracked)",
        lambda: git.changed_files(repo, base="main", ignore=[], max_file_size=settings.max_file_size),
        args.repeat,
    )
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    options = RunOptions(base="main", scanners=["secrets"], jobs=1)
    result = run(repo, settings, options, now)  # warm the rule-database cache
    print(
        f"pipeline findings: {[(f.rule_id, f.location.path, f.location.start_line) for f in result.findings]}"
    )
    report(
        "pipeline.run(base=main, secrets) in-process", lambda: run(repo, settings, options, now), args.repeat
    )

    cli = [str(Path(sys.executable).with_name("clearance"))]
    if not Path(cli[0]).exists():
        cli = [sys.executable, "-m", "clearance"]
    env = {**os.environ, "CI": "true"}
    report(
        "CLI start-up only: clearance --version",
        lambda: subprocess.run([*cli, "--version"], env=env, capture_output=True, check=True),
        args.repeat,
    )
    report(
        "CLI end to end: clearance scan --base main --scanners secrets --format json",
        lambda: _cli_scan(cli, repo, env),
        args.repeat,
    )
    report(
        "CLI end to end: clearance gate --base main --scanners secrets --format json",
        lambda: _cli_scan(cli, repo, env, command="gate"),
        args.repeat,
    )
    report(
        f"for contrast: working-tree walk of all {tracked} files",
        lambda: files_source.walk(repo, ignore=[], max_file_size=settings.max_file_size),
        max(1, args.repeat // 2),
    )


def report(label: str, action: Callable[[], object], repeat: int) -> None:
    """Run `action` `repeat` times and print min / median wall-clock seconds."""
    times, cpu = [], []
    for _ in range(repeat):
        c0 = _cpu_seconds()
        t0 = time.perf_counter()
        action()
        times.append(time.perf_counter() - t0)
        cpu.append(_cpu_seconds() - c0)
    print(
        f"{label:78s} min {min(times) * 1000:7.1f} ms  median {statistics.median(times) * 1000:7.1f} ms  "
        f"cpu {min(cpu) * 1000:7.1f} ms"
    )


def _cpu_seconds() -> float:
    """User + system CPU time of this process and its finished children (git, the CLI)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _cli_scan(cli: list[str], repo: Path, env: dict[str, str], command: str = "scan") -> None:
    proc = subprocess.run(
        [*cli, command, str(repo), "--base", "main", "--scanners", "secrets", "--format", "json", "--quiet"],
        env=env,
        capture_output=True,
        check=False,
    )
    if proc.returncode not in (0, 1):
        raise SystemExit(f"clearance {command} failed ({proc.returncode}): {proc.stderr.decode()[-2000:]}")


def build(repo: Path, count: int) -> None:
    """Create the synthetic repository: `main` with `count` files, branch `change` with a 20-file change."""
    if repo.exists():
        shutil.rmtree(repo)
    repo.mkdir(parents=True)
    rng = random.Random(20260101)
    t0 = time.perf_counter()
    _git(repo, "init", "-q", "-b", "main")
    per_dir = 100
    paths = []
    for i in range(count):
        rel = f"pkg{i // per_dir:03d}/module_{i % per_dir:03d}.py"
        paths.append(rel)
        target = repo / rel
        if i % per_dir == 0:
            target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(_module(rng, i), encoding="utf-8")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", f"{count} files")
    _git(repo, "checkout", "-q", "-b", "change")
    for rel in rng.sample(paths, 15):
        lines = (repo / rel).read_text(encoding="utf-8").splitlines(keepends=True)
        middle = len(lines) // 2
        lines[middle:middle] = [
            "    # reviewed: keep the cache warm\n",
            "    warm = True\n",
            "    del warm\n",
        ]
        (repo / rel).write_text("".join(lines), encoding="utf-8")
    for n in range(5):
        body = _module(rng, count + n)
        if n == 0:
            body += f'\nAWS_ACCESS_KEY_ID = "{FAKE_KEY}"\n'
        (repo / f"feature/new_{n}.py").parent.mkdir(exist_ok=True)
        (repo / f"feature/new_{n}.py").write_text(body, encoding="utf-8")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "the change: 15 edits, 5 new files")
    (repo / ".git" / "clearance-bench-ready").write_text("ok\n")
    print(f"built {repo} in {time.perf_counter() - t0:.1f} s")


def _module(rng: random.Random, i: int) -> str:
    lines = [
        f'"""Module {i}: synthetic service code for the PR-mode benchmark."""',
        "",
        "from __future__ import annotations",
        "",
    ]
    for f in range(rng.randint(3, 8)):
        a, b = rng.sample(WORDS, 2)
        lines += [
            f"def {a}_{b}_{f}({a}: int, {b}: str = {rng.randint(0, 999)!r}) -> dict[str, object]:",
            f'    """Return the {a} for the {b} (step {f})."""',
            f"    result = {{'{a}': {a} * {rng.randint(1, 9)}, '{b}': {b}.strip()}}",
            f"    if {a} > {rng.randint(10, 99)}:",
            f"        result['{a}_flag'] = True",
            "    return result",
            "",
        ]
    return "\n".join(lines) + "\n"


def _git(repo: Path, *args: str) -> bytes:
    env = {**os.environ, **GIT_ENV}
    return subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, check=True).stdout


if __name__ == "__main__":
    main()
