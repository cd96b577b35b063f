"""Routing resources: subscriptions (who hears what, over which configured channel) and deliveries
(the outbox: what was sent, what waits, what is dead and can be put back)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request

from clearance.ledger.store import normalize_team
from clearance.model import Severity
from clearance.notify import store as routing_store
from clearance.notify.audit import audit_append
from clearance.notify.events import EventKind
from clearance.notify.subscriptions import RoutingConfig
from clearance.server.deps import LedgerDep, ReadToken, is_admin
from clearance.server.errors import ApiError
from clearance.server.schemas import DeliveryRetry, RowIdPath, SubscriptionCreate

router = APIRouter(prefix="/api/v1", tags=["routing"])


def _routing(request: Request) -> RoutingConfig:
    config: RoutingConfig | None = getattr(request.app.state, "routing", None)
    if config is None:
        raise ApiError(409, "routing is not configured on this server", hint="start it with --routing FILE")
    return config


@router.get("/subscriptions", summary="Subscriptions (a team token sees its own and the org-wide ones)")
def list_subscriptions(request: Request, token: ReadToken, ledger: LedgerDep) -> dict[str, Any]:
    """File subscriptions (read-only, `source: file`) and API subscriptions (`source: api`)."""
    config = _routing(request)
    team = None if is_admin(token) else token.team
    files = [
        {
            "source": "file",
            "name": s.name or f"#{i}",
            "team": s.team,
            "org": s.org,
            "events": [e.value for e in s.events],
            "channel": s.channel,
            "min_severity": s.min_severity.value if s.min_severity else None,
            "environments": s.environments,
        }
        for i, s in enumerate(config.subscriptions)
        if team is None or s.org or s.team == team
    ]
    with ledger.read() as st:
        stored = routing_store.stored_subscriptions(st.session)
    api = [
        {"source": "api", **s.as_json()} for s in stored if team is None or s.team is None or s.team == team
    ]
    return {"channels": sorted(config.channels), "subscriptions": files + api}


@router.post(
    "/subscriptions", summary="Subscribe a team to events over a configured channel", status_code=201
)
def create_subscription(
    body: SubscriptionCreate, request: Request, token: ReadToken, ledger: LedgerDep
) -> dict[str, Any]:
    """A team token subscribes its own team; org-wide subscriptions need an admin token."""
    config = _routing(request)
    if body.channel not in config.channels:
        raise ApiError(
            400, f"unknown channel {body.channel!r}", hint=f"configured: {', '.join(sorted(config.channels))}"
        )
    unknown = [e for e in body.events if e not in EventKind._value2member_map_]
    if unknown:
        raise ApiError(
            400, f"unknown event kind(s): {', '.join(unknown)}", hint=", ".join(k.value for k in EventKind)
        )
    if body.min_severity is not None:
        try:
            Severity.parse(body.min_severity)
        except ValueError as e:
            raise ApiError(400, str(e)) from None
    if body.team is None and not is_admin(token):
        raise ApiError(403, "org-wide subscriptions need an admin token")
    if body.team is not None and not is_admin(token) and normalize_team(body.team) != token.team:
        raise ApiError(403, f"this token may not subscribe team {body.team!r}")
    with ledger.write() as st:
        team_id = None
        if body.team is not None:
            team = st.team(body.team)
            if team is None:
                raise ApiError(404, f"unknown team {body.team!r}")
            team_id = team.id
        new_id = routing_store.add_subscription(
            st.session,
            team_id=team_id,
            events=body.events,
            channel=body.channel,
            min_severity=body.min_severity,
            environments=body.environments,
            now=st.now,
        )
        audit_append(
            st.session,
            "subscription.created",
            {
                "id": str(new_id),
                "team": body.team or "*",
                "channel": body.channel,
                "events": ",".join(body.events),
            },
            st.now,
        )
        created = next(s for s in routing_store.stored_subscriptions(st.session) if s.id == new_id)
    return {"source": "api", **created.as_json()}


@router.delete("/subscriptions/{subscription_id}", summary="Remove an API subscription")
def delete_subscription(
    subscription_id: RowIdPath, request: Request, token: ReadToken, ledger: LedgerDep
) -> dict[str, Any]:
    """A team token removes its own team's subscriptions; admin any."""
    _routing(request)
    with ledger.write() as st:
        mine = {s.id: s for s in routing_store.stored_subscriptions(st.session)}
        found = mine.get(subscription_id)
        if found is None:
            raise ApiError(404, f"no active subscription {subscription_id}")
        if not is_admin(token) and found.team != token.team:
            raise ApiError(403, "this token may not change another team's subscriptions")
        routing_store.deactivate_subscription(st.session, subscription_id)
        audit_append(st.session, "subscription.removed", {"id": str(subscription_id)}, st.now)
    return {"id": subscription_id, "active": False}


@router.get("/deliveries", summary="Outbox deliveries, newest first (a team token sees its team's)")
def list_deliveries(
    token: ReadToken,
    ledger: LedgerDep,
    state: list[str] = Query(default=[], description="pending, retry, sending, delivered, dead"),
    limit: int = Query(default=100, ge=1, le=1000),
) -> dict[str, Any]:
    """State, attempts, next try, last error and the event of each delivery."""
    team = None if is_admin(token) else (token.team or "")
    with ledger.read() as st:
        rows = routing_store.deliveries(st.session, states=state, team=team, limit=limit)
        return {
            "deliveries": [
                {
                    "id": r.id,
                    "event": r.event,
                    "channel": r.channel,
                    "team": r.team,
                    "state": r.state,
                    "attempts": r.attempts,
                    "next_try_at": r.next_try_at.isoformat(),
                    "delivered_at": r.delivered_at.isoformat() if r.delivered_at else None,
                    "last_error": r.last_error,
                    "ticket": r.ticket_ref,
                    "title": r.payload.get("event", {}).get("title", ""),
                    "service": r.payload.get("event", {}).get("service", ""),
                }
                for r in rows
            ]
        }


@router.post("/deliveries/retry", summary="Put dead deliveries back in the queue")
def retry_deliveries(body: DeliveryRetry, token: ReadToken, ledger: LedgerDep) -> dict[str, Any]:
    """Every dead delivery the token may see, or only the listed ids; attempts start again."""
    team = None if is_admin(token) else (token.team or "")
    with ledger.write() as st:
        dead = routing_store.deliveries(st.session, states=["dead"], team=team, limit=10_000)
        allowed = {r.id for r in dead}
        wanted = [i for i in body.ids if i in allowed] if body.ids else sorted(allowed)
        missing = sorted(set(body.ids) - allowed)
        count = routing_store.retry_dead(st.session, wanted, st.now) if wanted else 0
        if count:
            audit_append(st.session, "deliveries.retried", {"ids": ",".join(map(str, wanted))}, st.now)
    return {"retried": count, "ids": wanted, "not_dead_or_not_yours": missing}
