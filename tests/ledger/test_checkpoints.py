"""Audit checkpoints are signed incrementally: each stores the compact range (RFC 6962 frontier)
of its tree and the next one extends it with the new entries only — same roots as recomputing the
whole log, and verify-log still catches an edited entry."""

from __future__ import annotations

import hashlib
from pathlib import Path

from sqlalchemy import select, update

from clearance.ledger import audit
from clearance.ledger.audit import LogKey
from clearance.ledger.service import Ledger, sign_checkpoint, verify_log
from clearance.ledger.tables import AuditEntry, Checkpoint

from .conftest import Clock, LedgerDB


def test_compact_range_roots_equal_the_full_tree_hash() -> None:
    leaves = [audit.leaf_hash(str(i).encode()) for i in range(70)]
    frontier: list[bytes] = []
    size = 0
    for step in (1, 1, 2, 3, 5, 8, 13, 0, 21, 16):
        frontier = audit.extend_frontier(size, frontier, leaves[size : size + step])
        size += step
        assert len(frontier) == bin(size).count("1")
        assert audit.frontier_root(frontier) == audit.root(leaves[:size])
    assert audit.frontier_root([]) == audit.root([]) == hashlib.sha256(b"").digest()


def _ledger(ledger_db: LedgerDB, tmp_path: Path) -> tuple[Ledger, LogKey]:
    key = LogKey.load_or_create(tmp_path / "log.key")
    return Ledger(ledger_db.engine, clock=Clock(), log_key=key), key


def _append(ledger: Ledger, n: int) -> None:
    for i in range(n):
        with ledger.write() as store:
            store.append_audit("test", "note", {"i": i})


def test_each_checkpoint_extends_the_previous_one(ledger_db: LedgerDB, tmp_path: Path) -> None:
    ledger, key = _ledger(ledger_db, tmp_path)
    _append(ledger, 11)
    with ledger.read() as store:
        leaves = [bytes.fromhex(h) for rows in store.audit_leaf_batches(0, 10_000) for _, h in rows]
        checkpoints = [c for rows in store.checkpoint_batches(10_000) for c in rows]
    assert [c.size for c in checkpoints] == list(range(1, 12))
    for c in checkpoints:
        assert c.root_hash == audit.root(leaves[: c.size]).hex()
        assert audit.verify_checkpoint(
            audit.load_public_key(key.public_pem), c.size, bytes.fromhex(c.root_hash), c.signature
        )
        assert c.frontier is not None
    with ledger.read() as store:
        assert verify_log(store, key.public_pem).ok


def test_the_next_checkpoint_reads_only_the_new_entries(ledger_db: LedgerDB, tmp_path: Path) -> None:
    """An entry rewritten behind the log's back (leaf hash and all) does not leak into the next
    checkpoint — it extends the signed range — and verify-log names the entry."""
    ledger, key = _ledger(ledger_db, tmp_path)
    _append(ledger, 6)
    with ledger.read() as store:
        honest = [bytes.fromhex(h) for rows in store.audit_leaf_batches(0, 10_000) for _, h in rows]
    forged = audit.canonical({"seq": 2, "forged": True})
    with ledger_db.session() as s, s.begin():
        s.execute(
            update(AuditEntry)
            .where(AuditEntry.seq == 2)
            .values(entry=forged.decode(), leaf_hash=audit.leaf_hash(forged).hex())
        )
    _append(ledger, 3)
    with ledger.read() as store:
        new = [bytes.fromhex(h) for rows in store.audit_leaf_batches(6, 10_000) for _, h in rows]
        latest = store.latest_checkpoint()
        check = verify_log(store, key.public_pem)
    assert latest is not None and latest.size == 9
    assert latest.root_hash == audit.root(honest + new).hex()  # built on the signed range
    assert not check.ok and check.first_bad_seq is not None and check.first_bad_seq <= 2


def test_a_checkpoint_without_a_range_is_recomputed_once(ledger_db: LedgerDB, tmp_path: Path) -> None:
    """Checkpoints signed before ranges were stored (or with a range that does not hash to the signed
    root) make the next signing read the whole log once."""
    ledger, key = _ledger(ledger_db, tmp_path)
    _append(ledger, 5)
    with ledger_db.session() as s, s.begin():
        s.execute(update(Checkpoint).values(frontier=None))
        s.execute(update(Checkpoint).where(Checkpoint.size == 4).values(frontier='["00"]'))
    _append(ledger, 2)
    with ledger.write() as store:
        size, root = sign_checkpoint(store, key)
        leaves = [bytes.fromhex(h) for rows in store.audit_leaf_batches(0, 10_000) for _, h in rows]
    assert size == 7 and root == audit.root(leaves).hex()
    with ledger_db.session() as s:
        latest = s.scalars(select(Checkpoint).order_by(Checkpoint.size.desc())).first()
    assert latest is not None and latest.frontier is not None and latest.size == 7
    with ledger.read() as store:
        assert verify_log(store, key.public_pem).ok
