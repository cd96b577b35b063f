""" "What's affected?": answer from the precomputed matches, and re-match every stored release when
the advisory database changes (the zero-day case: today's advisory finds last month's releases
without rescanning any repository)."""

from __future__ import annotations

import datetime as dt
import hashlib
import operator
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from clearance.errors import LedgerError
from clearance.ledger.matching import AdvisoryMatcher, ComponentKey, component_key, package_key
from clearance.ledger.store import AffectedMatch, AffectedRow, Store
from clearance.scanners.vulns.match import UnsupportedEcosystem, VersionParseError, parse_version

LEDGER_SCANNER = "ledger"
"""Scanner id of findings the ledger records itself (re-matching), so gate runs never close them."""
_RANGE_PART = re.compile(r"^\s*(<=|>=|==|!=|<|>|=)?\s*([^\s<>=!]+)\s*$")


DEFAULT_LIMIT = 500
"""Rows per `affected` answer unless asked otherwise (the totals always cover every row)."""
MAX_LIMIT = 5000


def affected_query(
    store: Store,
    *,
    advisory: str | None = None,
    purl: str | None = None,
    version_range: str | None = None,
    team_ids: Sequence[int] | None = None,
    limit: int = DEFAULT_LIMIT,
    offset: int = 0,
) -> dict[str, Any]:
    """The API/CLI answer: one row per (release, component) with environments, owner, finding
    status and fixed versions, one page at a time (`limit`, `offset`); `count` (every row),
    `services` (every affected service) and `not_affected` are computed by the database over the
    whole answer. VEX `not_affected`/`false_positive` rows are kept but counted apart.

    Advisory queries show, per component, the advisory id that was asked for (else the first of
    its group); purl queries list every advisory of the component with the worst severity, the
    union of fixed versions and the status of the most urgent finding."""
    if not 1 <= limit <= MAX_LIMIT:
        raise LedgerError(f"limit must be between 1 and {MAX_LIMIT}")
    if offset < 0:
        raise LedgerError("offset must be 0 or more")
    if advisory:
        advisory = advisory.strip()
        names = store.advisory_names(advisory)
        matches = store.affected_matches(advisories=names)
        query: dict[str, Any] = {"advisory": advisory, "names": names}
    elif purl:
        key, package, bounds = check_purl_query(purl, version_range)
        if key is not None:
            matches = store.affected_matches(component=key.purl)
        else:
            matches = store.affected_matches(package=package)
            if bounds:
                matches = [m for m in matches if _in_range(m.purl, bounds)]
        query = {"purl": purl, "range": version_range}
    else:
        raise LedgerError("give an advisory id or a purl")
    by_component: dict[int, list[AffectedMatch]] = {}
    for m in matches:
        by_component.setdefault(m.component_id, []).append(m)
    purl_of = {cid: ms[0].purl for cid, ms in by_component.items()}
    # one row per service, by name: (service id, name, team, releases, muted)
    counts = sorted(
        store.affected_services(sorted(by_component), sorted({m.advisory_id for m in matches}), team_ids),
        key=_BY_NAME,
    )
    total = sum(map(_RELEASES, counts))
    not_affected = sum(map(_MUTED, counts))
    page: list[tuple[int, str, str | None, int, int]] = []
    skip = seen = 0
    for c in counts:
        if seen >= offset + limit:
            break
        if seen + c[3] > offset:
            if not page:
                skip = offset - seen
            page.append(c)
        seen += c[3]
    owners = {c[0]: (c[1], c[2]) for c in page}
    page_services = [c[0] for c in page]
    hits = store.affected_page(sorted(by_component), page_services)
    rank = {sid: i for i, sid in enumerate(page_services)}
    hits.sort(key=lambda h: (rank[h[0]], -h[1], purl_of[h[5]]))
    hits = hits[skip : skip + limit]
    rows = _rows(store, hits, by_component, purl_of, owners, advisory)
    return {
        "query": query,
        "services": [c[1] for c in counts if c[3] > c[4]],  # not only muted releases
        "count": total,
        "not_affected": not_affected,
        "limit": limit,
        "offset": offset,
        "next_offset": offset + len(rows) if offset + len(rows) < total else None,
        "results": [r.as_json() for r in rows],
    }


_BY_NAME = operator.itemgetter(1, 0)
_RELEASES = operator.itemgetter(3)
_MUTED = operator.itemgetter(4)
_SEVERITY_ORDER = {"critical": 5, "high": 4, "medium": 3, "unknown": 2, "low": 1, "info": 0}


