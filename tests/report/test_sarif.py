"""SARIF: valid against the OASIS 2.1.0 schema and carrying what GitHub code scanning needs."""

from __future__ import annotations

import dataclasses
import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from clearance.model import Action, Location, Severity, Verdict
from clearance.report import Format, render
from clearance.report.sarif import SECURITY_SEVERITY
from report import sarif_checks
from report.report_sample import (
    DECISION,
    INFO,
    MISCONFIG,
    RESULT,
    RULES,
    SECRET,
    SUPPRESSED,
    VULN,
    gate_data,
    scan_data,
)

# A copy of ../shared/data/schemas/sarif-2.1.0-rtm.5.json, so a clone without ../shared still tests.
SCHEMA = Path(__file__).resolve().parents[1] / "fixtures" / "schemas" / "sarif-2.1.0-rtm.5.json"


@cache
def _validator() -> Any:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema, format_checker=jsonschema.FormatChecker())


def _sarif(data: Any) -> dict[str, Any]:
    log: dict[str, Any] = json.loads(render(Format.sarif, data))
    errors = sorted(_validator().iter_errors(log), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:10])
    return log


def _results_by_fp(log: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["properties"]["fingerprint"]: r for r in log["runs"][0]["results"]}


@pytest.mark.parametrize("make", [gate_data, scan_data], ids=["gate", "scan"])
def test_valid_against_the_sarif_schema(make: Any) -> None:
    log = _sarif(make())
    assert log["version"] == "2.1.0" and len(log["runs"]) == 1


def test_the_schema_validator_rejects_a_broken_log() -> None:
    log = json.loads(render(Format.sarif, gate_data()))
    del log["runs"][0]["tool"]["driver"]["name"]
    log["runs"][0]["results"][0]["level"] = "fatal"
    assert len(list(_validator().iter_errors(log))) >= 2


def test_rules_carry_what_github_needs() -> None:
    driver = _sarif(gate_data())["runs"][0]["tool"]["driver"]
    assert driver["name"] == "clearance" and driver["version"] == "0.1.0" and driver["informationUri"]
    rules = {r["id"]: r for r in driver["rules"]}
    assert set(rules) == {f.rule_id for f in RESULT.findings}
    for rule in rules.values():
        assert rule["shortDescription"]["text"] and rule["fullDescription"]["text"]
        assert rule["help"]["text"] and rule["help"]["markdown"]
        assert "security" in rule["properties"]["tags"]
    aws = rules[SECRET.rule_id]
    assert aws["fullDescription"]["text"].startswith("An AWS access key ID (AKIA/ASIA prefix)"), (
        "from RuleInfo"
    )
    assert aws["properties"]["security-severity"] == "9.5"
    assert rules[VULN.rule_id]["properties"]["security-severity"] == "8.0"
    assert rules[MISCONFIG.rule_id]["properties"]["security-severity"] == "5.5"
    assert rules[INFO.rule_id]["properties"]["security-severity"] == "0.0"


def test_security_severity_mapping_is_numeric_and_ordered() -> None:
    scores = [
        float(SECURITY_SEVERITY[s])
        for s in (Severity.INFO, Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL)
    ]
    assert scores == sorted(scores) and scores[-1] >= 9.0 and 7.0 <= scores[-2] < 9.0


