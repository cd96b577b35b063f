"""ledger: checkpoints keep the compact range of their tree (incremental signing); a covering
index of release_components by (component, release) for `affected` replaces the one on component
alone; findings indexed by VEX state

Revision ID: ledger_0004
Revises: dash_0004
Create Date: 2026-12-06 09:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "ledger_0004"
down_revision: str | None = "dash_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("checkpoints", schema=None) as batch_op:
        batch_op.add_column(sa.Column("frontier", sa.Text(), nullable=True))
    with op.batch_alter_table("release_components", schema=None) as batch_op:
        batch_op.create_index(
            "ix_release_components_component_id_release_id", ["component_id", "release_id"], unique=False
        )
        batch_op.drop_index("ix_release_components_component_id")
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.create_index("ix_findings_analysis_state", ["analysis_state"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.drop_index("ix_findings_analysis_state")
    with op.batch_alter_table("release_components", schema=None) as batch_op:
        batch_op.create_index("ix_release_components_component_id", ["component_id"], unique=False)
        batch_op.drop_index("ix_release_components_component_id_release_id")
    with op.batch_alter_table("checkpoints", schema=None) as batch_op:
        batch_op.drop_column("frontier")