def _rows(
    store: Store,
    hits: Sequence[tuple[int, int, str, str | None, dt.datetime, int, bool, tuple[str, ...]]],
    by_component: dict[int, list[AffectedMatch]],
    purl_of: dict[int, str],
    owners: dict[int, tuple[str, str | None]],
    asked: str | None,
) -> list[AffectedRow]:
    """The page's rows (each with where it runs and whether it is its service's latest release),
    with the status of the service's finding (only for the page's services and components)."""
    if not hits:
        return []
    candidates = sorted({m.advisory_id for h in hits for m in by_component[h[5]]})
    status = store.finding_status_for({(h[0], purl_of[h[5]]) for h in hits}, candidates)
    # what depends on the component alone, once per component (a page is mostly one component):
    # the advisory shown (None: the worst by the service's finding, per row), listed, fixed in
    per_component: dict[int, tuple[AffectedMatch | None, tuple[str, ...], tuple[str, ...]]] = {}
    for cid in {h[5] for h in hits}:
        group = by_component[cid]
        if asked is not None:  # advisory query: the id asked for, else the first of its group
            first = next((m for m in group if m.advisory_id == asked), group[0])
            per_component[cid] = (first, (), first.fixed_versions)
        else:  # purl query: the worst advisory, all of them listed
            per_component[cid] = (
                group[0] if len(group) == 1 else None,
                tuple(sorted({m.advisory_id for m in group})),
                tuple(sorted({v for m in group for v in m.fixed_versions})),
            )
    out = []
    for sid, rid, version, commit, created, cid, latest, envs in hits:
        purl = purl_of[cid]

        def found(m: AffectedMatch) -> tuple[str, dt.datetime | None, str | None] | None:
            return status.get((sid, purl, m.advisory_id)) or status.get((sid, purl, None))  # noqa: B023

        shown, advisories, fixes = per_component[cid]
        if shown is None:
            shown = max(
                by_component[cid],
                key=lambda m: (
                    _SEVERITY_ORDER.get(m.severity, 2),
                    (found(m) or ("",))[0] in ("open", "reopened"),
                ),
            )
        f = found(shown)
        service, team = owners[sid]
        out.append(
            AffectedRow(
                service=service,
                team=team,
                release_id=rid,
                version=version,
                commit=commit,
                created_at=created,
                latest=latest,
                environments=envs,
                component=purl,
                advisory_id=shown.advisory_id,
                severity=shown.severity,
                fixed_versions=fixes,
                finding_status=f[0] if f else None,
                excepted_until=f[1] if f else None,
                analysis_state=f[2] if f else None,
                advisories=advisories,
            )
        )
    return out


_COMPARE = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "=": operator.eq,
    "!=": operator.ne,
}


def check_purl_query(
    purl: str, version_range: str | None
) -> tuple[ComponentKey | None, tuple[str, str], list[tuple[str, Any]]]:
    """Validate a purl query before anything is read: the purl, and a range (only with a purl
    without version), each bound parsed as a version of the package's ecosystem. Returns the
    component key (None without version), the (ecosystem, name) package and the parsed bounds.
    The CLI calls it too, so a bad query is a usage error before any request is sent."""
    package = package_key(purl)
    if package is None:
        raise LedgerError(f"not a package URL: {purl[:200]!r}", hint="e.g. pkg:pypi/jinja2@2.11.2")
    key = component_key(purl)
    if not version_range:
        return key, package, []
    if key is not None:
        raise LedgerError(
            f"a version range applies to a purl without version; {purl[:200]!r} names one",
            hint=f"e.g. {purl.rsplit('@', 1)[0][:200]} with --range '{version_range[:50]}'",
        )
    bounds: list[tuple[str, Any]] = []
    for part in version_range.split(","):
        m = _RANGE_PART.match(part)
        if m is None:
            raise LedgerError(
                f"invalid version range {version_range[:200]!r}", hint="e.g. <3.1.5 or >=2.0,<3.1.5"
            )
        try:
            bounds.append((m.group(1) or "==", parse_version(package[0], m.group(2))))
        except (VersionParseError, UnsupportedEcosystem) as e:
            raise LedgerError(
                f"invalid version range {version_range[:200]!r}: {m.group(2)[:100]!r} is not a {package[0]} version"
                if isinstance(e, VersionParseError)
                else f"version ranges are not supported for {package[0]} packages"
            ) from None
    return None, package, bounds


def _in_range(purl: str, bounds: list[tuple[str, Any]]) -> bool:
    """Whether the component's version satisfies every bound (False if it does not parse)."""
    key = component_key(purl)
    if key is None:
        return False
    try:
        version = parse_version(key.ecosystem, key.version)
        return all(_COMPARE[op](version, bound) for op, bound in bounds)
    except (VersionParseError, UnsupportedEcosystem, TypeError):
        return False


@dataclass(frozen=True)
class RematchResult:
    """What a re-match changed."""

    components: int
    new_matches: int
    newly_affected: tuple[dict[str, Any], ...]
    findings_recorded: int

    def as_json(self) -> dict[str, Any]:
        """Plain JSON."""
        return {
            "components": self.components,
            "new_matches": self.new_matches,
            "findings_recorded": self.findings_recorded,
            "newly_affected": list(self.newly_affected),
        }


