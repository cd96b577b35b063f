"""The ledger as one object the server and the CLI share: units of work (one transaction each,
with the audit checkpoint signed inside it), tokens, and the audit-log checks and proofs."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from clearance.errors import LedgerError
from clearance.ledger import audit, db, snapshots
from clearance.ledger.audit import LogKey
from clearance.ledger.matching import AdvisoryMatcher
from clearance.ledger.store import Store, TokenInfo
from clearance.ledger.tables import Checkpoint

Clock = Callable[[], dt.datetime]
SCOPES = ("ingest", "read", "deploy", "admin")
TOKEN_PREFIX = "clr_"


def system_clock() -> dt.datetime:
    """The real time, UTC (the only place the ledger reads the system clock)."""
    return dt.datetime.now(dt.UTC)


class Unauthorized(LedgerError):
    """No usable token (401)."""

    status_code = 401


class Ledger:
    """Engine + clock + checkpoint key + advisory matcher."""

    def __init__(
        self,
        engine: Engine,
        *,
        clock: Clock = system_clock,
        log_key: LogKey | None = None,
        matcher: Callable[[], AdvisoryMatcher | None] | None = None,
        after_change: Callable[[Session, dt.datetime], object] | None = None,
    ) -> None:
        self.engine = engine
        self.sessions: sessionmaker[Session] = db.session_factory(engine)
        self.clock = clock
        self.log_key = log_key
        self.matcher = matcher
        self.metrics_cache = snapshots.MetricsCache()
        """Org-wide metric results by write generation and minute (the dashboard and the API)."""
        self.after_change = after_change
        """Called inside every write transaction before it commits (routing writes its outbox rows
        there, so a state change and its notifications commit together). Injected by the server."""

    @contextmanager
    def write(self, *, bump: bool = True) -> Iterator[Store]:
        """One transaction that may change state; a checkpoint over the audit log is signed in it
        when entries were appended, and the write generation is bumped (cached metrics are
        recomputed on the next read, see `snapshots`). `bump=False` only for a unit of work that
        writes nothing a metric reads: the notification worker's pass (outbox rows, cursors,
        escalations, tickets), which runs every few seconds and would otherwise keep the cache
        cold."""
        with db.transaction(self.sessions) as session:
            store = Store(session, self.clock())
            before = store.audit_next_seq()
            yield store
            if self.after_change is not None:
                self.after_change(session, store.now)
            if self.log_key is not None and store.audit_next_seq() != before:
                sign_checkpoint(store, self.log_key)
            if bump:  # last: on PostgreSQL the row lock it takes is held only until the commit
                snapshots.bump(session)

    @contextmanager
    def read(self) -> Iterator[Store]:
        """A read-only unit of work."""
        with self.sessions() as session:
            yield Store(session, self.clock())

    @contextmanager
    def advisory_matcher(self) -> Iterator[AdvisoryMatcher | None]:
        """The advisory matcher, if an advisory store is available (closed afterwards)."""
        m = self.matcher() if self.matcher is not None else None
        try:
            yield m
        finally:
            if m is not None:
                m.close()


# --- tokens ----------------------------------------------------------------------------------------


def hash_token(secret: str) -> str:
    """SHA-256 of a token (tokens are random 256-bit strings: a fast hash is enough)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def create_token(
    store: Store,
    *,
    team: str | None,
    scopes: Sequence[str],
    name: str = "",
    expires_in_days: int | None = 90,
    actor: str = "cli",
) -> tuple[str, TokenInfo]:
    """A new token: returns the secret (shown once, never stored) and what is stored."""
    bad = sorted(set(scopes) - set(SCOPES))
    if bad or not scopes:
        raise LedgerError(
            f"unknown scope(s) {', '.join(bad) or '(none)'}", hint=f"choose from {', '.join(SCOPES)}"
        )
    if team is None and "admin" not in scopes:
        raise LedgerError("a token without --team must have the admin scope")
    team_row = store.ensure_team(team) if team else None
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires = store.now + dt.timedelta(days=expires_in_days) if expires_in_days else None
    row = store.add_token(
        token_hash=hash_token(secret),
        prefix=secret[:12],
        name=name,
        team=team_row,
        scopes=scopes,
        expires_at=expires,
    )
    store.append_audit(
        actor,
        "token.created",
        {
            "token_id": row.id,
            "prefix": row.prefix,
            "team": team_row.name if team_row else None,
            "scopes": sorted(scopes),
        },
    )
    info = store.token_by_hash(row.token_hash)
    assert info is not None
    return secret, info


