"""Dashboard pages (server-rendered Jinja2, inline SVG charts): org overview, team, service,
advisory/affected search, deploy log, audit log — plus token login and logout.

Every page reads through the same store functions as the JSON API, scoped to the session
token's team unless it is an admin token; numbers carry `data-metric` attributes so the
browser tests can compare them with the API.
"""

from __future__ import annotations

import datetime as dt
import secrets
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from clearance.ledger import metrics
from clearance.ledger import store_deploy as sd
from clearance.ledger.service import hash_token
from clearance.ledger.store import FindingFilter, Store, TokenInfo
from clearance.server.deps import LedgerDep, is_admin, team_scope
from clearance.server.errors import ApiError
from clearance.server.web import charts
from clearance.server.web import session as sess

router = APIRouter(prefix="/ui", include_in_schema=False)
_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html", "j2"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
WINDOW_DAYS = 90


class LoginRequired(Exception):
    """No valid session: the handler redirects to the login page."""


def session_secret(request: Request) -> tuple[bytes, ...]:
    """The app's cookie-signing keys (read from the session key file by `create_app`)."""
    keys = getattr(request.app.state, "session_keys", None)
    if not isinstance(keys, tuple) or not keys:
        raise ApiError(500, "the dashboard has no session keys")  # create_app always loads them
    return keys


def _epoch(now: dt.datetime) -> int:
    return int(now.timestamp())


def current_session(request: Request, ledger: LedgerDep) -> tuple[TokenInfo, sess.SessionData]:
    """The session's token (valid, not revoked or expired, with read scope) or LoginRequired."""
    now = ledger.clock()
    data = sess.decode(session_secret(request), request.cookies.get(sess.SESSION_COOKIE), _epoch(now))
    if data is None:
        raise LoginRequired()
    with ledger.read() as store:
        info = store.token_by_hash(data.token_hash)
    if (
        info is None
        or info.revoked_at is not None
        or (info.expires_at is not None and info.expires_at <= now)
    ):
        raise LoginRequired()
    if "read" not in info.scopes and "admin" not in info.scopes:
        raise LoginRequired()
    return info, data


SessionDep = Annotated[tuple[TokenInfo, sess.SessionData], Depends(current_session)]


def install(app: FastAPI) -> None:
    """Mount the dashboard on an app: routes, the login redirect, the root redirect."""
    app.include_router(router)

    @app.exception_handler(LoginRequired)
    async def _login(_: Request, __: LoginRequired) -> Response:
        return RedirectResponse("/ui/login", status_code=303)

    @app.get("/", include_in_schema=False)
    def _root() -> Response:
        return RedirectResponse("/ui/", status_code=307)


def _render(name: str, request: Request, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    html = _templates.get_template(name).render(request=request, **context)
    resp = HTMLResponse(html, status_code=status)
    resp.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'"
    )
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Referrer-Policy"] = "same-origin"
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _base(request: Request, token: TokenInfo, data: sess.SessionData) -> dict[str, Any]:
    return {
        "who": token.name or token.prefix,
        "team": token.team,
        "admin": is_admin(token),
        "csrf": sess.csrf_token(session_secret(request), data),
    }


