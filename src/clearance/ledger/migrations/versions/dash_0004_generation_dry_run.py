"""dashboard: the ledger's write generation (metrics cache key), dry-run deploy decisions,
indexes for the dashboard's queries

Revision ID: dash_0004
Revises: deploy_0003
Create Date: 2026-12-06 09:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "dash_0004"
down_revision: str | None = "deploy_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    state = op.create_table(
        "ledger_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_state")),
    )
    op.bulk_insert(state, [{"id": 1, "generation": 0}])
    # repeat offenders join findings to earlier findings of the same service and rule: by rule
    # alone (a CVE id repeats across thousands of services) PostgreSQL probed 10,000 rows per finding
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.create_index("ix_findings_service_id_rule_id", ["service_id", "rule_id"], unique=False)
        # secrets leaked (a rare kind, by first seen) and repeat offenders (few reopened findings)
        # read a handful of index entries instead of every finding
        batch_op.create_index("ix_findings_kind_first_seen", ["kind", "first_seen"], unique=False)
        batch_op.create_index("ix_findings_reopen_count", ["reopen_count"], unique=False)
    with op.batch_alter_table("gate_decisions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dry_run", sa.Boolean(), nullable=False, server_default=sa.false()))
        # covering for the metrics' decisions by answer (dry runs left out), and for approval waits
        batch_op.drop_index("ix_gate_decisions_answer_decided_at")
        batch_op.create_index(
            "ix_gate_decisions_answer_decided_at",
            ["answer", "decided_at", "service_id", "dry_run"],
            unique=False,
        )
        batch_op.create_index(
            "ix_gate_decisions_release_id_environment_id",
            ["release_id", "environment_id", "answer", "decided_at"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("gate_decisions", schema=None) as batch_op:
        batch_op.drop_index("ix_gate_decisions_release_id_environment_id")
        batch_op.drop_index("ix_gate_decisions_answer_decided_at")
        batch_op.create_index(
            "ix_gate_decisions_answer_decided_at", ["answer", "decided_at", "service_id"], unique=False
        )
        batch_op.drop_column("dry_run")
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.drop_index("ix_findings_reopen_count")
        batch_op.drop_index("ix_findings_kind_first_seen")
        batch_op.drop_index("ix_findings_service_id_rule_id")
    op.drop_table("ledger_state")
