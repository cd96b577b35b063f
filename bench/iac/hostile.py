"""Time and memory of clearance on issue 10's hostile IaC reproducers (items 13-14).

    python bench/iac/hostile.py

Each reproducer is written to a temporary directory outside the repository (whose
`.clearanceignore` excludes `bench/`) and scanned with
`clearance scan DIR -s iac -j 1 -f json` under `/usr/bin/time -v`; the table shows wall
time, peak RSS, the number of findings and errors (the budget messages). The tests
(`tests/scanners/iac/test_iac_budgets.py`) assert the same runs by counts, not by time.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

BUCKET = 'resource "aws_s3_bucket" "b" {\n  bucket = "x"\n  acl    = "public-read"\n}\n'


def reproducers() -> dict[str, dict[str, str]]:
    """name -> {relative path: text}, as in issue 10."""
    bomb = ['  a0 = "' + "x" * 1000 + '"'] + [
        f'  a{i} = "' + ("${local.a" + str(i - 1) + "}") * 100 + '"' for i in range(1, 6)
    ]
    body = "content {\n x = 1\n}\n"
    for i in range(4):
        body = f'dynamic "d{i}" {{\n for_each = local.l\n content {{\n {body} }}\n}}\n'
    big = "y" * 1_000_000
    return {
        "locals-interpolation-bomb": {
            "main.tf": "locals {\n"
            + "\n".join(bomb)
            + '\n}\nresource "aws_s3_bucket" "b" {\n  bucket = local.a5\n}\n'
        },
        "nested-dynamic": {
            "main.tf": "locals {\n  l = ["
            + ",".join(map(str, range(64)))
            + ']\n}\nresource "aws_security_group" "s" {\n'
            + body
            + "}\n"
        },
        "modules-calling-each-other": {
            "main.tf": "".join(f'module "m{i}" {{\n  source = "./a"\n}}\n' for i in range(8)),
            "a/main.tf": BUCKET + "".join(f'module "n{i}" {{\n  source = "../b"\n}}\n' for i in range(8)),
            "b/main.tf": BUCKET + "".join(f'module "n{i}" {{\n  source = "../a"\n}}\n' for i in range(8)),
        },
        "huge-hcl-string": {
            "main.tf": 'resource "aws_s3_bucket" "b" {\n  bucket = "'
            + "x" * 4_900_000
            + '"\n  acl = "public-read"\n}\n'
        },
        "cfn-sub-join-1mb-parameter": {
            "t.yaml": 'AWSTemplateFormatVersion: "2010-09-09"\nParameters:\n  P:\n    Type: String\n'
            f"    Default: {big}\nResources:\n  B:\n    Type: AWS::S3::Bucket\n    Properties:\n"
            f'      BucketName: !Join ["", [{", ".join(["!Ref P"] * 2000)}]]\n'
            f'  C:\n    Type: AWS::S3::Bucket\n    Properties:\n      BucketName: !Sub "{"${P}" * 2000}"\n'
        },
    }


def main() -> None:
    """Write, scan and report every reproducer."""
    with tempfile.TemporaryDirectory() as tmp:
        _run(Path(tmp))


def _run(work: Path) -> None:
    print("| reproducer | exit | wall s | CPU s | peak RSS MB | findings | errors (budget messages) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
    for name, files in reproducers().items():
        root = work / name
        for rel, text in files.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(text, encoding="utf-8")
        proc = subprocess.run(
            [
                "/usr/bin/time",
                "-v",
                sys.executable,
                "-m",
                "clearance",
                "scan",
                str(root),
                "-s",
                "iac",
                "-j",
                "1",
                "-f",
                "json",
            ],
            capture_output=True,
            check=False,
        )
        err = proc.stderr.decode("utf-8", "replace")
        wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", err)
        rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", err)
        user = re.search(r"User time \(seconds\): (\S+)", err)
        system = re.search(r"System time \(seconds\): (\S+)", err)
        cpu = (float(user.group(1)) if user else 0.0) + (float(system.group(1)) if system else 0.0)
        seconds = (
            sum(float(x) * 60**i for i, x in enumerate(reversed(wall.group(1).split(":")))) if wall else 0.0
        )
        try:
            report = json.loads(proc.stdout)
        except json.JSONDecodeError:
            report = {
                "findings": [],
                "errors": [{"message": err.strip().splitlines()[-1] if err.strip() else "?"}],
            }
        budgets = sorted(
            {m for e in report["errors"] for m in re.findall(r"`(\w+)` budget|cycle", e["message"])}
        )
        print(
            f"| {name} | {proc.returncode} | {seconds:.2f} | {cpu:.2f} | {int(rss.group(1)) / 1024 if rss else 0:.0f} "
            f"| {len(report['findings'])} | {len(report['errors'])} ({', '.join(b or 'cycle' for b in budgets)}) |"
        )


if __name__ == "__main__":
    main()
