"""`POST /api/v1/runs`: push a gate run (JSON report and/or evidence bundle)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.datastructures import UploadFile

from clearance.ledger.ingest import Principal, Upload, ingest
from clearance.server.deps import IngestToken, LedgerDep, SettingsDep, is_admin
from clearance.server.errors import ApiError

router = APIRouter(prefix="/api/v1", tags=["runs"])


@router.post(
    "/runs",
    summary="Ingest a gate run",
    description="Send the gate's JSON report as `application/json` (query `service`, `version`), a bundle "
    "as `application/gzip`, or `multipart/form-data` with `report` and/or `bundle` files and `service` / "
    "`version` fields. Returns counts (created, updated, fixed, reopened, unchanged) and, per finding, "
    "which key matched.",
)
async def push_run(
    request: Request, token: IngestToken, ledger: LedgerDep, settings: SettingsDep
) -> dict[str, Any]:
    """Ingest one run in one transaction."""
    upload = await _upload(request)
    principal = Principal(
        actor=f"token:{token.prefix}",
        team_id=token.team_id,
        admin=is_admin(token),
        may_create_services=settings.allow_service_creation,
    )
    with ledger.advisory_matcher() as matcher, ledger.write() as store:
        result = ingest(store, upload, principal, settings.limits(), matcher.match if matcher else None)
    return result.as_json()


@router.get(
    "/limits",
    summary="Size limits of a push",
    description="What the server accepts, so a client can refuse an oversized push before uploading it.",
)
def limits(token: IngestToken, settings: SettingsDep) -> dict[str, int]:
    """The request, report, bundle and unpacked-bundle limits in bytes."""
    return {
        "max_request_bytes": settings.max_request_bytes,
        "max_report_bytes": settings.max_report_bytes,
        "max_bundle_bytes": settings.max_bundle_bytes,
        "max_unpacked_bytes": settings.max_unpacked_bytes,
    }


async def _upload(request: Request) -> Upload:
    ctype = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    service = request.query_params.get("service")
    version = request.query_params.get("version")
    if ctype == "multipart/form-data":
        form = await request.form(max_files=2, max_fields=10)
        files: dict[str, bytes] = {}
        for key in ("report", "bundle"):
            value = form.get(key)
            if isinstance(value, UploadFile):
                files[key] = await value.read()
            elif isinstance(value, str):
                files[key] = value.encode()
        svc = form.get("service")
        ver = form.get("version")
        return Upload(
            report=files.get("report"),
            bundle=files.get("bundle"),
            service=svc if isinstance(svc, str) and svc else service,
            version=ver if isinstance(ver, str) and ver else version,
        )
    body = await request.body()
    if ctype in ("application/json", ""):
        return Upload(report=body, service=service, version=version)
    if ctype in ("application/gzip", "application/x-gzip", "application/octet-stream"):
        return Upload(bundle=body, service=service, version=version)
    raise ApiError(
        415,
        f"unsupported content type {ctype!r}",
        "send application/json, application/gzip or multipart/form-data",
    )
