"""`--jobs` for IaC (issue 15, item 12): units (a Terraform component with the modules it
calls, or one other file) are parsed in a worker pool, and the output is byte-identical to a
single-process run, whatever the number of jobs (timings and the worker count aside)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clearance.cli import app
from clearance.scanners.iac import units

IAC = Path(__file__).resolve().parents[2] / "fixtures" / "iac"
runner = CliRunner()
_VARYING = re.compile(r'"(duration_s|workers|startTimeUtc|endTimeUtc)": [^,\n}]+')


def _tree(root: Path) -> Path:
    for part in (
        "modules",
        "plan",
        "aws-sg-open-ssh",
        "aws-iam-privilege-escalation",
        "kubernetes/privileged",
    ):
        shutil.copytree(IAC / part, root / part)
    shutil.copytree(IAC / "dockerfile" / "_templates", root / "templates")
    shutil.copytree(IAC / "dockerfile" / "secret-env", root / "docker")
    return root


def _scan(root: Path, fmt: str, jobs: int) -> str:
    result = runner.invoke(
        app, ["scan", str(root), "--scanners", "iac", "--format", fmt, "--jobs", str(jobs)]
    )
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.parametrize("fmt", ["json", "sarif"])
def test_output_is_byte_identical_across_job_counts(
    fmt: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(units, "POOL_MIN_UNITS", 2)
    root = _tree(tmp_path / "repo")
    one = _scan(root, fmt, 1)
    outputs = {jobs: _scan(root, fmt, jobs) for jobs in (2, 3)}
    if fmt == "json":
        assert '"workers": 1' in one and '"workers": 2' in outputs[2]  # the pool did run
    for text in outputs.values():
        assert _VARYING.sub("", text) == _VARYING.sub("", one)
    assert '"iac.aws-sg-open-ssh"' in one


def test_a_component_keeps_a_module_with_its_callers() -> None:
    texts = {
        "envs/prod/main.tf": 'module "b" {\n  source = "../../modules/bucket"\n}\n',
        "envs/dev/main.tf": 'module "b" {\n  source = "../../modules/bucket"\n}\n',
        "modules/bucket/main.tf": 'resource "aws_s3_bucket" "b" {}\n',
        "other/main.tf": 'resource "aws_s3_bucket" "o" {}\n',
        "k8s/pod.yaml": "apiVersion: v1\nkind: Pod\n",
    }
    kinds = {p: ("kubernetes" if p.endswith(".yaml") else "terraform") for p in texts}
    got = [(u.kind, [p for p, _ in u.files]) for u in units.units(texts, kinds)]
    assert got == [
        ("terraform", ["envs/dev/main.tf", "envs/prod/main.tf", "modules/bucket/main.tf"]),
        ("terraform", ["other/main.tf"]),
        ("kubernetes", ["k8s/pod.yaml"]),
    ]
