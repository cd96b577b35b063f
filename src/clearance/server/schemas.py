"""Pydantic request bodies of the API (responses are documented JSON objects)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field, field_validator

ROW_ID_MAX = 2**31 - 1
"""The largest id (and row offset) the API accepts: PostgreSQL's `integer`, the type of every id
column. A larger number in a path, query or body is a 422, not a database error."""

RowIdPath = Annotated[int, Path(ge=1, le=ROW_ID_MAX)]
"""An id in a URL path (`/releases/{release_id}/vex`)."""


class NulFree(BaseModel):
    """A request body whose strings hold no NUL character (PostgreSQL cannot store one; SQLite
    would keep it and show it back): refused with 422 on both engines."""

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        items = value if isinstance(value, list | tuple) else (value,)
        if any(isinstance(v, str) and "\x00" in v for v in items):
            raise ValueError("a NUL character (\\u0000) is not allowed")
        return value


class _In(NulFree):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AnalysisCreate(_In):
    """A triage (VEX) decision."""

    service: str = Field(max_length=200)
    component: str = Field(max_length=1000, description="purl of the component")
    advisory: str = Field(max_length=100)
    state: str = Field(
        max_length=30, description="exploitable, in_triage, false_positive, not_affected, resolved"
    )
    justification: str | None = Field(default=None, max_length=60)
    responses: list[str] = Field(default_factory=list, max_length=5)
    detail: str = Field(default="", max_length=4000)
    release_id: int | None = Field(default=None, ge=1, le=ROW_ID_MAX)


class TokenCreate(_In):
    """A new API token."""

    team: str | None = Field(default=None, max_length=200)
    scopes: list[str] = Field(min_length=1, max_length=4)
    name: str = Field(default="", max_length=200)
    expires_in_days: int | None = Field(default=90, ge=1, le=3650)


class KeyCreate(_In):
    """A public key trusted for a team's bundles."""

    team: str = Field(max_length=200)
    public_key_pem: str = Field(max_length=10_000)


class SubscriptionCreate(_In):
    """A team's subscription to events over a channel configured in the server's routing file."""

    team: str | None = Field(default=None, max_length=200, description="omit (admin only) for org-wide")
    events: list[str] = Field(min_length=1, max_length=20)
    channel: str = Field(max_length=100)
    min_severity: str | None = Field(default=None, max_length=20)
    environments: list[str] = Field(default_factory=list, max_length=20)


class DeliveryRetry(_In):
    """Which dead deliveries to put back (empty: all the token may see)."""

    ids: list[Annotated[int, Field(ge=1, le=ROW_ID_MAX)]] = Field(default_factory=list, max_length=1000)
