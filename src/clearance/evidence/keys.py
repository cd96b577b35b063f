"""Signing keys: generate (ed25519 default, ECDSA P-256), load private keys from a file or
`CLEARANCE_SIGNING_KEY`, load public keys for verification."""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from securesystemslib.signer import CryptoSigner, SSlibKey

from clearance.errors import EvidenceError, UsageError
from clearance.evidence.files import MAX_KEY_BYTES, read_regular

KEY_ENV = "CLEARANCE_SIGNING_KEY"
PASSPHRASE_ENV = "CLEARANCE_KEY_PASSPHRASE"


class KeyType(enum.StrEnum):
    """Supported signing key types."""

    ED25519 = "ed25519"
    ECDSA = "ecdsa-p256"


@dataclass(frozen=True)
class KeyPair:
    """PEM encodings of a freshly generated key pair."""

    private_pem: bytes
    public_pem: bytes


def generate(kind: KeyType = KeyType.ED25519, passphrase: bytes | None = None) -> KeyPair:
    """Generate a key pair; the private key is encrypted when a passphrase is given."""
    private: ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey
    if kind is KeyType.ED25519:
        private = ed25519.Ed25519PrivateKey.generate()
    else:
        private = ec.generate_private_key(ec.SECP256R1())
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption()
    )
    private_pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return KeyPair(private_pem, public_pem)


def write_key_pair(pair: KeyPair, private_path: Path, public_path: Path, *, force: bool = False) -> None:
    """Write the private key with mode 0600 and the public key beside it."""
    for p in (private_path, public_path):
        if p.exists() and not force:
            raise UsageError(f"{p} already exists", hint="choose another path or pass --force")
    private_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pair.private_pem)
    os.chmod(private_path, 0o600)
    public_path.write_bytes(pair.public_pem)


def load_signer(key_file: Path | None, passphrase: bytes | None = None) -> CryptoSigner:
    """A signer from `--key FILE` or, without one, the PEM in `CLEARANCE_SIGNING_KEY`."""
    if key_file is not None:
        try:
            pem = read_regular(key_file, limit=MAX_KEY_BYTES, what="signing key")
        except EvidenceError as e:
            raise UsageError(e.message) from e
        origin = str(key_file)
    elif os.environ.get(KEY_ENV):
        pem = os.environ[KEY_ENV].encode()
        origin = KEY_ENV
    else:
        raise UsageError("no signing key", hint=f"pass --key FILE (see `clearance keygen`) or set {KEY_ENV}")
    if passphrase is None and os.environ.get(PASSPHRASE_ENV):
        passphrase = os.environ[PASSPHRASE_ENV].encode()
    try:
        private = serialization.load_pem_private_key(pem, password=passphrase)
    except TypeError as e:
        raise UsageError(f"signing key {origin} is encrypted", hint=f"set {PASSPHRASE_ENV}") from e
    except (ValueError, UnsupportedAlgorithm) as e:
        raise UsageError(f"signing key {origin} is not a usable PEM private key: {e}") from e
    if not isinstance(private, ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey):
        raise UsageError(f"signing key {origin}: only ed25519 and ECDSA P-256 keys are supported")
    if isinstance(private, ec.EllipticCurvePrivateKey) and not isinstance(private.curve, ec.SECP256R1):
        raise UsageError(f"signing key {origin}: ECDSA keys must use P-256")
    return CryptoSigner(private)


def load_public_key(path: Path) -> SSlibKey:
    """A verification key from a PEM public key file (or a private key file, whose public half is used)."""
    try:
        pem = read_regular(path, limit=MAX_KEY_BYTES, what="public key")
    except EvidenceError as e:
        raise UsageError(e.message) from e
    try:
        public = serialization.load_pem_public_key(pem)
    except (ValueError, UnsupportedAlgorithm):
        try:
            public = serialization.load_pem_private_key(pem, password=None).public_key()
        except (ValueError, TypeError, UnsupportedAlgorithm) as e:
            raise UsageError(f"{path} is not a PEM public key") from e
    if not isinstance(public, ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey):
        raise UsageError(f"{path}: only ed25519 and ECDSA P-256 keys are supported")
    return SSlibKey.from_crypto(public)
