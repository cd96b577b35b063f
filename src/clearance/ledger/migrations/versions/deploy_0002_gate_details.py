"""deploy gate details: approver groups, drift status, decision checks and requester

Revision ID: deploy_0002
Revises: 0001
Create Date: 2026-12-06 07:05:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "deploy_0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("approvals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("approver_groups", sa.JSON(), nullable=False, server_default="[]"))
    with op.batch_alter_table("drift_reports", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("status", sa.String(length=20), nullable=False, server_default="drifted")
        )
        batch_op.add_column(sa.Column("detail", sa.Text(), nullable=False, server_default=""))
    with op.batch_alter_table("gate_decisions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("environment_name", sa.String(length=100), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("requester", sa.String(length=200), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("checks", sa.JSON(), nullable=False, server_default="[]"))
        batch_op.add_column(sa.Column("auto_approved_by", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("source", sa.String(length=30), nullable=False, server_default="api"))
        batch_op.create_index("ix_gate_decisions_decided_at", ["decided_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("gate_decisions", schema=None) as batch_op:
        batch_op.drop_index("ix_gate_decisions_decided_at")
        for name in ("source", "auto_approved_by", "checks", "requester", "environment_name"):
            batch_op.drop_column(name)
    with op.batch_alter_table("drift_reports", schema=None) as batch_op:
        batch_op.drop_column("detail")
        batch_op.drop_column("status")
    with op.batch_alter_table("approvals", schema=None) as batch_op:
        batch_op.drop_column("approver_groups")
