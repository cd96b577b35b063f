"""Offline validators: checksums and structure that real credentials have and look-alikes lack."""

from __future__ import annotations

import base64
import json

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from clearance.model import Severity
from clearance.scanners.secrets.validators import (
    base62_crc32,
    basic_auth_base64,
    github_checksum,
    jwt_structure,
    pem_private_key,
    pypi_macaroon,
)


def test_github_checksum_accepts_a_published_token_and_rejects_a_changed_one() -> None:
    # A revoked token published in scanner test suites; its last six characters are the checksum.
    token = "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"
    assert github_checksum(token).valid
    assert not github_checksum(token[:-1] + "y").valid
    assert not github_checksum("ghp_16C7e42F292c6912E7710c838347Ae178B4a").valid


def test_base62_crc32_is_six_characters_left_padded() -> None:
    assert len(base62_crc32("")) == 6 and base62_crc32("") == "000000"


def _b64url(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def test_jwt_structure() -> None:
    header, payload = _b64url({"alg": "HS256", "typ": "JWT"}), _b64url({"sub": "svc"})
    assert jwt_structure(f"{header}.{payload}.c2lnbmF0dXJlLWJ5dGVzLWhlcmU").valid
    unsigned = jwt_structure(f"{_b64url({'alg': 'none'})}.{payload}.")
    assert unsigned.valid and unsigned.severity is Severity.LOW
    assert not jwt_structure(f"{_b64url({'typ': 'JWT'})}.{payload}.sig").valid
    anon = jwt_structure(
        f"{header}.{_b64url({'role': 'anon', 'iss': 'supabase'})}.c2lnbmF0dXJlLWJ5dGVzLWhlcmU"
    )
    assert anon.valid and anon.severity is Severity.LOW
    assert not jwt_structure("eyJub3QganNvbg.eyJhIjoxfQ.sig").valid


def _ec_pem(password: bytes | None) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    encryption = serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    ).decode()


def test_pem_private_key_parses_plain_and_escaped_keys_and_lowers_encrypted_ones() -> None:
    plain = _ec_pem(None)
    assert pem_private_key(plain).valid and pem_private_key(plain).severity is None
    escaped = '"' + plain.replace("\n", "\\n") + '"'
    assert pem_private_key(escaped).valid
    encrypted = pem_private_key(_ec_pem(b"correct horse"))
    assert encrypted.severity is Severity.MEDIUM
    assert not pem_private_key("-----BEGIN PRIVATE KEY-----\nMIIEvQ\n-----END PRIVATE KEY-----").valid


def test_pypi_macaroon_and_basic_auth() -> None:
    body = (
        base64.urlsafe_b64encode(b"\x02\x01\x08pypi.org\x02\x25\x08" + bytes(range(60))).decode().rstrip("=")
    )
    assert pypi_macaroon("pypi-" + body).valid
    assert not pypi_macaroon("pypi-AgEIcHlwaS5vcmcnotbase64!!").valid
    assert basic_auth_base64(base64.b64encode(b"deploy:Zq8vLm2Rt").decode()).valid
    assert not basic_auth_base64(base64.b64encode(b"no-colon-here").decode()).valid
    assert not basic_auth_base64("%%%").valid
