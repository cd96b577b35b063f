"""`GET /api/v1/affected`: which services, releases and environments an advisory or package affects."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from clearance.ledger.affected import DEFAULT_LIMIT, MAX_LIMIT, affected_query, rematch
from clearance.server.deps import AdminToken, LedgerDep, ReadToken, team_scope
from clearance.server.errors import ApiError
from clearance.server.schemas import ROW_ID_MAX

router = APIRouter(prefix="/api/v1", tags=["affected"])


@router.get(
    "/affected", summary="Services, releases, environments and owners affected by an advisory or purl"
)
def affected(
    token: ReadToken,
    ledger: LedgerDep,
    advisory: str | None = None,
    purl: str | None = None,
    range: str | None = None,
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="Rows per page."),
    offset: int = Query(0, ge=0, le=ROW_ID_MAX, description="Rows to skip (see `next_offset`)."),
) -> dict[str, Any]:
    """`?advisory=CVE-…|GHSA-…` or `?purl=pkg:pypi/jinja2@2.11.2` (or a purl without version, with an
    optional `range` such as `<3.1.5`). One row per (release, component), a page at a time;
    `count`, `services` and `not_affected` cover the whole answer."""
    if bool(advisory) == bool(purl):
        raise ApiError(400, "give exactly one of advisory= or purl=")
    with ledger.read() as store:
        return affected_query(
            store,
            advisory=advisory,
            purl=purl,
            version_range=range,
            team_ids=team_scope(token),
            limit=limit,
            offset=offset,
        )


@router.post(
    "/advisories/rematch", summary="Re-match every stored release against the advisory store (admin)"
)
def rematch_all(token: AdminToken, ledger: LedgerDep) -> dict[str, Any]:
    """Run after the server's advisory database was updated (`clearance db update` / `db import`):
    lists the newly affected releases and records findings for them."""
    with ledger.advisory_matcher() as matcher:
        if matcher is None:
            raise ApiError(409, "the server has no advisory database", "start it with --advisory-db DIR")
        with ledger.write() as store:
            return rematch(store, matcher, f"token:{token.prefix}").as_json()
