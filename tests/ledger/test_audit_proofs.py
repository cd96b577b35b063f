"""Audit-log proofs from stored subtree hashes, on SQLite and PostgreSQL.

A log of 2,100 entries: every inclusion and consistency proof the service serves (from the
`audit_nodes` table) equals the one a few lines of independent code compute from scratch from
the entries' text, for many (seq, size) pairs including the edge sizes 1, 2, 2^k and 2^k + 1; a
proof costs a fixed number of statements that read a bounded number of rows, whatever the log's
size; a stored subtree hash edited, deleted or added behind the server's back is caught by
`verify-log`; the migration backfills an existing log.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Engine, event, text

from clearance.ledger import db
from clearance.ledger.audit import LogKey
from clearance.ledger.service import (
    AuditLogDamaged,
    Ledger,
    consistency,
    inclusion,
    rebuild_subtree_hashes,
    verify_log,
)

from .conftest import Clock, LedgerDB

N = 2100
EDGE_SIZES = sorted({1, 2, 3, *(2**k + d for k in range(1, 12) for d in (-1, 0, 1)), N - 1, N})


# --- independent code: RFC 6962 from scratch over the entries' text -----------------------------


def _h(b: bytes) -> bytes:
    return hashlib.sha256(b).digest()


class FromScratch:
    """MTH, PATH and PROOF of RFC 6962 §2.1, recursively over the leaves (no stored hashes)."""

    def __init__(self, entries: list[str]) -> None:
        self.leaves = [_h(b"\x00" + e.encode()) for e in entries]
        self.mth = lru_cache(maxsize=None)(self._mth)

    @staticmethod
    def split(n: int) -> int:
        k = 1
        while k * 2 < n:
            k *= 2
        return k

    def _mth(self, lo: int, hi: int) -> bytes:
        if hi - lo == 1:
            return self.leaves[lo]
        k = self.split(hi - lo)
        return _h(b"\x01" + self.mth(lo, lo + k) + self.mth(lo + k, hi))

    def path(self, m: int, lo: int, hi: int) -> list[bytes]:
        if hi - lo == 1:
            return []
        k = self.split(hi - lo)
        if m < k:
            return [*self.path(m, lo, lo + k), self.mth(lo + k, hi)]
        return [*self.path(m - k, lo + k, hi), self.mth(lo, lo + k)]

    def subproof(self, m: int, lo: int, hi: int, complete: bool) -> list[bytes]:
        if m == hi - lo:
            return [] if complete else [self.mth(lo, hi)]
        k = self.split(hi - lo)
        if m <= k:
            return [*self.subproof(m, lo, lo + k, complete), self.mth(lo + k, hi)]
        return [*self.subproof(m - k, lo + k, hi, False), self.mth(lo, lo + k)]


def _verify_inclusion(leaf: bytes, index: int, size: int, path: list[bytes], root: bytes) -> bool:
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = _h(b"\x01" + p + r)
            while not fn & 1 and fn:
                fn >>= 1
                sn >>= 1
        else:
            r = _h(b"\x01" + r + p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


# --- helpers ---------------------------------------------------------------------------------------


def _append(ledger: Ledger, n: int, per_transaction: int = 1000) -> None:
    done = 0
    while done < n:
        with ledger.write() as store:
            for _ in range(min(per_transaction, n - done)):
                store.append_audit("test", "note", {"i": done, "pad": "x" * (done % 7)})
                done += 1


def _entries(engine: Engine) -> list[str]:
    with engine.connect() as c:
        return list(c.execute(text("SELECT entry FROM audit_entries ORDER BY seq")).scalars())


@contextmanager
def _statements(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """Every statement sent to the database meanwhile, with its parameters."""
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, _ctx: Any, _many: bool) -> None:
        seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _rows_read(engine: Engine, statements: list[tuple[str, Any]]) -> int:
    """Rows the given SELECTs return (re-run on a fresh connection)."""
    total = 0
    with engine.connect() as c:
        for sql, params in statements:
            if sql.lstrip().upper().startswith("SELECT"):
                total += len(c.exec_driver_sql(sql, params).fetchall())
    return total


def _whole_table_reads(engine: Engine, statements: list[tuple[str, Any]]) -> list[str]:
    """Plan lines of the given SELECTs that read a whole audit table (SQLite: EXPLAIN QUERY PLAN
    says SCAN; PostgreSQL, with sequential scans priced out: a Seq Scan is then the only way)."""
    found = []
    with engine.connect() as c:
        if engine.dialect.name == "postgresql":
            c.exec_driver_sql("SET enable_seqscan = off")
        for sql, params in statements:
            if not sql.lstrip().upper().startswith("SELECT"):
                continue
            if engine.dialect.name == "sqlite":
                lines = [str(r[-1]) for r in c.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params)]
                found += [f"{line}: {sql}" for line in lines if line.startswith("SCAN audit_")]
            else:
                lines = [str(r[0]) for r in c.exec_driver_sql("EXPLAIN " + sql, params)]
                found += [f"{line}: {sql}" for line in lines if "Seq Scan on audit_" in line]
    return found


@pytest.fixture
def log2100(ledger_db: LedgerDB, tmp_path: Path) -> tuple[Ledger, LogKey, LedgerDB]:
    key = LogKey.load_or_create(tmp_path / "log.key")
    ledger = Ledger(ledger_db.engine, clock=Clock(), log_key=key)
    _append(ledger, N)
    return ledger, key, ledger_db


# --- proofs equal the ones computed from scratch ---------------------------------------------------


def test_proofs_equal_the_ones_computed_from_scratch(log2100: tuple[Ledger, LogKey, LedgerDB]) -> None:
    ledger, _key, ledger_db = log2100
    ref = FromScratch(_entries(ledger_db.engine))
    assert len(ref.leaves) == N
    rng = random.Random(6962)
    sizes = EDGE_SIZES + rng.sample(range(1, N + 1), 12)
    checked = 0
    with ledger.read() as store:
        for size in sizes:
            seqs = {0, size - 1, size // 2, (size - 1) & ~1, *(rng.randrange(size) for _ in range(3))}
            root = ref.mth(0, size)
            for seq in sorted(seqs):
                p = inclusion(store, seq, size)
                got = [bytes.fromhex(x) for x in p["proof"]]
                assert got == ref.path(seq, 0, size), (seq, size)
                assert p["root"] == root.hex() and p["leaf_hash"] == ref.leaves[seq].hex()
                assert _h(b"\x00" + p["entry"].encode()) == ref.leaves[seq]
                assert _verify_inclusion(ref.leaves[seq], seq, size, got, root)
                checked += 1
        olds = EDGE_SIZES + rng.sample(range(1, N + 1), 8)
        for old in olds:
            for new in sorted({old, old + 1, min(N, 2 * old), N, rng.randrange(old, N + 1)} - {N + 1}):
                if new > N:
                    continue
                c = consistency(store, old, new)
                want = ref.subproof(old, 0, new, True) if old < new else []
                assert [bytes.fromhex(x) for x in c["proof"]] == want, (old, new)
                assert c["old_root"] == ref.mth(0, old).hex() and c["new_root"] == ref.mth(0, new).hex()
                checked += 1
        # the defaults: the latest checkpoint's size, with its signature
        latest = inclusion(store, 1234)
        assert latest["tree_size"] == N and latest["checkpoint"]["root"] == ref.mth(0, N).hex()
        with pytest.raises(Exception, match="not in a log of 17"):
            inclusion(store, 17, 17)
        with pytest.raises(Exception, match=f"no tree of size {N + 1}"):
            inclusion(store, 0, N + 1)
        with pytest.raises(Exception, match=f"no consistency proof from 5 to {N + 1}"):
            consistency(store, 5, N + 1)
    assert checked > 400


def test_a_proof_costs_the_same_few_statements_whatever_the_size(ledger_db: LedgerDB, tmp_path: Path) -> None:
    """Statements and the rows they return, counted with SQLAlchemy events: the same for a log of
    20 entries and one of 2,100 (the old code read every leaf: 2,100 rows)."""
    key = LogKey.load_or_create(tmp_path / "log.key")
    ledger = Ledger(ledger_db.engine, clock=Clock(), log_key=key)
    engine = ledger_db.engine

    def measure(seq: int) -> tuple[int, int, int, int]:
        with ledger.read() as store, _statements(engine) as inc:
            inclusion(store, seq)
        with ledger.read() as store, _statements(engine) as con:
            consistency(store, seq + 1, store.audit_next_seq())
        # few rows returned is not enough: no statement may read a whole audit table either
        assert _whole_table_reads(engine, inc + con) == []
        return len(inc), _rows_read(engine, inc), len(con), _rows_read(engine, con)

    _append(ledger, 19)
    small = measure(5)
    _append(ledger, N - 19)
    large = measure(1234)
    assert small[0] == large[0] and small[2] == large[2], (small, large)
    assert large[0] <= 7 and large[2] <= 6, large  # BEGIN, size, checkpoint, leaves, nodes, entry, checkpoint
    # rows: the entry, a few checkpoints, and O(log n) hashes (≤ 2 log2 n + a few)
    assert large[1] <= 2 * N.bit_length() + 8 and large[3] <= 2 * N.bit_length() + 8, large
    # appending costs a bounded number of statements too, at any size
    counts = []
    for extra in range(4):  # seq 2100 … 2103: none, one, none, three subtrees completed
        with ledger.write() as store:
            with _statements(engine) as app:
                store.append_audit("test", "note", {"extra": extra})
            counts.append(len(app))
        assert _whole_table_reads(engine, app) == []
    assert max(counts) <= 6, counts


# --- verify-log: streamed, and catches a tampered stored subtree hash ------------------------------


def test_verify_log_streams_and_catches_tampered_subtree_hashes(
    log2100: tuple[Ledger, LogKey, LedgerDB],
) -> None:
    ledger, key, ledger_db = log2100
    ref = FromScratch(_entries(ledger_db.engine))
    with ledger.read() as store:
        for batch in (7, 64, 5000):
            check = verify_log(store, key.public_pem, batch=batch)
            assert check.ok, check.problems
            assert (check.entries, check.checkpoints, check.nodes) == (N, 3, N - bin(N).count("1"))
        good = inclusion(store, 33, N)
    # level 3, index 5 = entries 40–47: the sibling on the path of entries 32–39
    with ledger_db.engine.begin() as c:
        c.execute(
            text("UPDATE audit_nodes SET hash = :h WHERE level = 3 AND idx = 5"), {"h": _h(b"forged").hex()}
        )
    with ledger.read() as store:
        for batch in (7, 5000):
            check = verify_log(store, key.public_pem, batch=batch)
            assert not check.ok and check.first_bad_node == (3, 5) and check.first_bad_seq is None
            assert check.problems == [
                "the stored hash of entries 40–47 (level 3) does not match the entries (modified)"
            ]
        bad = inclusion(store, 33, N)
    root = ref.mth(0, N)
    assert _verify_inclusion(ref.leaves[33], 33, N, [bytes.fromhex(x) for x in good["proof"]], root)
    assert not _verify_inclusion(ref.leaves[33], 33, N, [bytes.fromhex(x) for x in bad["proof"]], root)
    # a deleted one: reported, and a proof that needs it is a clear server error, not a traceback
    with ledger_db.engine.begin() as c:
        c.execute(text("DELETE FROM audit_nodes WHERE level = 3 AND idx = 5"))
    with ledger.read() as store:
        check = verify_log(store, key.public_pem, batch=100)
        assert check.problems == ["the stored hash of entries 40–47 (level 3) is missing"]
        with pytest.raises(AuditLogDamaged, match="entries 40–47 is missing"):
            inclusion(store, 33, N)
    # an added one, beyond the log
    with ledger_db.engine.begin() as c:
        c.execute(
            text("INSERT INTO audit_nodes (level, idx, hash) VALUES (3, 5, :h)"), {"h": ref.mth(40, 48).hex()}
        )
        c.execute(text("INSERT INTO audit_nodes (level, idx, hash) VALUES (1, 9000, :h)"), {"h": "00" * 32})
    with ledger.read() as store:
        check = verify_log(store, key.public_pem)
        assert check.problems == [f"1 stored subtree hashes lie beyond the log's {N} entries (inserted)"]
    # rewritten from the entries' leaf hashes: the extra one gone, everything verifies again
    assert check.only_subtree_hashes
    with ledger.write() as store:
        assert rebuild_subtree_hashes(store, batch=300) == N - bin(N).count("1")
    with ledger.read() as store:
        assert verify_log(store, key.public_pem).ok
    # an edited entry among thousands: named, and the problems of each kind stay few
    with ledger_db.engine.begin() as c:
        c.execute(text("DELETE FROM audit_nodes WHERE level = 1 AND idx = 9000"))
        c.execute(text("UPDATE audit_entries SET entry = entry || ' ' WHERE seq >= 1600"))
    with ledger.read() as store:
        check = verify_log(store, key.public_pem, batch=256)
    assert check.first_bad_seq == 1600 and len(check.problems) <= 3 * 11
    assert "… and 490 more: modified entries" in check.problems and not check.only_subtree_hashes


# --- the migration backfills an existing log -------------------------------------------------------


def _old_log(engine: Engine, n: int) -> list[str]:
    """A log written before subtree hashes were stored (the schema at rollup_0005)."""
    entries = [
        f'{{"action":"note","actor":"test","at":"2026-11-01T09:00:00+00:00","data":{{"i":{i}}},"seq":{i}}}'
        for i in range(n)
    ]
    with engine.begin() as c:
        c.execute(
            text(
                "INSERT INTO audit_entries (seq, at, actor, action, entry, leaf_hash)"
                " VALUES (:seq, '2026-11-01 09:00:00+00:00', 'test', 'note', :entry, :leaf)"
            ),
            [{"seq": i, "entry": e, "leaf": _h(b"\x00" + e.encode()).hex()} for i, e in enumerate(entries)],
        )
    return entries


@pytest.mark.parametrize("gap", [None, 600])
def test_the_migration_backfills_the_subtree_hashes(empty_db: tuple[str, str], gap: int | None) -> None:
    _kind, url = empty_db
    engine = db.create_engine(url)
    with engine.begin() as c:
        command.upgrade(db.alembic_config(c), "rollup_0005")
    entries = _old_log(engine, 1500)
    if gap is not None:
        with engine.begin() as c:
            c.execute(text("DELETE FROM audit_entries WHERE seq = :s"), {"s": gap})
    assert db.migrate(engine) == db.head_revision()
    ref = FromScratch(entries)
    with engine.connect() as c:
        stored = {(lv, i): h for lv, i, h in c.execute(text("SELECT level, idx, hash FROM audit_nodes"))}
    intact = gap if gap is not None else len(entries)
    want = {
        (lv, i): ref.mth(i << lv, (i + 1) << lv).hex()
        for lv in range(1, intact.bit_length())
        for i in range(intact >> lv)
    }
    assert stored == want
    ledger = Ledger(engine, clock=Clock())
    with ledger.read() as store:
        if gap is None:
            assert verify_log(store).ok
            p = inclusion(store, 777)
            assert [bytes.fromhex(x) for x in p["proof"]] == ref.path(777, 0, 1500)
        else:
            check = verify_log(store)
            assert (
                check.first_bad_seq == gap
                and "entry 600 is missing (deleted); the log jumps to 601" in check.problems
            )
    engine.dispose()
