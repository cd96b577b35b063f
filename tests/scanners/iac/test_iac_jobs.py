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


def test_workers_run_the_rules_with_joins_inside_their_unit(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pool evaluates rules too (not only parsing): a worker's unit comes back with its
    hits, the same as in-process, including a join across a module boundary (the bucket in the
    module, its public access block in the caller)."""
    from clearance.scanners.iac.budget import Limits
    from clearance.scanners.iac.rules.registry import ALL_RULES

    monkeypatch.setattr(units, "POOL_MIN_UNITS", 2)
    texts = {
        "app/main.tf": (
            'module "b" {\n  source = "../mod"\n}\n'
            'resource "aws_s3_bucket_public_access_block" "b" {\n  bucket = module.b.id\n'
            "  block_public_acls = true\n  block_public_policy = true\n"
            "  ignore_public_acls = true\n  restrict_public_buckets = true\n}\n"
        ),
        "mod/main.tf": (
            'resource "aws_s3_bucket" "this" {\n  bucket = "acme-data"\n}\n'
            'output "id" {\n  value = aws_s3_bucket.this.id\n}\n'
        ),
        "sg/main.tf": (
            'resource "aws_security_group" "ssh" {\n  ingress {\n    from_port = 22\n    to_port = 22\n'
            '    protocol = "tcp"\n    cidr_blocks = ["0.0.0.0/0"]\n  }\n}\n'
        ),
    }
    kinds = dict.fromkeys(texts, "terraform")
    work = units.units(texts, kinds)
    ids = tuple(r.id for r in ALL_RULES)
    seq, one = units.evaluate_all(work, {}, Limits(), 1, ids)
    par, two = units.evaluate_all(work, {}, Limits(), 2, ids)
    assert (one, two) == (1, 2)

    def shown(results: list[units.UnitResult]) -> list[tuple[str, str, int]]:
        return [(rid, res.address, res.line_of(h.attribute)) for r in results for rid, res, h in r.hits]

    assert shown(par) == shown(seq)
    fired = {(rid, addr) for rid, addr, _ in shown(par)}
    assert ("iac.aws-sg-open-ssh", "aws_security_group.ssh") in fired
    assert ("iac.aws-s3-encryption", "module.b.aws_s3_bucket.this") in fired
    assert not any(rid == "iac.aws-s3-public-access-block" for rid, _ in fired)  # joined across the module
