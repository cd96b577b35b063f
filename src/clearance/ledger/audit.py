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
from collections.abc import Sequence
from dataclasses import dataclass
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
    if len(frontier) != bin(size).count("1"):
        raise LedgerError(f"a compact range of a tree of {size} leaves has {bin(size).count('1')} hashes")
    out = list(frontier)
    n = size
    for leaf in leaves:
        out.append(leaf)
        n += 1
        # the new leaf closes one perfect subtree per trailing one bit of the old size
        m = n
        while m % 2 == 0:
            right = out.pop()
            out[-1] = node_hash(out[-1], right)
            m //= 2
    return out


def frontier_root(frontier: Sequence[bytes]) -> bytes:
    """The Merkle tree hash of the tree a compact range describes (equals `root(leaves)`)."""
    if not frontier:
        return hashlib.sha256(b"").digest()
    r = frontier[-1]
    for h in reversed(frontier[:-1]):
        r = node_hash(h, r)
    return r


def inclusion_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """PATH(m, D[n]): the audit path of leaf `index` in the tree of `leaves`."""
    if not 0 <= index < len(leaves):
        raise LedgerError(f"entry {index} is not in a log of {len(leaves)} entries")
    return _path(index, list(leaves))


def _path(m: int, d: list[bytes]) -> list[bytes]:
    n = len(d)
    if n == 1:
        return []
    k = _split(n)
    if m < k:
        return [*_path(m, d[:k]), root(d[k:])]
    return [*_path(m - k, d[k:]), root(d[:k])]


def consistency_proof(leaves: Sequence[bytes], old_size: int) -> list[bytes]:
    """PROOF(m, D[n]): shows the tree of the first `old_size` leaves is a prefix of `leaves`."""
    n = len(leaves)
    if not 0 < old_size <= n:
        raise LedgerError(f"no consistency proof from size {old_size} to {n}")
    if old_size == n:
        return []
    return _subproof(old_size, list(leaves), True)


def _subproof(m: int, d: list[bytes], complete: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if complete else [root(d)]
    k = _split(n)
    if m <= k:
        return [*_subproof(m, d[:k], complete), root(d[k:])]
    return [*_subproof(m - k, d[k:], False), root(d[:k])]


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
