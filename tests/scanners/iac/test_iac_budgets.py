"""Bounded work on hostile IaC (issue 10, items 13-14), through the CLI.

Each reproducer is a repository an attacker's pull request could contain. The gate must end
with a clean per-file error naming the file and the budget, mark the scan incomplete (exit 3
under the default `fail_closed`), and never raise `MemoryError` or hang. Work is asserted by
counts (findings, errors, instances evaluated), never by wall-clock time.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from clearance.cli import app
from clearance.scanners.iac.budget import Limits, StepCounter
from clearance.scanners.iac.parsers import hcl_fast

runner = CliRunner()
EXIT_BLOCKED, EXIT_INCOMPLETE = 1, 3


def gate(root: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    """`clearance gate ROOT --scanners iac --format json --jobs 1`: exit code and report."""
    result = runner.invoke(
        app, ["gate", str(root), "--scanners", "iac", "--format", "json", "--jobs", "1", "--quiet", *extra]
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "internal error" not in result.output.lower(), result.output
    return result.exit_code, json.loads(result.stdout)


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def interpolation_bomb() -> str:
    """12 KB: each local repeats the previous one 100 times (10^13 characters if expanded)."""
    lines = ['  a0 = "' + "x" * 1000 + '"']
    lines += [f'  a{i} = "' + ("${local.a" + str(i - 1) + "}") * 100 + '"' for i in range(1, 6)]
    return "locals {\n" + "\n".join(lines) + '\n}\nresource "aws_s3_bucket" "b" {\n  bucket = local.a5\n}\n'


def nested_dynamic() -> str:
    """400 bytes: four nested `dynamic` blocks over 64 items (16.7 million blocks)."""
    body = "content {\n x = 1\n}\n"
    for i in range(4):
        body = f'dynamic "d{i}" {{\n for_each = local.l\n content {{\n {body} }}\n}}\n'
    items = ",".join(map(str, range(64)))
    return "locals {\n  l = [" + items + ']\n}\nresource "aws_security_group" "s" {\n' + body + "}\n"


BUCKET = 'resource "aws_s3_bucket" "b" {\n  bucket = "x"\n  acl    = "public-read"\n}\n'


def test_interpolation_bomb_hits_the_string_budget(tmp_path: Path) -> None:
    code, report = gate(write(tmp_path, {"main.tf": interpolation_bomb()}))
    assert code == EXIT_INCOMPLETE
    assert report["summary"]["complete"] is False
    [error] = report["errors"]
    assert error["path"] == "main.tf"
    assert "max_string" in error["message"] and "aws_s3_bucket.b" in error["message"]


def test_nested_dynamic_fan_out_hits_the_dynamic_budget(tmp_path: Path) -> None:
    code, report = gate(write(tmp_path, {"main.tf": nested_dynamic()}))
    assert code == EXIT_INCOMPLETE
    [error] = report["errors"]
    assert error["path"] == "main.tf" and "max_dynamic" in error["message"]


def test_a_wide_literal_dynamic_within_budget_is_evaluated_whole(tmp_path: Path) -> None:
    """200 ingress rules from one dynamic block (past the old silent cut at 64): the last is checked."""
    ports = ", ".join(str(p) for p in range(1000, 1199)) + ", 22"
    tf = (
        "locals {\n  ports = [" + ports + "]\n}\n"
        'resource "aws_security_group" "s" {\n'
        '  dynamic "ingress" {\n    for_each = local.ports\n    content {\n'
        "      from_port   = ingress.value\n      to_port     = ingress.value\n"
        '      protocol    = "tcp"\n      cidr_blocks = ["0.0.0.0/0"]\n    }\n  }\n}\n'
    )
    code, report = gate(write(tmp_path, {"main.tf": tf}))
    assert not report["errors"]
    assert [f["rule_id"] for f in report["findings"] if f["rule_id"] == "iac.aws-sg-open-ssh"]
    assert code == EXIT_BLOCKED


def test_modules_calling_each_other_are_cut_at_the_cycle(tmp_path: Path) -> None:
    """root -> a (x8) -> b (x8) -> a: each call site of the cycle is reported once, work stays linear."""
    files = {
        "main.tf": "".join(f'module "m{i}" {{\n  source = "./a"\n}}\n' for i in range(8)),
        "a/main.tf": BUCKET + "".join(f'module "n{i}" {{\n  source = "../b"\n}}\n' for i in range(8)),
        "b/main.tf": BUCKET + "".join(f'module "n{i}" {{\n  source = "../a"\n}}\n' for i in range(8)),
    }
    code, report = gate(write(tmp_path, files))
    assert code == EXIT_INCOMPLETE or report["summary"]["complete"] is False
    cycle = [e for e in report["errors"] if "cycle" in e["message"]]
    assert {e["path"] for e in cycle} == {"b/main.tf"} and len(cycle) == 8
    assert "a -> b -> a" in cycle[0]["message"]
    public = [f for f in report["findings"] if f["rule_id"] == "iac.aws-s3-public-access"]
    assert len(public) == 8 + 64  # 8 instances of a, 64 of b; none of the cycle's repetitions


def test_modules_in_a_cycle_with_no_root_are_still_scanned(tmp_path: Path) -> None:
    files = {
        "a/main.tf": BUCKET + 'module "b" {\n  source = "../b"\n}\n',
        "b/main.tf": BUCKET + 'module "a" {\n  source = "../a"\n}\n',
    }
    _, report = gate(write(tmp_path, files))
    assert report["summary"]["complete"] is False
    assert any("cycle" in e["message"] for e in report["errors"])
    assert {
        f["location"]["path"] for f in report["findings"] if f["rule_id"] == "iac.aws-s3-public-access"
    } == {
        "a/main.tf",
        "b/main.tf",
    }


def test_module_fan_out_hits_the_instance_budget(tmp_path: Path) -> None:
    """Four levels of eight calls each (4,680 instances) without a cycle: stopped at the budget."""
    files = {"main.tf": "".join(f'module "m{i}" {{\n  source = "./l1"\n}}\n' for i in range(8))}
    for level in range(1, 5):
        calls = "".join(f'module "m{i}" {{\n  source = "../l{level + 1}"\n}}\n' for i in range(8))
        files[f"l{level}/main.tf"] = BUCKET + (calls if level < 4 else "")
    code, report = gate(write(tmp_path, files))
    assert code == EXIT_INCOMPLETE or report["summary"]["complete"] is False
    [error] = [e for e in report["errors"] if "max_module_instances" in e["message"]]
    assert error["path"] == "main.tf"
    assert len(report["findings"]) <= 5 * 256


def test_module_depth_is_bounded(tmp_path: Path) -> None:
    files = {"main.tf": 'module "m" {\n  source = "./l1"\n}\n'}
    for level in range(1, 12):
        files[f"l{level}/main.tf"] = f'module "m" {{\n  source = "../l{level + 1}"\n}}\n'
    files["l12/main.tf"] = BUCKET
    _, report = gate(write(tmp_path, files), "--config", str(write_config(tmp_path, "max_module_depth = 5")))
    assert report["summary"]["complete"] is False
    assert any("max_module_depth" in e["message"] for e in report["errors"])


def write_config(tmp_path: Path, limits: str) -> Path:
    path = tmp_path.parent / f"{tmp_path.name}-clearance.toml"
    path.write_text(f"[iac.limits]\n{limits}\n", encoding="utf-8")
    return path


def test_a_huge_hcl_string_is_read_in_linear_memory(tmp_path: Path) -> None:
    """A 4.9 MB string literal: read (the tokenizer does not backtrack per character) and checked."""
    tf = 'resource "aws_s3_bucket" "b" {\n  bucket = "' + "x" * 4_900_000 + '"\n  acl = "public-read"\n}\n'
    code, report = gate(write(tmp_path, {"main.tf": tf}))
    assert code == EXIT_BLOCKED and not report["errors"]
    [hit] = [f for f in report["findings"] if f["rule_id"] == "iac.aws-s3-public-access"]
    assert hit["location"]["start_line"] == 3


def test_the_string_token_pattern_does_not_grow_a_backtracking_stack() -> None:
    """The fast reader's string token is possessive: a long literal is one match, no stack per char."""
    text = 'v = "' + "y" * 200_000 + '"\n'
    tree = hcl_fast.parse(text)
    assert tree is not None and len(tree[0][4][0][1]) == 200_000


