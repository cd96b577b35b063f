"""GitLab security reports validate against GitLab's published 15.2.4 schemas.

The dependency-scanning schema is the vendored copy (tests/fixtures/schemas/gitlab, from
../shared/data/schemas/gitlab). GitLab's SAST and secret-detection schemas share every
definition with it and differ only in `scan.type` and the shape of `location` (see that
README); those two are checked against the dependency-scanning schema with the location and
type swapped for the shapes GitLab documents for them.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from clearance.model import Target
from clearance.report.gitlab import (
    GITLAB_REPORTS,
    SCHEMA_VERSION,
    render_gitlab_dependency_scanning,
    render_gitlab_sast,
    render_gitlab_secret_detection,
)
from report.report_sample import MISCONFIG, RESULT, SECRET, gate_data

SCHEMAS = Path(__file__).resolve().parents[1] / "fixtures" / "schemas" / "gitlab"

_SAST_LOCATION = {
    "type": "object",
    "properties": {
        "file": {"type": "string", "minLength": 1},
        "start_line": {"type": "integer"},
        "end_line": {"type": "integer"},
        "class": {"type": "string"},
        "method": {"type": "string"},
    },
}
_SECRET_LOCATION = {
    "type": "object",
    "required": ["commit"],
    "properties": {
        **_SAST_LOCATION["properties"],  # type: ignore[dict-item]
        "commit": {
            "type": "object",
            "required": ["sha"],
            "properties": {
                "author": {"type": "string"},
                "date": {"type": "string"},
                "message": {"type": "string"},
                "sha": {"type": "string", "minLength": 1},
            },
        },
    },
}


@cache
def _validator(scan_type: str) -> Any:
    schema = json.loads((SCHEMAS / "dependency-scanning-report-format.json").read_text(encoding="utf-8"))
    if scan_type != "dependency_scanning":
        schema = copy.deepcopy(schema)
        schema["properties"]["scan"]["properties"]["type"] = {"enum": [scan_type]}
        item = schema["properties"]["vulnerabilities"]["items"]
        item["properties"]["location"] = _SAST_LOCATION if scan_type == "sast" else _SECRET_LOCATION
    return jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())


def _valid(text: str) -> dict[str, Any]:
    report: dict[str, Any] = json.loads(text)
    errors = [f"{list(e.path)}: {e.message}" for e in _validator(report["scan"]["type"]).iter_errors(report)]
    assert not errors, errors[:5]
    return report


def test_the_schema_is_gitlab_15_2_4_and_the_reports_say_so() -> None:
    schema = json.loads((SCHEMAS / "dependency-scanning-report-format.json").read_text(encoding="utf-8"))
    assert schema["self"]["version"] == SCHEMA_VERSION == "15.2.4"
    for _, render in GITLAB_REPORTS:
        report = json.loads(render(gate_data()))
        assert report["version"] == "15.2.4" and "/v15.2.4/" in report["schema"]


@pytest.mark.parametrize("name,render", GITLAB_REPORTS, ids=[n for n, _ in GITLAB_REPORTS])
def test_every_report_validates(name: str, render: Any) -> None:
    _valid(render(gate_data()))
    _valid(render(gate_data(result=dataclasses.replace(RESULT, findings=()))))


def test_the_dependency_schema_rejects_a_broken_report() -> None:
    report = json.loads(render_gitlab_dependency_scanning(gate_data()))
    del report["vulnerabilities"][0]["location"]["dependency"]
    assert list(_validator("dependency_scanning").iter_errors(report))


def test_iac_findings_go_into_the_sast_report() -> None:
    report = _valid(render_gitlab_sast(gate_data()))
    assert report["scan"]["type"] == "sast"
    (vuln,) = report["vulnerabilities"]
    assert vuln["location"] == {"file": "infra/storage.tf", "start_line": 3, "end_line": 9}
    assert vuln["identifiers"][0]["value"] == MISCONFIG.rule_id


def test_the_secret_commit_is_the_scanned_one_or_left_out() -> None:
    head = "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432"
    (vuln,) = _valid(render_gitlab_secret_detection(gate_data(context={})))["vulnerabilities"]
    assert vuln["location"]["commit"] == {"sha": head}, "the target's HEAD when CI says nothing"
    unknown = dataclasses.replace(RESULT, target=Target(kind="directory", path="/src/x"))
    report = json.loads(render_gitlab_secret_detection(gate_data(result=unknown, context={})))
    (vuln,) = report["vulnerabilities"]
    assert "commit" not in vuln["location"] and "0000000" not in json.dumps(report)
    historic = dataclasses.replace(
        SECRET, location=dataclasses.replace(SECRET.location, commit="abc123", commit_author="dev")
    )
    data = gate_data(result=dataclasses.replace(RESULT, findings=(historic,)), context={})
    (vuln,) = _valid(render_gitlab_secret_detection(data))["vulnerabilities"]
    assert vuln["location"]["commit"] == {"sha": "abc123", "author": "dev"}
