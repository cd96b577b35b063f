"""Produce the evidence for one gate run: statements, envelopes and the release bundle."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from securesystemslib.signer import Signer

from clearance.decision import Decision
from clearance.evidence import dsse, sbom, statements
from clearance.evidence.bundle import write_bundle
from clearance.evidence.statements import Statement, Subject
from clearance.model import ScanResult


@dataclass(frozen=True)
class EvidenceOutput:
    """Where the evidence went."""

    bundle: Path
    bundle_sha256: str
    envelopes: tuple[Path, ...]


def produce(
    out_dir: Path,
    *,
    result: ScanResult,
    decision: Decision,
    subjects: Sequence[Subject],
    signer: Signer,
    now: dt.datetime,
    started: dt.datetime,
    name: str,
    build: Mapping[str, Any],
    reports: Mapping[str, str],
) -> EvidenceOutput:
    """Sign every statement, write `*.intoto.jsonl` files and `<name>.bundle.tar.gz` into `out_dir`.

    `reports` maps bundle file names (`results.sarif`, `results.json`) to their text.
    """
    sbom_json = sbom.cyclonedx_json(
        result.components,
        name=name,
        now=now,
        commit=result.target.commit,
        image=result.target if result.target.kind == "image" else None,
    )
    sbom_st = statements.sbom_statement(subjects, sbom_json)
    vulns_st = statements.vulns_statement(subjects, result, started, now)
    findings_st = statements.findings_statement(subjects, result)
    decision_st = statements.decision_statement(subjects, result, decision, now, build)
    resource = str(build.get("repository") or result.target.path)
    vsa_st = statements.vsa_statement(
        subjects, decision, [sbom_st, vulns_st, findings_st, decision_st], now, resource
    )
    signed: dict[str, list[Statement]] = {
        "sbom": [sbom_st],
        "vulns": [vulns_st],
        "findings": [findings_st],
        "decision": [decision_st],
        "vsa": [vsa_st],
    }
    files: dict[str, bytes] = {"sbom.cdx.json": sbom_json.encode()}
    for fname, text in reports.items():
        files[fname] = text.encode()
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for key, sts in signed.items():
        jsonl = dsse.to_jsonl([dsse.sign(s.raw, signer) for s in sts])
        files[f"{key}.intoto.jsonl"] = jsonl.encode()
        target = out_dir / f"{name}.{key}.intoto.jsonl"
        target.write_text(jsonl, encoding="utf-8")
        written.append(target)
    (out_dir / f"{name}.sbom.cdx.json").write_text(sbom_json, encoding="utf-8")
    bundle_path = out_dir / f"{name}.bundle.tar.gz"
    digest = write_bundle(bundle_path, files, subjects, signer)
    return EvidenceOutput(bundle_path, digest, tuple(written))


def summary_lines(decision_predicate: Mapping[str, Any]) -> list[str]:
    """Human lines about a verified decision: outcome, checks, exceptions, approvals, build."""
    lines = [
        f"decision: {decision_predicate.get('outcome')} (policy {decision_predicate.get('policy', {}).get('name')})"
    ]
    counts = decision_predicate.get("counts", {})
    lines.append(
        "verdicts: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()) if v)
        if counts
        else "verdicts: none"
    )
    for check in decision_predicate.get("checks", []):
        lines.append(
            f"ran: {check.get('scanner')} {check.get('version')} ({check.get('status')}, {check.get('files')} files)"
        )
    for exc in decision_predicate.get("exceptions", []):
        lines.append(
            f"exception {exc.get('id')}: owner {exc.get('owner')}, expires {exc.get('expires')}, "
            f"reason: {exc.get('reason')}"
        )
    for appr in decision_predicate.get("approvals", []):
        lines.append(
            f"approved by {appr.get('by')} at {appr.get('at')} "
            f"for {', '.join(appr.get('paths', [])) or appr.get('pattern', '')}"
        )
    build = decision_predicate.get("build", {})
    if build:
        lines.append("build: " + json.dumps(build, sort_keys=True))
    return lines