def rematch(store: Store, matcher: AdvisoryMatcher, actor: str = "cli") -> RematchResult:
    """Match every stored component against the advisory store; record the new matches, list the
    releases they newly affect, and open a finding for each (service, component, advisory) that has
    none yet."""
    components = store.all_components()
    by_id = {c[0]: c for c in components}
    found = matcher.match([(cid, eco, name, version) for cid, _purl, eco, name, version in components])
    current = store.all_matches()
    new = {
        (m.component_id, m.advisory_id): m for m in found if (m.component_id, m.advisory_id) not in current
    }
    store.add_aliases([(a, m.advisory_id) for m in found for a in (m.advisory_id, *m.aliases)])
    store.add_matches(
        [
            {
                "component_id": m.component_id,
                "advisory_id": m.advisory_id,
                "severity": m.severity,
                "fixed_versions": list(m.fixed_versions),
                "summary": m.summary[:2000],
            }
            for m in new.values()
        ]
    )
    affected = store.releases_with_components(sorted({cid for cid, _ in new}))
    by_component: dict[int, list[tuple[str, Any]]] = {}
    for (mcid, adv), m in new.items():
        by_component.setdefault(mcid, []).append((adv, m))
    newly: list[dict[str, Any]] = []
    wanted: dict[tuple[int, str, str], _NewFinding] = {}
    for release_id, service_id, cid in affected:
        purl = by_id[cid][1]
        for adv, m in by_component.get(cid, ()):
            newly.append(
                {"release_id": release_id, "service_id": service_id, "component": purl, "advisory_id": adv}
            )
            wanted.setdefault(
                (service_id, purl, adv),
                _NewFinding(service_id, purl, adv, m.severity, m.summary, m.fixed_versions),
            )
    recorded = _record_findings(store, list(wanted.values()))
    names = {s.id: s.name for s in store.services()}
    versions = store.release_versions(sorted({item["release_id"] for item in newly}))
    for item in newly:
        item["service"] = names.get(item["service_id"], "")
        item["release"] = versions.get(item["release_id"], "")
    newly.sort(key=lambda i: (i["service"], i["release_id"], i["component"], i["advisory_id"]))
    store.set_state("advisory_fingerprint", matcher.fingerprint())
    result = RematchResult(len(components), len(new), tuple(newly), recorded)
    store.append_audit(
        actor,
        "rematch",
        {"components": len(components), "new_matches": len(new), "findings_recorded": recorded},
    )
    return result


@dataclass(frozen=True)
class _NewFinding:
    service_id: int
    purl: str
    advisory_id: str
    severity: str
    summary: str
    fixed_versions: tuple[str, ...]


def ledger_fingerprint(advisory_id: str, purl: str) -> str:
    """Fingerprint of a finding the ledger records from a match (stable, 32 hex)."""
    return hashlib.sha256(f"ledger\0{advisory_id}\0{purl}".encode()).hexdigest()[:32]


def _record_findings(store: Store, items: list[_NewFinding]) -> int:
    if not items:
        return 0
    services = {s.id: s for s in store.services()}
    group_names = store.alias_groups()
    slas: dict[str, dict[str, int]] = {}
    existing: dict[int, tuple[set[tuple[str | None, str | None]], set[str]]] = {}
    for sid, pairs in store.vulnerability_keys(sorted({it.service_id for it in items})).items():
        existing[sid] = pairs
    rows = []
    for it in items:
        svc = services[it.service_id]
        names = group_names.get(it.advisory_id, {it.advisory_id})
        keys, fingerprints = existing.get(svc.id, (set(), set()))
        if any((it.purl, n) in keys for n in names):
            continue
        fp = ledger_fingerprint(it.advisory_id, it.purl)
        if fp in fingerprints:
            continue
        fingerprints.add(fp)
        severity = it.severity if it.severity in ("critical", "high", "medium", "low", "info") else "unknown"
        if svc.tier not in slas:
            slas[svc.tier] = store.sla_days(svc.tier)
        days = slas[svc.tier].get(severity)
        key = component_key(it.purl)
        rows.append(
            {
                "service_id": svc.id,
                "fingerprint": fp,
                "scanner": LEDGER_SCANNER,
                "kind": "vulnerability",
                "rule_id": f"vuln.{it.advisory_id}",
                "title": f"{key.name if key else it.purl} {key.version if key else ''}: {it.summary}"[:2000],
                "severity": severity,
                "advisory_id": it.advisory_id,
                "component_purl": it.purl,
                "path": None,
                "line": None,
                "evidence": "",
                "status": "open",
                "first_seen": store.now,
                "last_seen": store.now,
                "fixed_at": None,
                "due_at": store.now + dt.timedelta(days=days) if days is not None else None,
                "reopen_count": 0,
                "owner_team_id": svc.team_id,
                "waiver_id": None,
                "excepted_until": None,
                "analysis_state": None,
                "last_run_id": None,
                "fixed_version": it.fixed_versions[0] if it.fixed_versions else None,
                "reachable": None,
            }
        )
    ids = store.insert_findings_ids(rows)
    store.insert_events(
        [{"finding_id": fid, "run_id": None, "event": "created", "at": store.now} for fid in ids]
    )
    return len(rows)
