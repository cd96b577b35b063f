"""Offline validators: structure and checksums that real credentials have and look-alikes lack.

A validator takes the secret (as text) and says whether its format checks out. Nothing
here touches the network. Results feed the `verified` signal; rules with
`require_valid = true` drop candidates that fail.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import string
import warnings
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from clearance.model import Severity

_BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase


@dataclass(frozen=True, slots=True)
class Validation:
    """What a validator concluded about one candidate."""

    valid: bool
    severity: Severity | None = None
    """Overrides the rule's severity (e.g. an encrypted private key is reported lower)."""
    note: str = ""


Validator = Callable[[str], Validation]


def base62_crc32(data: str) -> str:
    """The 6-character base62 CRC32 checksum used by GitHub and npm token formats."""
    n = zlib.crc32(data.encode("ascii", "replace")) & 0xFFFFFFFF
    out = ""
    while n:
        n, r = divmod(n, 62)
        out = _BASE62[r] + out
    return out.rjust(6, "0")


def github_checksum(secret: str) -> Validation:
    """GitHub `gh?_` tokens: 30 random base62 characters followed by their base62 CRC32."""
    body = secret.rsplit("_", 1)[-1]
    if len(body) != 36 or not body.isalnum():
        return Validation(False, note="unexpected token length")
    ok = base62_crc32(body[:30]) == body[30:]
    return Validation(ok, note="" if ok else "checksum mismatch")


def npm_checksum(secret: str) -> Validation:
    """npm `npm_` tokens: 30 random base62 characters followed by their base62 CRC32."""
    return github_checksum(secret)


_PYPI_PREFIXES = ("pypi-AgEIcHlwaS5vcmc", "pypi-AgENdGVzdC5weXBpLm9yZw")


def pypi_macaroon(secret: str) -> Validation:
    """PyPI API tokens: `pypi-` + a base64url macaroon whose location is (test.)pypi.org."""
    if not secret.startswith(_PYPI_PREFIXES):
        return Validation(False, note="not a pypi.org macaroon")
    raw = _b64decode(secret[5:])
    ok = raw is not None and (b"pypi.org" in raw[:40])
    return Validation(ok, note="" if ok else "macaroon does not decode")


def jwt_structure(secret: str) -> Validation:
    """A JWT: three base64url parts; the header and payload decode to JSON objects, alg is set."""
    parts = secret.split(".")
    if len(parts) != 3:
        return Validation(False, note="not three parts")
    header_raw = _b64decode(parts[0])
    payload_raw = _b64decode(parts[1])
    if header_raw is None or payload_raw is None:
        return Validation(False, note="parts do not decode")
    try:
        header = json.loads(header_raw)
        payload = json.loads(payload_raw)
    except (ValueError, UnicodeDecodeError):
        return Validation(False, note="parts are not JSON")
    if not isinstance(header, dict) or not isinstance(payload, dict) or "alg" not in header:
        return Validation(False, note="no JOSE header")
    if str(header.get("alg", "")).lower() == "none" or not parts[2]:
        return Validation(True, severity=Severity.LOW, note="unsigned JWT")
    if payload.get("role") == "anon":
        return Validation(
            True, severity=Severity.LOW, note="public anonymous-role key (e.g. Supabase anon key)"
        )
    return Validation(True)


def basic_auth_base64(secret: str) -> Validation:
    """base64 of `user:password` (HTTP Basic, Docker config `auth`) with a non-trivial password."""
    raw = _b64decode(secret)
    if raw is None:
        return Validation(False, note="does not decode")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return Validation(False, note="not text")
    _user, sep, password = text.partition(":")
    ok = bool(sep) and len(password) >= 4 and text.isprintable() and "$" not in password[:2]
    return Validation(ok, note="" if ok else "not a user:password pair")


_PEM_RE = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", re.S)


def pem_private_key(secret: str) -> Validation:
    """A PEM private key block that parses with `cryptography` (encrypted keys → medium)."""
    m = _PEM_RE.search(secret)
    if m is None:
        return Validation(False, note="incomplete PEM block")
    label = m.group(1)
    body = m.group(2)
    encrypted = "ENCRYPTED" in label or "Proc-Type: 4,ENCRYPTED" in body
    if "PGP" in label:
        return _pgp_block(body)
    block = _normalise_pem(m.group(0))
    parsed = _load_private_key(block, label)
    if parsed == "encrypted":
        encrypted = True
        parsed = "ok"
    if encrypted:
        return Validation(parsed == "ok", severity=Severity.MEDIUM, note="encrypted private key")
    return Validation(parsed == "ok", note="" if parsed == "ok" else "key does not parse")


def _load_private_key(block: bytes, label: str) -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.utils import CryptographyDeprecationWarning

    try:
        # Loading a DSA key warns that DSA is deprecated; a scan only checks that the key parses,
        # so that warning (printed on stderr mid-scan) is noise for the user.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CryptographyDeprecationWarning)
            if label == "OPENSSH PRIVATE KEY":
                serialization.load_ssh_private_key(block, password=None)
            else:
                serialization.load_pem_private_key(block, password=None)
        return "ok"
    except TypeError:
        return "encrypted"  # password required
    except (ValueError, binascii.Error) as e:
        text = str(e).lower()
        if "encrypt" in text or "password" in text:
            return "encrypted"
        return "bad"
    except Exception:  # cryptography raises UnsupportedAlgorithm and others for odd keys
        return "bad"


def _pgp_block(body: str) -> Validation:
    lines = [ln.strip() for ln in body.strip().splitlines()]
    data = "".join(ln for ln in lines if ln and ":" not in ln and not ln.startswith("="))
    raw = _b64decode(data)
    if raw is None or len(raw) < 32:
        return Validation(False, note="armor does not decode")
    # Secret-key packet: tag 5 (old format 0x94-0x97, new format 0xC5).
    ok = (raw[0] & 0x80) != 0 and (((raw[0] >> 2) & 0x0F) == 5 or raw[0] == 0xC5)
    return Validation(ok, note="" if ok else "not a secret-key packet")


def _normalise_pem(text: str) -> bytes:
    lines = [
        ln.strip().strip("\"',;\\").replace("\\n", "\n") for ln in text.replace("\\n", "\n").splitlines()
    ]
    return ("\n".join(ln for ln in lines if ln) + "\n").encode("ascii", "replace")


def _b64decode(text: str) -> bytes | None:
    clean = text.strip().replace("-", "+").replace("_", "/")
    clean += "=" * (-len(clean) % 4)
    try:
        return base64.b64decode(clean, validate=True)
    except (binascii.Error, ValueError):
        return None


VALIDATORS: dict[str, Validator] = {
    "github-checksum": github_checksum,
    "npm-checksum": npm_checksum,
    "pypi-macaroon": pypi_macaroon,
    "jwt": jwt_structure,
    "basic-auth-base64": basic_auth_base64,
    "pem-private-key": pem_private_key,
}
"""Every validator a rule may name, by id."""