def test_results_point_at_their_rule_and_location() -> None:
    run = _sarif(gate_data())["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    for result, finding in zip(run["results"], RESULT.findings, strict=True):
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"] == finding.rule_id
        physical = result["locations"][0]["physicalLocation"]
        assert physical["artifactLocation"] == {"uri": finding.location.path, "uriBaseId": "%SRCROOT%"}
        assert result["partialFingerprints"]["primaryLocationLineHash"] == f"{finding.fingerprint}:1"
    secret = _results_by_fp(_sarif(gate_data()))[SECRET.fingerprint]
    assert secret["locations"][0]["physicalLocation"]["region"] == {
        "startLine": 12,
        "endLine": 12,
        "startColumn": 18,
    }
    assert "AKIA…Q7ZK" in secret["message"]["text"]


def test_region_is_omitted_without_a_line() -> None:
    result = _results_by_fp(_sarif(gate_data()))[INFO.fingerprint]
    assert "region" not in result["locations"][0]["physicalLocation"]


def test_uris_are_percent_encoded() -> None:
    odd = dataclasses.replace(SECRET, location=Location("src/my app/100%#x.py", start_line=3))
    data = gate_data(result=dataclasses.replace(RESULT, findings=(odd,)))
    result = _sarif(data)["runs"][0]["results"][0]
    assert (
        result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "src/my%20app/100%25%23x.py"
    )


def test_level_follows_the_verdict_when_there_is_a_decision() -> None:
    results = _results_by_fp(_sarif(gate_data()))
    assert results[SECRET.fingerprint]["level"] == "error"
    assert results[VULN.fingerprint]["level"] == "error"
    assert results[MISCONFIG.fingerprint]["level"] == "warning"
    assert results[SUPPRESSED.fingerprint]["level"] == "note", "high severity, but passed by suppression"
    assert results[VULN.fingerprint]["properties"]["verdict"]["rule"] == "threshold:high"


def test_level_follows_severity_without_a_decision() -> None:
    results = _results_by_fp(_sarif(scan_data()))
    assert results[SECRET.fingerprint]["level"] == "error"
    assert results[SUPPRESSED.fingerprint]["level"] == "error"
    assert results[MISCONFIG.fingerprint]["level"] == "warning"
    assert results[INFO.fingerprint]["level"] == "note"
    assert results[SECRET.fingerprint]["properties"]["verdict"] is None


def test_suppressed_and_excepted_findings_carry_suppressions() -> None:
    excepted = Verdict(
        MISCONFIG.fingerprint, Action.EXCEPTED, "default", "accepted risk", exception_id="EXC-7"
    )
    decision = dataclasses.replace(DECISION, verdicts={**DECISION.verdicts, MISCONFIG.fingerprint: excepted})
    results = _results_by_fp(_sarif(gate_data(decision=decision)))
    assert results[SUPPRESSED.fingerprint]["suppressions"] == [
        {
            "kind": "inSource",
            "status": "accepted",
            "justification": "test fixture database (inline:tests/fixtures/db.env:1)",
        }
    ]
    (external,) = results[MISCONFIG.fingerprint]["suppressions"]
    assert external["kind"] == "external" and "EXC-7" in external["justification"]
    assert "suppressions" not in results[SECRET.fingerprint]


def test_invocation_reports_incomplete_scans_and_errors() -> None:
    invocation = _sarif(gate_data())["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False
    assert invocation["exitCode"] == 1
    levels = [(n["level"], n["message"]["text"]) for n in invocation["toolExecutionNotifications"]]
    assert ("error", "iac: HCL parse error at line 7: unexpected '}'") in levels
    assert ("warning", "advisory database is 9 days old") in levels
    complete = dataclasses.replace(RESULT, errors=(), runs=RESULT.runs[:2])
    assert _sarif(gate_data(result=complete))["runs"][0]["invocations"][0]["executionSuccessful"] is True


def test_version_control_provenance_comes_from_the_context() -> None:
    run = _sarif(gate_data())["runs"][0]
    assert run["versionControlProvenance"] == [
        {
            "repositoryUri": "https://github.com/acme/shop",
            "revisionId": RESULT.target.commit,
            "branch": "feature/cart",
        }
    ]
    assert "versionControlProvenance" not in _sarif(scan_data())["runs"][0]


def test_provenance_from_the_nested_ci_context() -> None:
    context = {
        "service": "shop",
        "ci": {
            "server_url": "https://github.com",
            "repository": "acme/shop",
            "commit": "abc",
            "branch": "main",
        },
    }
    run = _sarif(gate_data(context=context))["runs"][0]
    assert run["versionControlProvenance"] == [
        {"repositoryUri": "https://github.com/acme/shop", "revisionId": "abc", "branch": "main"}
    ]


def test_rule_tags_keep_security_first_and_stay_within_githubs_limit() -> None:
    many = {
        SECRET.rule_id: dataclasses.replace(RULES[SECRET.rule_id], tags=tuple(f"t{i:02}" for i in range(30)))
    }
    rules = _sarif(gate_data(rules=many))["runs"][0]["tool"]["driver"]["rules"]
    tags = next(r for r in rules if r["id"] == SECRET.rule_id)["properties"]["tags"]
    assert tags[:3] == ["security", "secrets", "t00"] and len(tags) == 20


GOLDEN = Path(__file__).resolve().parents[1] / "golden"


@pytest.mark.parametrize("name", sorted(p.name for p in GOLDEN.glob("*.sarif")))
def test_every_sarif_golden_validates_and_passes_the_multitool_rules(name: str) -> None:
    log = json.loads((GOLDEN / name).read_text(encoding="utf-8"))
    errors = [e.message for e in _validator().iter_errors(log)]
    assert not errors
    assert sarif_checks.problems(log) == []


def test_the_multitool_rules_catch_what_the_multitool_caught() -> None:
    log = json.loads(render(Format.sarif, gate_data()))
    rule = log["runs"][0]["tool"]["driver"]["rules"][0]
    rule["helpUri"] = "CIS AWS Foundations 3.6"
    log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] = "/abs/x.py"
    log["runs"][0]["results"][1]["ruleIndex"] = 99
    found = "\n".join(sarif_checks.problems(log))
    assert "SARIF1002" in found and "GH1005" in found and "SARIF1009" in found


def test_help_uri_is_only_ever_a_url_and_other_references_stay_in_help() -> None:
    cis = dataclasses.replace(
        MISCONFIG,
        references=("CIS AWS Foundations 3.6", "https://docs.aws.amazon.com/s3/block-public-access"),
    )
    only_cis = dataclasses.replace(SECRET, references=("CIS Docker Benchmark v1.6 4.1: Ensure a user",))
    log = _sarif(gate_data(result=dataclasses.replace(RESULT, findings=(cis, only_cis)), rules={}))
    rules = {r["id"]: r for r in log["runs"][0]["tool"]["driver"]["rules"]}
    assert rules[cis.rule_id]["helpUri"] == "https://docs.aws.amazon.com/s3/block-public-access"
    assert "CIS AWS Foundations 3.6" in rules[cis.rule_id]["help"]["text"]
    assert rules[cis.rule_id]["properties"]["references"] == list(cis.references)
    assert "helpUri" not in rules[only_cis.rule_id]
    assert "CIS Docker Benchmark v1.6 4.1" in rules[only_cis.rule_id]["help"]["markdown"]
    assert sarif_checks.problems(log) == []
