"""Constants and builders shared by the deps scanner tests (imported by name, unlike conftest)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from clearance.model import Component, Location, Scope

OSV = Path(__file__).resolve().parents[2] / "fixtures" / "deps" / "osv"
PROJECTS = Path(__file__).resolve().parents[2] / "fixtures" / "deps" / "projects"
IMPORTED_AT = dt.datetime(2026, 11, 20, 8, 0, 0, tzinfo=dt.UTC)


def component(
    ecosystem: str,
    name: str,
    version: str,
    *,
    path: str = "requirements.txt",
    line: int = 1,
    direct: bool | None = True,
    scope: Scope = Scope.RUNTIME,
    pinned: bool = True,
) -> Component:
    """A hand-made component as a lockfile parser would produce it."""
    return Component(
        ecosystem=ecosystem,
        name=name,
        version=version,
        purl=f"pkg:generic/{name}@{version}",
        location=Location(path=path, start_line=line, end_line=line),
        direct=direct,
        scope=scope,
        pinned=pinned,
    )
