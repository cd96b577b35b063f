"""`GET /api/v1/metrics/dora` and `/metrics/security`: speed and safety measured together.

Both are computed as of the start of the current minute (`end`) and cached until the next ledger
write or minute (`clearance.ledger.snapshots`): the dashboard shows the very same numbers."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter

from clearance.ledger import metrics
from clearance.ledger.store import Store, TokenInfo
from clearance.server.deps import LedgerDep, ReadToken, check_service_access, check_team_access, team_scope
from clearance.server.errors import ApiError

router = APIRouter(prefix="/api/v1/metrics", tags=["metrics"])
_WINDOW = re.compile(r"^(\d{1,4})d$")


def parse_window(window: str) -> int:
    """`90d` → 90 (1 to 3650 days)."""
    m = _WINDOW.match(window.strip())
    days = int(m.group(1)) if m else 0
    if not 1 <= days <= 3650:
        raise ApiError(422, f"window must be like 90d (1d to 3650d), not {window!r}")
    return days


def _scope(store: Store, token: TokenInfo, team: str | None, service: str | None) -> metrics.Scope:
    if service:
        check_service_access(store, token, service)
    if team:
        check_team_access(token, team)
    return metrics.Scope(team=team, service=service, team_ids=team_scope(token))


@router.get("/dora", summary="DORA metrics with performance bands")
def dora(
    token: ReadToken,
    ledger: LedgerDep,
    team: str | None = None,
    service: str | None = None,
    window: str = "90d",
    prod_env: str = "prod",
) -> dict[str, Any]:
    """Deployment frequency, lead time (median, p90), change failure rate, time to restore."""
    days = parse_window(window)
    with ledger.read() as store:
        scope = _scope(store, token, team, service)
        return ledger.metrics_cache.dora(store, scope, days, (prod_env,)).to_json()


@router.get("/security", summary="Security metrics")
def security(
    token: ReadToken,
    ledger: LedgerDep,
    team: str | None = None,
    service: str | None = None,
    window: str = "90d",
    prod_env: str = "prod",
) -> dict[str, Any]:
    """MTTR by severity, SLA breach rate, debt by age, evidence coverage, exceptions, secrets,
    run outcomes, approval waits, repeat offenders, deploy decisions."""
    days = parse_window(window)
    with ledger.read() as store:
        scope = _scope(store, token, team, service)
        return ledger.metrics_cache.security(store, scope, days, (prod_env,)).to_json()