def test_cloudformation_sub_and_join_over_a_huge_parameter(tmp_path: Path) -> None:
    big = "y" * 1_000_000
    joins = ", ".join(["!Ref P"] * 2000)
    template = (
        'AWSTemplateFormatVersion: "2010-09-09"\nParameters:\n  P:\n    Type: String\n'
        f"    Default: {big}\nResources:\n"
        f'  B:\n    Type: AWS::S3::Bucket\n    Properties:\n      BucketName: !Join ["", [{joins}]]\n'
        f'  C:\n    Type: AWS::S3::Bucket\n    Properties:\n      BucketName: !Sub "{"${P}" * 2000}"\n'
        "  Open:\n    Type: AWS::S3::Bucket\n    Properties:\n      AccessControl: PublicReadWrite\n"
    )
    code, report = gate(write(tmp_path, {"t.yaml": template}))
    assert code in (EXIT_BLOCKED, EXIT_INCOMPLETE) and report["summary"]["complete"] is False
    messages = sorted(e["message"] for e in report["errors"] if e["path"] == "t.yaml")
    assert len(messages) == 2
    assert "Fn::Join" in messages[0] and "resource B" in messages[0] and "max_string" in messages[0]
    assert "Fn::Sub" in messages[1] and "resource C" in messages[1]
    # the rest of the template is still judged
    assert any(f["rule_id"] == "iac.aws-s3-public-access" for f in report["findings"])


def test_findings_per_rule_and_file_are_capped(tmp_path: Path) -> None:
    tf = "".join(
        f'resource "aws_s3_bucket" "b{i}" {{\n  bucket = "b{i}"\n  acl = "public-read"\n}}\n'
        for i in range(30)
    )
    code, report = gate(
        write(tmp_path, {"main.tf": tf}),
        "--config",
        str(write_config(tmp_path, "max_findings_per_rule = 10")),
    )
    assert code in (EXIT_BLOCKED, EXIT_INCOMPLETE) and report["summary"]["complete"] is False
    public = [f for f in report["findings"] if f["rule_id"] == "iac.aws-s3-public-access"]
    assert len(public) == 10
    assert any(
        e["path"] == "main.tf"
        and "iac.aws-s3-public-access" in e["message"]
        and "max_findings_per_rule" in e["message"]
        for e in report["errors"]
    )


@pytest.mark.parametrize("copies", [1, 10, 1000])
def test_reuse_of_a_value_is_charged_by_its_size(copies: int) -> None:
    """`[local.a, local.a, ...]` costs what it would cost to walk, not one step per reference."""
    counter = StepCounter(Limits(max_steps=10_000_000))
    shared = ["x" * 160] * 10  # 10 strings of 11 steps + the list
    nested = [shared] * copies
    counter.charge(nested)
    assert counter.steps == 1 + copies * (1 + 10 * 11)
