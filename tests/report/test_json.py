"""JSON: the documented, stable contract (docs/json-output.md)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from clearance.model import Reachability
from clearance.report import Format, ReportData, render
from report.report_sample import DECISION, RESULT, SECRET, SUPPRESSED, VULN, gate_data, scan_data


def _doc(data: ReportData) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(render(Format.json, data))
    return doc


def test_top_level_keys_are_the_contract() -> None:
    assert set(_doc(gate_data())) == {
        "schema_version",
        "tool",
        "target",
        "context",
        "findings",
        "summary",
        "skipped",
        "errors",
        "warnings",
        "decision",
    }
    assert _doc(gate_data())["schema_version"] == "1"


def test_findings_keep_the_scan_order_and_every_field() -> None:
    findings = _doc(gate_data())["findings"]
    assert [f["fingerprint"] for f in findings] == [f.fingerprint for f in RESULT.findings]
    assert set(findings[0]) == {
        "rule_id",
        "kind",
        "title",
        "severity",
        "scanner",
        "message",
        "location",
        "fingerprint",
        "evidence",
        "remediation",
        "references",
        "component",
        "signals",
        "suppressed",
        "suppression",
        "verdict",
    }
    assert set(findings[0]["location"]) == {
        "path",
        "start_line",
        "end_line",
        "start_column",
        "commit",
        "commit_author",
        "commit_date",
        "blob",
        "layer",
    }


def test_vulnerability_component_and_signals() -> None:
    vuln = _doc(gate_data())["findings"][1]
    assert vuln["component"] == {
        "ecosystem": "PyPI",
        "name": "requests",
        "version": "2.25.0",
        "purl": "pkg:pypi/requests@2.25.0",
        "scope": "runtime",
        "direct": True,
        "location": {"path": "requirements.txt", "start_line": 4, "layer": None},
    }
    assert vuln["signals"] == {
        "reachable": "unknown",
        "kev": False,
        "epss": {"score": 0.0213, "percentile": 0.61, "date": "2026-11-30"},
        "fix_versions": ["2.31.0"],
        "aliases": ["CVE-2023-32681"],
    }
    assert vuln["verdict"]["notes"] == ["exception EXC-12 (owner team-payments) expired on 2026-10-01"]


def test_signals_of_any_type_become_plain_json() -> None:
    odd = dataclasses.replace(
        VULN, signals={"reachable": Reachability.NO, "paths": {"b", "a"}, "epss": float("nan"), "obj": object}
    )
    doc = _doc(gate_data(result=dataclasses.replace(RESULT, findings=(odd,))))
    assert doc["findings"][0]["signals"]["reachable"] == "no"
    assert doc["findings"][0]["signals"]["paths"] == ["a", "b"]
    assert doc["findings"][0]["signals"]["epss"]["score"] == "nan"


def test_suppressed_findings_are_kept_and_marked() -> None:
    doc = _doc(gate_data())
    suppressed = next(f for f in doc["findings"] if f["fingerprint"] == SUPPRESSED.fingerprint)
    assert suppressed["suppressed"] is True
    assert suppressed["suppression"] == {
        "reason": "test fixture database",
        "source": "inline:tests/fixtures/db.env:1",
        "expires": None,
    }
    assert doc["summary"]["suppressed"] == 1


def test_summary_counts() -> None:
    summary = _doc(gate_data())["summary"]
    assert summary["by_severity"] == {
        "critical": 1,
        "high": 2,
        "medium": 1,
        "unknown": 0,
        "low": 0,
        "info": 1,
    }
    assert summary["by_kind"] == {"secret": 2, "vulnerability": 1, "misconfiguration": 2, "imported": 0}
    assert summary["by_action"] == {"block": 2, "warn": 1, "pass": 2, "excepted": 0, "ignore": 0}
    assert summary["outcome"] == "block" and summary["headline"] == "BLOCKED" and summary["complete"] is False
    assert (summary["files_scanned"], summary["files_skipped"], summary["errors"]) == (148, 2, 1)


def test_decision_block_and_its_absence() -> None:
    decision = _doc(gate_data())["decision"]
    assert decision == {
        "outcome": "block",
        "policy": "threshold:high",
        "policy_digest": DECISION.policy_digest,
        "reasons": list(DECISION.reasons),
        "exit_code": 1,
        "extra": {},
    }
    doc = _doc(scan_data())
    assert (
        doc["decision"] is None and doc["summary"]["by_action"] is None and doc["summary"]["outcome"] is None
    )
    assert all(f["verdict"] is None for f in doc["findings"])


def test_errors_skipped_warnings_and_scanners() -> None:
    doc = _doc(gate_data())
    assert doc["errors"] == [
        {"path": "infra/broken.tf", "scanner": "iac", "message": "HCL parse error at line 7: unexpected '}'"}
    ]
    assert doc["skipped"][0] == {"path": "assets/logo.png", "reason": "binary"}
    assert doc["warnings"] == ["advisory database is 9 days old"]
    assert [s["id"] for s in doc["tool"]["scanners"]] == ["secrets", "deps", "iac"]
    assert doc["tool"]["scanners"][2]["status"] == "partial"


def test_keys_are_sorted_and_output_is_stable_under_dict_order() -> None:
    text = render(Format.json, gate_data())
    doc = json.loads(text)
    assert list(doc) == sorted(doc)
    for line in text.splitlines():  # one finding/skip/error per line, keys sorted within it
        if line.startswith("    {"):
            item = json.loads(line.rstrip(","))
            assert list(item) == sorted(item)
    shuffled = dataclasses.replace(SECRET, signals=dict(reversed(list(SECRET.signals.as_dict().items()))))
    findings = (shuffled, *RESULT.findings[1:])
    assert render(Format.json, gate_data(result=dataclasses.replace(RESULT, findings=findings))) == text


def test_context_never_carries_credentials() -> None:
    data = gate_data(
        context={"repository": "acme/shop", "github_token": "ghs_x", "API_KEY": "k", "db_password": "p"}
    )
    assert _doc(data)["context"] == {"repository": "acme/shop"}


def _keys(value: Any, skip: frozenset[str]) -> set[str]:
    out: set[str] = set()
    if isinstance(value, dict):
        for k, v in value.items():
            out.add(k)
            if k not in skip:
                out |= _keys(v, skip)
    elif isinstance(value, list):
        for v in value:
            out |= _keys(v, skip)
    return out


def test_every_key_is_documented() -> None:
    doc_text = (Path(__file__).resolve().parents[2] / "docs" / "json-output.md").read_text(encoding="utf-8")
    free_form = frozenset({"signals", "context", "detail", "extra", "by_severity", "by_kind", "by_action"})
    keys = _keys(_doc(gate_data()), free_form) | _keys(_doc(scan_data()), free_form)
    undocumented = sorted(
        k
        for k in keys
        if f"`{k}`" not in doc_text and f"`{k}[]`" not in doc_text and f".{k}`" not in doc_text
    )
    assert not undocumented
