#!/usr/bin/env python3
"""History benchmark: `--history` throughput in MB/s of unique blobs.

Builds (once, cached, with `git fast-import`) a synthetic repository under
bench/.work/git-history/: 3,000 source-like files, then 1,500 commits on two branches that
each rewrite 10 files — about 18,000 unique blobs. A fake key is planted in an early commit,
moved later, so the run also shows which commit gets the blame. Then times:

1. `clearance.sources.git.history_files` — enumerate + attribute + read every unique blob once;
2. `clearance.pipeline.run(..., RunOptions(history=True, scanners=["secrets"]))` in-process;
3. for reference, `git log -p --all` to /dev/null (what a patch-by-patch scanner must read).

Usage: .venv/bin/python bench/git/history.py [--files 3000] [--commits 1500] [--repeat 3] [--rebuild]
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
WORK = ROOT / "bench" / ".work" / "git-history"
sys.path.insert(0, str(ROOT / "src"))

from clearance.config import Settings  # noqa: E402
from clearance.pipeline import RunOptions, run  # noqa: E402
from clearance.sources import git  # noqa: E402

FAKE_KEY = "ghp_" + "Qx7LmN2pR9sT4vW8yZ1aB3cD5eF6gH0iJ2kL"  # split so this script is not itself a finding
WORDS = ("user", "order", "invoice", "account", "session", "cache", "report", "item", "price", "quota")


def main() -> None:
    """Build (or reuse) the repository, time each stage and print the figures."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=3000)
    parser.add_argument("--commits", type=int, default=1500)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()

    repo = WORK / f"repo-{args.files}-{args.commits}"
    if args.rebuild or not (repo / ".git" / "clearance-bench-ready").exists():
        build(repo, args.files, args.commits)
    settings = Settings(scanners=["secrets"])

    walked = git.history_files(repo, refs=[], ignore=[], max_file_size=settings.max_file_size)
    megabytes = sum(f.size for f in walked.files) / 1e6
    commits = int(
        subprocess.run(
            ["git", "rev-list", "--count", "--all"], cwd=repo, capture_output=True, check=True
        ).stdout
    )
    print(f"repository: {repo} ({commits} commits, {len(walked.files)} unique blobs, {megabytes:.1f} MB)")
    planted = [f for f in walked.files if FAKE_KEY.encode() in f.read()]
    for f in planted:
        print(
            f"  planted key blob {f.blob[:12]} first at {f.path} in {f.commit[:12] if f.commit else None} "
            f"by {f.commit_author} on {f.commit_date}"
        )

    seconds = report(
        "git source: history_files (one log pass + one cat-file --batch)",
        lambda: git.history_files(repo, refs=[], ignore=[], max_file_size=settings.max_file_size),
        args.repeat,
    )
    print(f"{'':70s} => {megabytes / seconds:.1f} MB/s, {len(walked.files) / seconds:,.0f} blobs/s")
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    options = RunOptions(history=True, scanners=["secrets"], jobs=1)
    result = run(repo, settings, options, now)
    print(
        f"pipeline findings: {[(f.rule_id, f.location.path, (f.location.commit or '')[:12]) for f in result.findings]}"
    )
    seconds = report(
        "pipeline.run(history=True, secrets, jobs=1) in-process",
        lambda: run(repo, settings, options, now),
        args.repeat,
    )
    print(f"{'':70s} => {megabytes / seconds:.1f} MB/s of unique blobs")
    report(
        "reference: git log -p --all > /dev/null (every patch)",
        lambda: subprocess.run(
            ["git", "log", "-p", "--all"], cwd=repo, stdout=subprocess.DEVNULL, check=True
        ),
        args.repeat,
    )


def report(label: str, action: Callable[[], object], repeat: int) -> float:
    """Run `action` `repeat` times, print min / median wall-clock seconds, return the min."""
    times, cpu = [], []
    for _ in range(repeat):
        c0 = _cpu_seconds()
        t0 = time.perf_counter()
        action()
        times.append(time.perf_counter() - t0)
        cpu.append(_cpu_seconds() - c0)
    print(
        f"{label:70s} min {min(times):6.2f} s  median {statistics.median(times):6.2f} s  cpu {min(cpu):6.2f} s"
    )
    return min(times)


def _cpu_seconds() -> float:
    """User + system CPU time of this process and its finished children (git)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def build(repo: Path, files: int, commits: int) -> None:
    """Create the repository with one `git fast-import` stream."""
    if repo.exists():
        shutil.rmtree(repo)
    repo.mkdir(parents=True)
    t0 = time.perf_counter()
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True)
    rng = random.Random(1500)
    paths = [f"svc{i // 100:02d}/mod_{i % 100:03d}.py" for i in range(files)]
    stream: list[bytes] = []
    when = 1_700_000_000

    def commit(branch: str, parent: str | None, changes: dict[str, str | None], message: str) -> None:
        nonlocal when
        when += 600
        author = rng.choice(("Ada Lovelace <ada@example.com>", "Grace Hopper <grace@example.com>"))
        msg = message.encode()
        stream.append(
            f"commit refs/heads/{branch}\nauthor {author} {when} +0000\ncommitter {author} {when} +0000\n"
            f"data {len(msg)}\n".encode()
            + msg
            + b"\n"
        )
        if parent:
            stream.append(f"from {parent}\n".encode())
        for path, content in changes.items():
            if content is None:
                stream.append(f"D {path}\n".encode())
                continue
            data = content.encode()
            stream.append(f"M 100644 inline {path}\ndata {len(data)}\n".encode() + data + b"\n")
        stream.append(b"\n")

    commit("main", None, {p: _module(rng, i) for i, p in enumerate(paths)}, "initial import")
    for n in range(commits):
        branch = "main" if n % 3 else "feature"
        parent = "refs/heads/main" if n == 0 else None
        changes: dict[str, str | None] = {p: _module(rng, n) for p in rng.sample(paths, 10)}
        if n == 5:
            changes["config/settings.py"] = f'GITHUB_TOKEN = "{FAKE_KEY}"\n'
        if n == 40:
            changes["config/settings.py"] = None
            changes["deploy/settings.py"] = f'GITHUB_TOKEN = "{FAKE_KEY}"\n'
        commit(branch, parent if branch == "feature" and n == 0 else None, changes, f"change {n}")
    subprocess.run(["git", "fast-import", "--quiet"], cwd=repo, input=b"".join(stream), check=True)
    subprocess.run(["git", "checkout", "-q", "-f", "main"], cwd=repo, check=True)
    (repo / ".git" / "clearance-bench-ready").write_text("ok\n")
    print(f"built {repo} in {time.perf_counter() - t0:.1f} s")


def _module(rng: random.Random, i: int) -> str:
    lines = [f'"""Module {i}: synthetic code for the history benchmark."""', ""]
    for f in range(rng.randint(4, 10)):
        a, b = rng.sample(WORDS, 2)
        lines += [
            f"def {a}_{b}_{f}({a}: int, {b}: str = {rng.randint(0, 10**6)!r}) -> dict[str, object]:",
            f'    """Return the {a} for the {b}."""',
            f"    return {{'{a}': {a} * {rng.randint(1, 999)}, '{b}': {b}.strip()}}",
            "",
        ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    os.environ.setdefault("CI", "true")
    main()
