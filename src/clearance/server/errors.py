"""Consistent JSON errors: `{"error": {"status": 4xx, "message": "...", "hint": "..."}}`, never a traceback."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from clearance.errors import ClearanceError

log = logging.getLogger("clearance.server")


class ApiError(Exception):
    """An error with an HTTP status, raised by routes and dependencies."""

    def __init__(self, status: int, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.hint = hint


class RequestTooLarge(Exception):
    """The request body exceeds the configured limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"request body larger than {limit} bytes")
        self.limit = limit


def error_response(status: int, message: str, hint: str | None = None) -> JSONResponse:
    """The one error shape."""
    body: dict[str, object] = {"status": status, "message": message}
    if hint:
        body["hint"] = hint
    return JSONResponse({"error": body}, status_code=status)


def install(app: FastAPI) -> None:
    """Register the handlers."""

    @app.exception_handler(ApiError)
    async def _api(_: Request, e: ApiError) -> JSONResponse:
        return error_response(e.status, e.message, e.hint)

    @app.exception_handler(ClearanceError)
    async def _clearance(_: Request, e: ClearanceError) -> JSONResponse:
        status = int(getattr(e, "status_code", 400))
        return error_response(status, e.message, e.hint)

    @app.exception_handler(RequestTooLarge)
    async def _too_large(_: Request, e: RequestTooLarge) -> JSONResponse:
        return error_response(413, str(e), "raise max_request_bytes on the server if this is legitimate")

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, e: RequestValidationError) -> JSONResponse:
        first = e.errors()[0] if e.errors() else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return error_response(422, f"invalid request at {where}: {first.get('msg')}")

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, e: StarletteHTTPException) -> JSONResponse:
        return error_response(e.status_code, str(e.detail))

    @app.exception_handler(DataError)
    async def _data(_: Request, e: DataError) -> JSONResponse:
        # Every value reaches SQL as a bound parameter taken from the request, so a value the
        # database refuses (a NUL in a JSON body on PostgreSQL, a number out of range) is the
        # request's fault: the driver's one-line reason, never the statement.
        reason = str(e.orig).splitlines()[0][:200] if e.orig is not None else type(e).__name__
        log.warning("request refused by the database: %s", reason)
        return error_response(400, f"the database cannot store or compare a value of this request: {reason}")

    @app.exception_handler(Exception)
    async def _internal(_: Request, e: Exception) -> JSONResponse:
        log.exception("internal error")
        return error_response(500, "internal error (logged on the server)")