def authenticate(store: Store, secret: str | None) -> TokenInfo:
    """The valid token for `secret`, or `Unauthorized`."""
    if not secret:
        raise Unauthorized("missing bearer token", hint="send Authorization: Bearer <token>")
    info = store.token_by_hash(hash_token(secret))
    if info is None:
        raise Unauthorized("unknown token")
    if info.revoked_at is not None:
        raise Unauthorized("token revoked")
    if info.expires_at is not None and info.expires_at <= store.now:
        raise Unauthorized("token expired")
    return info


def revoke_token(store: Store, token_id: int, actor: str) -> TokenInfo:
    """Revoke a token and log it."""
    info = store.revoke_token(token_id)
    if info is None:
        raise LedgerError(f"no token with id {token_id}")
    store.append_audit(actor, "token.revoked", {"token_id": token_id, "prefix": info.prefix})
    return info


# --- audit log ------------------------------------------------------------------------------------


LOG_BATCH = 5000
"""Entries (and checkpoints) read per statement when the whole log is streamed: `verify-log`, and
signing without a usable compact range. Memory stays O(batch + log n) whatever the log's size."""


class AuditLogDamaged(LedgerError):
    """A proof needs a stored hash that is missing or unreadable (500: the server's data, not the
    request, is at fault; `verify-log` says what)."""

    status_code = 500


def sign_checkpoint(store: Store, key: LogKey) -> tuple[int, str]:
    """Sign (size, root) of the whole log now; returns them. Incremental: the latest checkpoint's
    compact range is extended with the entries appended since (O(new entries · log n)); the whole
    log is streamed only when there is no usable range (a checkpoint from before ranges were
    stored, or one whose range does not hash to its signed root). The range comes from the
    signed checkpoint, not from `audit_nodes`: a tampered stored subtree hash is never signed."""
    latest = store.latest_checkpoint()
    start, frontier = _usable_frontier(latest)
    extended = _extend(store, start, frontier, contiguous=True)
    if extended is None:  # a gap after the range: recompute from scratch, by position
        extended = _extend(store, 0, [], contiguous=False)
        assert extended is not None
    size, frontier = extended
    root = audit.frontier_root(frontier)
    if latest is None or latest.size != size:
        store.add_checkpoint(
            size, root.hex(), key.key_id, key.sign(size, root), frontier=[h.hex() for h in frontier]
        )
    return size, root.hex()


def _extend(
    store: Store, start: int, frontier: list[bytes], *, contiguous: bool
) -> tuple[int, list[bytes]] | None:
    """The compact range extended with every entry from `start` on, streamed; None when
    `contiguous` and the seqs jump (an entry deleted)."""
    size = start
    for rows in store.audit_leaf_batches(start, LOG_BATCH):
        if contiguous and any(seq != size + i for i, (seq, _) in enumerate(rows)):
            return None
        frontier = audit.extend_frontier(size, frontier, [bytes.fromhex(h) for _, h in rows])
        size += len(rows)
    return size, frontier


def _usable_frontier(cp: Checkpoint | None) -> tuple[int, list[bytes]]:
    """(size, compact range) to continue from: the checkpoint's when it is consistent with its
    signed root, else (0, []) — recompute everything."""
    if cp is None or not cp.frontier:
        return 0, []
    try:
        hashes = [bytes.fromhex(h) for h in json.loads(cp.frontier)]
    except (ValueError, TypeError):
        return 0, []
    if len(hashes) != bin(cp.size).count("1") or audit.frontier_root(hashes).hex() != cp.root_hash:
        return 0, []
    return cp.size, hashes


MAX_REPORTED = 10
"""Problems of one kind spelled out by `verify-log`; the rest are counted."""
NODE_PROBLEMS = "stored subtree hashes"
"""The kind of problem that damages proofs but not the log (see `rebuild_subtree_hashes`)."""


@dataclass
class LogCheck:
    """What `verify-log` found."""

    entries: int = 0
    checkpoints: int = 0
    nodes: int = 0
    problems: list[str] = field(default_factory=list)
    first_bad_seq: int | None = None
    first_bad_node: tuple[int, int] | None = None
    """(level, index) of the first stored subtree hash that does not match the entries."""
    more: dict[str, int] = field(default_factory=dict)
    """Problems of each kind beyond the first `MAX_REPORTED`, counted."""

    @property
    def ok(self) -> bool:
        """True when nothing failed."""
        return not self.problems

    @property
    def only_subtree_hashes(self) -> bool:
        """True when the entries and checkpoints verify and only stored subtree hashes do not."""
        return not self.ok and set(self.more) == {NODE_PROBLEMS}

    def report(self, kind: str, message: str) -> None:
        """Record a problem; beyond MAX_REPORTED of one kind only count it."""
        n = self.more.get(kind, 0) + 1
        self.more[kind] = n
        if n <= MAX_REPORTED:
            self.problems.append(message)

    def finish(self) -> None:
        """Append the counts of the problems not spelled out."""
        for kind, n in self.more.items():
            if n > MAX_REPORTED:
                self.problems.append(f"… and {n - MAX_REPORTED} more: {kind}")

    def as_json(self) -> dict[str, Any]:
        """Plain JSON."""
        return {
            "ok": self.ok,
            "entries": self.entries,
            "checkpoints": self.checkpoints,
            "nodes": self.nodes,
            "first_bad_seq": self.first_bad_seq,
            "first_bad_node": list(self.first_bad_node) if self.first_bad_node else None,
            "problems": self.problems,
        }


