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


def sign_checkpoint(store: Store, key: LogKey) -> tuple[int, str]:
    """Sign (size, root) of the whole log now; returns them. Incremental: the latest checkpoint's
    compact range is extended with the entries appended since (O(new entries · log n)); the whole
    log is read only when there is no usable range (a checkpoint from before ranges were stored,
    or one whose range does not hash to its signed root)."""
    latest = store.latest_checkpoint()
    start, frontier = _usable_frontier(latest)
    new = store.audit_leaves(start)
    if any(seq != start + i for i, (seq, _) in enumerate(new)):  # a gap: recompute from scratch
        start, frontier, new = 0, [], store.audit_leaves()
    frontier = audit.extend_frontier(start, frontier, [bytes.fromhex(h) for _, h in new])
    size = start + len(new)
    root = audit.frontier_root(frontier)
    if latest is None or latest.size != size:
        store.add_checkpoint(
            size, root.hex(), key.key_id, key.sign(size, root), frontier=[h.hex() for h in frontier]
        )
    return size, root.hex()


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


@dataclass
class LogCheck:
    """What `verify-log` found."""

    entries: int = 0
    checkpoints: int = 0
    problems: list[str] = field(default_factory=list)
    first_bad_seq: int | None = None

    @property
    def ok(self) -> bool:
        """True when nothing failed."""
        return not self.problems

    def as_json(self) -> dict[str, Any]:
        """Plain JSON."""
        return {
            "ok": self.ok,
            "entries": self.entries,
            "checkpoints": self.checkpoints,
            "first_bad_seq": self.first_bad_seq,
            "problems": self.problems,
        }


def verify_log(store: Store, public_pem: str | None = None) -> LogCheck:
    """Recompute every leaf from its entry and every signed checkpoint's root; name the first entry
    that no longer matches. `public_pem`: the server's checkpoint key (trust anchor)."""
    check = LogCheck()
    entries = store.audit_entries()
    check.entries = len(entries)
    leaves: list[bytes] = []

    def bad(seq: int, message: str) -> None:
        check.problems.append(message)
        if check.first_bad_seq is None or seq < check.first_bad_seq:
            check.first_bad_seq = seq

    for expected, e in enumerate(entries):
        if e.seq != expected and not any("missing" in p for p in check.problems):
            bad(expected, f"entry {expected} is missing (deleted); the log jumps to {e.seq}")
        body = e.entry.encode()
        leaf = audit.leaf_hash(body)
        try:
            parsed = json.loads(body)
            canonical_ok = audit.canonical(parsed) == body and parsed.get("seq") == e.seq
        except ValueError:
            canonical_ok = False
        if leaf.hex() != e.leaf_hash or not canonical_ok:
            bad(e.seq, f"entry {e.seq} does not match its leaf hash (modified)")
        else:
            for column in _shown_columns_differing(e, parsed):
                bad(e.seq, f"entry {e.seq}: its {column} column differs from the signed entry (modified)")
        leaves.append(leaf)
    public = audit.load_public_key(public_pem) if public_pem else None
    for cp in store.checkpoints():
        check.checkpoints += 1
        if public is not None and not audit.verify_checkpoint(
            public, cp.size, bytes.fromhex(cp.root_hash), cp.signature
        ):
            check.problems.append(f"checkpoint of size {cp.size} has an invalid signature")
            continue
        if cp.size > len(leaves):
            bad(
                len(leaves),
                f"checkpoint signed {cp.size} entries but the log holds {len(leaves)} (entries deleted)",
            )
            continue
        if audit.root(leaves[: cp.size]).hex() != cp.root_hash:
            first = _first_divergence(store, leaves, cp.size)
            bad(
                first,
                f"the log no longer matches the checkpoint of size {cp.size}; first entry that differs: {first}",
            )
    return check


def _shown_columns_differing(e: Any, parsed: dict[str, Any]) -> list[str]:
    """The columns kept beside the entry for listing (the dashboard's audit page shows them) that
    no longer say what the signed entry says."""
    differ = [c for c in ("actor", "action") if getattr(e, c) != parsed.get(c)]
    try:
        signed_at = dt.datetime.fromisoformat(str(parsed.get("at")))
    except ValueError:
        signed_at = None
    stored_at = e.at if e.at.tzinfo else e.at.replace(tzinfo=dt.UTC)
    if signed_at is None or stored_at != signed_at:
        differ.append("at")
    return differ


def _first_divergence(store: Store, leaves: list[bytes], size: int) -> int:
    """The first entry at which the log stopped matching: the smallest checkpoint that fails tells
    the range; within it, a stored leaf that differs from its recomputation points at the entry."""
    previous_ok = 0
    for cp in store.checkpoints():
        if cp.size > size:
            break
        if cp.size <= len(leaves) and audit.root(leaves[: cp.size]).hex() == cp.root_hash:
            previous_ok = cp.size
    return previous_ok


def inclusion(store: Store, seq: int, size: int | None = None) -> dict[str, Any]:
    """Inclusion proof of entry `seq` in the tree of `size` entries (default: the latest checkpoint)."""
    leaves = [bytes.fromhex(h) for _, h in store.audit_leaves()]
    cp = store.latest_checkpoint()
    n = size if size is not None else (cp.size if cp else len(leaves))
    if not 0 < n <= len(leaves):
        raise LedgerError(f"no tree of size {n} (the log has {len(leaves)} entries)")
    proof = audit.inclusion_proof(leaves[:n], seq)
    entry = store.audit_entries(limit=1, offset=seq)
    return {
        "seq": seq,
        "tree_size": n,
        "leaf_hash": leaves[seq].hex(),
        "entry": entry[0].entry if entry else None,
        "proof": [p.hex() for p in proof],
        "root": audit.root(leaves[:n]).hex(),
        "checkpoint": _checkpoint_json(store, n),
    }


def consistency(store: Store, old: int, new: int) -> dict[str, Any]:
    """Consistency proof between trees of `old` and `new` entries."""
    leaves = [bytes.fromhex(h) for _, h in store.audit_leaves()]
    if not 0 < old <= new <= len(leaves):
        raise LedgerError(f"no consistency proof from {old} to {new} (the log has {len(leaves)} entries)")
    proof = audit.consistency_proof(leaves[:new], old)
    return {
        "from": old,
        "to": new,
        "old_root": audit.root(leaves[:old]).hex(),
        "new_root": audit.root(leaves[:new]).hex(),
        "proof": [p.hex() for p in proof],
        "checkpoints": [c for c in (_checkpoint_json(store, old), _checkpoint_json(store, new)) if c],
    }


def _checkpoint_json(store: Store, size: int) -> dict[str, Any] | None:
    for cp in store.checkpoints():
        if cp.size == size:
            return {"size": cp.size, "root": cp.root_hash, "key_id": cp.key_id, "signature": cp.signature}
    return None
