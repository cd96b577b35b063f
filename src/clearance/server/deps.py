"""Request dependencies: the ledger, the current token, scope checks (Annotated aliases)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request

from clearance.ledger.service import Ledger, Unauthorized, authenticate
from clearance.ledger.store import Store, TokenInfo
from clearance.server.errors import ApiError
from clearance.server.settings import ServerSettings


def get_ledger(request: Request) -> Ledger:
    """The app's ledger."""
    ledger: Ledger = request.app.state.ledger
    return ledger


def get_settings(request: Request) -> ServerSettings:
    """The app's settings."""
    settings: ServerSettings = request.app.state.settings
    return settings


LedgerDep = Annotated[Ledger, Depends(get_ledger)]
SettingsDep = Annotated[ServerSettings, Depends(get_settings)]


def current_token(request: Request, ledger: LedgerDep) -> TokenInfo:
    """The bearer token of the request, checked (401 otherwise)."""
    header = request.headers.get("authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise Unauthorized("missing bearer token", hint="send Authorization: Bearer <token>")
    with ledger.read() as store:
        return authenticate(store, secret.strip())


TokenDep = Annotated[TokenInfo, Depends(current_token)]


def require(scope: str) -> Callable[[TokenInfo], TokenInfo]:
    """A dependency that admits tokens with `scope` (or admin)."""

    def check(token: TokenDep) -> TokenInfo:
        if scope not in token.scopes and "admin" not in token.scopes:
            raise ApiError(403, f"this token lacks the {scope!r} scope")
        return token

    return check


def is_admin(token: TokenInfo) -> bool:
    """True for admin tokens."""
    return "admin" in token.scopes


def team_scope(token: TokenInfo) -> tuple[int, ...] | None:
    """The teams whose services a token may see (None: all, for admin)."""
    if is_admin(token) or token.team_id is None:
        return None
    return (token.team_id,)


def check_service_access(store: Store, token: TokenInfo, service: str) -> None:
    """403 unless the token may read `service` (404 when it does not exist)."""
    svc = store.service(service)
    if svc is None:
        raise ApiError(404, f"unknown service {service!r}")
    scope = team_scope(token)
    if scope is not None and svc.team_id not in scope:
        raise ApiError(403, f"this token may not read service {service!r} (owned by another team)")


def check_team_access(token: TokenInfo, team: str) -> None:
    """403 unless the token belongs to `team` (or is admin)."""
    from clearance.ledger.store import normalize_team

    if team_scope(token) is not None and normalize_team(team) != (token.team or ""):
        raise ApiError(403, f"this token may not read team {team!r}")


ReadToken = Annotated[TokenInfo, Depends(require("read"))]
IngestToken = Annotated[TokenInfo, Depends(require("ingest"))]
AdminToken = Annotated[TokenInfo, Depends(require("admin"))]