def verify_log(store: Store, public_pem: str | None = None, *, batch: int = LOG_BATCH) -> LogCheck:
    """Recompute every leaf from its entry, every signed checkpoint's root and every stored subtree
    hash from those leaves; name the first entry that no longer matches. `public_pem`: the
    server's checkpoint key (trust anchor). Streams the log `batch` entries at a time (memory
    O(batch + log n)); checkpoints are met in size order as the tree grows."""
    check = LogCheck()
    public = audit.load_public_key(public_pem) if public_pem else None
    tree = audit.TreeBuilder()
    cps = (c for rows in store.checkpoint_batches(batch) for c in rows)
    pending = next(cps, None)
    last_ok = 0  # the largest checkpoint the recomputed log still matches

    def bad(seq: int, kind: str, message: str) -> None:
        check.report(kind, message)
        if check.first_bad_seq is None or seq < check.first_bad_seq:
            check.first_bad_seq = seq

    def checkpoint(cp: Checkpoint) -> None:
        nonlocal last_ok
        check.checkpoints += 1
        try:
            signed_root = bytes.fromhex(cp.root_hash)
        except ValueError:
            signed_root = b""  # not a hash: its signature cannot verify, nor its root match
        if public is not None and not audit.verify_checkpoint(public, cp.size, signed_root, cp.signature):
            check.report(
                "invalid checkpoint signatures", f"checkpoint of size {cp.size} has an invalid signature"
            )
        elif cp.size > tree.size:
            bad(
                tree.size,
                "checkpoints beyond the end of the log",
                f"checkpoint signed {cp.size} entries but the log holds {tree.size} (entries deleted)",
            )
        elif tree.root().hex() != cp.root_hash:
            # the entries up to the last matching checkpoint are intact; a modified entry found
            # after it is the better answer
            seen = check.first_bad_seq
            first = seen if seen is not None and seen >= last_ok else last_ok
            bad(
                first,
                "checkpoints that no longer match",
                f"the log no longer matches the checkpoint of size {cp.size}; first entry that differs: {first}",
            )
        else:
            last_ok = cp.size

    for rows in store.audit_entry_batches(batch):
        lo = tree.size
        computed: dict[audit.Node, bytes] = {}
        for seq, text_, stored_leaf, actor, action, at in rows:
            expected = tree.size
            if seq != expected and check.more.get("missing entries", 0) == 0:
                bad(
                    expected,
                    "missing entries",
                    f"entry {expected} is missing (deleted); the log jumps to {seq}",
                )
            body = text_.encode()
            leaf = audit.leaf_hash(body)
            try:
                parsed = json.loads(body)
                canonical_ok = audit.canonical(parsed) == body and parsed.get("seq") == seq
            except (ValueError, RecursionError):
                canonical_ok = False
            if leaf.hex() != stored_leaf or not canonical_ok:
                bad(seq, "modified entries", f"entry {seq} does not match its leaf hash (modified)")
            else:
                for column in _shown_columns_differing(actor, action, at, parsed):
                    bad(
                        seq,
                        "modified entries",
                        f"entry {seq}: its {column} column differs from the signed entry (modified)",
                    )
            computed.update(tree.push(leaf))
            while pending is not None and pending.size <= tree.size:
                checkpoint(pending)
                pending = next(cps, None)
        check.entries = tree.size
        _check_nodes(check, computed, store.audit_nodes_completed(lo, tree.size))
    while pending is not None:
        checkpoint(pending)
        pending = next(cps, None)
    expected_nodes = tree.size - bin(tree.size).count("1")
    extra = store.audit_node_count() - check.nodes
    if check.nodes == expected_nodes and extra > 0:
        check.report(
            NODE_PROBLEMS,
            f"{extra} stored subtree hashes lie beyond the log's {tree.size} entries (inserted)",
        )
    check.finish()
    return check


def _shown_columns_differing(actor: str, action: str, at: dt.datetime, parsed: dict[str, Any]) -> list[str]:
    """The columns kept beside the entry for listing (the dashboard's audit page shows them) that
    no longer say what the signed entry says."""
    differ = [c for c, v in (("actor", actor), ("action", action)) if v != parsed.get(c)]
    try:
        signed_at = dt.datetime.fromisoformat(str(parsed.get("at")))
    except ValueError:
        signed_at = None
    stored_at = at if at.tzinfo else at.replace(tzinfo=dt.UTC)
    if signed_at is None or stored_at != signed_at:
        differ.append("at")
    return differ