# --- login / logout ----------------------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> HTMLResponse:
    """The login form (an API token with read scope)."""
    nonce = secrets.token_urlsafe(24)
    resp = _render("login.html.j2", request, {"csrf": nonce, "error": None})
    resp.set_cookie(sess.LOGIN_CSRF_COOKIE, nonce, httponly=True, samesite="strict", path="/ui")
    return resp


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request, ledger: LedgerDep, token: Annotated[str, Form()] = "", csrf: Annotated[str, Form()] = ""
) -> Response:
    """Exchange a token for a session cookie (HttpOnly, SameSite=Strict)."""
    cookie = request.cookies.get(sess.LOGIN_CSRF_COOKIE, "")
    if not cookie or not secrets.compare_digest(cookie, csrf):
        return _render(
            "login.html.j2", request, {"csrf": cookie or "", "error": "form expired, try again"}, 403
        )
    now = ledger.clock()
    with ledger.read() as store:
        info = store.token_by_hash(hash_token(token.strip())) if token.strip() else None
    valid = (
        info is not None
        and info.revoked_at is None
        and (info.expires_at is None or info.expires_at > now)
        and ("read" in info.scopes or "admin" in info.scopes)
    )
    if not valid:
        return _render(
            "login.html.j2",
            request,
            {"csrf": cookie, "error": "unknown, expired or revoked token, or no read scope"},
            401,
        )
    data = sess.SessionData(
        hash_token(token.strip()), secrets.token_urlsafe(16), _epoch(now) + sess.SESSION_SECONDS
    )
    resp = RedirectResponse("/ui/", status_code=303)
    resp.set_cookie(
        sess.SESSION_COOKIE,
        sess.encode(session_secret(request), data),
        max_age=sess.SESSION_SECONDS,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    resp.delete_cookie(sess.LOGIN_CSRF_COOKIE, path="/ui")
    return resp


@router.post("/logout")
def logout(request: Request, session: SessionDep, csrf: Annotated[str, Form()] = "") -> Response:
    """End the session (CSRF-checked)."""
    _, data = session
    if not sess.check_csrf(session_secret(request), data, csrf):
        raise ApiError(403, "CSRF check failed")
    resp = RedirectResponse("/ui/login", status_code=303)
    resp.delete_cookie(sess.SESSION_COOKIE, path="/")
    return resp


# --- pages -------------------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
def overview(request: Request, ledger: LedgerDep, session: SessionDep) -> HTMLResponse:
    """Org overview: DORA bands, debt by age, SLA breaches by team, deploy decisions."""
    token, data = session
    cache = ledger.metrics_cache
    with ledger.read() as store:
        scope = metrics.Scope(team_ids=team_scope(token))
        dora = cache.dora(store, scope, WINDOW_DAYS)
        sec = cache.security(store, scope, WINDOW_DAYS)
        overdue = cache.overdue_by_team(store, team_scope(token), WINDOW_DAYS)
        teams = [
            t.name for t in store.teams() if team_scope(token) is None or t.id in (team_scope(token) or ())
        ]
    return _render(
        "overview.html.j2",
        request,
        {
            **_base(request, token, data),
            "dora": dora,
            "sec": sec,
            "teams": teams,
            "overdue": overdue,
            "debt_chart": charts.bar_chart(
                list(sec.open_by_age.items()), title="Open findings by age (days)"
            ),
            "sla_chart": charts.bar_chart(
                [(t["team"], t["overdue"]) for t in overdue], title="Overdue findings by team"
            ),
            "decision_chart": charts.bar_chart(
                list(sec.decisions_by_answer.items()),
                title=f"Deploy decisions, last {WINDOW_DAYS} days",
                colors=charts.ANSWER_COLORS,
            ),
        },
    )


def _team_id(store: Store, token: TokenInfo, team: str) -> int:
    row = store.team(team)
    if row is None:
        raise ApiError(404, f"unknown team {team!r}")
    scope = team_scope(token)
    if scope is not None and row.id not in scope:
        raise ApiError(403, f"this session may not see team {team!r}")
    return row.id


@router.get("/teams/{team}", response_class=HTMLResponse)
def team_page(team: str, request: Request, ledger: LedgerDep, session: SessionDep) -> HTMLResponse:
    """A team: services, overdue findings, repeat offenders, expiring exceptions."""
    token, data = session
    with ledger.read() as store:
        team_id = _team_id(store, token, team)
        services = store.services([team_id])
        overdue = store.findings(FindingFilter(team=team, overdue=True, team_ids=(team_id,), limit=200))
        offenders = ledger.metrics_cache.repeat_offenders(store, (team_id,))
        exceptions = store.exceptions_report(30, (team_id,))
        dora = ledger.metrics_cache.dora(store, metrics.Scope(team=team), WINDOW_DAYS)
    return _render(
        "team.html.j2",
        request,
        {
            **_base(request, token, data),
            "name": team,
            "services": services,
            "overdue": overdue,
            "offenders": offenders,
            "exceptions": exceptions,
            "dora": dora,
        },
    )


@router.get("/services/{service}", response_class=HTMLResponse)
def service_page(service: str, request: Request, ledger: LedgerDep, session: SessionDep) -> HTMLResponse:
    """A service: releases, what runs where, findings, exceptions, evidence, incidents, signals."""
    token, data = session
    scope = team_scope(token)
    with ledger.read() as store:
        svc = store.service(service)
        if svc is None:
            raise ApiError(404, f"unknown service {service!r}")
        if scope is not None and svc.team_id not in scope:
            raise ApiError(403, f"this session may not see service {service!r}")
        ctx = {
            "svc": svc,
            "owner": sd.team_name(store.session, svc.team_id),
            "releases": sd.releases_of_service(store.session, svc.id),
            "running": sd.running_now(store.session, scope, service),
            "findings": store.findings(FindingFilter(service=service, team_ids=scope, limit=200)),
            "exceptions": sd.waivers_of_service(store.session, svc.id, store.now),
            "runs": store.runs(svc.id, limit=20),
            "incidents": sd.incidents(store.session, scope, service, 50),
            "signals": sd.signals(store.session, scope, service, 50),
            "decisions": sd.decisions(store.session, scope, service, limit=20),
        }
    return _render("service.html.j2", request, {**_base(request, token, data), "name": service, **ctx})


@router.get("/affected", response_class=HTMLResponse)
def affected_page(
    request: Request, ledger: LedgerDep, session: SessionDep, q: str = "", offset: int = 0
) -> HTMLResponse:
    """Search: an advisory id (CVE-…, GHSA-…) or a purl → affected services, releases, envs; the
    same answer as `GET /api/v1/affected`, a page of rows at a time (totals over the whole answer)."""
    from clearance.errors import LedgerError
    from clearance.ledger.affected import affected_query

    token, data = session
    answer: dict[str, Any] | None = None
    error: str | None = None
    query = q.strip()[:500]
    if query:
        purl = query.startswith("pkg:")
        try:
            with ledger.read() as store:
                answer = affected_query(
                    store,
                    advisory=None if purl else query,
                    purl=query if purl else None,
                    team_ids=team_scope(token),
                    offset=max(0, offset),
                )
        except LedgerError as e:
            error = e.message
    return _render(
        "affected.html.j2",
        request,
        {**_base(request, token, data), "q": query, "answer": answer, "error": error},
    )


@router.get("/deploys", response_class=HTMLResponse)
def deploy_log(
    request: Request, ledger: LedgerDep, session: SessionDep, answer: str | None = None
) -> HTMLResponse:
    """Every go/no-go with its reasons, newest first."""
    token, data = session
    if answer not in (None, "", "allow", "deny", "needs-approval"):
        raise ApiError(422, "answer must be allow, deny or needs-approval")
    with ledger.read() as store:
        rows = sd.decisions(store.session, team_scope(token), answer=answer or None, limit=200)
        deployments = sd.deployments(store.session, team_scope(token), limit=50)
    return _render(
        "deploys.html.j2",
        request,
        {**_base(request, token, data), "rows": rows, "deployments": deployments, "answer": answer},
    )


@router.get("/audit", response_class=HTMLResponse)
def audit_page(request: Request, ledger: LedgerDep, session: SessionDep, offset: int = 0) -> HTMLResponse:
    """The audit log (admin sessions: it spans every team)."""
    token, data = session
    if not is_admin(token):
        raise ApiError(403, "the audit log spans every team: admin tokens only")
    with ledger.read() as store:
        size = store.audit_size()
        start = max(0, size - 100 - max(0, offset))
        entries = list(reversed(store.audit_entries(limit=100, offset=start)))
        checkpoint = store.latest_checkpoint()
    return _render(
        "audit.html.j2",
        request,
        {**_base(request, token, data), "entries": entries, "size": size, "checkpoint": checkpoint},
    )


def render(name: str, request: Request, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    """Render a dashboard template (for the pages other modules add)."""
    return _render(name, request, context, status)


def base_context(request: Request, token: TokenInfo, data: sess.SessionData) -> dict[str, Any]:
    """What every dashboard page's layout needs (who, team, admin, CSRF token)."""
    return _base(request, token, data)
