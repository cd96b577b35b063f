"""Templated Dockerfiles (issue 15, item 10): docker-library's `Dockerfile.template` (jq
`{{ }}` blocks spanning lines, `%%VAR%%`) and Jinja `Dockerfile.j2` are read line by line:
template-only lines are skipped and reported in a warning, inline placeholders read as a
build argument without a value, and everything else is judged at its own line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from clearance.cli import app

TEMPLATES = Path(__file__).resolve().parents[2] / "fixtures" / "iac" / "dockerfile" / "_templates"
runner = CliRunner()


def scan(tmp_path: Path, name: str) -> dict[str, Any]:
    shutil.copy(TEMPLATES / name, tmp_path / name)
    result = runner.invoke(
        app, ["scan", str(tmp_path), "--scanners", "iac", "--format", "json", "--jobs", "1"]
    )
    report: dict[str, Any] = json.loads(result.stdout)
    return report


@pytest.mark.parametrize(
    ("name", "findings", "skipped"),
    [
        (
            "Dockerfile.template",
            {
                ("iac.docker-curl-pipe-shell", 15),
                ("iac.docker-healthcheck-missing", 4),
                ("iac.docker-root-user", 4),
                ("iac.docker-unpinned-packages", 7),
                ("iac.docker-unpinned-packages", 11),
            },
            "lines 1, 2, 3, 6, 8, 13, 16",
        ),
        # `FROM python:{{ v }}-slim` and `USER {{ user }}` are unknown, not untagged/root;
        # `ENV API_TOKEN={{ api_token }}` is not a literal secret.
        ("Dockerfile.j2", {("iac.docker-healthcheck-missing", 1)}, "lines 2, 4"),
    ],
)
def test_a_template_is_scanned_line_by_line(
    tmp_path: Path, name: str, findings: set[tuple[str, int]], skipped: str
) -> None:
    report = scan(tmp_path, name)
    assert report["errors"] == []
    assert {(f["rule_id"], f["location"]["start_line"]) for f in report["findings"]} == findings
    [warning] = [w for w in report["warnings"] if name in w]
    assert "template" in warning and skipped in warning


def test_a_plain_dockerfile_with_an_unknown_instruction_is_still_an_error(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM alpine:3.20\nRUNN echo hi\n", encoding="utf-8")
    result = runner.invoke(
        app, ["scan", str(tmp_path), "--scanners", "iac", "--format", "json", "--jobs", "1"]
    )
    report = json.loads(result.stdout)
    assert [e["path"] for e in report["errors"]] == ["Dockerfile"]
    assert "unknown instruction" in report["errors"][0]["message"]
