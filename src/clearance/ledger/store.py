"""Every SQL statement of the ledger. Routes, the CLI and `ingest` call these methods; nobody
else builds queries. All statements are SQLAlchemy expressions (bound parameters, never SQL
built from strings), batched where they touch many rows (no query per finding).

A `Store` wraps one session (one transaction) and one `now` (the injected clock).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import (
    ARRAY,
    Integer,
    Table,
    and_,
    any_,
    bindparam,
    case,
    delete,
    func,
    insert,
    or_,
    select,
    text,
    true,
    union,
    update,
)
from sqlalchemy.orm import Session, aliased

from clearance.errors import LedgerError
from clearance.ledger import audit
from clearance.ledger.tables import (
    AdvisoryAlias,
    AdvisoryMatch,
    AdvisoryState,
    Analysis,
    ApiToken,
    AuditEntry,
    AuditNode,
    Checkpoint,
    CodeOwnerRule,
    Component,
    CurrentDeployment,
    Environment,
    EvidenceBundle,
    Finding,
    FindingEvent,
    GateRun,
    Release,
    ReleaseArtifact,
    ReleaseComponent,
    Service,
    SlaRule,
    Team,
    TrustedKey,
    Waiver,
)

FINDINGS = cast(Table, Finding.__table__)
EVENTS = cast(Table, FindingEvent.__table__)

CHUNK = 2000
"""Rows per IN (...) list: well below SQLite's and PostgreSQL's bound-parameter limits."""

DEFAULT_SLA_DAYS: Mapping[str, int] = {"critical": 7, "high": 30, "medium": 90, "unknown": 90, "low": 180}
"""Days to fix by severity when no `sla_rules` row says otherwise (info findings have no due date)."""

OPEN_STATUSES = ("open", "reopened")
SUPPRESSING_ANALYSES = ("not_affected", "false_positive")
"""VEX states that take a finding out of SLA counts and `affected` answers (shown, never hidden)."""
OPEN_AGE_BUCKETS = ("0-7", "8-30", "31-90", "90+")
"""The security metrics' open debt by age since first seen (days; `findings_summary`)."""
AGING_BUCKETS = (("0-7", 0, 7), ("8-30", 8, 30), ("31-90", 31, 90), ("90+", 91, None))


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    """Consecutive slices of at most `size` items."""
    for i in range(0, len(items), size):
        yield items[i : i + size]


# --- values returned by queries ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FindingsSummary:
    """The findings figures of the org overview, from one pass (`Store.findings_summary`)."""

    sla_due: int
    sla_breached: int
    open_by_age: dict[str, int]
    overdue_by_team: list[dict[str, Any]]


@dataclass(frozen=True)
class FindingView:
    """One finding as the queries show it (status includes exceptions and VEX decisions)."""

    id: int
    service: str
    team: str | None
    """The owning team: CODEOWNERS of the path or the gate's owner signal, else the service's team."""
    fingerprint: str
    scanner: str
    kind: str
    rule_id: str
    title: str
    severity: str
    status: str
    """`open`, `reopened`, `fixed`, `excepted` (an exception holds), or the VEX state
    `not_affected` / `false_positive`."""
    path: str | None
    line: int | None
    advisory_id: str | None
    component_purl: str | None
    first_seen: dt.datetime
    last_seen: dt.datetime
    fixed_at: dt.datetime | None
    due_at: dt.datetime | None
    days_open: int
    days_overdue: int | None
    reopen_count: int
    excepted_until: dt.datetime | None
    waiver: str | None
    analysis_state: str | None

    def as_json(self) -> dict[str, Any]:
        """Plain JSON (times as ISO 8601 UTC)."""
        return {
            k: (v.isoformat() if isinstance(v, dt.datetime) else v)
            for k, v in dataclasses.asdict(self).items()
        }


@dataclass(frozen=True)
class FindingFilter:
    """Which findings to list."""

    team: str | None = None
    service: str | None = None
    severity: str | None = None
    status: str = "open"
    """`open` (open + reopened, including excepted), `fixed`, or `all`."""
    overdue: bool = False
    team_ids: tuple[int, ...] | None = None
    """Restrict to services of these teams (a team-bound token); None: no restriction."""
    limit: int = 1000
    offset: int = 0


@dataclass(frozen=True)
class AffectedRow:
    """One release whose components match an advisory."""

    service: str
    team: str | None
    release_id: int
    version: str
    commit: str | None
    created_at: dt.datetime
    latest: bool
    environments: tuple[str, ...]
    component: str
    advisory_id: str
    severity: str
    fixed_versions: tuple[str, ...]
    finding_status: str | None
    excepted_until: dt.datetime | None
    analysis_state: str | None
    advisories: tuple[str, ...] = ()
    """For purl queries: every advisory matching this component (one row per release)."""

    def as_json(self) -> dict[str, Any]:
        """Plain JSON (the fields in order; spelled out: an answer has up to 5,000 rows)."""
        return {
            "service": self.service,
            "team": self.team,
            "release_id": self.release_id,
            "version": self.version,
            "commit": self.commit,
            "created_at": self.created_at.isoformat(),
            "latest": self.latest,
            "environments": list(self.environments),
            "component": self.component,
            "advisory_id": self.advisory_id,
            "severity": self.severity,
            "fixed_versions": list(self.fixed_versions),
            "finding_status": self.finding_status,
            "excepted_until": self.excepted_until.isoformat() if self.excepted_until else None,
            "analysis_state": self.analysis_state,
            "advisories": list(self.advisories),
        }


@dataclass(frozen=True)
class AffectedMatch:
    """A precomputed (component, advisory) match as `affected` answers use it."""

    component_id: int
    purl: str
    advisory_id: str
    severity: str
    fixed_versions: tuple[str, ...]


@dataclass(frozen=True)
class TokenInfo:
    """A token as the server checks it (never the secret)."""

    id: int
    prefix: str
    name: str
    team_id: int | None
    team: str | None
    scopes: tuple[str, ...]
    created_at: dt.datetime
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None

    def as_json(self) -> dict[str, Any]:
        """Plain JSON."""
        return {
            "id": self.id,
            "prefix": self.prefix,
            "name": self.name,
            "team": self.team,
            "scopes": list(self.scopes),
            "created_at": self.created_at.isoformat(),
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
        }


def normalize_team(name: str) -> str:
    """One spelling of a team across sources: `@acme/payments`, `group:default/payments` and
    `payments` are the same team (`payments`); `user:…` owners keep their name."""
    n = name.strip()
    if n.startswith("group:"):
        n = n[len("group:") :]
    n = n.lstrip("@")
    if "/" in n:
        n = n.rsplit("/", 1)[1]
    return n.lower()


_STATEMENTS: dict[tuple[Any, ...], Any] = {}
"""Statements of the `affected` answer, built once per (shape, dialect): building a select costs
more client CPU than the small queries themselves; values are bound at execution."""


def _id_list(column: Any, name: str, postgresql: bool) -> Any:
    """`column IN :name` for an id list bound at execution: one array parameter on PostgreSQL
    (`= ANY(:name)`), an expanding IN elsewhere."""
    if postgresql:
        return column == any_(bindparam(name, type_=ARRAY(Integer)))
    return column.in_(bindparam(name, expanding=True))


def _str_list(column: Any, name: str) -> Any:
    """`column IN :name` for a (short) list of strings bound at execution."""
    return column.in_(bindparam(name, expanding=True))


