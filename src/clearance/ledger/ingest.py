"""Ingest one gate run: the JSON report and, when present, the evidence bundle → rows.

Rules (docs/ledger.md):
- findings are deduplicated per (service, fingerprint) — the gate's fingerprints are stable;
- a **full** run closes the service's open findings of each scanner that ran *and succeeded*
  which it no longer reports (`fixed`); a finding that comes back is **reopened** (a
  regression, its SLA clock restarts); a **PR-mode** run never closes anything;
- the same report pushed twice changes nothing (the run is keyed by the report's sha256);
- a bundle is verified against the keys trusted for the service's team and refused if that
  fails; a report without a bundle is accepted and marked unverified;
- everything happens in the caller's one transaction, with batched statements.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import tempfile
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clearance.errors import EvidenceError
from clearance.evidence.bundle import read_bundle, verify_bundle
from clearance.evidence.keys import load_public_key
from clearance.ledger.affected import LEDGER_SCANNER
from clearance.ledger.matching import Match, component_key
from clearance.ledger.report import BadInput, FindingInfo, GateReport, parse_report
from clearance.ledger.store import OPEN_STATUSES, Store, normalize_team
from clearance.ledger.tables import Release, Service, Team

SERVICE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/@:-]{0,199}$")
MATCH_KEY = "service+fingerprint"
LINK_KEY = "service+component+advisory"
"""How a reported vulnerability matched a finding the ledger recorded from a re-match."""
DEPENDENCY_SCANNERS = frozenset({"deps"})
"""The gate's scanner ids that report component vulnerabilities: a full run in which one of them
succeeded can fix the ledger's own (re-match) findings of the service."""


@dataclass(frozen=True)
class Limits:
    """Bounds on one pushed run (configurable in the server settings)."""

    max_report_bytes: int = 64 * 1024 * 1024
    max_bundle_bytes: int = 32 * 1024 * 1024
    max_unpacked_bytes: int = 128 * 1024 * 1024
    max_findings: int = 200_000


@dataclass(frozen=True)
class Upload:
    """What a client pushed."""

    report: bytes | None = None
    bundle: bytes | None = None
    service: str | None = None
    version: str | None = None


@dataclass(frozen=True)
class Principal:
    """Who pushes: a token's team and powers."""

    actor: str
    team_id: int | None
    admin: bool = False
    may_create_services: bool = True


@dataclass(frozen=True)
class FindingOutcome:
    """What happened to one reported finding, and which key matched an existing one."""

    fingerprint: str
    rule_id: str
    result: str
    """`created`, `updated`, `reopened`, `unchanged` — or `fixed` for a closed finding."""
    matched: str | None
    finding_id: int

    def as_json(self) -> dict[str, Any]:
        """Plain JSON."""
        return {
            "fingerprint": self.fingerprint,
            "rule_id": self.rule_id,
            "result": self.result,
            "matched": self.matched,
            "finding_id": self.finding_id,
        }


@dataclass(frozen=True)
class IngestResult:
    """The answer to a push."""

    run_id: int
    service: str
    service_created: bool
    release_id: int
    release: str
    mode: str
    verified: bool
    signer_key_id: str | None
    duplicate: bool
    counts: Mapping[str, int]
    findings: tuple[FindingOutcome, ...] = ()
    closed_scanners: tuple[str, ...] = ()
    new_matches: int = 0

    def as_json(self) -> dict[str, Any]:
        """Plain JSON (the API response)."""
        return {
            "run_id": self.run_id,
            "service": self.service,
            "service_created": self.service_created,
            "release": {"id": self.release_id, "version": self.release},
            "mode": self.mode,
            "verified": self.verified,
            "signer_key_id": self.signer_key_id,
            "duplicate": self.duplicate,
            "counts": dict(self.counts),
            "closed_scanners": list(self.closed_scanners),
            "new_matches": self.new_matches,
            "findings": [f.as_json() for f in self.findings],
        }


