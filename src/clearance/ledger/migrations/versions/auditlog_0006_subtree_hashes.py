"""auditlog: the hashes of the audit log's complete subtrees (`audit_nodes`), so inclusion and
consistency proofs read O(log n) stored hashes instead of every leaf; backfilled from the
stored leaf hashes of an existing log

Revision ID: auditlog_0006
Revises: rollup_0005
Create Date: 2026-12-06 12:20:00
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "auditlog_0006"
down_revision: str | None = "rollup_0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 5000
"""Leaves read (and subtree hashes written) per statement: memory stays O(batch + log n)."""

_entries = sa.table("audit_entries", sa.column("seq", sa.Integer()), sa.column("leaf_hash", sa.String()))
_nodes = sa.table(
    "audit_nodes",
    sa.column("level", sa.Integer()),
    sa.column("idx", sa.Integer()),
    sa.column("hash", sa.String()),
)


def upgrade() -> None:
    op.create_table(
        "audit_nodes",
        sa.Column("level", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("idx", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("level", "idx", name=op.f("pk_audit_nodes")),
    )
    _backfill(op.get_bind())


def _backfill(conn: sa.Connection) -> None:
    """Every perfect subtree of the existing log, built from the stored leaf hashes in seq order
    (RFC 6962: node = SHA-256(0x01 ‖ left ‖ right); the same hashes the proofs used to compute
    from all leaves). Spelled out here rather than imported: a migration must not change when the
    live code does. A log with a gap in its seqs (entries deleted) gets the subtrees of its intact
    prefix only (likewise below an unreadable stored leaf hash); `verify-log` reports the rest."""
    stack: list[tuple[int, bytes]] = []  # the compact range: (level, hash)
    size, after = 0, -1
    while True:
        rows = conn.execute(
            sa.select(_entries.c.seq, _entries.c.leaf_hash)
            .where(_entries.c.seq > after)
            .order_by(_entries.c.seq)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        out: list[dict[str, object]] = []
        for seq, leaf_hex in rows:
            try:
                h, level = bytes.fromhex(leaf_hex), 0
            except (TypeError, ValueError):
                break  # an unreadable stored leaf hash: nothing above it can be built
            if seq != size or len(h) != 32:
                break
            while stack and stack[-1][0] == level:
                h = hashlib.sha256(b"\x01" + stack.pop()[1] + h).digest()
                level += 1
                out.append({"level": level, "idx": seq >> level, "hash": h.hex()})
            stack.append((level, h))
            size += 1
        if out:
            conn.execute(sa.insert(_nodes), out)
        if size != rows[-1][0] + 1:
            return  # stopped at a gap or a bad leaf hash
        after = rows[-1][0]


def downgrade() -> None:
    op.drop_table("audit_nodes")
