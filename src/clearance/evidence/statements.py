"""in-toto Statement v1 builders: SBOM, vulnerabilities, other findings, the decision (SLSA VSA)
and clearance's own decision predicate.

A `Statement` keeps the exact bytes that get signed, so the signed encoding never drifts.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clearance import __version__
from clearance.decision import Decision
from clearance.errors import EvidenceError
from clearance.evidence.dsse import loads_bounded
from clearance.model import Action, FindingKind, Outcome, ScanResult
from clearance.scanners.registry import specs_finding

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
CYCLONEDX_PREDICATE = "https://cyclonedx.org/bom"
VULNS_PREDICATE = "https://in-toto.io/attestation/vulns/v0.2"
FINDINGS_PREDICATE = "https://clearance.dev/findings/v0.1"
VSA_PREDICATE = "https://slsa.dev/verification_summary/v1"
DECISION_PREDICATE = "https://clearance.dev/decision/v0.1"
VERIFIER_ID = "https://clearance.dev/verifier/clearance"


@dataclass(frozen=True)
class Subject:
    """An artifact the evidence is about: a name and its digests."""

    name: str
    digest: Mapping[str, str]

    def to_dict(self) -> dict[str, Any]:
        """The in-toto ResourceDescriptor form."""
        return {"name": self.name, "digest": dict(self.digest)}


def artifact_subject(path: Path) -> Subject:
    """Subject for a built file: its name and sha256."""
    h = hashlib.sha256()
    try:
        # Non-blocking open and a check on the descriptor: a FIFO or device is refused, not read.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                raise EvidenceError(f"artifact {path} is not a regular file")
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    except OSError as e:
        raise EvidenceError(f"cannot read artifact {path}: {e.strerror}") from e
    return Subject(path.name, {"sha256": h.hexdigest()})


def digest_subject(digest: str, name: str) -> Subject:
    """Subject for a digest given on the command line (`sha256:<hex>`, e.g. an OCI image digest)."""
    alg, sep, value = digest.partition(":")
    if not sep or alg != "sha256" or len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
        raise EvidenceError(
            f"invalid artifact digest {digest!r}", hint="expected sha256:<64 lowercase hex digits>"
        )
    return Subject(name, {"sha256": value})


def commit_subject(repository: str | None, commit: str) -> Subject:
    """Subject for a source commit when nothing was built."""
    return Subject(f"git+{repository}" if repository else "source", {"gitCommit": commit})


@dataclass(frozen=True)
class Statement:
    """An in-toto Statement v1 with its exact serialized bytes."""

    raw: bytes

    @classmethod
    def build(
        cls, subjects: Sequence[Subject], predicate_type: str, predicate: Mapping[str, Any]
    ) -> Statement:
        """Serialize a statement (sorted keys, compact) once."""
        if not subjects:
            raise EvidenceError("a statement needs at least one subject")
        body = {
            "_type": STATEMENT_TYPE,
            "subject": [s.to_dict() for s in subjects],
            "predicateType": predicate_type,
            "predicate": predicate,
        }
        return cls(json.dumps(body, sort_keys=True, separators=(",", ":")).encode())

    @classmethod
    def parse(cls, raw: bytes) -> Statement:
        """Validate bytes as a Statement v1 (raises EvidenceError)."""
        try:
            body = loads_bounded(raw)
        except ValueError as e:
            raise EvidenceError(f"statement is not JSON: {e}") from e
        if not isinstance(body, dict) or body.get("_type") != STATEMENT_TYPE:
            raise EvidenceError("payload is not an in-toto Statement v1")
        if not isinstance(body.get("subject"), list) or not body["subject"]:
            raise EvidenceError("statement has no subject")
        if not isinstance(body.get("predicateType"), str) or not isinstance(body.get("predicate"), dict):
            raise EvidenceError("statement lacks predicateType/predicate")
        return cls(raw)

    @property
    def body(self) -> dict[str, Any]:
        """The decoded statement."""
        value: dict[str, Any] = json.loads(self.raw)
        return value

    @property
    def predicate_type(self) -> str:
        """The statement's predicate type."""
        return str(self.body["predicateType"])

    @property
    def digest(self) -> str:
        """sha256 of the exact statement bytes."""
        return hashlib.sha256(self.raw).hexdigest()


def rfc3339(t: dt.datetime) -> str:
    """UTC timestamp, seconds precision, `Z` suffix."""
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def sbom_statement(subjects: Sequence[Subject], sbom_json: str) -> Statement:
    """The CycloneDX BOM as a predicate."""
    return Statement.build(subjects, CYCLONEDX_PREDICATE, json.loads(sbom_json))