def rebuild_subtree_hashes(store: Store, *, batch: int = LOG_BATCH) -> int:
    """Rewrite `audit_nodes` from the stored leaf hashes (after `verify_log` found only the stored
    subtree hashes damaged: the entries, their leaf hashes and the checkpoints are intact). Stops
    at the first gap in the seqs, like the migration's backfill. Returns the hashes written."""
    tree = audit.TreeBuilder()

    def nodes() -> Iterator[list[tuple[audit.Node, bytes]]]:
        for rows in store.audit_leaf_batches(0, batch):
            out: list[tuple[audit.Node, bytes]] = []
            for seq, leaf_hex in rows:
                if seq != tree.size:
                    yield out
                    return
                out += tree.push(bytes.fromhex(leaf_hex))
            yield out

    return store.replace_audit_nodes(nodes())


def _check_nodes(check: LogCheck, computed: dict[audit.Node, bytes], stored: dict[audit.Node, str]) -> None:
    """Compare the subtree hashes recomputed from one batch of entries with the stored ones."""
    for node in sorted(computed, key=lambda n: ((n[1] + 1) << n[0], n[0])):  # completion order
        level, idx = node
        have = stored.get(node)
        span = f"entries {idx << level}–{((idx + 1) << level) - 1}"
        if have is None:
            check.report(NODE_PROBLEMS, f"the stored hash of {span} (level {level}) is missing")
        elif have != computed[node].hex():
            check.report(
                NODE_PROBLEMS,
                f"the stored hash of {span} (level {level}) does not match the entries (modified)",
            )
        else:
            check.nodes += 1
            continue
        if check.first_bad_node is None:
            check.first_bad_node = node


def _hashes(store: Store, nodes: set[audit.Node]) -> dict[audit.Node, bytes]:
    found = store.audit_hashes(nodes)
    missing = sorted(nodes - found.keys())
    if missing:
        level, idx = missing[0]
        raise AuditLogDamaged(
            f"the audit log's stored hash of entries {idx << level}–{((idx + 1) << level) - 1} is missing "
            "or unreadable",
            hint="the database was changed behind the ledger's back: run `clearance ledger verify-log`",
        )
    return found


def inclusion(store: Store, seq: int, size: int | None = None) -> dict[str, Any]:
    """Inclusion proof of entry `seq` in the tree of `size` entries (default: the latest checkpoint).
    O(log n): a fixed number of statements, each a few primary-key lookups."""
    available = store.audit_next_seq()
    if size is None:
        cp = store.latest_checkpoint()
        size = cp.size if cp else available
    if not 0 < size <= available:
        raise LedgerError(f"no tree of size {size} (the log has {available} entries)")
    ranges = audit.inclusion_ranges(seq, size)
    hashes = _hashes(store, audit.nodes_for([*ranges, (0, size), (seq, seq + 1)]))
    entry = store.audit_entry(seq)
    return {
        "seq": seq,
        "tree_size": size,
        "leaf_hash": hashes[(0, seq)].hex(),
        "entry": entry.entry if entry else None,
        "proof": [audit.range_hash(lo, hi, hashes).hex() for lo, hi in ranges],
        "root": audit.range_hash(0, size, hashes).hex(),
        "checkpoint": _checkpoint_json(store.checkpoints_at([size]).get(size)),
    }


def consistency(store: Store, old: int, new: int) -> dict[str, Any]:
    """Consistency proof between trees of `old` and `new` entries (O(log n), like `inclusion`)."""
    available = store.audit_next_seq()
    if not 0 < old <= new <= available:
        raise LedgerError(f"no consistency proof from {old} to {new} (the log has {available} entries)")
    ranges = audit.consistency_ranges(old, new)
    hashes = _hashes(store, audit.nodes_for([*ranges, (0, old), (0, new)]))
    cps = store.checkpoints_at([old, new])
    return {
        "from": old,
        "to": new,
        "old_root": audit.range_hash(0, old, hashes).hex(),
        "new_root": audit.range_hash(0, new, hashes).hex(),
        "proof": [audit.range_hash(lo, hi, hashes).hex() for lo, hi in ranges],
        "checkpoints": [c for c in (_checkpoint_json(cps.get(old)), _checkpoint_json(cps.get(new))) if c],
    }


def _checkpoint_json(cp: Checkpoint | None) -> dict[str, Any] | None:
    if cp is None:
        return None
    return {"size": cp.size, "root": cp.root_hash, "key_id": cp.key_id, "signature": cp.signature}
