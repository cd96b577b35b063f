"""The dashboard's notifications page: what routing sent, what waits, what is dead — and a
CSRF-checked form that puts dead deliveries back in the queue (docs/notifications.md)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from clearance.notify import store as routing_store
from clearance.notify.audit import audit_append
from clearance.server.deps import LedgerDep, is_admin
from clearance.server.errors import ApiError
from clearance.server.web import dashboard
from clearance.server.web import session as sess

router = APIRouter(prefix="/ui", include_in_schema=False)
STATES = ("pending", "retry", "sending", "delivered", "dead")


@router.get("/deliveries", response_class=HTMLResponse)
def deliveries_page(
    request: Request, ledger: LedgerDep, session: dashboard.SessionDep, state: str = ""
) -> HTMLResponse:
    """Deliveries of the session's team (every team for admin), newest first; dead ones counted."""
    token, data = session
    if state and state not in STATES:
        raise ApiError(422, f"state must be one of {', '.join(STATES)}")
    team = None if is_admin(token) else (token.team or "")
    with ledger.read() as store:
        rows = routing_store.deliveries(store.session, states=[state] if state else [], team=team, limit=200)
        dead = routing_store.count_deliveries(store.session, state="dead", team=team)
    items: list[dict[str, Any]] = [
        {
            "id": r.id,
            "state": r.state,
            "event": r.event,
            "channel": r.channel,
            "team": r.team,
            "attempts": r.attempts,
            "next_try_at": r.next_try_at.isoformat()[:16],
            "title": r.payload.get("event", {}).get("title", ""),
            "service": r.payload.get("event", {}).get("service", ""),
            "error": r.last_error,
            "ticket": r.ticket_ref or "",
        }
        for r in rows
    ]
    routing_on = getattr(request.app.state, "routing", None) is not None
    context = {
        **dashboard.base_context(request, token, data),
        "rows": items,
        "dead": dead,
        "state": state,
        "routing_on": routing_on,
    }
    return dashboard.render("deliveries.html.j2", request, context)


@router.post("/deliveries/retry")
def retry_dead(
    request: Request, ledger: LedgerDep, session: dashboard.SessionDep, csrf: Annotated[str, Form()] = ""
) -> Response:
    """Put the session's team's dead deliveries back in the queue (all teams' for admin)."""
    token, data = session
    if not sess.check_csrf(dashboard.session_secret(request), data, csrf):
        raise ApiError(403, "CSRF check failed")
    team = None if is_admin(token) else (token.team or "")
    with ledger.write() as store:
        ids = [
            r.id for r in routing_store.deliveries(store.session, states=["dead"], team=team, limit=10_000)
        ]
        if ids and routing_store.retry_dead(store.session, ids, store.now):
            audit_append(store.session, "deliveries.retried", {"ids": ",".join(map(str, ids))}, store.now)
    return RedirectResponse("/ui/deliveries", status_code=303)
