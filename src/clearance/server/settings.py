"""Server settings (validated; built by the CLI or tests and passed to `create_app`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from clearance.ledger.ingest import Limits


def default_key_path() -> Path:
    """Where the checkpoint signing key lives by default (beside the embedded database)."""
    import platformdirs

    return Path(platformdirs.user_data_dir("clearance")) / "ledger-log.key"


class ServerSettings(BaseModel):
    """What the server needs: the database, the checkpoint key, the advisory store, the limits."""

    model_config = ConfigDict(frozen=True)

    db_url: str | None = None
    """`sqlite:///…` or `postgresql+psycopg://…`; None: `$CLEARANCE_LEDGER_DB` or the default file."""
    log_key_path: Path = Field(default_factory=default_key_path)
    session_key_path: Path | None = None
    """The dashboard's session-signing key file; None: `dashboard-session.key` beside the log key
    (created once, mode 0600; docs/dashboard.md has the rotation steps)."""
    advisory_db_dir: Path | None = None
    """Advisory store directory for matching releases (None: no server-side matching)."""
    max_request_bytes: int = 48 * 1024 * 1024
    max_report_bytes: int = 64 * 1024 * 1024
    max_bundle_bytes: int = 32 * 1024 * 1024
    max_unpacked_bytes: int = 128 * 1024 * 1024
    allow_service_creation: bool = True
    """A team's ingest token may create an unknown service (owned by its team) on first push."""
    routing_path: Path | None = None
    """The routing file (channels and subscriptions, docs/notifications.md); None: no routing."""
    run_worker: bool = False
    """Deliver the outbox from a thread inside the server (for a server that runs alone)."""
    worker_interval_s: float = Field(default=10.0, ge=0.5, le=3600)
    link_base: str = ""
    """The dashboard's public URL, for links in messages and tickets."""
    migrate: bool = True
    """Upgrade the schema when the app starts."""
    deploy_policy_path: Path | None = None
    """The deploy policy file (YAML or TOML, docs/deploy.md); None: the built-in default."""

    def session_keys_file(self) -> Path:
        """Where the dashboard's session keys are."""
        return self.session_key_path or self.log_key_path.parent / "dashboard-session.key"

    def limits(self) -> Limits:
        """Ingest limits."""
        return Limits(
            max_report_bytes=self.max_report_bytes,
            max_bundle_bytes=self.max_bundle_bytes,
            max_unpacked_bytes=self.max_unpacked_bytes,
        )
