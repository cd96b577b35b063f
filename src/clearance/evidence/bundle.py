"""The release bundle: one deterministic `.tar.gz` with the signed statements, the SBOM, the
reports and a manifest; and its offline verification.

Layout (all at the top level of the archive):
- `*.intoto.jsonl` — one DSSE envelope per line (sbom, vulns, findings, decision, vsa, manifest);
- `sbom.cdx.json`, `results.sarif`, `results.json` — the evidence in its native formats;
- `manifest.json` — every other file with its sha256 and size, plus the subjects. The same
  content is signed in `manifest.intoto.jsonl` (a statement whose subjects are the bundle's
  files), so no file can be changed, added, dropped or swapped without verification failing.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from securesystemslib.signer import Key, Signer

from clearance.errors import EvidenceError
from clearance.evidence import dsse
from clearance.evidence.files import read_regular
from clearance.evidence.statements import (
    DECISION_PREDICATE,
    VSA_PREDICATE,
    Statement,
    Subject,
    excepted_only,
)
from clearance.model import Outcome

MANIFEST = "manifest.json"
MANIFEST_ENVELOPE = "manifest.intoto.jsonl"
MANIFEST_PREDICATE = "https://clearance.dev/bundle-manifest/v0.1"
MAX_MEMBER_BYTES = 128 * 1024 * 1024
MAX_TOTAL_BYTES = 256 * 1024 * 1024
MAX_MEMBERS = 1000
MAX_BUNDLE_BYTES = 64 * 1024 * 1024
"""Largest bundle file `verify` reads (compressed); only regular files are read at all."""


def write_bundle(path: Path, files: Mapping[str, bytes], subjects: Sequence[Subject], signer: Signer) -> str:
    """Write the bundle; returns its sha256. Same inputs give the same bytes (fixed mtimes, sorted)."""
    for name in files:
        if "/" in name or name in (MANIFEST, MANIFEST_ENVELOPE) or name.startswith("."):
            raise EvidenceError(f"invalid bundle member name {name!r}")
    entries: list[dict[str, Any]] = [
        {"path": n, "sha256": hashlib.sha256(b).hexdigest(), "size": len(b)} for n, b in sorted(files.items())
    ]
    manifest = {"version": 1, "subjects": [s.to_dict() for s in subjects], "files": entries}
    manifest_bytes = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()
    manifest_statement = Statement.build(
        [Subject(str(e["path"]), {"sha256": str(e["sha256"])}) for e in entries]
        + [Subject(MANIFEST, {"sha256": hashlib.sha256(manifest_bytes).hexdigest()})],
        MANIFEST_PREDICATE,
        {"subjects": manifest["subjects"]},
    )
    members = dict(files)
    members[MANIFEST] = manifest_bytes
    members[MANIFEST_ENVELOPE] = dsse.to_jsonl([dsse.sign(manifest_statement.raw, signer)]).encode()
    raw = io.BytesIO()
    with (
        gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for name in sorted(members):
            data = members[name]
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(data))
    blob = raw.getvalue()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(blob)
    return hashlib.sha256(blob).hexdigest()


def read_bundle(path: Path) -> dict[str, bytes]:
    """Read every member into memory (nothing touches the disk), refusing anything that is not a
    plain, sane file. The whole gzip stream is decompressed first so its checksum is always checked."""
    try:
        tar = tarfile.open(fileobj=io.BytesIO(_gunzip(path)), mode="r:")
    except (OSError, tarfile.TarError, EOFError) as e:
        raise EvidenceError(f"{path} is not a readable .tar.gz bundle: {e}") from e
    out: dict[str, bytes] = {}
    total = 0
    try:
        with tar:
            for n, member in enumerate(tar):
                if n >= MAX_MEMBERS:
                    raise EvidenceError(f"bundle has more than {MAX_MEMBERS} members")
                name = member.name
                if name.startswith("/") or ".." in name.split("/") or "/" in name or not name:
                    raise EvidenceError(f"bundle member {name!r} has an unsafe path")
                if not member.isreg():
                    raise EvidenceError(
                        f"bundle member {name!r} is not a regular file (links and devices are refused)"
                    )
                if member.size > MAX_MEMBER_BYTES:
                    raise EvidenceError(f"bundle member {name!r} is too large ({member.size} bytes)")
                total += member.size
                if total > MAX_TOTAL_BYTES:
                    raise EvidenceError("bundle is too large when unpacked")
                if name in out:
                    raise EvidenceError(f"bundle member {name!r} appears twice")
                fh = tar.extractfile(member)
                assert fh is not None
                out[name] = fh.read()
    except (OSError, tarfile.TarError, EOFError, zlib_error()) as e:
        raise EvidenceError(f"{path} is corrupt: {e}") from e
    return out


def _gunzip(path: Path) -> bytes:
    """Decompress with a size cap (gzip bombs) and a verified CRC/length trailer."""
    import zlib

    compressed = read_regular(path, limit=MAX_BUNDLE_BYTES, what="bundle")
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        data = d.decompress(compressed, MAX_TOTAL_BYTES + 1)
    except zlib.error as e:
        raise EvidenceError(f"{path} is not a valid gzip file: {e}") from e
    if len(data) > MAX_TOTAL_BYTES:
        raise EvidenceError("bundle is too large when unpacked")
    if not d.eof or d.unused_data:
        raise EvidenceError(f"{path} is truncated or has trailing data")
    return data


def zlib_error() -> type[Exception]:
    """The zlib error class (gzip raises it for a flipped byte in the compressed stream)."""
    import zlib

    return zlib.error


@dataclass
class VerificationReport:
    """What `clearance verify` found: the checks that passed and, if any, why it failed."""

    problems: list[str] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)
    subjects: list[dict[str, Any]] = field(default_factory=list)
    decision: dict[str, Any] = field(default_factory=dict)
    statements: list[str] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        """True if nothing failed."""
        return not self.problems


def verify_bundle(
    path: Path, keys: Sequence[Key], *, artifact: Subject | None, at: dt.datetime, require_pass: bool
) -> VerificationReport:
    """Check signatures, manifest digests, subjects, and the decision (exceptions valid at `at`)."""
    report = VerificationReport()
    try:
        members = read_bundle(path)
        _verify(members, keys, artifact, at, require_pass, report)
    except EvidenceError as e:
        report.problems.append(e.message)
    except (KeyError, TypeError, AttributeError, ValueError) as e:
        # A validly signed statement whose predicate lacks a field or has the wrong type.
        report.problems.append(f"a signed statement is malformed ({type(e).__name__}: {e})")
    return report


def _verify(
    members: dict[str, bytes],
    keys: Sequence[Key],
    artifact: Subject | None,
    at: dt.datetime,
    require_pass: bool,
    report: VerificationReport,
) -> None:
    if MANIFEST_ENVELOPE not in members or MANIFEST not in members:
        raise EvidenceError("bundle has no signed manifest")
    # 1. The signed manifest, then every file against it.
    manifest_env = dsse.parse_jsonl(members[MANIFEST_ENVELOPE].decode("utf-8", "replace"), MANIFEST_ENVELOPE)
    if len(manifest_env) != 1:
        raise EvidenceError("manifest.intoto.jsonl must hold exactly one envelope")
    signed = Statement.parse(_verified(manifest_env[0], keys, MANIFEST_ENVELOPE)).body
    if signed["predicateType"] != MANIFEST_PREDICATE:
        raise EvidenceError("manifest envelope does not carry a bundle manifest")
    pinned = {s["name"]: s["digest"].get("sha256") for s in signed["subject"]}
    report.checks.append("manifest signature verified")
    for name, data in sorted(members.items()):
        if name == MANIFEST_ENVELOPE:
            continue
        if name not in pinned:
            raise EvidenceError(f"{name} is not listed in the signed manifest (added to the bundle)")
        if hashlib.sha256(data).hexdigest() != pinned[name]:
            raise EvidenceError(f"{name} does not match its digest in the signed manifest (modified)")
    missing = sorted(set(pinned) - set(members))
    if missing:
        raise EvidenceError(f"files listed in the manifest are missing: {', '.join(missing)}")
    report.checks.append(f"{len(pinned)} file digests match the signed manifest")
    subjects = signed["predicate"]["subjects"]
    report.subjects = subjects
    # 2. Every envelope's signature and subjects.
    statements: list[dict[str, Any]] = []
    by_digest: set[str] = set()
    for name in sorted(n for n in members if n.endswith(".intoto.jsonl") and n != MANIFEST_ENVELOPE):
        for env in dsse.parse_jsonl(members[name].decode("utf-8", "replace"), name):
            statement = Statement.parse(_verified(env, keys, name))
            by_digest.add(statement.digest)
            body = statement.body
            if _norm(body["subject"]) != _norm(subjects):
                raise EvidenceError(
                    f"{name}: statement subjects differ from the bundle's subjects (swapped envelope?)"
                )
            statements.append(dict(body, _digest=statement.digest))
            report.statements.append(str(body["predicateType"]))
    report.checks.append(f"{len(statements)} statement signatures verified")
    # 3. The artifact the user holds is the subject.
    if artifact is not None:
        if not any(_digest_matches(s, artifact) for s in subjects):
            names = ", ".join(f"{s['name']} ({_fmt_digest(s['digest'])})" for s in subjects)
            raise EvidenceError(
                f"artifact {artifact.name} ({_fmt_digest(artifact.digest)}) is not a subject of "
                f"this bundle; subjects: {names}"
            )
        report.checks.append(f"artifact {artifact.name} matches a subject")
    # 4. The decision, and the exceptions it relied on, at time `at`.
    decision_digest, decision = _only(statements, DECISION_PREDICATE, "decision statement")
    _vsa_digest, vsa = _only(statements, VSA_PREDICATE, "verification summary (VSA)")
    pins = vsa.get("inputAttestations", [])
    if not isinstance(pins, list):
        raise EvidenceError("verification summary: inputAttestations is not a list")
    for item in pins:
        if item.get("digest", {}).get("sha256") not in by_digest:
            raise EvidenceError(
                f"verification summary pins a statement that is not in the bundle ({item.get('uri')})"
            )
    _check_summary_agrees(vsa, decision, decision_digest, pins)
    report.checks.append("verification summary agrees with the decision and pins it")
    report.decision = decision
    _check_exceptions(decision, at, report)
    outcome = decision.get("outcome")
    if require_pass and (outcome not in ("pass", "warn") or not excepted_only(decision)):
        raise EvidenceError(f"the decision did not pass (outcome: {outcome})")
    report.checks.append(f"decision outcome: {outcome}")


def _only(
    statements: Sequence[Mapping[str, Any]], predicate_type: str, what: str
) -> tuple[str, dict[str, Any]]:
    """The one statement of a predicate type (digest, predicate); none or several is INVALID."""
    found = [s for s in statements if s["predicateType"] == predicate_type]
    if not found:
        raise EvidenceError(f"bundle has no signed {what}")
    if len(found) > 1:
        raise EvidenceError(
            f"bundle holds {len(found)} signed {what}s; exactly one is allowed (which one would count?)"
        )
    predicate = found[0]["predicate"]
    return str(found[0]["_digest"]), predicate


def _check_summary_agrees(
    vsa: Mapping[str, Any], decision: Mapping[str, Any], decision_digest: str, pins: Sequence[Any]
) -> None:
    """The VSA's result is the decision's outcome, and it pins that decision statement."""
    outcome = decision.get("outcome")
    if outcome not in OUTCOMES:
        raise EvidenceError(f"decision outcome {outcome!r} is not one of {', '.join(sorted(OUTCOMES))}")
    expected = "PASSED" if outcome in ("pass", "warn") else "FAILED"
    result = vsa.get("verificationResult")
    if result != expected:
        raise EvidenceError(
            f"verification summary says {result!r} but the decision outcome is {outcome!r} "
            f"(expected {expected!r}): the two signed statements contradict each other"
        )
    if not any(isinstance(p, Mapping) and p.get("digest", {}).get("sha256") == decision_digest for p in pins):
        raise EvidenceError("verification summary does not pin the decision statement's digest")
    policy = decision.get("policy", {})
    vsa_policy = vsa.get("policy", {}).get("digest", {}).get("sha256")
    if isinstance(policy, Mapping) and str(policy.get("digest", "")).removeprefix("sha256:") != vsa_policy:
        raise EvidenceError("verification summary names another policy digest than the decision")


OUTCOMES = frozenset(o.value for o in Outcome)


def _check_exceptions(decision: Mapping[str, Any], at: dt.datetime, report: VerificationReport) -> None:
    used = {v.get("exception_id") for v in decision.get("verdicts", []) if v.get("action") == "excepted"}
    for exc in decision.get("exceptions", []):
        if exc.get("id") not in used:
            continue
        expires = _parse_time(str(exc.get("expires", "")))
        if expires is None:
            raise EvidenceError(f"exception {exc.get('id')} has no valid expiry")
        if expires <= at:
            raise EvidenceError(
                f"exception {exc.get('id')} (owner {exc.get('owner')}) expired on "
                f"{expires.date().isoformat()}; the decision it allowed no longer holds at "
                f"{at.date().isoformat()}"
            )
    if used:
        report.checks.append(f"{len(used)} exception(s) unexpired at {at.isoformat()}")


def _verified(envelope: Any, keys: Sequence[Key], name: str) -> bytes:
    try:
        return dsse.verify(envelope, keys)
    except EvidenceError as e:
        raise EvidenceError(f"{name}: {e.message}") from e


def _norm(subjects: Any) -> list[tuple[str, tuple[tuple[str, str], ...]]]:
    return sorted((str(s.get("name")), tuple(sorted(s.get("digest", {}).items()))) for s in subjects)


def _digest_matches(subject: Mapping[str, Any], artifact: Subject) -> bool:
    digest = subject.get("digest", {})
    return any(digest.get(alg) == value for alg, value in artifact.digest.items())


def _fmt_digest(digest: Mapping[str, str]) -> str:
    return ", ".join(f"{k}:{v[:16]}…" for k, v in sorted(digest.items()))


def _parse_time(value: str) -> dt.datetime | None:
    try:
        t = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            t = dt.datetime.combine(dt.date.fromisoformat(value), dt.time(), tzinfo=dt.UTC)
        except ValueError:
            return None
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)
