"""`GET /api/v1/affected`: which services, releases and environments an advisory or package affects."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from clearance.ledger.affected import affected_query
from clearance.server.deps import LedgerDep, ReadToken, team_scope
from clearance.server.errors import ApiError

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
) -> dict[str, Any]:
    """`?advisory=CVE-…|GHSA-…` or `?purl=pkg:pypi/jinja2@2.11.2` (or a purl without version, with an
    optional `range` such as `<3.1.5`)."""
    if bool(advisory) == bool(purl):
        raise ApiError(400, "give exactly one of advisory= or purl=")
    with ledger.read() as store:
        return affected_query(
            store, advisory=advisory, purl=purl, version_range=range, team_ids=team_scope(token)
        )
