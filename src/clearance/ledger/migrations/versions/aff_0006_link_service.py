"""aff: each release–component link carries its release's service (`service_id`, backfilled, kept
equal by a composite foreign key to a unique index of `releases (id, service_id)`); the covering index for
`affected` becomes (component, service, release), so releases per (service, component) are
counted from the index alone

Revision ID: aff_0006
Revises: auditlog_0006
Create Date: 2026-12-06 12:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "aff_0006"
down_revision: str | None = "auditlog_0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # a unique index, not a constraint: on SQLite a new constraint rebuilds `releases`, and
    # dropping the old table cascades to every release_components row
    op.create_index("ix_releases_id_service_id", "releases", ["id", "service_id"], unique=True)
    with op.batch_alter_table("release_components", schema=None) as batch_op:
        batch_op.add_column(sa.Column("service_id", sa.Integer(), nullable=True))
    op.execute(
        "UPDATE release_components SET service_id = releases.service_id FROM releases"
        " WHERE releases.id = release_components.release_id"
    )
    with op.batch_alter_table("release_components", schema=None) as batch_op:
        batch_op.alter_column("service_id", existing_type=sa.Integer(), nullable=False)
        batch_op.drop_constraint("fk_release_components_release_id_releases", type_="foreignkey")
        batch_op.create_foreign_key(
            "fk_release_components_release_id_releases",
            "releases",
            ["release_id", "service_id"],
            ["id", "service_id"],
            ondelete="CASCADE",
        )
        batch_op.create_index(
            "ix_release_components_component_id_service_id_release_id",
            ["component_id", "service_id", "release_id"],
            unique=False,
        )
        batch_op.drop_index("ix_release_components_component_id_release_id")


def downgrade() -> None:
    with op.batch_alter_table("release_components", schema=None) as batch_op:
        batch_op.create_index(
            "ix_release_components_component_id_release_id", ["component_id", "release_id"], unique=False
        )
        batch_op.drop_index("ix_release_components_component_id_service_id_release_id")
        batch_op.drop_constraint("fk_release_components_release_id_releases", type_="foreignkey")
        batch_op.create_foreign_key(
            "fk_release_components_release_id_releases",
            "releases",
            ["release_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.drop_column("service_id")
    op.drop_index("ix_releases_id_service_id", table_name="releases")
