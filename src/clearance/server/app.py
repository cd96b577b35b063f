"""`create_app(settings)`: the ledger's FastAPI application. No engine exists before it is called."""

from __future__ import annotations

import datetime as dt
import gc
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import FastAPI
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from clearance import __version__
from clearance.deploy.policy import default_policy, load_policy
from clearance.ledger import db
from clearance.ledger.audit import LogKey
from clearance.ledger.matching import AdvisoryMatcher
from clearance.ledger.service import Clock, Ledger, system_clock
from clearance.server import errors
from clearance.server.routes import admin, affected, analyses, audit, deploy, findings, metrics, runs
from clearance.server.routes import routing as routing_routes
from clearance.server.settings import ServerSettings
from clearance.server.web import dashboard, deliveries
from clearance.server.web.session import load_or_create_keys

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def create_app(
    settings: ServerSettings, *, clock: Clock = system_clock, engine: Engine | None = None
) -> FastAPI:
    """Build the app: engine (migrated when `settings.migrate`), checkpoint key, routers, errors."""
    engine = engine or db.create_engine(settings.db_url)
    if settings.migrate:
        db.migrate(engine)
    matcher = None
    if settings.advisory_db_dir is not None:
        directory = settings.advisory_db_dir

        def matcher() -> AdvisoryMatcher | None:
            from clearance.errors import ScanError

            try:
                return AdvisoryMatcher.open(directory)
            except ScanError:
                return None

    routing = None
    after_change = None
    if settings.routing_path is not None:
        from clearance.notify import subscriptions
        from clearance.notify.router import route

        routing = subscriptions.load(settings.routing_path)

        def after_change(session: Session, now: dt.datetime) -> None:
            assert routing is not None
            route(session, routing, now, settings.link_base, sweeps=False)

    ledger = Ledger(
        engine,
        clock=clock,
        log_key=LogKey.load_or_create(settings.log_key_path),
        matcher=matcher,
        after_change=after_change,
    )
    app = FastAPI(
        title="clearance ledger",
        version=__version__,
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
    )
    app.state.ledger = ledger
    app.state.settings = settings
    app.state.session_keys = load_or_create_keys(settings.session_keys_file())
    app.state.routing = routing
    if routing is not None and settings.run_worker:
        from clearance.notify.worker import BackgroundWorker, Worker

        background = BackgroundWorker(Worker(ledger, routing), settings.worker_interval_s)
        app.router.on_startup.append(background.start)
        app.router.on_shutdown.append(background.stop)
    errors.install(app)
    app.state.deploy_policy = (
        load_policy(settings.deploy_policy_path)
        if settings.deploy_policy_path is not None
        else default_policy()
    )
    for module in (runs, findings, affected, analyses, audit, admin, deploy, metrics, routing_routes):
        app.include_router(module.router)
    dashboard.install(app)
    app.include_router(deliveries.router)  # the dashboard's notifications page

    @app.get("/healthz", tags=["health"], summary="Liveness (no token needed)")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    app.add_middleware(BodyLimit, limit=settings.max_request_bytes)
    app.add_middleware(NoNulInUrl)
    return app


class NoNulInUrl:
    """Refuse a URL whose path or query holds a NUL character (`%00`): PostgreSQL cannot compare
    text with one, SQLite would quietly match nothing. 400 on both engines, before any route."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (
            "\x00" in scope.get("path", "") or b"%00" in scope.get("query_string", b"")
        ):
            await errors.error_response(400, "a NUL character (%00) is not allowed in the URL")(
                scope, receive, send
            )
            return
        await self.app(scope, receive, send)


def freeze_after_start_up(app: FastAPI) -> None:
    """For the process that serves `app` (`clearance ledger serve`): once the app is up, keep what
    start-up built (modules, the app, mappers, templates: ~160,000 objects) out of the cyclic
    garbage collector's full passes (`gc.freeze`). A request that builds a large answer (an
    `affected` page over thousands of services) otherwise sets off full collections that walk
    all of them again: 50–90 ms of CPU each (bench/RESULTS.md, ledger). Frozen objects are never
    collected, so only a process that keeps its app for its lifetime should do this."""

    async def freeze() -> None:
        gc.collect()
        gc.freeze()

    app.router.on_startup.append(freeze)


class BodyLimit:
    """Refuse request bodies over `limit` bytes (by Content-Length, and counted while streaming)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    too_big = int(value) > self.limit
                except ValueError:
                    too_big = True
                if too_big:
                    await errors.error_response(413, f"request body larger than {self.limit} bytes")(
                        scope, receive, send
                    )
                    return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise errors.RequestTooLarge(self.limit)
            return message

        await self.app(scope, counted, send)
