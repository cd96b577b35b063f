"""An installed OS package as the package databases describe it (before it becomes a Component)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class OsPackage:
    """One installed package: binary name and version, architecture, and its source package."""

    name: str
    version: str
    arch: str = ""
    source_name: str = ""
    source_version: str = ""
    epoch: str = ""
    """rpm only (dpkg keeps the epoch inside the version string)."""
    line: int | None = None
    """1-based line of the package's record in a text database."""
