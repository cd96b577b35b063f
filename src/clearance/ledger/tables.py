"""The ledger's schema: SQLAlchemy 2.0 typed mappings, one class per table.

This module is the single owner of the schema; every table the ledger, the deploy gate and
the routing code fill lives here, and the Alembic migrations in `migrations/` must agree with
it (a test runs autogenerate and expects no difference).

Times are stored as timezone-aware UTC (`UtcDateTime`); every `now` comes from an injected
clock, never from the database server.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    event,
    false,
    func,
    inspect,
    select,
    update,
)
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, Mapper, Session, mapped_column, object_session
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[dt.datetime]):
    """A timestamp that goes in and comes out as an aware UTC datetime (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the ledger; pass an aware UTC time")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    """Declarative base with the naming convention the migrations rely on."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dt.datetime: UtcDateTime(), dict[str, Any]: JSON(), list[Any]: JSON()}


def _fk(target: str, *, nullable: bool = False, ondelete: str | None = None) -> Mapped[Any]:
    return mapped_column(ForeignKey(target, ondelete=ondelete), nullable=nullable, index=True)


# --- organisation ------------------------------------------------------------------------------


class Team(Base):
    """A team that owns services and receives their findings."""

    __tablename__ = "teams"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    contacts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    escalation_team_id: Mapped[int | None] = _fk("teams.id", nullable=True)
    created_at: Mapped[dt.datetime]


class Service(Base):
    """A deployable service: owner team, tier, exposure, data class, repository."""

    __tablename__ = "services"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    team_id: Mapped[int | None] = _fk("teams.id", nullable=True)
    tier: Mapped[str] = mapped_column(String(40), default="default")
    exposure: Mapped[str] = mapped_column(String(40), default="unknown")
    data_class: Mapped[str] = mapped_column(String(40), default="unknown")
    repository: Mapped[str | None] = mapped_column(String(500), index=True)
    environments: Mapped[list[Any]] = mapped_column(default=list)
    source: Mapped[str] = mapped_column(String(40), default="ingest")
    """Where the service was learned: `catalog` (sync-catalog) or `ingest` (first push)."""
    created_at: Mapped[dt.datetime]


class CodeOwnerRule(Base):
    """One CODEOWNERS line of a service's repository (later lines win, as in GitHub)."""

    __tablename__ = "code_owner_rules"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    service_id: Mapped[int] = _fk("services.id", ondelete="CASCADE")
    position: Mapped[int]
    pattern: Mapped[str] = mapped_column(String(500))
    team_id: Mapped[int] = _fk("teams.id")


class SlaRule(Base):
    """Days to fix a finding of a severity in a service tier (tier `default` applies otherwise)."""

    __tablename__ = "sla_rules"
    __table_args__ = (UniqueConstraint("tier", "severity"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tier: Mapped[str] = mapped_column(String(40))
    severity: Mapped[str] = mapped_column(String(20))
    days: Mapped[int]


class Environment(Base):
    """A deployment environment and its gate settings (filled by the deploy gate)."""

    __tablename__ = "environments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    rank: Mapped[int] = mapped_column(default=0)
    required_approvals: Mapped[int] = mapped_column(default=0)
    evidence_required: Mapped[bool] = mapped_column(Boolean, default=False)
    block_on_drift: Mapped[bool] = mapped_column(Boolean, default=False)
    freeze_windows: Mapped[list[Any]] = mapped_column(default=list)
    default_deny: Mapped[bool] = mapped_column(Boolean, default=False)
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)


# --- releases and components -------------------------------------------------------------------


class Release(Base):
    """One version of a service (a commit, built into artifacts)."""

    __tablename__ = "releases"
    __table_args__ = (
        UniqueConstraint("service_id", "version"),
        # the target of `release_components`' (release, service) key: a link's service is its
        # release's, enforced by the database (a unique index: adding it rebuilds no table, and
        # rebuilding `releases` on SQLite would cascade-delete every link)
        Index("ix_releases_id_service_id", "id", "service_id", unique=True),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    service_id: Mapped[int] = _fk("services.id")
    version: Mapped[str] = mapped_column(String(200))
    commit: Mapped[str | None] = mapped_column(String(64), index=True)
    artifact_digest: Mapped[str | None] = mapped_column(String(100), index=True)
    """The primary artifact's `sha256:…` (every artifact is in `release_artifacts`)."""
    created_at: Mapped[dt.datetime]


class ReleaseArtifact(Base):
    """An artifact (file, image) of a release, by digest."""

    __tablename__ = "release_artifacts"
    __table_args__ = (UniqueConstraint("release_id", "digest"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    release_id: Mapped[int] = _fk("releases.id", ondelete="CASCADE")
    name: Mapped[str] = mapped_column(String(500))
    digest: Mapped[str] = mapped_column(String(100), index=True)


class Component(Base):
    """A package version, by purl (shared between releases)."""

    __tablename__ = "components"
    __table_args__ = (Index("ix_components_ecosystem_name_version", "ecosystem", "name", "version"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    purl: Mapped[str] = mapped_column(String(1000), unique=True)
    ecosystem: Mapped[str] = mapped_column(String(60))
    name: Mapped[str] = mapped_column(String(300))
    """The name normalized as the advisory store indexes it (PEP 503 for PyPI…)."""
    version: Mapped[str] = mapped_column(String(200))


class ReleaseComponent(Base):
    """A component shipped in a release (the SBOM)."""

    __tablename__ = "release_components"
    __table_args__ = (
        # `affected` counts (component → service → releases) from this index alone (index-only
        # scans, no lookup of `releases`)
        Index(
            "ix_release_components_component_id_service_id_release_id",
            "component_id",
            "service_id",
            "release_id",
        ),
        ForeignKeyConstraint(
            ["release_id", "service_id"], ["releases.id", "releases.service_id"], ondelete="CASCADE"
        ),
    )
    release_id: Mapped[int] = mapped_column(primary_key=True)
    component_id: Mapped[int] = mapped_column(ForeignKey("components.id"), primary_key=True)
    service_id: Mapped[int]
    """The release's service, copied (the composite foreign key keeps it equal): `affected`
    counts releases per service without reading `releases`."""
    scope: Mapped[str] = mapped_column(String(20), default="unknown")


class AdvisoryMatch(Base):
    """Precomputed: a component is affected by an advisory (refreshed on advisory updates)."""

    __tablename__ = "advisory_matches"
    __table_args__ = (UniqueConstraint("component_id", "advisory_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    component_id: Mapped[int] = _fk("components.id")
    advisory_id: Mapped[str] = mapped_column(String(100), index=True)
    severity: Mapped[str] = mapped_column(String(20), default="unknown")
    fixed_versions: Mapped[list[Any]] = mapped_column(default=list)
    summary: Mapped[str] = mapped_column(Text, default="")
    matched_at: Mapped[dt.datetime]


class AdvisoryAlias(Base):
    """Another id of a matched advisory (CVE-… → PYSEC-…/GHSA-…), so any id finds the match."""

    __tablename__ = "advisory_aliases"
    alias: Mapped[str] = mapped_column(String(100), primary_key=True)
    advisory_id: Mapped[str] = mapped_column(String(100), primary_key=True, index=True)


class AdvisoryState(Base):
    """Bookkeeping of re-matching: what the advisory store looked like at the last match."""

    __tablename__ = "advisory_state"
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


# --- gate runs, evidence, findings -------------------------------------------------------------


class EvidenceBundle(Base):
    """A release bundle as pushed, with the result of verifying it."""

    __tablename__ = "evidence_bundles"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    size: Mapped[int]
    content: Mapped[bytes] = mapped_column(LargeBinary)
    verified: Mapped[bool] = mapped_column(Boolean)
    result: Mapped[str] = mapped_column(Text, default="")
    signer_key_id: Mapped[str | None] = mapped_column(String(200))
    subjects: Mapped[list[Any]] = mapped_column(default=list)
    verified_at: Mapped[dt.datetime]


class GateRun(Base):
    """One gate run pushed to the ledger (idempotent on the report's digest per service)."""

    __tablename__ = "gate_runs"
    __table_args__ = (UniqueConstraint("service_id", "report_sha256"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    service_id: Mapped[int] = _fk("services.id")
    release_id: Mapped[int | None] = _fk("releases.id", nullable=True)
    evidence_id: Mapped[int | None] = _fk("evidence_bundles.id", nullable=True)
    report_sha256: Mapped[str] = mapped_column(String(64))
    repository: Mapped[str | None] = mapped_column(String(500))
    commit: Mapped[str | None] = mapped_column(String(64))
    base: Mapped[str | None] = mapped_column(String(200))
    env: Mapped[str | None] = mapped_column(String(100))
    mode: Mapped[str] = mapped_column(String(10))
    """`full` (closes missing findings) or `pr` (never closes)."""
    outcome: Mapped[str | None] = mapped_column(String(30))
    decided_at: Mapped[dt.datetime]
    received_at: Mapped[dt.datetime]
    tool_version: Mapped[str] = mapped_column(String(50), default="")
    scanners: Mapped[list[Any]] = mapped_column(default=list)
    policy_digest: Mapped[str | None] = mapped_column(String(100))
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    counts: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Waiver(Base):
    """An exception as the repository declares it (`.clearance/exceptions.yaml`), with its status."""

    __tablename__ = "waivers"
    __table_args__ = (UniqueConstraint("service_id", "external_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    service_id: Mapped[int] = _fk("services.id")
    external_id: Mapped[str] = mapped_column(String(200))
    owner: Mapped[str] = mapped_column(String(200), default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    match: Mapped[dict[str, Any]] = mapped_column(default=dict)
    expires_at: Mapped[dt.datetime | None]
    status: Mapped[str] = mapped_column(String(20), default="active")
    """`active`, `expired` (as reported by the last run) or `stale` (matches nothing)."""
    last_seen_at: Mapped[dt.datetime]


#: The columns of the findings' covering SLA index (`rollup_0005`), range columns first.
FINDINGS_SLA_COVER = (
    "status",
    "due_at",
    "severity",
    "owner_team_id",
    "service_id",
    "excepted_until",
    "analysis_state",
    "first_seen",
    "fixed_at",
)


class Finding(Base):
    """A finding of a service over time: unique per (service, fingerprint)."""

    __tablename__ = "findings"
    __table_args__ = (
        UniqueConstraint("service_id", "fingerprint"),
        Index("ix_findings_service_id_scanner_status", "service_id", "scanner", "status"),
        Index("ix_findings_owner_team_id_status", "owner_team_id", "status"),
        Index("ix_findings_service_id_rule_id", "service_id", "rule_id"),
        Index("ix_findings_kind_first_seen", "kind", "first_seen"),
        Index("ix_findings_reopen_count", "reopen_count"),
        Index("ix_findings_analysis_state", "analysis_state"),
        # covering the org-wide SLA reads: overdue by team reads the (status, due_at) range of
        # it, the security metrics' pass reads it whole instead of the wider table
        Index("ix_findings_status_due_at_covering", *FINDINGS_SLA_COVER),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"))
    fingerprint: Mapped[str] = mapped_column(String(64))
    scanner: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(30))
    rule_id: Mapped[str] = mapped_column(String(200), index=True)
    title: Mapped[str] = mapped_column(Text, default="")
    severity: Mapped[str] = mapped_column(String(20))
    advisory_id: Mapped[str | None] = mapped_column(String(100), index=True)
    component_purl: Mapped[str | None] = mapped_column(String(1000))
    path: Mapped[str | None] = mapped_column(String(1000))
    line: Mapped[int | None]
    evidence: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(20))
    """`open`, `reopened` (open again after a fix) or `fixed`."""
    first_seen: Mapped[dt.datetime]
    last_seen: Mapped[dt.datetime]
    fixed_at: Mapped[dt.datetime | None]
    due_at: Mapped[dt.datetime | None] = mapped_column(index=True)
    reopen_count: Mapped[int] = mapped_column(default=0)
    owner_team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    waiver_id: Mapped[int | None] = _fk("waivers.id", nullable=True)
    excepted_until: Mapped[dt.datetime | None]
    analysis_state: Mapped[str | None] = mapped_column(String(30))
    """The latest VEX analysis of (service, component, advisory), denormalized for SLA queries."""
    last_run_id: Mapped[int | None] = _fk("gate_runs.id", nullable=True)
    fixed_version: Mapped[str | None] = mapped_column(String(200))
    reachable: Mapped[str | None] = mapped_column(String(10))
    """The gate's import-reachability signal for vulnerabilities (`yes`, `no`, `unknown`)."""
    ticket_url: Mapped[str | None] = mapped_column(String(1000))
    """The routing ticket of this finding's group, once a ticket channel opened one."""


class FindingEvent(Base):
    """A lifecycle step of a finding: created, fixed, reopened, updated."""

    __tablename__ = "finding_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    finding_id: Mapped[int] = _fk("findings.id", ondelete="CASCADE")
    run_id: Mapped[int | None] = _fk("gate_runs.id", nullable=True)
    event: Mapped[str] = mapped_column(String(20))
    at: Mapped[dt.datetime]


class Analysis(Base):
    """A triage (VEX) decision on (service or release, component, advisory); latest row wins."""

    __tablename__ = "analyses"
    __table_args__ = (
        Index(
            "ix_analyses_service_id_component_purl_advisory_id", "service_id", "component_purl", "advisory_id"
        ),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"))
    release_id: Mapped[int | None] = _fk("releases.id", nullable=True)
    component_purl: Mapped[str] = mapped_column(String(1000))
    advisory_id: Mapped[str] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(30))
    justification: Mapped[str | None] = mapped_column(String(60))
    responses: Mapped[list[Any]] = mapped_column(default=list)
    detail: Mapped[str] = mapped_column(Text, default="")
    author: Mapped[str] = mapped_column(String(200))
    at: Mapped[dt.datetime]


# --- deployments and operations (filled by the deploy gate) ------------------------------------


class Deployment(Base):
    """A deployment of a release to an environment."""

    __tablename__ = "deployments"
    __table_args__ = (
        Index(
            "ix_deployments_environment_id_release_id_finished_at",
            "environment_id",
            "release_id",
            "finished_at",
        ),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    release_id: Mapped[int] = _fk("releases.id")
    environment_id: Mapped[int] = mapped_column(ForeignKey("environments.id"))
    status: Mapped[str] = mapped_column(String(20))
    """`in_progress`, `succeeded`, `failed`, `rolled_back`."""
    started_at: Mapped[dt.datetime]
    finished_at: Mapped[dt.datetime | None]
    deployer: Mapped[str] = mapped_column(String(200), default="")
    source: Mapped[str] = mapped_column(String(100), default="")
    external_id: Mapped[str | None] = mapped_column(String(200))
    lead_time_s: Mapped[float | None] = mapped_column(Float)
    """Rollup for DORA lead time: seconds from the earliest commit it shipped to its end
    (`finished_at`, else `started_at`); NULL without commits. Kept by `refresh_lead_times`,
    which runs in the transaction of every ORM write that changes its inputs (see the end of
    this module); bulk loads call it themselves."""


class CurrentDeployment(Base):
    """What runs now: the latest successful deployment per (service, environment)."""

    __tablename__ = "current_deployments"
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"), primary_key=True)
    environment_id: Mapped[int] = mapped_column(ForeignKey("environments.id"), primary_key=True)
    release_id: Mapped[int] = _fk("releases.id")
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployments.id"))
    since: Mapped[dt.datetime]


class Change(Base):
    """A commit of a service (for lead time: commit → deploy)."""

    __tablename__ = "changes"
    __table_args__ = (UniqueConstraint("service_id", "commit"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"))
    commit: Mapped[str] = mapped_column(String(64))
    committed_at: Mapped[dt.datetime]
    author: Mapped[str] = mapped_column(String(200), default="")


class DeploymentChange(Base):
    """The changes a deployment shipped."""

    __tablename__ = "deployment_changes"
    deployment_id: Mapped[int] = mapped_column(
        ForeignKey("deployments.id", ondelete="CASCADE"), primary_key=True
    )
    change_id: Mapped[int] = mapped_column(ForeignKey("changes.id"), primary_key=True, index=True)


class Incident(Base):
    """A production incident, linked to the release/deployment that caused it when known."""

    __tablename__ = "incidents"
    __table_args__ = (
        UniqueConstraint("source", "external_id"),
        Index("ix_incidents_deployment_id", "deployment_id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    service_id: Mapped[int] = _fk("services.id")
    environment_id: Mapped[int | None] = mapped_column(ForeignKey("environments.id"))
    release_id: Mapped[int | None] = mapped_column(ForeignKey("releases.id"))
    deployment_id: Mapped[int | None] = mapped_column(ForeignKey("deployments.id"))
    source: Mapped[str] = mapped_column(String(100))
    external_id: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(Text, default="")
    severity: Mapped[str] = mapped_column(String(20), default="unknown")
    opened_at: Mapped[dt.datetime]
    resolved_at: Mapped[dt.datetime | None]


class Approval(Base):
    """A human approval of a release for an environment."""

    __tablename__ = "approvals"
    __table_args__ = (UniqueConstraint("release_id", "environment_id", "approver"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    release_id: Mapped[int] = _fk("releases.id")
    environment_id: Mapped[int] = mapped_column(ForeignKey("environments.id"))
    approver: Mapped[str] = mapped_column(String(200))
    comment: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[dt.datetime]
    approver_groups: Mapped[list[Any]] = mapped_column(default=list)
    """The approver's teams when approving (deploy migration): which approver group it counts for."""


class DriftReport(Base):
    """An infrastructure drift check of a service in an environment."""

    __tablename__ = "drift_reports"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    service_id: Mapped[int] = _fk("services.id")
    environment_id: Mapped[int] = mapped_column(ForeignKey("environments.id"))
    drifted: Mapped[bool] = mapped_column(Boolean)
    resources: Mapped[list[Any]] = mapped_column(default=list)
    source: Mapped[str] = mapped_column(String(100), default="")
    detected_at: Mapped[dt.datetime]
    status: Mapped[str] = mapped_column(String(20), default="drifted")
    """`clean`, `drifted` or `unknown` (the check failed; treated as drift) (deploy migration)."""
    detail: Mapped[str] = mapped_column(Text, default="")


class GateDecision(Base):
    """A deploy go/no-go answer (allow, deny, needs-approval) with one reason per check."""

    __tablename__ = "gate_decisions"
    __table_args__ = (
        Index("ix_gate_decisions_decided_at", "decided_at"),
        Index("ix_gate_decisions_answer_decided_at", "answer", "decided_at", "service_id", "dry_run"),
        Index(
            "ix_gate_decisions_release_id_environment_id",
            "release_id",
            "environment_id",
            "answer",
            "decided_at",
        ),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    service_id: Mapped[int | None] = _fk("services.id", nullable=True)
    release_id: Mapped[int | None] = mapped_column(ForeignKey("releases.id"))
    environment_id: Mapped[int | None] = mapped_column(ForeignKey("environments.id"))
    artifact_digest: Mapped[str] = mapped_column(String(100), index=True)
    answer: Mapped[str] = mapped_column(String(20))
    reasons: Mapped[list[Any]] = mapped_column(default=list)
    decided_at: Mapped[dt.datetime]
    environment_name: Mapped[str] = mapped_column(String(100), default="")
    """As asked (an unknown environment has no `environment_id`) (deploy migration)."""
    requester: Mapped[str] = mapped_column(String(200), default="")
    checks: Mapped[list[Any]] = mapped_column(default=list)
    """Every check with status, reason and what it used (deploy migration)."""
    auto_approved_by: Mapped[str | None] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(30), default="api")
    """`api` (go/no-go request) or `admission` (the webhook) (deploy migration)."""
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """An admission review with `dryRun: true`: recorded and audited, but it is not a deploy
    attempt — left out of the metrics and of notifications (dash migration)."""


class RuntimeSignal(Base):
    """A fact observed at runtime (admission, scanner in cluster, alert) about a service."""

    __tablename__ = "runtime_signals"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    service_id: Mapped[int] = _fk("services.id")
    environment_id: Mapped[int | None] = mapped_column(ForeignKey("environments.id"))
    release_id: Mapped[int | None] = mapped_column(ForeignKey("releases.id"))
    kind: Mapped[str] = mapped_column(String(60))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    source: Mapped[str] = mapped_column(String(100), default="")
    observed_at: Mapped[dt.datetime]


# --- routing (filled by notifications/tickets) -------------------------------------------------


class Subscription(Base):
    """Who wants which events over which channel."""

    __tablename__ = "subscriptions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int | None] = _fk("teams.id", nullable=True)
    event: Mapped[str] = mapped_column(String(1000))
    """The event kinds, comma-separated (`finding.new,sla.breached`)."""
    channel: Mapped[str] = mapped_column(String(100))
    """A channel name from the server's routing file (secrets stay in the file's environment)."""
    target: Mapped[str] = mapped_column(String(1000))
    filters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime]


class Outbox(Base):
    """An event to deliver (transactional outbox: written with the change, sent later)."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_state_next_try_at", "state", "next_try_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event: Mapped[str] = mapped_column(String(60))
    subscription_id: Mapped[int | None] = mapped_column(ForeignKey("subscriptions.id"))
    channel: Mapped[str] = mapped_column(String(30))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    dedup_key: Mapped[str] = mapped_column(String(200), unique=True)
    state: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_try_at: Mapped[dt.datetime]
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime]
    group_key: Mapped[str] = mapped_column(String(300), default="", index=True)
    """Deliveries of one (channel, group) go out in order: a later one waits for an earlier one."""
    delivered_at: Mapped[dt.datetime | None]
    ticket_ref: Mapped[str | None] = mapped_column(String(200))
    team: Mapped[str] = mapped_column(String(200), default="", index=True)
    """The team the event is about (deliveries are scoped by team like everything else)."""


class Ticket(Base):
    """The receiver's ticket for one finding group (service × advisory or rule) on one channel."""

    __tablename__ = "tickets"
    __table_args__ = (UniqueConstraint("channel", "group_key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(100))
    group_key: Mapped[str] = mapped_column(String(300))
    service_id: Mapped[int | None] = _fk("services.id", nullable=True)
    ref: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(String(1000), default="")
    state: Mapped[str] = mapped_column(String(20), default="open")
    updated_at: Mapped[dt.datetime]


class LedgerState(Base):
    """One row (id 1): the write generation, bumped by every write transaction (`Ledger.write`),
    so a reader can tell whether anything changed since it cached a result (dash migration)."""

    __tablename__ = "ledger_state"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    generation: Mapped[int] = mapped_column(BigInteger, default=0)


class NotifyCursor(Base):
    """How far routing has read each source of events (finding events, deploy decisions, drift)."""

    __tablename__ = "notify_cursors"
    source: Mapped[str] = mapped_column(String(60), primary_key=True)
    last_id: Mapped[int] = mapped_column(default=0)


class Escalation(Base):
    """A finding whose SLA breach was escalated (once per finding and level)."""

    __tablename__ = "escalations"
    __table_args__ = (UniqueConstraint("finding_id", "level"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    finding_id: Mapped[int] = _fk("findings.id", ondelete="CASCADE")
    level: Mapped[int] = mapped_column(default=1)
    to_team_id: Mapped[int | None] = _fk("teams.id", nullable=True)
    escalated_at: Mapped[dt.datetime]


# --- security of the service -------------------------------------------------------------------


class TrustedKey(Base):
    """A public key whose signatures a team's bundles may carry."""

    __tablename__ = "trusted_keys"
    __table_args__ = (UniqueConstraint("team_id", "key_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = _fk("teams.id")
    key_id: Mapped[str] = mapped_column(String(200))
    public_pem: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime]
    revoked_at: Mapped[dt.datetime | None]


class ApiToken(Base):
    """An API token: only its SHA-256 is stored; scopes, team, expiry, revocation."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200), default="")
    team_id: Mapped[int | None] = _fk("teams.id", nullable=True)
    scopes: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]
    last_used_at: Mapped[dt.datetime | None]


class AuditEntry(Base):
    """One leaf of the append-only Merkle log: RFC 8785 canonical JSON and its leaf hash."""

    __tablename__ = "audit_entries"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[dt.datetime]
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(60))
    entry: Mapped[str] = mapped_column(Text)
    leaf_hash: Mapped[str] = mapped_column(String(64))


class AuditNode(Base):
    """The hash of one complete (perfect) subtree of the audit log above the leaves: the 2**level
    entries from idx · 2**level on (level ≥ 1; leaf hashes are on `AuditEntry`). Written in the
    transaction that appends the entry completing it, so an inclusion or consistency proof is a
    few primary-key lookups instead of a read of the whole log. Derived data: `verify-log`
    recomputes every one from the entries."""

    __tablename__ = "audit_nodes"
    level: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    hash: Mapped[str] = mapped_column(String(64))


class Checkpoint(Base):
    """A signed (size, root) of the audit log."""

    __tablename__ = "checkpoints"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    size: Mapped[int] = mapped_column(unique=True)
    root_hash: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str] = mapped_column(String(200))
    signature: Mapped[str] = mapped_column(Text)
    signed_at: Mapped[dt.datetime]
    frontier: Mapped[str | None] = mapped_column(Text)
    """The compact range of the tree at this size (JSON list of hex hashes, RFC 6962 style): the
    next checkpoint extends it with the new entries instead of re-reading the whole log."""


# --- rollups kept in step with their inputs ----------------------------------------------------


def seconds_between(dialect: str, later: Any, earlier: Any) -> Any:
    """SQL for `later - earlier` in seconds, portable between SQLite and PostgreSQL."""
    if dialect == "sqlite":
        return (func.julianday(later) - func.julianday(earlier)) * 86400.0
    return func.extract("epoch", later - earlier)


def refresh_lead_times(conn: Connection | Session, deployment_ids: Iterable[int] | None = None) -> None:
    """Recompute `Deployment.lead_time_s` (end − earliest linked commit, NULL without commits)
    of the given deployments, or of every deployment, in the caller's transaction."""
    dialect = conn.get_bind().dialect.name if isinstance(conn, Session) else conn.dialect.name
    finished = func.coalesce(Deployment.finished_at, Deployment.started_at)
    if deployment_ids is not None:
        # a few deployments (one write): a correlated minimum, probed through the links' key
        ids = sorted(set(deployment_ids))
        if not ids:
            return
        first_commit = (
            select(func.min(Change.committed_at))
            .join(DeploymentChange, DeploymentChange.change_id == Change.id)
            .where(DeploymentChange.deployment_id == Deployment.id)
            .scalar_subquery()
        )
        conn.execute(
            update(Deployment)
            .where(Deployment.id.in_(ids))
            .values(lead_time_s=seconds_between(dialect, finished, first_commit))
            .execution_options(synchronize_session=False)
        )
        return
    # every deployment (a bulk load): one grouped join — the correlated form over freshly loaded
    # tables without statistics made PostgreSQL scan the links once per deployment (minutes)
    first = (
        select(
            DeploymentChange.deployment_id.label("deployment_id"),
            func.min(Change.committed_at).label("first_commit"),
        )
        .join(Change, Change.id == DeploymentChange.change_id)
        .group_by(DeploymentChange.deployment_id)
        .subquery()
    )
    conn.execute(update(Deployment).values(lead_time_s=None).execution_options(synchronize_session=False))
    conn.execute(
        update(Deployment)
        .where(Deployment.id == first.c.deployment_id)
        .values(lead_time_s=seconds_between(dialect, finished, first.c.first_commit))
        .execution_options(synchronize_session=False)
    )


# Every ORM write path (the deploy API, tests' fixtures, the demo) keeps the rollup exact: a new
# commit link, a deployment whose end moved, or a commit whose time changed marks the deployments
# concerned, and at the end of the flush one statement recomputes them all (a deployment that
# links K commits in one flush is updated once, not K times) — in the same transaction.

_LEAD_TIME_PENDING = "clearance.lead_time.deployments"
_LEAD_TIME_CHANGES = "clearance.lead_time.changes"


def _mark(target: object, key: str, ident: int) -> None:
    session = object_session(target)
    if session is not None:
        session.info.setdefault(key, set()).add(ident)


@event.listens_for(DeploymentChange, "after_insert")
def _link_added(mapper: Mapper[Any], connection: Connection, target: DeploymentChange) -> None:
    _mark(target, _LEAD_TIME_PENDING, target.deployment_id)


@event.listens_for(DeploymentChange, "after_delete")
def _link_removed(mapper: Mapper[Any], connection: Connection, target: DeploymentChange) -> None:
    _mark(target, _LEAD_TIME_PENDING, target.deployment_id)


@event.listens_for(Deployment, "after_update")
def _deployment_moved(mapper: Mapper[Any], connection: Connection, target: Deployment) -> None:
    state = inspect(target)
    if any(state.attrs[name].history.has_changes() for name in ("finished_at", "started_at")):
        _mark(target, _LEAD_TIME_PENDING, target.id)


@event.listens_for(Change, "after_update")
def _commit_moved(mapper: Mapper[Any], connection: Connection, target: Change) -> None:
    if inspect(target).attrs["committed_at"].history.has_changes():
        _mark(target, _LEAD_TIME_CHANGES, target.id)


@event.listens_for(Session, "after_flush")
def _refresh_marked(session: Session, _context: Any) -> None:
    deployments: set[int] = session.info.pop(_LEAD_TIME_PENDING, set())
    changes: set[int] = session.info.pop(_LEAD_TIME_CHANGES, set())
    if not deployments and not changes:
        return
    connection = session.connection()
    if changes:
        linked = select(DeploymentChange.deployment_id).where(DeploymentChange.change_id.in_(sorted(changes)))
        deployments |= set(connection.scalars(linked).all())
    refresh_lead_times(connection, deployments)
