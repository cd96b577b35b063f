"""rollup: each deployment's lead time (first commit → end) stored on its row, backfilled;
a covering index for the org-wide SLA reads of findings

Revision ID: rollup_0005
Revises: ledger_0004
Create Date: 2026-12-06 10:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "rollup_0005"
down_revision: str | None = "ledger_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The same arithmetic as `tables.refresh_lead_times` (a migration does not import the live
# models: they move on, this file must not), as one grouped join (UPDATE … FROM: SQLite ≥ 3.33).
_FIRST_COMMIT = (
    "(SELECT deployment_changes.deployment_id AS deployment_id,"
    " min(changes.committed_at) AS first_commit"
    " FROM deployment_changes JOIN changes ON changes.id = deployment_changes.change_id"
    " GROUP BY deployment_changes.deployment_id) AS fc"
)
_FINISHED = "coalesce(deployments.finished_at, deployments.started_at)"
_SLA_COVER = (
    "status",
    "due_at",
    "severity",
    "owner_team_id",
    "service_id",
    "excepted_until",
    "analysis_state",
    "first_seen",
    "fixed_at",
)


def upgrade() -> None:
    with op.batch_alter_table("deployments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lead_time_s", sa.Float(), nullable=True))
    if op.get_bind().dialect.name == "sqlite":
        seconds = f"(julianday({_FINISHED}) - julianday(fc.first_commit)) * 86400.0"
    else:
        seconds = f"extract(epoch from {_FINISHED} - fc.first_commit)"
    op.execute(
        f"UPDATE deployments SET lead_time_s = {seconds} FROM {_FIRST_COMMIT}"
        " WHERE deployments.id = fc.deployment_id"
    )
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.create_index("ix_findings_status_due_at_covering", list(_SLA_COVER), unique=False)


def downgrade() -> None:
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.drop_index("ix_findings_status_due_at_covering")
    with op.batch_alter_table("deployments", schema=None) as batch_op:
        batch_op.drop_column("lead_time_s")
