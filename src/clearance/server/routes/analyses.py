"""Triage decisions (VEX) and the CycloneDX VEX export of a release."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from clearance.ledger.vex import record_analysis, release_vex
from clearance.server.deps import LedgerDep, ReadToken, TokenDep, team_scope
from clearance.server.errors import ApiError
from clearance.server.schemas import AnalysisCreate, RowIdPath

router = APIRouter(prefix="/api/v1", tags=["analyses"])


@router.post("/analyses", summary="Record a triage (VEX) decision", status_code=201)
def create_analysis(body: AnalysisCreate, token: TokenDep, ledger: LedgerDep) -> dict[str, Any]:
    """Needs the `ingest` or `admin` scope; a team token only for its team's services."""
    if not {"ingest", "admin"} & set(token.scopes):
        raise ApiError(403, "recording an analysis needs the 'ingest' or 'admin' scope")
    with ledger.write() as store:
        return record_analysis(
            store,
            service=body.service,
            component_purl=body.component,
            advisory_id=body.advisory,
            state=body.state,
            justification=body.justification,
            responses=body.responses,
            detail=body.detail,
            release_id=body.release_id,
            author=token.name or f"token:{token.prefix}",
            team_ids=team_scope(token),
        )


@router.get("/releases/{release_id}/vex", summary="CycloneDX VEX of a release")
def vex(release_id: RowIdPath, token: ReadToken, ledger: LedgerDep) -> Response:
    """CycloneDX 1.6 JSON with one vulnerability per matched (component, advisory)."""
    with ledger.read() as store:
        text = release_vex(store, release_id, team_scope(token))
    return Response(text, media_type="application/vnd.cyclonedx+json")
