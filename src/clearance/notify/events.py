"""The events routing knows about: typed, frozen, produced from the ledger's state changes."""

from __future__ import annotations

import enum
import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

from clearance.model import Severity


class EventKind(enum.StrEnum):
    """What happened. Ticket channels act on the finding lifecycle kinds; the others are messages."""

    FINDING_NEW = "finding.new"
    FINDING_REOPENED = "finding.reopened"
    FINDING_FIXED = "finding.fixed"
    SLA_DUE_SOON = "sla.due_soon"
    SLA_BREACHED = "sla.breached"
    SLA_ESCALATED = "sla.escalated"
    EXCEPTION_EXPIRING = "exception.expiring"
    EXCEPTION_EXPIRED = "exception.expired"
    ADVISORY_NEWLY_AFFECTED = "advisory.newly_affected"
    DEPLOY_DENIED = "deploy.denied"
    DRIFT_REPORTED = "drift.reported"
    EVIDENCE_MISSING = "evidence.missing"


#: Kinds that open or update a ticket, close it, or reopen it.
TICKET_OPEN_KINDS = frozenset(
    {
        EventKind.FINDING_NEW,
        EventKind.ADVISORY_NEWLY_AFFECTED,
        EventKind.SLA_BREACHED,
        EventKind.SLA_ESCALATED,
    }
)
TICKET_CLOSE_KINDS = frozenset({EventKind.FINDING_FIXED})
TICKET_REOPEN_KINDS = frozenset({EventKind.FINDING_REOPENED})


@dataclass(frozen=True)
class Event:
    """One state change worth telling someone about.

    `group` is the ticket grouping key (service × advisory or rule): every event of one group lands on
    the same ticket. `key` identifies this event uniquely and stably (the same state change seen twice
    has the same key), so an outbox row per (event, subscription) can never be written twice.
    """

    kind: EventKind
    team: str
    service: str
    title: str
    occurred_at: datetime
    severity: Severity | None = None
    env: str | None = None
    group: str = ""
    summary: str = ""
    owner: str = ""
    due: date | None = None
    link: str = ""
    rule_id: str = ""
    advisory: str = ""
    release: str = ""
    fingerprints: tuple[str, ...] = ()
    facts: tuple[tuple[str, str], ...] = field(default=())
    still_open: int = 0
    """For `finding.fixed`: findings of the same group still open — the group's ticket closes only
    when none are."""

    @property
    def key(self) -> str:
        """A stable identity for this event (kind, subject and moment), used for idempotency."""
        subject = {
            "kind": self.kind.value,
            "team": self.team,
            "service": self.service,
            "group": self.group,
            "env": self.env,
            "release": self.release,
            "fingerprints": sorted(self.fingerprints),
            "at": self.occurred_at.isoformat(),
        }
        raw = json.dumps(subject, sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(raw).hexdigest()[:32]

    def to_json(self) -> dict[str, Any]:
        """The event as JSON-ready data (the body of the generic webhook and the outbox payload)."""
        data = asdict(self)
        data["kind"] = self.kind.value
        data["severity"] = self.severity.value if self.severity else None
        data["occurred_at"] = self.occurred_at.isoformat()
        data["due"] = self.due.isoformat() if self.due else None
        data["fingerprints"] = list(self.fingerprints)
        data["facts"] = [list(pair) for pair in self.facts]
        data["key"] = self.key
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Event:
        """Rebuild an event from `to_json()` output (the outbox stores events this way)."""
        return cls(
            kind=EventKind(data["kind"]),
            team=str(data["team"]),
            service=str(data["service"]),
            title=str(data["title"]),
            occurred_at=datetime.fromisoformat(data["occurred_at"]),
            severity=Severity(data["severity"]) if data.get("severity") else None,
            env=data.get("env"),
            group=str(data.get("group", "")),
            summary=str(data.get("summary", "")),
            owner=str(data.get("owner", "")),
            due=date.fromisoformat(data["due"]) if data.get("due") else None,
            link=str(data.get("link", "")),
            rule_id=str(data.get("rule_id", "")),
            advisory=str(data.get("advisory", "")),
            release=str(data.get("release", "")),
            fingerprints=tuple(data.get("fingerprints", ())),
            facts=tuple((str(k), str(v)) for k, v in data.get("facts", ())),
            still_open=int(data.get("still_open", 0)),
        )

    def headline(self) -> str:
        """One line a person reads first: what, where, how bad."""
        where = self.service + (f" ({self.env})" if self.env else "")
        sev = f"[{self.severity.value.upper()}] " if self.severity else ""
        return f"{sev}{self.title} — {where}"
