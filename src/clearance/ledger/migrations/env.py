"""Alembic environment for the ledger. Run through `clearance.ledger.db.migrate` (which passes the
connection in `config.attributes`) or `clearance ledger migrate`; never reads alembic.ini."""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from sqlalchemy import MetaData

from clearance.ledger.tables import Base

target_metadata: MetaData = Base.metadata


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | Literal[False]:
    """Render the ledger's UTC timestamp type as a plain timezone-aware DateTime in migrations."""
    from clearance.ledger.tables import UtcDateTime

    if type_ == "type" and isinstance(obj, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run_migrations_online() -> None:
    """Migrate over the connection handed in by the caller."""
    connection = context.config.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_item=render_item,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
