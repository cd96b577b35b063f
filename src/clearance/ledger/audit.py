"""The tamper-evident audit log: an append-only Merkle log in the style of RFC 6962 / 9162.

Each entry is RFC 8785 canonical JSON; leaf hash = SHA-256(0x00 ‖ entry), interior node =
SHA-256(0x01 ‖ left ‖ right). The server signs checkpoints (size, root) with its own ed25519
key; inclusion proofs show one entry is in the log, consistency proofs that the log only grew.
These functions are pure; `store.py` persists entries and checkpoints.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from clearance.errors import LedgerError

CHECKPOINT_ORIGIN = "clearance-ledger"


def canonical(entry: Any) -> bytes:
    """RFC 8785 (JCS) canonical JSON of an entry."""
    return rfc8785.dumps(entry)


def leaf_hash(data: bytes) -> bytes:
    """RFC 6962 leaf hash."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 6962 interior node hash."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n ≥ 2)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def root(leaves: Sequence[bytes]) -> bytes:
    """Merkle tree hash of leaf hashes (MTH of RFC 6962; the empty tree hashes the empty string)."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    level = list(leaves)
    # Bottom-up over complete pairs gives the same tree as RFC 6962's left-balanced split.
    while len(level) > 1:
        nxt = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def extend_frontier(size: int, frontier: Sequence[bytes], leaves: Sequence[bytes]) -> list[bytes]:
    """The compact range of a tree of `size` leaves (the roots of its maximal perfect subtrees,
    left to right: one per set bit of `size`, largest first) extended by `leaves`. O(log n) state
    and O(k log n) work for k new leaves instead of re-reading the whole log."""
    tree = TreeBuilder.from_frontier(size, frontier)
    for leaf in leaves:
        tree.push(leaf)
    return [h for _, h in tree.stack]


def frontier_root(frontier: Sequence[bytes]) -> bytes:
    """The Merkle tree hash of the tree a compact range describes (equals `root(leaves)`)."""
    if not frontier:
        return hashlib.sha256(b"").digest()
    r = frontier[-1]
    for h in reversed(frontier[:-1]):
        r = node_hash(h, r)
    return r


# --- proofs from stored subtree hashes -------------------------------------------------------------
#
# Every hash an RFC 6962 proof or root needs is the hash of a subtree D[lo:hi] that the recursion
# produces: a perfect subtree (2**k leaves from a multiple of 2**k) or a right-edge one, which is
# a few perfect subtrees folded together. The store keeps the leaf hash of every entry and the
# hash of every perfect subtree as it completes (`completed_nodes`), so a proof is a handful of
# primary-key lookups: `inclusion_ranges` / `consistency_ranges` say which subtrees, `subtrees`
# which stored hashes each needs, `range_hash` folds them.

Node = tuple[int, int]
"""A perfect subtree (level, index): the 2**level leaves from index · 2**level on (level 0: one leaf)."""


def subtrees(lo: int, hi: int) -> list[Node]:
    """The maximal perfect subtrees covering leaves [lo, hi), left to right. For a subtree of the
    RFC 6962 recursion (lo a multiple of a power of two ≥ hi − lo) there is one per set bit of
    hi − lo, largest first, and the subtree's hash folds them right to left (`range_hash`)."""
    if not 0 <= lo <= hi:
        raise LedgerError(f"no subtree [{lo}, {hi})")
    out: list[Node] = []
    while lo < hi:
        level = (hi - lo).bit_length() - 1
        if lo:
            level = min(level, (lo & -lo).bit_length() - 1)
        out.append((level, lo >> level))
        lo += 1 << level
    return out