def vulns_statement(
    subjects: Sequence[Subject], result: ScanResult, started: dt.datetime, finished: dt.datetime
) -> Statement:
    """in-toto vulns v0.2: the vulnerability findings with their scores."""
    matchers = {s.id for s in specs_finding(FindingKind.VULNERABILITY)}
    deps_run = next((r for r in result.runs if r.scanner in matchers), None)
    db = dict(deps_run.detail) if deps_run else {}
    results = []
    for f in result.findings:
        if f.kind is not FindingKind.VULNERABILITY:
            continue
        severity = [{"method": "clearance", "score": f.severity.value}]
        signals = f.signals
        score = signals.cvss_score
        if score is not None:
            severity.append({"method": "CVSS", "score": str(score)})
        results.append(
            {
                "id": f.rule_id.removeprefix("vuln."),
                "severity": severity,
                "annotations": [
                    {
                        "purl": f.component.purl if f.component else None,
                        "aliases": list(signals.aliases or ()),
                        "fix_versions": list(signals.fix_versions or ()),
                        "kev": signals.kev,
                        "epss": signals.as_dict().get("epss"),
                        "reachable": signals.reachable,
                        "location": f.location.display(),
                        "fingerprint": f.fingerprint,
                    }
                ],
            }
        )
    predicate = {
        "scanner": {
            "uri": "https://clearance.dev",
            "version": __version__,
            "db": {
                "uri": str(db.get("db_source", "osv")),
                "version": str(db.get("db_version", "")),
                "lastUpdate": str(db.get("db_newest_modified", "")),
            },
            "result": results,
        },
        "metadata": {"scanStartedOn": rfc3339(started), "scanFinishedOn": rfc3339(finished)},
    }
    return Statement.build(subjects, VULNS_PREDICATE, predicate)


def findings_statement(subjects: Sequence[Subject], result: ScanResult) -> Statement:
    """Secrets and IaC findings: redacted evidence and fingerprints only."""
    items = [
        {
            "rule_id": f.rule_id,
            "kind": f.kind.value,
            "severity": f.severity.value,
            "title": f.title,
            "location": {
                "path": f.location.path,
                "start_line": f.location.start_line,
                "commit": f.location.commit,
            },
            "fingerprint": f.fingerprint,
            "evidence": f.evidence,
            "suppressed": f.suppressed,
        }
        for f in result.findings
        if f.kind is not FindingKind.VULNERABILITY
    ]
    predicate = {
        "findings": items,
        "errors": [{"path": e.path, "scanner": e.scanner, "message": e.message} for e in result.errors],
        "skipped": len(result.skipped),
        "files_scanned": result.files_scanned,
    }
    return Statement.build(subjects, FINDINGS_PREDICATE, predicate)


def checks_that_ran(result: ScanResult) -> list[dict[str, Any]]:
    """Scanner ids, versions, status and their rule-set / database versions."""
    return [
        {
            "scanner": r.scanner,
            "version": r.version,
            "status": r.status.value,
            "files": r.files,
            "detail": {k: v for k, v in sorted(r.detail.items()) if isinstance(v, str | int | float | bool)},
        }
        for r in result.runs
    ]


def vsa_statement(
    subjects: Sequence[Subject],
    decision: Decision,
    inputs: Sequence[Statement],
    now: dt.datetime,
    resource_uri: str,
) -> Statement:
    """SLSA Verification Summary v1 pinning the other statements by digest."""
    passed = decision.outcome in (Outcome.PASS, Outcome.WARN)
    predicate = {
        "verifier": {"id": VERIFIER_ID, "version": {"clearance": __version__}},
        "timeVerified": rfc3339(now),
        "resourceUri": resource_uri,
        "policy": {
            "uri": f"clearance:policy/{decision.policy}",
            "digest": {"sha256": decision.policy_digest.removeprefix("sha256:")},
        },
        "inputAttestations": [
            {"uri": f"statement:{s.predicate_type}", "digest": {"sha256": s.digest}} for s in inputs
        ],
        "verificationResult": "PASSED" if passed else "FAILED",
        "verifiedLevels": [],
    }
    return Statement.build(subjects, VSA_PREDICATE, predicate)


def decision_statement(
    subjects: Sequence[Subject],
    result: ScanResult,
    decision: Decision,
    now: dt.datetime,
    build: Mapping[str, Any],
) -> Statement:
    """clearance's decision predicate: outcome, verdicts, exceptions, approvals, checks, build context."""
    extra = dict(decision.extra)
    verdicts = [
        {
            "fingerprint": fp,
            "action": v.action.value,
            "rule": v.rule,
            "message": v.message,
            "exception_id": v.exception_id,
            "notes": list(v.notes),
        }
        for fp, v in sorted(decision.verdicts.items())
    ]
    rule_of = {f.fingerprint: f.rule_id for f in result.findings}
    for v in verdicts:
        v["rule_id"] = rule_of.get(str(v["fingerprint"]))
    predicate = {
        "outcome": decision.outcome.value,
        "policy": {"name": decision.policy, "digest": decision.policy_digest},
        "timeDecided": rfc3339(now),
        "counts": decision.counts(),
        "reasons": list(decision.reasons),
        "verdicts": verdicts,
        "exceptions": _json_ready(extra.get("exceptions", [])),
        "approvals": _json_ready(extra.get("approvals", [])),
        "checks": checks_that_ran(result),
        "scan_complete": result.complete,
        "build": _json_ready(dict(build)),
    }
    return Statement.build(subjects, DECISION_PREDICATE, predicate)


def excepted_only(predicate: Mapping[str, Any]) -> bool:
    """True if no verdict in a decision predicate blocks (only pass/warn/excepted/ignore)."""
    return all(v.get("action") != Action.BLOCK.value for v in predicate.get("verdicts", []))


def _json_ready(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str, sort_keys=True))
