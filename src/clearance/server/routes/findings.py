"""Findings and security debt: open/overdue findings, aging buckets, repeat offenders, exceptions."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query

from clearance.ledger.store import FindingFilter
from clearance.server.deps import LedgerDep, ReadToken, check_service_access, check_team_access, team_scope
from clearance.server.schemas import ROW_ID_MAX

router = APIRouter(prefix="/api/v1", tags=["findings"])


@router.get("/findings", summary="Findings by team, service, severity, status")
def list_findings(
    token: ReadToken,
    ledger: LedgerDep,
    team: str | None = None,
    service: str | None = None,
    severity: Literal["critical", "high", "medium", "unknown", "low", "info"] | None = None,
    status: Literal["open", "fixed", "all"] = "open",
    overdue: bool = False,
    limit: int = Query(1000, ge=1, le=10000),
    offset: int = Query(0, ge=0, le=ROW_ID_MAX),
) -> dict[str, Any]:
    """Open findings (default), or fixed/all; `overdue=true` keeps those past their SLA."""
    with ledger.read() as store:
        if service:
            check_service_access(store, token, service)
        if team:
            check_team_access(token, team)
        flt = FindingFilter(
            team=team,
            service=service,
            severity=severity,
            status=status,
            overdue=overdue,
            team_ids=team_scope(token),
            limit=limit,
            offset=offset,
        )
        rows = store.findings(flt)
    return {"count": len(rows), "findings": [r.as_json() for r in rows]}


@router.get("/debt/overdue", summary="Overdue findings per owning team")
def overdue(token: ReadToken, ledger: LedgerDep) -> dict[str, Any]:
    """Open findings past due (SLA breached) per team, with the worst days over."""
    with ledger.read() as store:
        return {"teams": store.overdue_by_team(team_scope(token))}


@router.get("/debt/aging", summary="Open findings by age bucket")
def aging(token: ReadToken, ledger: LedgerDep, service: str | None = None) -> dict[str, Any]:
    """0–7, 8–30, 31–90, 90+ days since first seen, by severity."""
    with ledger.read() as store:
        if service:
            check_service_access(store, token, service)
        return {"buckets": store.aging(team_scope(token), service)}


@router.get("/debt/repeat-offenders", summary="Rules re-introduced after a fix; services with most reopens")
def repeat_offenders(token: ReadToken, ledger: LedgerDep) -> dict[str, Any]:
    """Repeat offenders."""
    with ledger.read() as store:
        return store.repeat_offenders(team_scope(token))


@router.get("/exceptions", summary="Exceptions expiring soon, and expired ones still matching")
def exceptions(
    token: ReadToken, ledger: LedgerDep, within_days: int = Query(30, ge=0, le=3650)
) -> dict[str, Any]:
    """Exceptions by expiry."""
    with ledger.read() as store:
        return store.exceptions_report(within_days, team_scope(token))
