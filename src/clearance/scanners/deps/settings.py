"""`[deps]` settings: the advisory database and reachability inputs."""

from __future__ import annotations

from pydantic import Field

from clearance.scanners.base import ScannerSettings


class DepsSettings(ScannerSettings):
    """`[deps]`: advisory database location and freshness, reachability inputs."""

    db_dir: str | None = None
    max_db_age_days: int = Field(default=7, ge=1)
    python_env: str | None = None
    epss_threshold: float = Field(default=0.1, ge=0.0, le=1.0)
    accept_missing_ecosystems: list[str] = Field(default_factory=list)
    """Ecosystems (e.g. "npm", or "*" for all) whose components may go unchecked when the advisory
    database has no data for them: a warning instead of an incomplete scan."""
