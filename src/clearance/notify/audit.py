"""The one seam between routing and the ledger's tamper-evident audit log."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from clearance.ledger.store import Store

ACTOR = "clearance-router"


def audit_append(session: Session, action: str, detail: dict[str, str], now: dt.datetime) -> None:
    """Append a routing state change (an escalation, a delivery put back in the queue) to the
    ledger's Merkle audit log, in `session`'s transaction."""
    Store(session, now).append_audit(ACTOR, action, detail)
