"""The one seam between routing and the ledger's tamper-evident audit log."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session


def audit_append(session: Session, action: str, detail: dict[str, str], now: dt.datetime) -> None:
    """Append a routing state change (an escalation) to the ledger's audit log, in `session`'s
    transaction. Until the ledger's audit log is wired in, this records nothing."""
    return None