def range_hash(lo: int, hi: int, hashes: Mapping[Node, bytes]) -> bytes:
    """MTH(D[lo:hi]) from the hashes of its perfect subtrees (KeyError if one is not given)."""
    return frontier_root([hashes[n] for n in subtrees(lo, hi)])


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The subtrees [lo, hi) whose hashes form PATH(index, D[size]), in proof order."""
    if not 0 <= index < size:
        raise LedgerError(f"entry {index} is not in a log of {size} entries")
    out: list[tuple[int, int]] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = _split(hi - lo)
        if index - lo < k:
            out.append((lo + k, hi))
            hi = lo + k
        else:
            out.append((lo, lo + k))
            lo += k
    out.reverse()  # the recursion emits the deepest sibling first
    return out


def consistency_ranges(old_size: int, new_size: int) -> list[tuple[int, int]]:
    """The subtrees [lo, hi) whose hashes form PROOF(old_size, D[new_size]), in proof order."""
    if not 0 < old_size <= new_size:
        raise LedgerError(f"no consistency proof from size {old_size} to {new_size}")
    out: list[tuple[int, int]] = []
    lo, hi, m, complete = 0, new_size, old_size, True
    while True:
        if m == hi - lo:
            if not complete:
                out.append((lo, hi))
            break
        k = _split(hi - lo)
        if m <= k:
            out.append((lo + k, hi))
            hi = lo + k
        else:
            out.append((lo, lo + k))
            lo += k
            m -= k
            complete = False
    out.reverse()
    return out


def nodes_for(ranges: Iterable[tuple[int, int]]) -> set[Node]:
    """Every stored hash the given subtrees need."""
    return {n for lo, hi in ranges for n in subtrees(lo, hi)}


def left_siblings(seq: int) -> list[Node]:
    """The stored subtrees that leaf `seq` closes when it is appended, bottom up: one per trailing
    one bit of `seq` (the smallest entries of the compact range of a tree of `seq` leaves)."""
    ones = (seq ^ (seq + 1)).bit_length() - 1
    return [(k, (seq >> k) - 1) for k in range(ones)]


def completed_nodes(seq: int, leaf: bytes, left: Mapping[Node, bytes]) -> list[tuple[Node, bytes]]:
    """The perfect subtrees (level ≥ 1) that appending leaf `seq` completes, with their hashes,
    given the hashes of its `left_siblings`. Stops below the first sibling not in `left` (a
    damaged log: nothing above it can be computed without re-reading the log)."""
    out: list[tuple[Node, bytes]] = []
    h = leaf
    for level, idx in left_siblings(seq):
        sibling = left.get((level, idx))
        if sibling is None:
            break
        h = node_hash(sibling, h)
        out.append(((level + 1, idx >> 1), h))
    return out


@dataclass
class TreeBuilder:
    """Builds the tree leaf by leaf in O(log n) memory: the compact range as (level, hash) pairs;
    `push` returns the perfect subtrees each new leaf completes (for comparing against the stored
    ones), `root` the hash of the tree so far."""

    size: int = 0
    stack: list[tuple[int, bytes]] = field(default_factory=list)

    @classmethod
    def from_frontier(cls, size: int, frontier: Sequence[bytes]) -> TreeBuilder:
        """The builder of a tree of `size` leaves given its compact range (one hash per set bit
        of `size`, largest subtree first), as a signed checkpoint stores it."""
        levels = [k for k in range(size.bit_length() - 1, -1, -1) if size >> k & 1]
        if len(frontier) != len(levels):
            raise LedgerError(f"a compact range of a tree of {size} leaves has {len(levels)} hashes")
        return cls(size, list(zip(levels, frontier, strict=True)))

    def push(self, leaf: bytes) -> list[tuple[Node, bytes]]:
        """Append one leaf hash; the (level ≥ 1) subtrees it completes, bottom up."""
        seq = self.size
        self.size += 1
        h, level, out = leaf, 0, []
        while self.stack and self.stack[-1][0] == level:
            h = node_hash(self.stack.pop()[1], h)
            level += 1
            out.append(((level, seq >> level), h))
        self.stack.append((level, h))
        return out

    def root(self) -> bytes:
        """MTH of the leaves pushed so far."""
        return frontier_root([h for _, h in self.stack])


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], expected_root: bytes
) -> bool:
    """RFC 9162 §2.1.3.2: does `proof` put `leaf` at `index` in a tree of `size` with `expected_root`?"""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn % 2 == 1 or fn == sn:
            r = node_hash(p, r)
            while fn % 2 == 0 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == expected_root


def verify_consistency(
    old_size: int, new_size: int, proof: Sequence[bytes], old_root: bytes, new_root: bytes
) -> bool:
    """RFC 9162 §2.1.4.2: is the tree (old_size, old_root) a prefix of (new_size, new_root)?"""
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0 or old_size > new_size or not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is the first node
        path = [old_root, *path]
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root


# --- checkpoints ---------------------------------------------------------------------------------


def checkpoint_body(size: int, root_hash: bytes) -> bytes:
    """The signed text of a checkpoint (origin, size, base64 root), as in transparency-log notes."""
    return f"{CHECKPOINT_ORIGIN}\n{size}\n{base64.b64encode(root_hash).decode()}\n".encode()


@dataclass(frozen=True)
class LogKey:
    """The server's checkpoint signing key (ed25519)."""

    private: ed25519.Ed25519PrivateKey

    @property
    def public_pem(self) -> str:
        """The public half, PEM."""
        return (
            self.private.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )

    @property
    def key_id(self) -> str:
        """SHA-256 of the raw public key, hex (first 16 bytes)."""
        return public_key_id(self.private.public_key())

    def sign(self, size: int, root_hash: bytes) -> str:
        """Base64 signature over the checkpoint body."""
        return base64.b64encode(self.private.sign(checkpoint_body(size, root_hash))).decode()

    @classmethod
    def load_or_create(cls, path: Path) -> LogKey:
        """Read the PEM key at `path`, or create one there (mode 0600) on first use."""
        if path.is_file():
            try:
                key = serialization.load_pem_private_key(path.read_bytes(), password=None)
            except (ValueError, TypeError) as e:
                raise LedgerError(f"{path} is not a usable ledger signing key: {e}") from e
            if not isinstance(key, ed25519.Ed25519PrivateKey):
                raise LedgerError(f"{path}: the ledger signs checkpoints with ed25519 keys only")
            return cls(key)
        key = ed25519.Ed25519PrivateKey.generate()
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(
                key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            )
        return cls(key)


def public_key_id(public: ed25519.Ed25519PublicKey) -> str:
    """Key id of an ed25519 public key."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:32]


def load_public_key(pem: str | bytes) -> ed25519.Ed25519PublicKey:
    """An ed25519 public key from PEM (a private key's public half is accepted)."""
    data = pem.encode() if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError:
        try:
            key = serialization.load_pem_private_key(data, password=None).public_key()
        except (ValueError, TypeError) as e:
            raise LedgerError("not a PEM ed25519 key") from e
    if not isinstance(key, ed25519.Ed25519PublicKey):
        raise LedgerError("the ledger's checkpoint key must be ed25519")
    return key


def verify_checkpoint(public: ed25519.Ed25519PublicKey, size: int, root_hash: bytes, signature: str) -> bool:
    """True if `signature` signs (size, root) with `public`."""
    try:
        public.verify(base64.b64decode(signature, validate=True), checkpoint_body(size, root_hash))
    except (InvalidSignature, ValueError):
        return False
    return True