class Store:
    """The query layer over one session and one `now`."""

    def __init__(self, session: Session, now: dt.datetime) -> None:
        if now.tzinfo is None:
            raise LedgerError("the ledger needs an aware UTC time")
        self.session = session
        self.now = now.astimezone(dt.UTC)
        self._postgresql: bool | None = None

    def _statement(self, key: tuple[Any, ...], build: Callable[[bool], Any]) -> Any:
        """The statement `build(postgresql)` for this shape and dialect, built once."""
        if self._postgresql is None:
            self._postgresql = self.session.get_bind().dialect.name == "postgresql"
        full = (*key, self._postgresql)
        stmt = _STATEMENTS.get(full)
        if stmt is None:
            stmt = _STATEMENTS[full] = build(self._postgresql)
        return stmt

    # --- teams, services, SLAs -----------------------------------------------------------------

    def team(self, name: str) -> Team | None:
        """A team by (normalized) name."""
        return self.session.scalars(select(Team).where(Team.name == normalize_team(name))).first()

    def ensure_team(self, name: str) -> Team:
        """The team, created when unknown."""
        team = self.team(name)
        if team is None:
            team = Team(name=normalize_team(name), contacts={}, created_at=self.now)
            self.session.add(team)
            self.session.flush()
        return team

    def teams(self) -> list[Team]:
        """Every team by name."""
        return list(self.session.scalars(select(Team).order_by(Team.name)))

    def team_names(self, ids: Iterable[int]) -> dict[int, str]:
        """Team id → name."""
        wanted = sorted(set(ids))
        if not wanted:
            return {}
        return dict(
            self.session.execute(select(Team.id, Team.name).where(Team.id.in_(wanted))).tuples().all()
        )

    def service(self, name: str) -> Service | None:
        """A service by name."""
        return self.session.scalars(select(Service).where(Service.name == name)).first()

    def service_by_repository(self, repository: str) -> Service | None:
        """The service whose repository is `repository` (first by name when several share it)."""
        return self.session.scalars(
            select(Service).where(Service.repository == repository).order_by(Service.name)
        ).first()

    def has_services(self) -> bool:
        """True once the ledger knows any service (an empty answer from an empty ledger says so)."""
        return self.session.scalar(select(Service.id).limit(1)) is not None

    def services(self, team_ids: Sequence[int] | None = None) -> list[Service]:
        """Services by name (optionally only those of some teams)."""
        q = select(Service).order_by(Service.name)
        if team_ids is not None:
            q = q.where(Service.team_id.in_(team_ids))
        return list(self.session.scalars(q))

    def upsert_service(
        self, name: str, *, team: Team | None, source: str, **attrs: Any
    ) -> tuple[Service, bool]:
        """Create or update a service; returns (service, created). Only given attributes change."""
        svc = self.service(name)
        created = svc is None
        if svc is None:
            svc = Service(
                name=name,
                team_id=team.id if team else None,
                tier=attrs.pop("tier", None) or "default",
                exposure=attrs.pop("exposure", None) or "unknown",
                data_class=attrs.pop("data_class", None) or "unknown",
                repository=attrs.pop("repository", None),
                environments=attrs.pop("environments", None) or [],
                source=source,
                created_at=self.now,
            )
            self.session.add(svc)
        else:
            if team is not None:
                svc.team_id = team.id
            for key, value in attrs.items():
                if value is not None:
                    setattr(svc, key, value)
        self.session.flush()
        return svc, created

    def set_code_owners(self, service: Service, rules: Sequence[tuple[str, str]]) -> None:
        """Replace the CODEOWNERS rules (pattern, team name) of a service, in file order."""
        self.session.execute(delete(CodeOwnerRule).where(CodeOwnerRule.service_id == service.id))
        rows = [
            {
                "service_id": service.id,
                "position": i,
                "pattern": pattern,
                "team_id": self.ensure_team(team).id,
            }
            for i, (pattern, team) in enumerate(rules)
        ]
        if rows:
            self.session.execute(insert(CodeOwnerRule), rows)

    def code_owners(self, service_id: int) -> list[tuple[str, int]]:
        """(pattern, team id) of a service, in file order."""
        return list(
            self.session.execute(
                select(CodeOwnerRule.pattern, CodeOwnerRule.team_id)
                .where(CodeOwnerRule.service_id == service_id)
                .order_by(CodeOwnerRule.position)
            ).tuples()
        )

    def sla_days(self, tier: str) -> dict[str, int]:
        """Severity → days to fix for a tier (the tier's rows, else `default` rows, else the defaults)."""
        days = dict(DEFAULT_SLA_DAYS)
        rows = self.session.execute(
            select(SlaRule.tier, SlaRule.severity, SlaRule.days).where(SlaRule.tier.in_(("default", tier)))
        ).tuples()
        by_tier: dict[str, dict[str, int]] = {}
        for t, sev, d in rows:
            by_tier.setdefault(t, {})[sev] = d
        days.update(by_tier.get("default", {}))
        days.update(by_tier.get(tier, {}))
        return days

    def set_sla(self, tier: str, severity: str, days: int) -> None:
        """Set days-to-fix for (tier, severity)."""
        row = self.session.scalars(
            select(SlaRule).where(SlaRule.tier == tier, SlaRule.severity == severity)
        ).first()
        if row is None:
            self.session.add(SlaRule(tier=tier, severity=severity, days=days))
        else:
            row.days = days
        self.session.flush()

    # --- releases and components ----------------------------------------------------------------

    def ensure_release(
        self, service: Service, version: str, commit: str | None, artifacts: Sequence[tuple[str, str]]
    ) -> tuple[Release, bool]:
        """The release (service, version), created when new; artifacts (name, digest) are added."""
        rel = self.session.scalars(
            select(Release).where(Release.service_id == service.id, Release.version == version)
        ).first()
        created = rel is None
        if rel is None:
            rel = Release(
                service_id=service.id,
                version=version,
                commit=commit,
                artifact_digest=artifacts[0][1] if artifacts else None,
                created_at=self.now,
            )
            self.session.add(rel)
            self.session.flush()
        if artifacts:
            have = set(
                self.session.scalars(
                    select(ReleaseArtifact.digest).where(ReleaseArtifact.release_id == rel.id)
                )
            )
            new = [
                {"release_id": rel.id, "name": n, "digest": d}
                for n, d in dict(artifacts).items()
                if d not in have
            ]
            new = list({r["digest"]: r for r in new}.values())
            if new:
                self.session.execute(insert(ReleaseArtifact), new)
        return rel, created

    def release_versions(self, release_ids: Sequence[int]) -> dict[int, str]:
        """Release id → version."""
        out: dict[int, str] = {}
        for part in chunks(list(release_ids)):
            out.update(
                self.session.execute(select(Release.id, Release.version).where(Release.id.in_(part)))
                .tuples()
                .all()
            )
        return out

    def release(self, release_id: int) -> Release | None:
        """A release by id."""
        return self.session.get(Release, release_id)

    def ensure_components(self, components: Sequence[tuple[str, str, str, str]]) -> dict[str, int]:
        """purl → component id for (purl, ecosystem, normalized name, version), inserting new ones."""
        by_purl = {c[0]: c for c in components}
        ids: dict[str, int] = {}
        purls = sorted(by_purl)
        for part in chunks(purls):
            ids.update(
                self.session.execute(select(Component.purl, Component.id).where(Component.purl.in_(part)))
                .tuples()
                .all()
            )
        missing = [by_purl[p] for p in purls if p not in ids]
        if missing:
            rows = [{"purl": p, "ecosystem": e, "name": n, "version": v} for p, e, n, v in missing]
            for part in chunks(rows):
                res = self.session.execute(
                    insert(Component).returning(Component.purl, Component.id), list(part)
                )
                ids.update(res.tuples().all())
        return ids

    def link_components(self, release: Release, component_scopes: Mapping[int, str]) -> int:
        """Add release ↔ component rows that are not there yet; returns how many were added."""
        have = set(
            self.session.scalars(
                select(ReleaseComponent.component_id).where(ReleaseComponent.release_id == release.id)
            )
        )
        rows = [
            {"release_id": release.id, "service_id": release.service_id, "component_id": cid, "scope": scope}
            for cid, scope in sorted(component_scopes.items())
            if cid not in have
        ]
        if rows:
            self.session.execute(insert(ReleaseComponent), rows)
        return len(rows)

    def release_components(self, release_id: int) -> list[Component]:
        """The components of a release, by purl."""
        return list(
            self.session.scalars(
                select(Component)
                .join(ReleaseComponent, ReleaseComponent.component_id == Component.id)
                .where(ReleaseComponent.release_id == release_id)
                .order_by(Component.purl)
            )
        )

    def all_components(self) -> list[tuple[int, str, str, str, str]]:
        """(id, purl, ecosystem, name, version) of every component that is in some release."""
        q = (
            select(Component.id, Component.purl, Component.ecosystem, Component.name, Component.version)
            .where(
                select(ReleaseComponent.component_id)
                .where(ReleaseComponent.component_id == Component.id)
                .exists()
            )
            .order_by(Component.ecosystem, Component.name)
        )
        return list(self.session.execute(q).tuples())

    # --- advisory matches -------------------------------------------------------------------------

    def matches_of(self, component_ids: Sequence[int]) -> set[tuple[int, str]]:
        """Existing (component id, advisory id) matches among `component_ids`."""
        out: set[tuple[int, str]] = set()
        for part in chunks(list(component_ids)):
            out.update(
                self.session.execute(
                    select(AdvisoryMatch.component_id, AdvisoryMatch.advisory_id).where(
                        AdvisoryMatch.component_id.in_(part)
                    )
                ).tuples()
            )
        return out

    def all_matches(self) -> set[tuple[int, str]]:
        """Every stored (component id, advisory id) match."""
        return set(
            self.session.execute(select(AdvisoryMatch.component_id, AdvisoryMatch.advisory_id)).tuples()
        )

    def add_matches(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert matches: dicts with component_id, advisory_id, severity, fixed_versions, summary."""
        full = [dict(r, matched_at=self.now) for r in rows]
        for part in chunks(full):
            self.session.execute(insert(AdvisoryMatch), list(part))

    def remove_matches(self, pairs: Iterable[tuple[int, str]]) -> None:
        """Delete matches that no longer hold (a withdrawn or corrected advisory)."""
        for cid, adv in pairs:
            self.session.execute(
                delete(AdvisoryMatch).where(
                    AdvisoryMatch.component_id == cid, AdvisoryMatch.advisory_id == adv
                )
            )

    def add_aliases(self, pairs: Iterable[tuple[str, str]]) -> None:
        """Record (alias, advisory id) pairs not yet known."""
        wanted = sorted(set(pairs))
        if not wanted:
            return
        have: set[tuple[str, str]] = set()
        ids = sorted({a for _, a in wanted})
        for part in chunks(ids):
            have.update(
                self.session.execute(
                    select(AdvisoryAlias.alias, AdvisoryAlias.advisory_id).where(
                        AdvisoryAlias.advisory_id.in_(part)
                    )
                ).tuples()
            )
        rows = [{"alias": al, "advisory_id": adv} for al, adv in wanted if (al, adv) not in have]
        for part in chunks(rows):
            self.session.execute(insert(AdvisoryAlias), list(part))

    def advisory_names(self, advisory: str) -> list[str]:
        """Every id known for the advisory group of `advisory` (itself, its aliases, ids it aliases),
        in one statement."""

        def build(_pg: bool) -> Any:
            first = select(AdvisoryAlias.advisory_id).where(AdvisoryAlias.alias == bindparam("advisory"))
            # three index lookups (an OR of the two alias conditions would scan the table)
            return union(
                first,
                select(AdvisoryAlias.alias).where(AdvisoryAlias.advisory_id == bindparam("advisory")),
                select(AdvisoryAlias.alias).where(AdvisoryAlias.advisory_id.in_(first)),
            )

        q = self._statement(("advisory_names",), build)
        return sorted({advisory, *self.session.connection().execute(q, {"advisory": advisory}).scalars()})

    def releases_with_components(self, component_ids: Sequence[int]) -> list[tuple[int, int, int]]:
        """(release id, service id, component id) for releases containing any of `component_ids`."""
        out: list[tuple[int, int, int]] = []
        for part in chunks(list(component_ids)):
            out.extend(
                self.session.execute(
                    select(ReleaseComponent.release_id, Release.service_id, ReleaseComponent.component_id)
                    .join(Release, Release.id == ReleaseComponent.release_id)
                    .where(ReleaseComponent.component_id.in_(part))
                ).tuples()
            )
        return out

    def state(self, key: str) -> str | None:
        """A bookkeeping value (e.g. the advisory database fingerprint of the last rematch)."""
        row = self.session.get(AdvisoryState, key)
        return row.value if row else None

    def set_state(self, key: str, value: str) -> None:
        """Set a bookkeeping value."""
        row = self.session.get(AdvisoryState, key)
        if row is None:
            self.session.add(AdvisoryState(key=key, value=value))
        else:
            row.value = value

    # --- "what's affected?" in pages: aggregated and paged in SQL ---------------------------------

    def affected_matches(
        self,
        *,
        advisories: Sequence[str] | None = None,
        component: str | None = None,
        package: tuple[str, str] | None = None,
    ) -> list[AffectedMatch]:
        """The precomputed matches of any of `advisories` (all names of one advisory), of one
        `component` (exact purl) or of any version of a `package`: a few rows per component, never
        one per release."""

        def build(_pg: bool) -> Any:
            q = select(
                AdvisoryMatch.component_id,
                Component.purl,
                AdvisoryMatch.advisory_id,
                AdvisoryMatch.severity,
                AdvisoryMatch.fixed_versions,
            ).join(Component, Component.id == AdvisoryMatch.component_id)
            if advisories is not None:
                q = q.where(_str_list(AdvisoryMatch.advisory_id, "advisories"))
            if component is not None:
                q = q.where(Component.purl == bindparam("component"))
            if package is not None:
                q = q.where(
                    Component.ecosystem == bindparam("ecosystem"), Component.name == bindparam("name")
                )
            return q.order_by(Component.purl, AdvisoryMatch.advisory_id)

        q = self._statement(
            ("affected_matches", advisories is not None, component is not None, package is not None), build
        )
        params: dict[str, Any] = {}
        if advisories is not None:
            params["advisories"] = list(advisories)
        if component is not None:
            params["component"] = component
        if package is not None:
            params["ecosystem"], params["name"] = package
        rows = self.session.connection().execute(q, params).tuples().all()
        return [
            AffectedMatch(cid, purl, adv, sev, tuple(str(v) for v in fixed or ()))
            for cid, purl, adv, sev, fixed in rows
        ]

    @staticmethod
    def _names_of(name: str) -> Any:
        """SQL set of the advisories bound as `:name` and every id the alias table links them to
        (both directions)."""
        return union(
            select(AdvisoryAlias.alias).where(_str_list(AdvisoryAlias.advisory_id, name)),
            select(AdvisoryAlias.advisory_id).where(_str_list(AdvisoryAlias.alias, name)),
            select(AdvisoryMatch.advisory_id).where(_str_list(AdvisoryMatch.advisory_id, name)),
        )

    def affected_services(
        self,
        component_ids: Sequence[int],
        advisories: Sequence[str],
        team_ids: Sequence[int] | None = None,
    ) -> list[tuple[int, str, str | None, int, int]]:
        """(service id, service name, owning team name, releases, muted) for every service with a
        release shipping one of `component_ids`, in one statement: the size of the whole answer
        counted by the database. A release counts once per component it ships; `muted` counts
        those whose service's finding for the component carries a VEX state that takes it out of
        `affected` answers (`not_affected`, `false_positive`) for one of `advisories` or their
        aliases. One row per service (a popular component: ~4,000), unordered."""
        if not component_ids:
            return []

        def build(pg: bool) -> Any:
            # the (few) suppressed findings, by component id: no join of the answer to components
            suppressed = (
                select(Finding.service_id, Component.id.label("component_id"))
                .join(Component, Component.purl == Finding.component_purl)
                .where(
                    Finding.analysis_state.in_(SUPPRESSING_ANALYSES),
                    Finding.advisory_id.in_(self._names_of("advisories")),
                    _id_list(Component.id, "components", pg),
                )
                .distinct()
                .subquery("suppressed")
            )
            # links counted from the (component, service, release) index alone: no `releases`
            per_service = (
                select(
                    ReleaseComponent.service_id,
                    func.count().label("n"),
                    func.count(suppressed.c.service_id).label("muted"),
                )
                .select_from(ReleaseComponent)
                .outerjoin(
                    suppressed,
                    and_(
                        suppressed.c.service_id == ReleaseComponent.service_id,
                        suppressed.c.component_id == ReleaseComponent.component_id,
                    ),
                )
                .where(_id_list(ReleaseComponent.component_id, "components", pg))
                .group_by(ReleaseComponent.service_id)
                .subquery("per_service")
            )
            q = (
                select(
                    per_service.c.service_id,
                    Service.name,
                    Team.name,
                    per_service.c.n,
                    per_service.c.muted,
                )
                .select_from(per_service)
                .join(Service, Service.id == per_service.c.service_id)
                .outerjoin(Team, Team.id == Service.team_id)
            )
            if team_ids is not None:
                q = q.where(_id_list(Service.team_id, "teams", pg))
            return q

        q = self._statement(("affected_services", team_ids is not None), build)
        params: dict[str, Any] = {
            "components": sorted(set(component_ids)),
            "advisories": sorted(set(advisories)) or [""],
        }
        if team_ids is not None:
            params["teams"] = sorted(set(team_ids))
        # fetched at once (not row by row)
        return list(self.session.connection().execute(q, params).tuples().all())

    def affected_page(
        self, component_ids: Sequence[int], service_ids: Sequence[int]
    ) -> list[tuple[int, int, str, str | None, dt.datetime, int, bool, tuple[str, ...]]]:
        """(service id, release id, version, commit, created at, component id, latest, environments)
        of the releases of `service_ids` shipping one of `component_ids` (one page's services),
        newest first, in one statement: whether each is its service's newest release and the
        environments running it now (by rank)."""
        if not component_ids or not service_ids:
            return []

        def build(pg: bool) -> Any:
            newest = aliased(Release)
            latest = select(func.max(newest.id)).where(newest.service_id == Release.service_id)
            return (
                select(
                    Release.service_id,
                    Release.id,
                    Release.version,
                    Release.commit,
                    Release.created_at,
                    ReleaseComponent.component_id,
                    Release.id == latest.scalar_subquery(),
                    Environment.name,
                )
                .select_from(ReleaseComponent)
                .join(Release, Release.id == ReleaseComponent.release_id)
                .outerjoin(CurrentDeployment, CurrentDeployment.release_id == Release.id)
                .outerjoin(Environment, Environment.id == CurrentDeployment.environment_id)
                .where(
                    _id_list(ReleaseComponent.component_id, "components", pg),
                    _id_list(ReleaseComponent.service_id, "services", pg),
                )
                .order_by(
                    Release.service_id,
                    Release.id.desc(),
                    ReleaseComponent.component_id,
                    Environment.rank,
                    Environment.name,
                )
            )

        q = self._statement(("affected_page",), build)
        params = {"components": sorted(set(component_ids)), "services": sorted(set(service_ids))}
        out: list[tuple[int, int, str, str | None, dt.datetime, int, bool, tuple[str, ...]]] = []
        for sid, rid, version, commit, created, cid, latest, env in (
            self.session.connection().execute(q, params).tuples().all()
        ):
            if out and out[-1][1] == rid and out[-1][5] == cid:
                if env is not None:
                    last = out[-1]
                    out[-1] = (*last[:7], (*last[7], env))
                continue
            out.append((sid, rid, version, commit, created, cid, bool(latest), (env,) if env else ()))
        return out

    def advisory_groups(self, advisories: Sequence[str]) -> dict[str, set[str]]:
        """Each of `advisories` → its names: itself, its aliases, the ids it is an alias of, and
        their aliases (two hops through the alias table: GHSA → CVE → PYSEC)."""
        pairs: set[tuple[str, str]] = set()
        frontier = set(advisories)
        known: set[str] = set()
        for _ in range(2):
            todo = sorted(frontier - known)
            known.update(todo)
            for part in chunks(todo):
                pairs.update(
                    self.session.connection()
                    .execute(
                        select(AdvisoryAlias.alias, AdvisoryAlias.advisory_id).where(
                            or_(
                                AdvisoryAlias.alias.in_(list(part)), AdvisoryAlias.advisory_id.in_(list(part))
                            )
                        )
                    )
                    .tuples()
                )
            frontier = {n for p in pairs for n in p}
        neighbours: dict[str, set[str]] = {}
        for alias, adv in pairs:
            neighbours.setdefault(alias, set()).add(adv)
            neighbours.setdefault(adv, set()).add(alias)
        out: dict[str, set[str]] = {}
        for a in advisories:
            group = {a} | neighbours.get(a, set())
            for n in list(group):
                group |= neighbours.get(n, set())
            out[a] = group
        return out

    def finding_status_for(
        self, service_purls: set[tuple[int, str]], advisories: Sequence[str]
    ) -> dict[tuple[int, str, str | None], tuple[str, dt.datetime | None, str | None]]:
        """(service id, purl, advisory) → (status, excepted until, analysis) of matching findings,
        in one statement: each asked advisory is paired with its names (itself and the ids the
        alias table links to it), and the services' findings of any of those names are read."""
        if not service_purls or not advisories:
            return {}

        def build(pg: bool) -> Any:
            groups = union(
                select(
                    AdvisoryMatch.advisory_id.label("asked"), AdvisoryMatch.advisory_id.label("name")
                ).where(_str_list(AdvisoryMatch.advisory_id, "asked")),
                select(AdvisoryAlias.advisory_id, AdvisoryAlias.alias).where(
                    _str_list(AdvisoryAlias.advisory_id, "asked")
                ),
                select(AdvisoryAlias.alias, AdvisoryAlias.advisory_id).where(
                    _str_list(AdvisoryAlias.alias, "asked")
                ),
            ).subquery("names")
            return (
                select(
                    Finding.service_id,
                    Finding.component_purl,
                    groups.c.asked,
                    Finding.status,
                    Finding.excepted_until,
                    Finding.analysis_state,
                )
                .join(groups, groups.c.name == Finding.advisory_id)
                .where(_id_list(Finding.service_id, "services", pg))
                .order_by(Finding.id)
            )

        q = self._statement(("finding_status_for",), build)
        params = {"asked": sorted(set(advisories)), "services": sorted({s for s, _ in service_purls})}
        out: dict[tuple[int, str, str | None], tuple[str, dt.datetime | None, str | None]] = {}
        for sid, purl, asked_id, st, until, analysis in (
            self.session.connection().execute(q, params).tuples().all()
        ):
            if purl is None or (sid, purl) not in service_purls:
                continue
            shown = self._shown_status(st, until, analysis)
            out[(sid, purl, asked_id)] = (shown, until if shown == "excepted" else None, analysis)
        return out

    def _shown_status(self, status: str, until: dt.datetime | None, analysis: str | None) -> str:
        if status in OPEN_STATUSES:
            if analysis in SUPPRESSING_ANALYSES:
                return analysis or status
            if until is not None and until > self.now:
                return "excepted"
        return status

    # --- findings (ingest side) -------------------------------------------------------------------

    def findings_of_service(self, service_id: int) -> list[Any]:
        """Every finding of a service as plain rows (attribute access by column name); ingest
        compares the report against them in memory."""
        return list(self.session.execute(select(FINDINGS).where(Finding.service_id == service_id)).all())

    def mark_seen(self, service_id: int, fingerprints: Sequence[str], run_id: int) -> None:
        """Set last_seen / last_run_id of the given findings (a few statements, not one per row)."""
        table = FINDINGS
        for part in chunks(list(fingerprints)):
            self.session.connection().execute(
                update(table)
                .where(table.c.service_id == service_id, table.c.fingerprint.in_(part))
                .values(last_seen=self.now, last_run_id=run_id)
            )

    def bulk_insert(self, table: Table, rows: Sequence[Mapping[str, Any]], *, ids: bool = False) -> list[int]:
        """Insert many rows of `table` (every row with the same keys): COPY on PostgreSQL (a
        per-row executemany costs ~0.3 ms a row there), executemany on SQLite. With `ids`, the
        primary keys are allocated up front — from the table's sequence on PostgreSQL, after the
        current maximum on SQLite (whose write transactions hold the database lock from BEGIN
        IMMEDIATE) — and returned in row order: no RETURNING, no lookup afterwards."""
        if not rows:
            return []
        conn = self.session.connection()
        dialect = conn.dialect
        new_ids: list[int] = []
        if ids:
            if dialect.name == "postgresql":
                seq = func.pg_get_serial_sequence(table.name, "id")
                new_ids = list(
                    conn.execute(select(func.nextval(seq)).select_from(func.generate_series(1, len(rows))))
                    .scalars()
                    .all()
                )
            else:
                first = int(conn.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar() or 0) + 1
                new_ids = list(range(first, first + len(rows)))
            rows = [dict(r, id=i) for r, i in zip(rows, new_ids, strict=True)]
        if dialect.name != "postgresql":
            for part in chunks(list(rows)):
                conn.execute(insert(table), list(part))
            return new_ids
        names = list(rows[0])
        procs = [table.c[n].type.bind_processor(dialect) for n in names]
        quote = dialect.identifier_preparer.quote
        # Identifiers come from the table's metadata (never from input); values go through COPY.
        statement = f"COPY {quote(table.name)} ({', '.join(quote(n) for n in names)}) FROM STDIN"
        driver = cast(Any, conn.connection.driver_connection)
        with driver.cursor() as cur, cur.copy(statement) as copy:
            for r in rows:
                copy.write_row(
                    [p(r[n]) if p is not None else r[n] for n, p in zip(names, procs, strict=True)]
                )
        return new_ids

    def insert_findings(self, rows: Sequence[Mapping[str, Any]]) -> dict[str, int]:
        """Insert one service's findings in bulk; returns fingerprint → id."""
        ids = self.bulk_insert(FINDINGS, rows, ids=True)
        return {r["fingerprint"]: fid for r, fid in zip(rows, ids, strict=True)}

    def insert_findings_ids(self, rows: Sequence[Mapping[str, Any]]) -> list[int]:
        """Insert findings of several services in bulk; returns their ids in row order."""
        return self.bulk_insert(FINDINGS, rows, ids=True)

    def alias_groups(self) -> dict[str, set[str]]:
        """Every known advisory id → all ids of its group (itself, its aliases, what it aliases)."""
        groups: dict[str, set[str]] = {}
        for alias, adv in self.session.execute(
            select(AdvisoryAlias.alias, AdvisoryAlias.advisory_id)
        ).tuples():
            groups.setdefault(adv, {adv}).add(alias)
        out: dict[str, set[str]] = {}
        for names in groups.values():
            for n in names:
                out.setdefault(n, {n}).update(names)
        return out

    def vulnerability_keys(
        self, service_ids: Sequence[int]
    ) -> dict[int, tuple[set[tuple[str | None, str | None]], set[str]]]:
        """Per service: the (component purl, advisory id) pairs of its findings, and all its fingerprints."""
        out: dict[int, tuple[set[tuple[str | None, str | None]], set[str]]] = {
            sid: (set(), set()) for sid in service_ids
        }
        for part in chunks(list(service_ids)):
            for sid, purl, adv, fp in self.session.execute(
                select(
                    Finding.service_id, Finding.component_purl, Finding.advisory_id, Finding.fingerprint
                ).where(Finding.service_id.in_(part))
            ).tuples():
                out[sid][0].add((purl, adv))
                out[sid][1].add(fp)
        return out

    def update_findings(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Batched UPDATE by primary key (`id` in every dict); rows with the same keys share one
        executemany."""
        table = FINDINGS
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for r in rows:
            keys = tuple(sorted(k for k in r if k != "id"))
            groups.setdefault(keys, []).append({"b_id": r["id"], **{f"b_{k}": r[k] for k in keys}})
        for keys, params in groups.items():
            stmt = (
                update(table)
                .where(table.c.id == bindparam("b_id"))
                .values({k: bindparam(f"b_{k}") for k in keys})
            )
            for part in chunks(params):
                self.session.connection().execute(stmt, list(part))

    def insert_events(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Append lifecycle events (in bulk)."""
        self.bulk_insert(EVENTS, rows)

    def upsert_waivers(self, service_id: int, waivers: Sequence[Mapping[str, Any]]) -> dict[str, Waiver]:
        """Create or update the service's exceptions by their id; returns id → row."""
        existing = {
            w.external_id: w
            for w in self.session.scalars(select(Waiver).where(Waiver.service_id == service_id))
        }
        for w in waivers:
            row = existing.get(w["external_id"])
            if row is None:
                row = Waiver(service_id=service_id, last_seen_at=self.now, **w)
                self.session.add(row)
                existing[w["external_id"]] = row
            else:
                for k, v in w.items():
                    setattr(row, k, v)
                row.last_seen_at = self.now
        self.session.flush()
        return existing

    def run_by_report(self, service_id: int, report_sha256: str) -> GateRun | None:
        """A run already ingested with the same report bytes."""
        return self.session.scalars(
            select(GateRun).where(GateRun.service_id == service_id, GateRun.report_sha256 == report_sha256)
        ).first()

    def add_run(self, **fields: Any) -> GateRun:
        """Record a gate run."""
        run = GateRun(received_at=self.now, **fields)
        self.session.add(run)
        self.session.flush()
        return run

    def runs(self, service_id: int, limit: int = 50) -> list[GateRun]:
        """The latest runs of a service."""
        return list(
            self.session.scalars(
                select(GateRun)
                .where(GateRun.service_id == service_id)
                .order_by(GateRun.id.desc())
                .limit(limit)
            )
        )

    def store_bundle(
        self, content: bytes, *, verified: bool, result: str, signer: str | None, subjects: list[Any]
    ) -> EvidenceBundle:
        """Keep a bundle (deduplicated by sha256)."""
        sha = hashlib.sha256(content).hexdigest()
        row = self.session.scalars(select(EvidenceBundle).where(EvidenceBundle.sha256 == sha)).first()
        if row is None:
            row = EvidenceBundle(
                sha256=sha,
                size=len(content),
                content=content,
                verified=verified,
                result=result,
                signer_key_id=signer,
                subjects=subjects,
                verified_at=self.now,
            )
            self.session.add(row)
            self.session.flush()
        return row

    # --- findings (queries) -----------------------------------------------------------------------

    def findings(self, flt: FindingFilter) -> list[FindingView]:
        """Findings by team/service/severity/status; `overdue` keeps those past their due date whose
        exception (if any) has expired and that no VEX decision takes out of the SLA."""
        q, owner = self._finding_query()
        if flt.team is not None:
            q = q.where(owner.name == normalize_team(flt.team))
        if flt.service is not None:
            q = q.where(Service.name == flt.service)
        if flt.team_ids is not None:
            q = q.where(Service.team_id.in_(list(flt.team_ids)))
        if flt.severity is not None:
            q = q.where(Finding.severity == flt.severity)
        if flt.status == "open" or flt.overdue:
            q = q.where(Finding.status.in_(OPEN_STATUSES))
        elif flt.status == "fixed":
            q = q.where(Finding.status == "fixed")
        if flt.overdue:
            q = q.where(*self._sla_counts(), Finding.due_at < self.now)
        q = q.order_by(Finding.due_at.is_(None), Finding.due_at, Service.name, Finding.id)
        q = q.limit(flt.limit).offset(flt.offset)
        return [self._view(row) for row in self.session.execute(q).tuples()]

    def _finding_query(self) -> tuple[Any, Any]:
        """Findings with service name, owning team (the finding's owner, else the service's team)
        and exception id; returns the query and the owner-team alias."""
        owner = aliased(Team)
        q = (
            select(Finding, Service.name, owner.name, Waiver.external_id)
            .join(Service, Service.id == Finding.service_id)
            .outerjoin(owner, owner.id == func.coalesce(Finding.owner_team_id, Service.team_id))
            .outerjoin(Waiver, Waiver.id == Finding.waiver_id)
        )
        return q, owner

    def _sla_counts(self) -> list[Any]:
        """Conditions: the finding counts against its SLA now."""
        return [
            or_(Finding.excepted_until.is_(None), Finding.excepted_until <= self.now),
            or_(Finding.analysis_state.is_(None), Finding.analysis_state.not_in(SUPPRESSING_ANALYSES)),
        ]

    def _view(self, row: tuple[Finding, str, str | None, str | None]) -> FindingView:
        f, service, team, waiver = row
        end = f.fixed_at if f.status == "fixed" and f.fixed_at else self.now
        overdue = None
        if (
            f.status in OPEN_STATUSES
            and f.due_at is not None
            and f.due_at < self.now
            and self._shown_status(f.status, f.excepted_until, f.analysis_state) in OPEN_STATUSES
        ):
            overdue = (self.now - f.due_at).days
        return FindingView(
            id=f.id,
            service=service,
            team=team,
            fingerprint=f.fingerprint,
            scanner=f.scanner,
            kind=f.kind,
            rule_id=f.rule_id,
            title=f.title,
            severity=f.severity,
            status=self._shown_status(f.status, f.excepted_until, f.analysis_state),
            path=f.path,
            line=f.line,
            advisory_id=f.advisory_id,
            component_purl=f.component_purl,
            first_seen=f.first_seen,
            last_seen=f.last_seen,
            fixed_at=f.fixed_at,
            due_at=f.due_at,
            days_open=max(0, (end - f.first_seen).days),
            days_overdue=overdue,
            reopen_count=f.reopen_count,
            excepted_until=f.excepted_until,
            waiver=waiver,
            analysis_state=f.analysis_state,
        )

    def overdue_by_team(self, team_ids: Sequence[int] | None = None) -> list[dict[str, Any]]:
        """Per owning team: open findings past due (SLA breached), by severity, and the worst days over."""
        in_scope = (
            Finding.service_id.in_(select(Service.id).where(Service.team_id.in_(list(team_ids))))
            if team_ids is not None
            else true()
        )
        return self.findings_summary(in_scope, self.now).overdue_by_team

    def findings_summary(self, in_scope: Any, window_start: dt.datetime) -> FindingsSummary:
        """The org overview's findings figures in **one** grouped pass over the findings of the
        scope (`in_scope`: a condition on `Finding`): overdue by owning
        team (`overdue_by_team`), and the security metrics' SLA (fell due in
        `[window_start, now]`, and not fixed by then) and open debt by age since first seen.

        One statement instead of three: each of the three read most of the findings (PostgreSQL
        chose a sequential scan for each), so the overview paid for the table three times."""
        now = self.now
        open_ = Finding.status.in_(OPEN_STATUSES)
        # the security metrics count every finding not triaged away by VEX
        counted = or_(Finding.analysis_state.is_(None), Finding.analysis_state.not_in(SUPPRESSING_ANALYSES))
        # SLA: an exception that held at the due date moves the due date to its expiry
        effective_due = case(
            (
                and_(Finding.excepted_until.is_not(None), Finding.excepted_until > Finding.due_at),
                Finding.excepted_until,
            ),
            else_=Finding.due_at,
        )
        due_in_window = and_(
            counted, Finding.due_at.is_not(None), effective_due >= window_start, effective_due <= now
        )
        breached = or_(Finding.fixed_at.is_(None), Finding.fixed_at > effective_due)
        # open debt by age since first seen; cut-offs compared as times, no per-row date arithmetic
        cut = {days: now - dt.timedelta(days=days) for days in (7, 30, 90)}
        ages = (
            Finding.first_seen >= cut[7],
            and_(Finding.first_seen < cut[7], Finding.first_seen >= cut[30]),
            and_(Finding.first_seen < cut[30], Finding.first_seen >= cut[90]),
            Finding.first_seen < cut[90],
        )
        # overdue now: open, past due, no exception holding now, not suppressed by VEX
        overdue = and_(open_, Finding.due_at < now, *self._sla_counts())
        # Overdue is grouped by the finding's own owner column, no join: grouped by the
        # owner-or-service-team expression, PostgreSQL could not estimate the groups (100× too
        # many), sorted the rows to disk instead of hashing them and joined every row to
        # `services`. The findings without an owner are overdue for their service's team: a
        # second, small read (the owner index), merged below.
        overdue_rows: list[tuple[int | None, str, int, Any]] = []
        if self.session.get_bind().dialect.name == "postgresql":
            # one pass, each figure an aggregate FILTER: PostgreSQL read most of the table for
            # each of the three statements below (sequential scans), 3 × 50–110 ms → ~80 ms
            q = (
                select(
                    Finding.owner_team_id,
                    Finding.severity,
                    func.count().filter(due_in_window),
                    func.count().filter(and_(due_in_window, breached)),
                    *(func.count().filter(and_(counted, open_, age)) for age in ages),
                    func.count().filter(overdue),
                    func.min(Finding.due_at).filter(overdue),
                )
                .where(in_scope)
                .group_by(Finding.owner_team_id, Finding.severity)
            )
            sla_due = sla_breached = 0
            by_age = [0, 0, 0, 0]
            for owner, sev, due, late, a0, a1, a2, a3, n_overdue, oldest in self.session.execute(q).all():
                sla_due += int(due)
                sla_breached += int(late)
                for i, n in enumerate((a0, a1, a2, a3)):
                    by_age[i] += int(n)
                if owner is not None and n_overdue:
                    overdue_rows.append((owner, sev, int(n_overdue), oldest))
        else:
            # SQLite: the same conditions as three narrow reads of the covering SLA index (its
            # one pass evaluated the nine filters on every row: ~150 ms CPU vs ~100 for these)
            sla = self.session.execute(
                select(func.count(), func.count().filter(breached)).where(in_scope, due_in_window)
            ).one()
            sla_due, sla_breached = int(sla[0]), int(sla[1])
            by_age = [
                int(n)
                for n in self.session.execute(
                    select(*(func.count().filter(age) for age in ages)).where(in_scope, counted, open_)
                ).one()
            ]
            owned = (
                select(Finding.owner_team_id, Finding.severity, func.count(), func.min(Finding.due_at))
                .where(in_scope, overdue, Finding.owner_team_id.is_not(None))
                .group_by(Finding.owner_team_id, Finding.severity)
            )
            overdue_rows += [
                (t, sev, int(n), oldest) for t, sev, n, oldest in self.session.execute(owned).all()
            ]
        unowned = (
            select(Service.team_id, Finding.severity, func.count(), func.min(Finding.due_at))
            .join(Service, Service.id == Finding.service_id)
            .where(in_scope, Finding.owner_team_id.is_(None), overdue)
            .group_by(Service.team_id, Finding.severity)
        )
        overdue_rows += [
            (t, sev, int(n), oldest) for t, sev, n, oldest in self.session.execute(unowned).all()
        ]
        names = dict(self.session.execute(select(Team.id, Team.name)).all())
        teams: dict[str, dict[str, Any]] = {}
        for team_id, sev, n_overdue, oldest in overdue_rows:
            team = names.get(team_id) if team_id is not None else None
            t = teams.setdefault(
                team or "(unowned)",
                {"team": team or "(unowned)", "overdue": 0, "by_severity": {}, "max_days_overdue": 0},
            )
            t["overdue"] += n_overdue
            t["by_severity"][sev] = t["by_severity"].get(sev, 0) + n_overdue
            if oldest is not None:
                t["max_days_overdue"] = max(t["max_days_overdue"], (now - cast(dt.datetime, oldest)).days)
        return FindingsSummary(
            sla_due=sla_due,
            sla_breached=sla_breached,
            open_by_age=dict(zip(OPEN_AGE_BUCKETS, by_age, strict=True)),
            overdue_by_team=sorted(teams.values(), key=lambda t: (-t["overdue"], t["team"])),
        )

    def aging(
        self, team_ids: Sequence[int] | None = None, service: str | None = None
    ) -> dict[str, dict[str, int]]:
        """Open findings by age bucket (0-7, 8-30, 31-90, 90+ days since first seen) and severity."""
        whens = []
        for label, low, _high in reversed(AGING_BUCKETS):
            whens.append((Finding.first_seen <= self.now - dt.timedelta(days=low), label))
        bucket = case(*whens, else_="0-7")
        q = (
            select(bucket, Finding.severity, func.count(Finding.id))
            .join(Service, Service.id == Finding.service_id)
            .where(Finding.status.in_(OPEN_STATUSES))
            .group_by(bucket, Finding.severity)
        )
        if team_ids is not None:
            q = q.where(Service.team_id.in_(list(team_ids)))
        if service is not None:
            q = q.where(Service.name == service)
        out: dict[str, dict[str, int]] = {label: {} for label, _, _ in AGING_BUCKETS}
        for label, sev, count in self.session.execute(q).tuples():
            out[label][sev] = out[label].get(sev, 0) + count
        return out

    def repeat_offenders(
        self, team_ids: Sequence[int] | None = None, limit: int = 20
    ) -> dict[str, list[dict[str, Any]]]:
        """Rules re-introduced by the same service after being fixed (a reopened finding, or a new
        finding of a rule whose earlier finding was fixed before it appeared), and services with
        the most reopened findings."""
        earlier = aliased(Finding)
        # the team filter goes inside both branches: applied outside the union, the self-join ran
        # over every finding of the organisation (seconds on PostgreSQL at 100,000 findings)
        scoped: list[Any] = []
        if team_ids is not None:
            scoped.append(
                Finding.service_id.in_(select(Service.id).where(Service.team_id.in_(list(team_ids))))
            )
        reintroduced = (
            select(Finding.service_id, Finding.rule_id)
            .join(
                earlier,
                and_(
                    earlier.service_id == Finding.service_id,
                    earlier.rule_id == Finding.rule_id,
                    earlier.id != Finding.id,
                    earlier.fixed_at.is_not(None),
                    earlier.fixed_at <= Finding.first_seen,
                ),
            )
            .where(*scoped)
            .union(select(Finding.service_id, Finding.rule_id).where(Finding.reopen_count > 0, *scoped))
            .subquery()
        )
        reopens = (
            select(
                Finding.service_id.label("service_id"),
                Finding.rule_id.label("rule_id"),
                func.coalesce(func.sum(Finding.reopen_count), 0).label("reopens"),
            )
            .where(Finding.service_id.in_(select(reintroduced.c.service_id)))
            .group_by(Finding.service_id, Finding.rule_id)
            .subquery()
        )
        q = (
            select(Service.name, Team.name, reintroduced.c.rule_id, reopens.c.reopens)
            .select_from(reintroduced)
            .join(Service, Service.id == reintroduced.c.service_id)
            .outerjoin(Team, Team.id == Service.team_id)
            .join(
                reopens,
                and_(
                    reopens.c.service_id == reintroduced.c.service_id,
                    reopens.c.rule_id == reintroduced.c.rule_id,
                ),
            )
            .order_by(Service.name, reintroduced.c.rule_id)
        )
        rules = [
            {"service": s, "team": t, "rule_id": r, "reopened_findings": int(n or 0)}
            for s, t, r, n in self.session.execute(q).tuples()
        ]
        q2 = (
            select(Service.name, Team.name, func.sum(Finding.reopen_count), func.count(Finding.id))
            .join(Service, Service.id == Finding.service_id)
            .outerjoin(Team, Team.id == Service.team_id)
            .where(Finding.reopen_count > 0)
            .group_by(Service.name, Team.name)
            .order_by(func.sum(Finding.reopen_count).desc(), Service.name)
            .limit(limit)
        )
        if team_ids is not None:
            q2 = q2.where(Service.team_id.in_(list(team_ids)))
        services = [
            {"service": s, "team": t, "reopens": int(n or 0), "findings_reopened": c}
            for s, t, n, c in self.session.execute(q2).tuples()
        ]
        return {"rules": rules, "services": services}

    def exceptions_report(
        self, within_days: int, team_ids: Sequence[int] | None = None
    ) -> dict[str, list[dict[str, Any]]]:
        """Exceptions expiring within `within_days`, and expired ones that still match findings."""
        q = (
            select(Waiver, Service.name, Team.name)
            .join(Service, Service.id == Waiver.service_id)
            .outerjoin(Team, Team.id == Service.team_id)
            .where(Waiver.expires_at.is_not(None))
            .order_by(Waiver.expires_at, Service.name)
        )
        if team_ids is not None:
            q = q.where(Service.team_id.in_(list(team_ids)))
        horizon = self.now + dt.timedelta(days=within_days)
        still_q = (
            select(Finding.waiver_id, func.count(Finding.id))
            .where(Finding.status.in_(OPEN_STATUSES), Finding.waiver_id.is_not(None))
            .group_by(Finding.waiver_id)
        )
        if team_ids is not None:  # a team page counts its own findings, not the organisation's
            still_q = still_q.where(
                Finding.service_id.in_(select(Service.id).where(Service.team_id.in_(list(team_ids))))
            )
        still = dict(self.session.execute(still_q).tuples().all())
        expiring, expired = [], []
        for w, svc, team in self.session.execute(q).tuples():
            assert w.expires_at is not None
            item = {
                "id": w.external_id,
                "service": svc,
                "team": team,
                "owner": w.owner,
                "reason": w.reason,
                "expires_at": w.expires_at.isoformat(),
                "days_left": (w.expires_at - self.now).days,
                "matching_open_findings": still.get(w.id, 0),
            }
            if w.expires_at <= self.now:
                if still.get(w.id, 0) or w.status == "expired":
                    expired.append(item)
            elif w.expires_at <= horizon:
                expiring.append(item)
        return {"expiring": expiring, "expired": expired}

    # --- VEX analyses ----------------------------------------------------------------------------

    def add_analysis(self, **fields: Any) -> Analysis:
        """Record a triage decision and mirror it onto the matching findings of the service."""
        row = Analysis(at=self.now, **fields)
        self.session.add(row)
        self.session.flush()
        names = self.advisory_names(row.advisory_id)
        self.session.execute(
            update(Finding)
            .where(
                Finding.service_id == row.service_id,
                Finding.component_purl == row.component_purl,
                Finding.advisory_id.in_(names),
            )
            .values(analysis_state=row.state)
        )
        return row

    def analyses(self, service_id: int, release_id: int | None = None) -> list[Analysis]:
        """Latest analysis per (component, advisory) for a service (release-specific ones win)."""
        q = select(Analysis).where(Analysis.service_id == service_id).order_by(Analysis.id)
        latest: dict[tuple[str, str], Analysis] = {}
        for a in self.session.scalars(q):
            if a.release_id is not None and a.release_id != release_id:
                continue
            latest[(a.component_purl, a.advisory_id)] = a
        return list(latest.values())

    def release_matches(self, release_id: int) -> list[tuple[str, str, str, str, str, list[Any], str]]:
        """(purl, ecosystem, name, version, advisory id, fixed versions, severity) for a release."""
        return list(
            self.session.execute(
                select(
                    Component.purl,
                    Component.ecosystem,
                    Component.name,
                    Component.version,
                    AdvisoryMatch.advisory_id,
                    AdvisoryMatch.fixed_versions,
                    AdvisoryMatch.severity,
                )
                .join(ReleaseComponent, ReleaseComponent.component_id == Component.id)
                .join(AdvisoryMatch, AdvisoryMatch.component_id == Component.id)
                .where(ReleaseComponent.release_id == release_id)
                .order_by(AdvisoryMatch.advisory_id, Component.purl)
            ).tuples()
        )

    # --- tokens and keys --------------------------------------------------------------------------

    def add_token(
        self,
        *,
        token_hash: str,
        prefix: str,
        name: str,
        team: Team | None,
        scopes: Sequence[str],
        expires_at: dt.datetime | None,
    ) -> ApiToken:
        """Store a new token (hash only)."""
        row = ApiToken(
            token_hash=token_hash,
            prefix=prefix,
            name=name,
            team_id=team.id if team else None,
            scopes=sorted(scopes),
            created_at=self.now,
            expires_at=expires_at,
        )
        self.session.add(row)
        self.session.flush()
        return row

    def token_by_hash(self, token_hash: str) -> TokenInfo | None:
        """The token with this hash (whatever its state; the caller checks expiry and revocation)."""
        row = self.session.execute(
            select(ApiToken, Team.name)
            .outerjoin(Team, Team.id == ApiToken.team_id)
            .where(ApiToken.token_hash == token_hash)
        ).first()
        return self._token_info(row[0], row[1]) if row else None

    def tokens(self) -> list[TokenInfo]:
        """Every token (never the secret)."""
        rows = self.session.execute(
            select(ApiToken, Team.name).outerjoin(Team, Team.id == ApiToken.team_id).order_by(ApiToken.id)
        )
        return [self._token_info(t, n) for t, n in rows.tuples()]

    def revoke_token(self, token_id: int) -> TokenInfo | None:
        """Revoke a token by id (idempotent); None if there is no such token."""
        row = self.session.get(ApiToken, token_id)
        if row is None:
            return None
        if row.revoked_at is None:
            row.revoked_at = self.now
        self.session.flush()
        return self._token_info(row, self.team_names([row.team_id]).get(row.team_id) if row.team_id else None)

    def touch_token(self, token_id: int) -> None:
        """Remember when a token was last used."""
        self.session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=self.now))

    @staticmethod
    def _token_info(row: ApiToken, team: str | None) -> TokenInfo:
        return TokenInfo(
            row.id,
            row.prefix,
            row.name,
            row.team_id,
            team,
            tuple(row.scopes),
            row.created_at,
            row.expires_at,
            row.revoked_at,
        )

    def add_trusted_key(self, team: Team, key_id: str, public_pem: str) -> TrustedKey:
        """Trust a public key for a team's bundles (idempotent by key id)."""
        row = self.session.scalars(
            select(TrustedKey).where(TrustedKey.team_id == team.id, TrustedKey.key_id == key_id)
        ).first()
        if row is None:
            row = TrustedKey(team_id=team.id, key_id=key_id, public_pem=public_pem, created_at=self.now)
            self.session.add(row)
            self.session.flush()
        return row

    def trusted_keys(self, team_id: int) -> list[TrustedKey]:
        """Unrevoked keys of a team."""
        return list(
            self.session.scalars(
                select(TrustedKey)
                .where(TrustedKey.team_id == team_id, TrustedKey.revoked_at.is_(None))
                .order_by(TrustedKey.id)
            )
        )

    # --- audit log -------------------------------------------------------------------------------

    def append_audit(self, actor: str, action: str, data: Mapping[str, Any]) -> AuditEntry:
        """Append one entry to the Merkle log (serialized: one writer at a time), with the hashes
        of the perfect subtrees it completes (`audit_nodes`: what proofs are built from)."""
        if self.session.bind is not None and self.session.get_bind().dialect.name == "postgresql":
            self.session.execute(text("SELECT pg_advisory_xact_lock(6962)"))
        seq = self.session.scalar(select(func.coalesce(func.max(AuditEntry.seq) + 1, 0)))
        assert seq is not None
        entry = {"seq": seq, "at": self.now.isoformat(), "actor": actor, "action": action, "data": dict(data)}
        body = audit.canonical(entry)
        leaf = audit.leaf_hash(body)
        row = AuditEntry(
            seq=seq,
            at=self.now,
            actor=actor,
            action=action,
            entry=body.decode(),
            leaf_hash=leaf.hex(),
        )
        self.session.add(row)
        siblings = audit.left_siblings(seq)
        if siblings:  # odd seq: at least one subtree completes (at most log2(n), one query for them)
            nodes = audit.completed_nodes(seq, leaf, self.audit_hashes(siblings))
            if nodes:
                self.session.execute(
                    insert(AuditNode), [{"level": lv, "idx": i, "hash": h.hex()} for (lv, i), h in nodes]
                )
        self.session.flush()
        return row

    def audit_entries(self, limit: int | None = None, offset: int = 0) -> list[AuditEntry]:
        """Entries in log order."""
        q = select(AuditEntry).order_by(AuditEntry.seq).offset(offset)
        if limit is not None:
            q = q.limit(limit)
        return list(self.session.scalars(q))

    def audit_entry(self, seq: int) -> AuditEntry | None:
        """One entry by its sequence number (a primary-key lookup)."""
        return self.session.get(AuditEntry, seq)

    def audit_leaf_batches(self, start: int, batch: int) -> Iterator[list[tuple[int, str]]]:
        """(seq, stored leaf hash) from `start` on, `batch` rows at a time (keyset pagination)."""
        return self._audit_batches((AuditEntry.seq, AuditEntry.leaf_hash), start, batch)

    def audit_entry_batches(self, batch: int) -> Iterator[list[tuple[int, str, str, str, str, dt.datetime]]]:
        """(seq, entry, stored leaf hash, actor, action, at) of every entry in log order, `batch`
        rows at a time (keyset pagination on the primary key: bounded memory, no OFFSET scans).
        Actor, action and at are the columns kept beside the entry for listing."""
        columns = (
            AuditEntry.seq,
            AuditEntry.entry,
            AuditEntry.leaf_hash,
            AuditEntry.actor,
            AuditEntry.action,
            AuditEntry.at,
        )
        return self._audit_batches(columns, 0, batch)

    def _audit_batches(
        self, columns: Sequence[Any], start: int, batch: int
    ) -> Iterator[list[tuple[Any, ...]]]:
        """`columns` (the first being `seq`) of the entries from `start` on, in log order, `batch`
        rows at a time: keyset pagination on the primary key."""
        after = start - 1
        while True:
            rows = list(
                self.session.execute(
                    select(*columns).where(AuditEntry.seq > after).order_by(AuditEntry.seq).limit(batch)
                ).tuples()
            )
            if not rows:
                return
            yield rows
            after = rows[-1][0]

    def audit_hashes(self, nodes: Iterable[audit.Node]) -> dict[audit.Node, bytes]:
        """The stored hashes of the given subtrees (level 0: an entry's leaf hash), by primary key:
        at most two statements whatever the log's size. A subtree with no stored hash, or one
        that is not a hash, is left out (the caller decides what a gap means)."""
        wanted = set(nodes)
        leaves = sorted(i for level, i in wanted if level == 0)
        inner = sorted(n for n in wanted if n[0] > 0)
        found: list[tuple[int, int, str]] = []
        if leaves:
            found += [
                (0, seq, h)
                for seq, h in self.session.execute(
                    select(AuditEntry.seq, AuditEntry.leaf_hash).where(AuditEntry.seq.in_(leaves))
                ).tuples()
            ]
        if inner:
            # OR of primary-key equalities, not a row-value IN: SQLite plans `(level, idx) IN
            # (VALUES …)` as a scan of the whole table; this form is one index probe per term on
            # both engines (SQLite's multi-index OR, PostgreSQL's BitmapOr)
            keys = [and_(AuditNode.level == level, AuditNode.idx == idx) for level, idx in inner]
            found += list(
                self.session.execute(
                    select(AuditNode.level, AuditNode.idx, AuditNode.hash).where(or_(*keys))
                ).tuples()
            )
        out: dict[audit.Node, bytes] = {}
        for level, idx, h in found:
            try:
                raw = bytes.fromhex(h)
            except (TypeError, ValueError):
                continue
            if len(raw) == 32:
                out[(level, idx)] = raw
        return out

    def audit_nodes_completed(self, lo: int, hi: int) -> dict[audit.Node, str]:
        """Stored subtree hashes (level ≥ 1) completed by the leaves lo … hi−1: those whose last
        leaf is in [lo, hi). One statement: a primary-key range per level."""
        ranges = []
        for level in range(1, hi.bit_length() + 1):
            first, last = ((lo + (1 << level)) >> level) - 1, (hi >> level) - 1
            if first <= last:
                ranges.append(and_(AuditNode.level == level, AuditNode.idx.between(first, last)))
        if not ranges:
            return {}
        rows = self.session.execute(
            select(AuditNode.level, AuditNode.idx, AuditNode.hash).where(or_(*ranges))
        ).tuples()
        return {(level, idx): h for level, idx, h in rows}

    def replace_audit_nodes(self, batches: Iterable[Sequence[tuple[audit.Node, bytes]]]) -> int:
        """Delete every stored subtree hash and insert the given ones (the writer's lock held, as
        for an append); returns how many were written."""
        if self.session.get_bind().dialect.name == "postgresql":
            self.session.execute(text("SELECT pg_advisory_xact_lock(6962)"))
        self.session.execute(delete(AuditNode))
        n = 0
        for part in batches:
            if part:
                self.session.execute(
                    insert(AuditNode), [{"level": lv, "idx": i, "hash": h.hex()} for (lv, i), h in part]
                )
                n += len(part)
        return n

    def audit_node_count(self) -> int:
        """Number of stored subtree hashes."""
        return int(self.session.scalar(select(func.count()).select_from(AuditNode)) or 0)

    def audit_next_seq(self) -> int:
        """The seq the next entry gets (max + 1: one primary-key lookup, not a count)."""
        return int(self.session.scalar(select(func.coalesce(func.max(AuditEntry.seq) + 1, 0))) or 0)

    def audit_size(self) -> int:
        """Number of entries."""
        return int(self.session.scalar(select(func.count()).select_from(AuditEntry)) or 0)

    def checkpoint_batches(self, batch: int) -> Iterator[list[Checkpoint]]:
        """Signed checkpoints by size, `batch` at a time (keyset pagination on the unique size)."""
        after = -1
        while True:
            rows = list(
                self.session.scalars(
                    select(Checkpoint).where(Checkpoint.size > after).order_by(Checkpoint.size).limit(batch)
                )
            )
            if not rows:
                return
            yield rows
            after = rows[-1].size

    def checkpoints_at(self, sizes: Iterable[int]) -> dict[int, Checkpoint]:
        """The checkpoints signed at the given sizes (by the unique index on size)."""
        wanted = sorted(set(sizes))
        if not wanted:
            return {}
        return {
            c.size: c for c in self.session.scalars(select(Checkpoint).where(Checkpoint.size.in_(wanted)))
        }

    def latest_checkpoint(self) -> Checkpoint | None:
        """The checkpoint of the largest tree."""
        return self.session.scalars(select(Checkpoint).order_by(Checkpoint.size.desc()).limit(1)).first()

    def add_checkpoint(
        self, size: int, root_hex: str, key_id: str, signature: str, frontier: Sequence[str] | None = None
    ) -> Checkpoint:
        """Store a signed checkpoint (one per size), with the tree's compact range."""
        row = Checkpoint(
            size=size,
            root_hash=root_hex,
            key_id=key_id,
            signature=signature,
            signed_at=self.now,
            frontier=json.dumps(list(frontier)) if frontier is not None else None,
        )
        self.session.add(row)
        self.session.flush()
        return row
