"""Admin resources: tokens, trusted keys; and the read-only lists of teams and services."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter

from clearance.errors import EvidenceError
from clearance.evidence.keys import load_public_key
from clearance.ledger import service as ledger_service
from clearance.server.deps import AdminToken, LedgerDep, ReadToken, team_scope
from clearance.server.errors import ApiError
from clearance.server.schemas import KeyCreate, RowIdPath, TokenCreate

router = APIRouter(prefix="/api/v1", tags=["admin"])


@router.post("/tokens", summary="Create a token (shown once)", status_code=201)
def create_token(body: TokenCreate, token: AdminToken, ledger: LedgerDep) -> dict[str, Any]:
    """The secret is in the response only; the ledger keeps its hash."""
    with ledger.write() as store:
        secret, info = ledger_service.create_token(
            store,
            team=body.team,
            scopes=body.scopes,
            name=body.name,
            expires_in_days=body.expires_in_days,
            actor=f"token:{token.prefix}",
        )
    return {"token": secret, **info.as_json()}


@router.get("/tokens", summary="List tokens (never the secrets)")
def list_tokens(_: AdminToken, ledger: LedgerDep) -> dict[str, Any]:
    """Every token with prefix, team, scopes, expiry, revocation."""
    with ledger.read() as store:
        return {"tokens": [t.as_json() for t in store.tokens()]}


@router.delete("/tokens/{token_id}", summary="Revoke a token")
def revoke_token(token_id: RowIdPath, token: AdminToken, ledger: LedgerDep) -> dict[str, Any]:
    """Idempotent."""
    with ledger.write() as store:
        return ledger_service.revoke_token(store, token_id, f"token:{token.prefix}").as_json()


@router.post("/keys", summary="Trust a public key for a team's bundles", status_code=201)
def add_key(body: KeyCreate, token: AdminToken, ledger: LedgerDep) -> dict[str, Any]:
    """PEM ed25519 or ECDSA P-256 public key."""
    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "key.pem"
        p.write_text(body.public_key_pem, encoding="utf-8")
        try:
            key = load_public_key(p)
        except EvidenceError as e:
            raise ApiError(400, "not a usable public key (PEM ed25519 or ECDSA P-256)") from e
    with ledger.write() as store:
        team = store.ensure_team(body.team)
        row = store.add_trusted_key(team, key.keyid, body.public_key_pem)
        store.append_audit(f"token:{token.prefix}", "key.trusted", {"team": team.name, "key_id": row.key_id})
        return {"team": team.name, "key_id": row.key_id}


@router.get("/services", summary="Services (a team token sees its own)")
def services(token: ReadToken, ledger: LedgerDep) -> dict[str, Any]:
    """Name, team, tier, exposure, data class, repository."""
    scope = team_scope(token)
    with ledger.read() as store:
        names = store.team_names(s.team_id for s in store.services() if s.team_id)
        return {
            "services": [
                {
                    "name": s.name,
                    "team": names.get(s.team_id) if s.team_id else None,
                    "tier": s.tier,
                    "exposure": s.exposure,
                    "data_class": s.data_class,
                    "repository": s.repository,
                }
                for s in store.services(scope)
            ]
        }