class Forbidden(BadInput):
    """The principal may not push for this service (403)."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message, status_code=403, hint=hint)


Matcher = Callable[[Sequence[tuple[int, str, str, str]]], list[Match]]


@dataclass
class _Bundle:
    members: dict[str, bytes]
    verified: bool
    signer: str | None
    subjects: list[Any] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def ingest(
    store: Store, upload: Upload, principal: Principal, limits: Limits, matcher: Matcher | None = None
) -> IngestResult:
    """Record one run. Raises `BadInput` (4xx) for unusable input; writes nothing then
    (the caller's transaction is rolled back)."""
    bundle_members = _unpack(upload.bundle, limits) if upload.bundle is not None else None
    raw = _report_bytes(upload, bundle_members, limits)
    report = parse_report(raw)
    if len(report.findings) > limits.max_findings:
        raise BadInput(
            f"the report has {len(report.findings)} findings; the limit is {limits.max_findings}",
            status_code=413,
        )
    name = _service_name(upload.service, report)
    service, created = _service(store, name, report, principal)
    bundle = (
        _verify(store, service, upload.bundle, bundle_members)
        if upload.bundle is not None and bundle_members is not None
        else None
    )
    report_sha = hashlib.sha256(raw).hexdigest()
    previous = store.run_by_report(service.id, report_sha)
    if previous is not None:
        release = store.release(previous.release_id) if previous.release_id else None
        return IngestResult(
            run_id=previous.id,
            service=service.name,
            service_created=False,
            release_id=previous.release_id or 0,
            release=release.version if release else "",
            mode=previous.mode,
            verified=previous.verified,
            signer_key_id=None,
            duplicate=True,
            counts={k: 0 for k in ("created", "updated", "fixed", "reopened")}
            | {"unchanged": len(report.findings)},
        )
    version = upload.version or report.target.commit or f"report-{report_sha[:12]}"
    artifacts = _artifacts(bundle)
    release, _ = store.ensure_release(service, version[:200], report.target.commit, artifacts)
    evidence = (
        store.store_bundle(
            upload.bundle or b"",
            verified=bundle.verified,
            result="; ".join(bundle.problems) or "verified",
            signer=bundle.signer,
            subjects=bundle.subjects,
        )
        if bundle is not None
        else None
    )
    run = store.add_run(
        service_id=service.id,
        release_id=release.id,
        evidence_id=evidence.id if evidence else None,
        report_sha256=report_sha,
        repository=_str(report.context.get("repository")) or _str(report.context.get("repository_url")),
        commit=report.target.commit,
        base=report.target.base,
        env=_str(report.policy_context().get("environment")) or _str(report.context.get("environment")),
        mode=report.mode,
        outcome=report.decision.outcome if report.decision else None,
        decided_at=_decided_at(report) or store.now,
        tool_version=report.tool.version,
        scanners=[s.model_dump() for s in report.tool.scanners],
        policy_digest=report.decision.policy_digest if report.decision else None,
        verified=bundle is not None and bundle.verified,
        counts={},
    )
    new_matches = _components(store, release, report, bundle, matcher)
    waivers = _waivers(store, service.id, report)
    outcomes, counts, closed = _lifecycle(store, service, report, run.id, release.id, waivers)
    run.counts = counts
    store.append_audit(
        principal.actor,
        "ingest",
        {
            "run_id": run.id,
            "service": service.name,
            "service_created": created,
            "release": release.version,
            "report_sha256": report_sha,
            "bundle_sha256": evidence.sha256 if evidence else None,
            "verified": run.verified,
            "signer_key_id": bundle.signer if bundle else None,
            "mode": run.mode,
            "counts": counts,
        },
    )
    return IngestResult(
        run_id=run.id,
        service=service.name,
        service_created=created,
        release_id=release.id,
        release=release.version,
        mode=run.mode,
        verified=run.verified,
        signer_key_id=bundle.signer if bundle else None,
        duplicate=False,
        counts=counts,
        findings=tuple(outcomes),
        closed_scanners=tuple(closed),
        new_matches=new_matches,
    )


# --- input ---------------------------------------------------------------------------------------


def _unpack(bundle: bytes, limits: Limits) -> dict[str, bytes]:
    if len(bundle) > limits.max_bundle_bytes:
        raise BadInput(
            f"the bundle is {len(bundle)} bytes; the limit is {limits.max_bundle_bytes}", status_code=413
        )
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        data = d.decompress(bundle, limits.max_unpacked_bytes + 1)
    except zlib.error as e:
        raise BadInput(f"the bundle is not a gzip file: {e}") from e
    if len(data) > limits.max_unpacked_bytes or (d.unconsumed_tail and not d.eof):
        raise BadInput(
            f"the bundle unpacks to more than {limits.max_unpacked_bytes} bytes (refused as a decompression bomb)",
            status_code=413,
        )
    with tempfile.TemporaryDirectory(prefix="clearance-ledger-") as tmp:
        path = Path(tmp) / "bundle.tar.gz"
        path.write_bytes(bundle)
        try:
            return read_bundle(path)
        except EvidenceError as e:
            raise BadInput(f"the bundle is unusable: {e.message.replace(str(path), 'bundle')}") from e


def _report_bytes(upload: Upload, members: Mapping[str, bytes] | None, limits: Limits) -> bytes:
    inside = members.get("results.json") if members is not None else None
    if upload.report is not None and len(upload.report) > limits.max_report_bytes:
        raise BadInput(
            f"the report is {len(upload.report)} bytes; the limit is {limits.max_report_bytes}",
            status_code=413,
        )
    if members is not None and inside is None:
        raise BadInput(
            "the bundle has no results.json (run `clearance gate` with JSON output and --evidence)"
        )
    if upload.report is not None and inside is not None and upload.report != inside:
        raise BadInput("the report differs from the bundle's results.json; push the bundle alone")
    raw = inside if inside is not None else upload.report
    if raw is None:
        raise BadInput("nothing to ingest: send a report (JSON) and/or a bundle")
    return raw


def _service_name(explicit: str | None, report: GateReport) -> str:
    candidates = [
        explicit,
        _str(report.policy_context().get("service")),
        _str(report.context.get("service")),
        _repo_name(_str(report.context.get("repository")) or _str(report.context.get("repository_url"))),
        Path(report.target.path).name if report.target.path else None,
    ]
    name = next((c for c in candidates if c), None)
    if name is None:
        raise BadInput("cannot tell which service this run is for", hint="pass --service NAME")
    if not SERVICE_NAME.match(name):
        raise BadInput(f"invalid service name {name[:80]!r}", status_code=422)
    return name


def _repo_name(repo: str | None) -> str | None:
    if not repo:
        return None
    return repo.rstrip("/").removesuffix(".git").rsplit("/", 1)[-1] or None


def _service(store: Store, name: str, report: GateReport, principal: Principal) -> tuple[Service, bool]:
    service = store.service(name)
    if service is not None:
        if not principal.admin and principal.team_id != service.team_id:
            raise Forbidden(f"this token may not push runs for service {name!r} (owned by another team)")
        return service, False
    if not (principal.admin or (principal.may_create_services and principal.team_id is not None)):
        raise Forbidden(
            f"unknown service {name!r} and this token may not create services",
            hint="register it with `clearance ledger sync-catalog`, or push with a token allowed to create services",
        )
    owner_name = _str(report.policy_context().get("owner")) or _str(report.context.get("owner"))
    team: Team | None = store.ensure_team(owner_name) if owner_name else None
    if not principal.admin:
        if team is not None and team.id != principal.team_id:
            raise Forbidden(f"service {name!r} is owned by {team.name!r}; this token belongs to another team")
        if team is None:
            team = store.session.get(Team, principal.team_id)
    ctx = report.policy_context()
    repository = _str(report.context.get("repository")) or _str(report.context.get("repository_url"))
    return store.upsert_service(
        name,
        team=team,
        source="ingest",
        exposure=_str(ctx.get("exposure")),
        data_class=_str(ctx.get("data_classification")),
        repository=repository,
    )


def _verify(store: Store, service: Service, raw: bytes, members: dict[str, bytes]) -> _Bundle:
    if service.team_id is None:
        raise BadInput(f"service {service.name!r} has no owner team, so no key is trusted for its bundles")
    keys = store.trusted_keys(service.team_id)
    if not keys:
        raise BadInput(
            f"no signing key is trusted for the team of {service.name!r}; the bundle cannot be verified",
            hint="trust the team's public key: clearance ledger key add --team TEAM KEY.pub",
        )
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="clearance-ledger-") as tmp:
        path = Path(tmp) / "bundle.tar.gz"
        path.write_bytes(raw)
        for key in keys:
            pem_path = Path(tmp) / "key.pem"
            pem_path.write_text(key.public_pem, encoding="utf-8")
            try:
                public = load_public_key(pem_path)
            except EvidenceError as e:
                problems.append(f"trusted key {key.key_id}: {e.message}")
                continue
            result = verify_bundle(path, [public], artifact=None, at=store.now, require_pass=False)
            if result.valid:
                return _Bundle(members, True, key.key_id, list(result.subjects))
            problems.extend(p.replace(str(path), "bundle") for p in result.problems)
    raise BadInput(
        "the bundle failed verification: " + (problems[0] if problems else "no trusted key verifies it")
    )


