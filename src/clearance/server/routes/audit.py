"""The audit log: entries, signed checkpoints, inclusion and consistency proofs."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Query

from clearance.ledger import service as ledger_service
from clearance.ledger.store import Store, TokenInfo, normalize_team
from clearance.server.deps import AdminToken, LedgerDep, ReadToken, team_scope
from clearance.server.schemas import ROW_ID_MAX

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])


@router.get("/entries", summary="Audit log entries (admin)")
def entries(
    _: AdminToken,
    ledger: LedgerDep,
    offset: int = Query(0, ge=0, le=ROW_ID_MAX),
    limit: int = Query(100, ge=1, le=1000),
) -> dict[str, Any]:
    """Entries in log order, each with its canonical JSON and leaf hash."""
    with ledger.read() as store:
        rows = store.audit_entries(limit=limit, offset=offset)
        return {
            "size": store.audit_size(),
            "entries": [{"seq": e.seq, "entry": e.entry, "leaf_hash": e.leaf_hash} for e in rows],
        }


@router.get("/checkpoint", summary="The latest signed checkpoint")
def checkpoint(_: ReadToken, ledger: LedgerDep) -> dict[str, Any]:
    """Size, root, key id, signature — and the server's public key."""
    with ledger.read() as store:
        cp = store.latest_checkpoint()
    return {
        "checkpoint": {"size": cp.size, "root": cp.root_hash, "key_id": cp.key_id, "signature": cp.signature}
        if cp
        else None,
        "public_key": ledger.log_key.public_pem if ledger.log_key else None,
    }


@router.get("/proof", summary="Inclusion proof of one entry")
def proof(
    token: ReadToken,
    ledger: LedgerDep,
    seq: int = Query(ge=0, le=ROW_ID_MAX),
    size: int | None = Query(None, ge=1, le=ROW_ID_MAX),
) -> dict[str, Any]:
    """RFC 6962 audit path of entry `seq` in the tree of `size` entries (default: latest checkpoint).

    The entry's text comes with it for an admin token, and for a team token when the entry is
    about that team (it names the team or one of the team's services); otherwise the answer holds
    the leaf hash and the proof only (`entry` null, `entry_withheld` says why): the proof shows
    that an entry the caller already holds is in the log without handing out other teams' runs,
    tokens and triage decisions."""
    with ledger.read() as store:
        answer = ledger_service.inclusion(store, seq, size)
        text = answer.get("entry")
        if text is not None and not _entry_readable(store, token, text):
            answer["entry"] = None
            answer["entry_withheld"] = (
                "the entry is not about this token's team: its text needs an admin token; "
                "the leaf hash and the proof verify an entry you hold"
            )
        return answer


def _entry_readable(store: Store, token: TokenInfo, text: str) -> bool:
    """True when the token may read the entry's text (see `proof`)."""
    if team_scope(token) is None:
        return True
    try:
        data = json.loads(text).get("data")
    except (ValueError, AttributeError):
        return False
    if not isinstance(data, dict):
        return False
    team = data.get("team")
    if isinstance(team, str) and normalize_team(team) == (token.team or ""):
        return True
    service = data.get("service")
    if isinstance(service, str):
        svc = store.service(service)
        return svc is not None and svc.team_id == token.team_id
    return False


@router.get("/consistency", summary="Consistency proof between two tree sizes")
def consistency(
    _: ReadToken,
    ledger: LedgerDep,
    from_: int = Query(alias="from", ge=1, le=ROW_ID_MAX),
    to: int = Query(ge=1, le=ROW_ID_MAX),
) -> dict[str, Any]:
    """RFC 6962 consistency proof: the tree of `from` entries is a prefix of the tree of `to`."""
    with ledger.read() as store:
        return ledger_service.consistency(store, from_, to)