def _artifacts(bundle: _Bundle | None) -> list[tuple[str, str]]:
    if bundle is None:
        return []
    out = []
    for s in bundle.subjects:
        if isinstance(s, dict) and isinstance(s.get("digest"), dict) and s["digest"].get("sha256"):
            out.append((str(s.get("name", ""))[:500], f"sha256:{s['digest']['sha256']}"))
    return out


def _decided_at(report: GateReport) -> dt.datetime | None:
    value = _str(report.context.get("decided_at"))
    if not value:
        return None
    try:
        t = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


# --- components and matches ------------------------------------------------------------------------


def _components(
    store: Store, release: Release, report: GateReport, bundle: _Bundle | None, matcher: Matcher | None
) -> int:
    """SBOM components (bundle) and the components of vulnerability findings → the release; the
    gate's own vulnerability findings are matches too; new components are matched by `matcher`."""
    keys: dict[str, tuple[str, str]] = {}  # purl → (ecosystem/name/version key, scope)
    parsed: dict[str, Any] = {}
    purls: list[tuple[str, str]] = []
    if bundle is not None and "sbom.cdx.json" in bundle.members:
        try:
            sbom = json.loads(bundle.members["sbom.cdx.json"])
        except (ValueError, RecursionError):
            sbom = {}
        for c in sbom.get("components", []) if isinstance(sbom, dict) else []:
            if isinstance(c, dict) and isinstance(c.get("purl"), str):
                purls.append((c["purl"], str(c.get("scope") or "unknown")))
    for f in report.findings:
        if f.component is not None and f.component.purl:
            purls.append((f.component.purl, f.component.scope))
    for purl, scope in purls:
        key = component_key(purl)
        if key is None:
            continue
        parsed[key.purl] = key
        keys.setdefault(key.purl, (key.purl, scope))
    if not parsed:
        return 0
    ids = store.ensure_components([(k.purl, k.ecosystem, k.name, k.version) for k in parsed.values()])
    store.link_components(release, {ids[p]: scope for p, (_, scope) in keys.items()})
    existing = store.matches_of(list(ids.values()))
    matched_components = {cid for cid, _ in existing}
    new: dict[tuple[int, str], dict[str, Any]] = {}
    aliases: list[tuple[str, str]] = []
    for f in report.findings:
        adv = f.advisory_id
        if adv is None or f.component is None or not f.component.purl:
            continue
        key = component_key(f.component.purl)
        if key is None:
            continue
        cid = ids[key.purl]
        names = _finding_aliases(f)
        aliases.extend((a, adv) for a in names)
        if (cid, adv) not in existing:
            fixes = f.signals.get("fix_versions")
            new[(cid, adv)] = {
                "component_id": cid,
                "advisory_id": adv,
                "severity": f.severity.value,
                "fixed_versions": [str(v) for v in fixes] if isinstance(fixes, list) else [],
                "summary": f.title[:2000],
            }
    if matcher is not None:
        todo = [
            (ids[k.purl], k.ecosystem, k.name, k.version)
            for k in parsed.values()
            if ids[k.purl] not in matched_components
        ]
        for m in matcher(todo):
            aliases.extend((a, m.advisory_id) for a in (m.advisory_id, *m.aliases))
            if (m.component_id, m.advisory_id) not in existing:
                new.setdefault(
                    (m.component_id, m.advisory_id),
                    {
                        "component_id": m.component_id,
                        "advisory_id": m.advisory_id,
                        "severity": m.severity,
                        "fixed_versions": list(m.fixed_versions),
                        "summary": m.summary[:2000],
                    },
                )
    store.add_aliases(aliases)
    store.add_matches(list(new.values()))
    return len(new)


def _finding_aliases(f: FindingInfo) -> list[str]:
    adv = f.advisory_id
    names = [adv] if adv else []
    for key in ("aliases", "advisories"):
        value = f.signals.get(key)
        if isinstance(value, list):
            names.extend(str(v)[:100] for v in value if isinstance(v, str))
    return names


# --- exceptions and the finding lifecycle ----------------------------------------------------------


def _waivers(store: Store, service_id: int, report: GateReport) -> dict[str, tuple[int, dt.datetime | None]]:
    rows = []
    for e in report.exceptions():
        ext = _str(e.get("id"))
        if not ext:
            continue
        expires = _parse_time(_str(e.get("expires")))
        status = {"applied": "active", "expired": "expired", "stale": "stale"}.get(
            str(e.get("status")), "active"
        )
        rows.append(
            {
                "external_id": ext[:200],
                "owner": (_str(e.get("owner")) or "")[:200],
                "reason": _str(e.get("reason")) or "",
                "match": e.get("match")
                if isinstance(e.get("match"), dict)
                else {"describe": str(e.get("match", ""))},
                "expires_at": expires,
                "status": status,
            }
        )
    saved = store.upsert_waivers(service_id, rows)
    return {k: (w.id, w.expires_at) for k, w in saved.items()}


def _parse_time(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        t = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            t = dt.datetime.combine(dt.date.fromisoformat(value), dt.time(), tzinfo=dt.UTC)
        except ValueError:
            return None
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


def _lifecycle(
    store: Store,
    service: Service,
    report: GateReport,
    run_id: int,
    release_id: int,
    waivers: Mapping[str, tuple[int, dt.datetime | None]],
) -> tuple[list[FindingOutcome], dict[str, int], list[str]]:
    now = store.now
    sla = store.sla_days(service.tier)
    owners = _owner_resolver(store, service)
    existing = {f.fingerprint: f for f in store.findings_of_service(service.id)}
    links = _LedgerLinks(store, existing.values())
    counts = {"created": 0, "updated": 0, "fixed": 0, "reopened": 0, "unchanged": 0}
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    outcomes: list[FindingOutcome] = []
    seen: set[str] = set()
    for f in report.findings:
        if f.fingerprint in seen:
            continue
        seen.add(f.fingerprint)
        days = sla.get(f.severity.value)
        waiver_id, until = (None, None)
        exc = f.verdict.exception_id if f.verdict is not None and f.verdict.action == "excepted" else None
        if exc is not None and exc in waivers:
            waiver_id, until = waivers[exc]
        fields = {
            "scanner": f.scanner,
            "kind": f.kind,
            "rule_id": f.rule_id,
            "title": f.title[:2000],
            "severity": f.severity.value,
            "advisory_id": f.advisory_id,
            "component_purl": _component_purl(f),
            "path": f.location.path,
            "line": f.location.start_line,
            "evidence": f.evidence,
            "owner_team_id": owners(f),
            "waiver_id": waiver_id,
            "excepted_until": until,
            "fixed_version": _fixed_version(f),
            "reachable": _reachable(f),
        }
        old = existing.get(f.fingerprint)
        matched = MATCH_KEY
        if old is None and (adopted := links.adopt(f, _component_purl(f))) is not None:
            # the ledger recorded this vulnerability from a re-match: the gate's finding takes it
            # over (its fingerprint and scanner from now on), no duplicate
            old, matched = adopted, LINK_KEY
            fields.update(fingerprint=f.fingerprint, last_seen=now, last_run_id=run_id)
        if old is None:
            inserts.append(
                dict(
                    fields,
                    service_id=service.id,
                    fingerprint=f.fingerprint,
                    status="open",
                    first_seen=now,
                    last_seen=now,
                    fixed_at=None,
                    due_at=now + dt.timedelta(days=days) if days is not None else None,
                    reopen_count=0,
                    analysis_state=None,
                    last_run_id=run_id,
                )
            )
            counts["created"] += 1
            continue
        change: dict[str, Any] = {k: v for k, v in fields.items() if getattr(old, k) != v}
        if old.status == "fixed":
            result = "reopened"
            change.update(
                status="reopened",
                fixed_at=None,
                reopen_count=old.reopen_count + 1,
                due_at=now + dt.timedelta(days=days) if days is not None else None,
            )
        elif change:
            result = "updated"
            if "severity" in change:
                change["due_at"] = old.first_seen + dt.timedelta(days=days) if days is not None else None
        else:
            result = "unchanged"
        counts[result] += 1
        if change:
            updates.append(dict(change, id=old.id))
        if result != "unchanged":
            events.append({"finding_id": old.id, "run_id": run_id, "event": result, "at": now})
        outcomes.append(FindingOutcome(f.fingerprint, f.rule_id, result, matched, old.id))
    closed: list[str] = []
    if report.mode == "full":
        closed = sorted({s.id for s in report.tool.scanners if s.status == "succeeded"})
        shipped: set[str] | None = None
        if set(closed) & DEPENDENCY_SCANNERS and links.pending():
            shipped = {c.purl for c in store.release_components(release_id)}
            closed = sorted({*closed, LEDGER_SCANNER})
        for old in existing.values():
            if old.fingerprint in seen or old.status not in OPEN_STATUSES or old.scanner not in closed:
                continue
            if old.scanner == LEDGER_SCANNER and (
                links.taken(old.id) or shipped is None or old.component_purl in shipped
            ):
                # a re-match finding is fixed once the release no longer ships the component
                # (the gate's advisory data may simply not know the advisory yet)
                continue
            updates.append({"id": old.id, "status": "fixed", "fixed_at": now, "last_run_id": run_id})
            events.append({"finding_id": old.id, "run_id": run_id, "event": "fixed", "at": now})
            outcomes.append(FindingOutcome(old.fingerprint, old.rule_id, "fixed", MATCH_KEY, old.id))
            counts["fixed"] += 1
    store.mark_seen(service.id, [fp for fp in seen if fp in existing], run_id)
    ids = store.insert_findings(inserts)
    for row in inserts:
        fid = ids[row["fingerprint"]]
        events.append({"finding_id": fid, "run_id": run_id, "event": "created", "at": now})
        outcomes.append(FindingOutcome(row["fingerprint"], row["rule_id"], "created", None, fid))
    store.update_findings(updates)
    store.insert_events(events)
    outcomes.sort(key=lambda o: (o.result, o.rule_id, o.fingerprint))
    return outcomes, counts, closed


class _LedgerLinks:
    """The service's findings recorded by the ledger itself (re-match, scanner `ledger`), by
    component purl, with every name of their advisory: a reported vulnerability of the same
    component under any of those names takes the finding over."""

    def __init__(self, store: Store, findings: Iterable[Any]) -> None:
        self.by_purl: dict[str, list[Any]] = {}
        for f in findings:
            if f.scanner == LEDGER_SCANNER and f.component_purl and f.advisory_id:
                self.by_purl.setdefault(f.component_purl, []).append(f)
        ids = sorted({f.advisory_id for fs in self.by_purl.values() for f in fs})
        self.names = store.advisory_groups(ids) if ids else {}
        self.adopted: set[int] = set()

    def adopt(self, f: FindingInfo, purl: str | None) -> Any | None:
        """The ledger finding a reported vulnerability continues, if any (each one once)."""
        if not self.by_purl or f.advisory_id is None or purl is None:
            return None
        reported = set(_finding_aliases(f))
        for old in self.by_purl.get(purl, ()):
            if old.id not in self.adopted and self.names.get(old.advisory_id, {old.advisory_id}) & reported:
                self.adopted.add(old.id)
                return old
        return None

    def taken(self, finding_id: int) -> bool:
        """Was this ledger finding taken over by a reported one in this run?"""
        return finding_id in self.adopted

    def pending(self) -> bool:
        """Are there ledger findings this run did not take over?"""
        return any(f.id not in self.adopted for fs in self.by_purl.values() for f in fs)


def _component_purl(f: FindingInfo) -> str | None:
    if f.component is None or not f.component.purl:
        return None
    key = component_key(f.component.purl)
    return key.purl if key else f.component.purl[:1000]


def _reachable(f: FindingInfo) -> str | None:
    value = f.signals.get("reachable")
    return value if value in ("yes", "no", "unknown") else None


def _fixed_version(f: FindingInfo) -> str | None:
    fixes = f.signals.get("fix_versions")
    if isinstance(fixes, list) and fixes:
        return str(fixes[0])[:200]
    return None


def _owner_resolver(store: Store, service: Service) -> Callable[[FindingInfo], int | None]:
    """Owner team of a finding: the gate's owner signal (CODEOWNERS/catalog), else the ledger's
    CODEOWNERS rules for the service (last match wins), else the service's team."""
    import pathspec

    rules = [
        (pathspec.PathSpec.from_lines("gitwildmatch", [p]), tid) for p, tid in store.code_owners(service.id)
    ]
    cache: dict[str, int] = {}

    def owner(f: FindingInfo) -> int | None:
        if f.owner:
            name = normalize_team(f.owner)
            if name not in cache:
                cache[name] = store.ensure_team(name).id
            return cache[name]
        if f.location.path and rules:
            for spec, tid in reversed(rules):
                if spec.match_file(f.location.path):
                    return tid
        return service.team_id

    return owner
