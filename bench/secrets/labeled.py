"""Generate the labeled secrets-detection set: realistic secrets and look-alikes that must not fire.

    python bench/secrets/labeled.py [--out bench/.work/labeled] [--seed 20261122]

Writes `samples/rNNNN/<realistic path>` (ONE sample per file, so a tool's finding anywhere in a
look-alike file is a false positive) and `labels.json` = [{path, line, end_line, kind, positive}],
path relative to `samples/`, lines 1-based (end_line > line for multi-line material such as PEM
blocks and service-account JSON). Everything is deterministic for a given seed: tokens come from a
seeded RNG, checksummed formats carry valid checksums, and private keys are real keys derived from
seeded numbers (RSA/DSA primes found by Miller-Rabin on seeded candidates, EC/Ed25519 from seeded
scalars; OpenSSH, OpenPGP and legacy-encrypted PEM containers are assembled by hand so no hidden
randomness from OpenSSL leaks in).

The set is designed from the vendors' published formats (prefixes, lengths, alphabets, checksums),
not from any scanner's rule file. Stripe *test-mode* keys (sk_test_/rk_test_) are deliberately left
out of both classes: they are real credentials of a sandbox account, so counting them either way
would score a policy choice rather than detection.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import random
import shutil
import string
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.x509.oid import NameOID

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE.parent / ".work" / "labeled"
S = "\u00a7S\u00a7"  # placeholder for the sample inside a context template

DIGITS = string.digits
UPPER = string.ascii_uppercase
LOWER = string.ascii_lowercase
HEX = "0123456789abcdef"
B62 = DIGITS + UPPER + LOWER  # GitHub/npm checksum alphabet (0-9A-Za-z)
ALNUM = UPPER + LOWER + DIGITS
B64 = UPPER + LOWER + DIGITS + "+/"
URLSAFE = ALNUM + "-_"


# --------------------------------------------------------------------------- random material


class Gen:
    """Seeded generators for token bodies."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def s(self, alphabet: str, n: int) -> str:
        """n characters drawn from alphabet."""
        return "".join(self.rng.choice(alphabet) for _ in range(n))

    def hex(self, n: int) -> str:
        """n lowercase hex digits."""
        return self.s(HEX, n)

    def b64(self, nbytes: int) -> str:
        """Standard base64 of nbytes random bytes (with padding)."""
        return base64.b64encode(self.bytes(nbytes)).decode()

    def bytes(self, n: int) -> bytes:
        """n random bytes."""
        return bytes(self.rng.getrandbits(8) for _ in range(n))

    def digits(self, n: int) -> str:
        """n decimal digits, first non-zero."""
        return self.rng.choice("123456789") + self.s(DIGITS, n - 1)

    def uuid(self) -> str:
        """A random version-4 UUID."""
        h = self.hex(32)
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{self.rng.choice('89ab')}{h[17:20]}-{h[20:]}"

    def password(self, n: int) -> str:
        """A strong human-style password with symbols."""
        while True:
            p = self.s(ALNUM + "!#%&*+-=?@^_~", n)
            if any(c in "!#%&*+-=?@^_~" for c in p) and any(c.isdigit() for c in p):
                return p

    def choice(self, seq: list[str] | tuple[str, ...]) -> str:
        """One element."""
        return self.rng.choice(seq)


def b62_checksum(body: str) -> str:
    """CRC32 of body, base62 (0-9A-Za-z), left-padded to 6 — the GitHub/npm token checksum."""
    n, out = zlib.crc32(body.encode()) & 0xFFFFFFFF, ""
    while n:
        n, r = divmod(n, 62)
        out = B62[r] + out
    return out.rjust(6, "0")


def checksummed(g: Gen, prefix: str) -> str:
    """prefix + 30 random base62 + 6-char CRC32 checksum (GitHub classic tokens, npm tokens)."""
    body = g.s(ALNUM, 30)
    return prefix + body + b62_checksum(body)


def b64url(data: bytes) -> str:
    """Unpadded base64url."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt(g: Gen, claims: dict[str, object]) -> str:
    """A real HS256-signed JWT with the given claims."""
    head = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    body = b64url(json.dumps(claims, separators=(",", ":")).encode())
    sig = hmac.new(g.bytes(32), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64url(sig)}"


# --------------------------------------------------------------------------- deterministic keys

_SMALL_PRIMES = [p for p in range(3, 2000) if all(p % d for d in range(2, int(p**0.5) + 1))]


def _is_probable_prime(n: int, rng: random.Random) -> bool:
    if n < 2:
        return False
    for p in _SMALL_PRIMES:
        if n % p == 0:
            return n == p
    d, r = n - 1, 0
    while d % 2 == 0:
        d //= 2
        r += 1
    for _ in range(24):
        x = pow(rng.randrange(2, n - 1), d, n)
        if x in (1, n - 1):
            continue
        for _ in range(r - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def _prime(rng: random.Random, bits: int) -> int:
    while True:
        c = rng.getrandbits(bits) | (1 << (bits - 1)) | (1 << (bits - 2)) | 1
        if _is_probable_prime(c, rng):
            return c


def rsa_key(g: Gen, bits: int = 2048) -> rsa.RSAPrivateKey:
    """A real RSA key from seeded primes."""
    e = 65537
    while True:
        p, q = _prime(g.rng, bits // 2), _prime(g.rng, bits // 2)
        phi = (p - 1) * (q - 1)
        if p != q and phi % e:
            break
    d = pow(e, -1, phi)
    pub = rsa.RSAPublicNumbers(e, p * q)
    return rsa.RSAPrivateNumbers(p, q, d, d % (p - 1), d % (q - 1), pow(q, -1, p), pub).private_key()


def dsa_key(g: Gen) -> dsa.DSAPrivateKey:
    """A real DSA-1024/160 key from seeded numbers."""
    q = _prime(g.rng, 160)
    while True:
        k = g.rng.getrandbits(1024 - 160) | (1 << (1024 - 161))
        p = k * q + 1
        if p.bit_length() == 1024 and _is_probable_prime(p, g.rng):
            break
    h, gen = 2, 1
    while gen == 1:
        gen = pow(h, (p - 1) // q, p)
        h += 1
    x = g.rng.randrange(2, q - 1)
    params = dsa.DSAParameterNumbers(p, q, gen)
    return dsa.DSAPrivateNumbers(x, dsa.DSAPublicNumbers(pow(gen, x, p), params)).private_key()


def ec_key(g: Gen) -> ec.EllipticCurvePrivateKey:
    """A real P-256 key from a seeded scalar."""
    return ec.derive_private_key(g.rng.randrange(1, 2**255), ec.SECP256R1())


def pem_traditional(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | dsa.DSAPrivateKey) -> str:
    """BEGIN RSA/EC/DSA PRIVATE KEY (unencrypted)."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()


def pem_pkcs8(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    """BEGIN PRIVATE KEY (PKCS#8, unencrypted)."""
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def pem_encrypted_rsa(g: Gen, key: rsa.RSAPrivateKey, passphrase: bytes) -> str:
    """Legacy OpenSSL-encrypted PEM (Proc-Type: 4,ENCRYPTED, AES-128-CBC), with a seeded IV."""
    der = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    iv = g.bytes(16)
    k = hashlib.md5(passphrase + iv[:8]).digest()  # EVP_BytesToKey, one round, 16 bytes
    pad = 16 - len(der) % 16
    enc = Cipher(algorithms.AES(k), modes.CBC(iv)).encryptor()
    ct = enc.update(der + bytes([pad]) * pad) + enc.finalize()
    body = base64.b64encode(ct).decode()
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return (
        "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n"
        f"DEK-Info: AES-128-CBC,{iv.hex().upper()}\n\n"
        + "\n".join(lines)
        + "\n-----END RSA PRIVATE KEY-----\n"
    )


def _ssh_str(b: bytes) -> bytes:
    return struct.pack(">I", len(b)) + b


def _ssh_mpint(n: int) -> bytes:
    b = n.to_bytes((n.bit_length() + 8) // 8, "big")
    return _ssh_str(b)


def openssh_private(g: Gen, kind: str, comment: str) -> tuple[str, str]:
    """(BEGIN OPENSSH PRIVATE KEY block, matching public line) for 'ed25519' or 'rsa', unencrypted."""
    if kind == "ed25519":
        seed = g.bytes(32)
        pub = (
            ed25519.Ed25519PrivateKey.from_private_bytes(seed)
            .public_key()
            .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        )
        pub_blob = _ssh_str(b"ssh-ed25519") + _ssh_str(pub)
        priv_part = _ssh_str(b"ssh-ed25519") + _ssh_str(pub) + _ssh_str(seed + pub)
        name = "ssh-ed25519"
    else:
        nums = rsa_key(g).private_numbers()
        e, n = nums.public_numbers.e, nums.public_numbers.n
        pub_blob = _ssh_str(b"ssh-rsa") + _ssh_mpint(e) + _ssh_mpint(n)
        priv_part = (
            _ssh_str(b"ssh-rsa")
            + _ssh_mpint(n)
            + _ssh_mpint(e)
            + _ssh_mpint(nums.d)
            + _ssh_mpint(nums.iqmp)
            + _ssh_mpint(nums.p)
            + _ssh_mpint(nums.q)
        )
        name = "ssh-rsa"
    check = g.bytes(4)
    priv = check + check + priv_part + _ssh_str(comment.encode())
    i = 1
    while len(priv) % 8:
        priv += bytes([i])
        i += 1
    blob = (
        b"openssh-key-v1\0"
        + _ssh_str(b"none")
        + _ssh_str(b"none")
        + _ssh_str(b"")
        + struct.pack(">I", 1)
        + _ssh_str(pub_blob)
        + _ssh_str(priv)
    )
    body = base64.b64encode(blob).decode()
    lines = [body[i : i + 70] for i in range(0, len(body), 70)]
    block = (
        "-----BEGIN OPENSSH PRIVATE KEY-----\n" + "\n".join(lines) + "\n-----END OPENSSH PRIVATE KEY-----\n"
    )
    return block, f"{name} {base64.b64encode(pub_blob).decode()} {comment}"


def _pgp_mpi(n: int) -> bytes:
    return struct.pack(">H", n.bit_length()) + n.to_bytes((n.bit_length() + 7) // 8, "big")


def _pgp_packet(tag: int, body: bytes) -> bytes:
    n = len(body)
    if n < 192:
        length = bytes([n])
    elif n < 8384:
        n -= 192
        length = bytes([(n >> 8) + 192, n & 0xFF])
    else:
        length = b"\xff" + struct.pack(">I", n)
    return bytes([0xC0 | tag]) + length + body


def _crc24(data: bytes) -> int:
    crc = 0xB704CE
    for byte in data:
        crc ^= byte << 16
        for _ in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= 0x1864CFB
    return crc & 0xFFFFFF


def pgp_block(g: Gen, uid: str, secret: bool) -> str:
    """An ASCII-armored OpenPGP v4 RSA key (secret: unencrypted secret-key packet) + user id packet."""
    nums = rsa_key(g).private_numbers()
    p, q = sorted((nums.p, nums.q))
    created = struct.pack(">I", 1_600_000_000 + g.rng.randrange(10**8))
    public = b"\x04" + created + b"\x01" + _pgp_mpi(nums.public_numbers.n) + _pgp_mpi(nums.public_numbers.e)
    if secret:
        mpis = _pgp_mpi(nums.d) + _pgp_mpi(p) + _pgp_mpi(q) + _pgp_mpi(pow(p, -1, q))
        body = public + b"\x00" + mpis + struct.pack(">H", sum(mpis) % 65536)
        data = _pgp_packet(5, body) + _pgp_packet(13, uid.encode())
        label = "PRIVATE KEY BLOCK"
    else:
        data = _pgp_packet(6, public) + _pgp_packet(13, uid.encode())
        label = "PUBLIC KEY BLOCK"
    b = base64.b64encode(data).decode()
    crc = base64.b64encode(_crc24(data).to_bytes(3, "big")).decode()
    lines = [b[i : i + 64] for i in range(0, len(b), 64)]
    return f"-----BEGIN PGP {label}-----\n\n" + "\n".join(lines) + f"\n={crc}\n-----END PGP {label}-----\n"


def certificate(g: Gen, cn: str) -> str:
    """A self-signed RSA certificate (PKCS#1 v1.5 signature: deterministic)."""
    import datetime as dt

    key = rsa_key(g)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(g.rng.getrandbits(64))
        .not_valid_before(dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
        .not_valid_after(dt.datetime(2027, 1, 1, tzinfo=dt.UTC))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def public_pem(g: Gen, which: str) -> str:
    """A PEM public key (SPKI or PKCS#1)."""
    if which == "ec":
        return (
            ec_key(g)
            .public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )
    fmt = (
        serialization.PublicFormat.PKCS1
        if which == "rsa1"
        else serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return rsa_key(g).public_key().public_bytes(serialization.Encoding.PEM, fmt).decode()


# --------------------------------------------------------------------------- contexts
# A context turns (NAME, value) into (relative path, text containing S). Keyword-named contexts use
# the variable name as given; camel/snake variants are derived.


def _snake(name: str) -> str:
    return name.lower()


def _camel(name: str) -> str:
    parts = name.lower().split("_")
    return parts[0] + "".join(p.title() for p in parts[1:])


Ctx = Callable[[str, Gen], tuple[str, str]]

CONTEXTS: dict[str, Ctx] = {
    "py": lambda n, g: (
        "app/settings.py",
        f'"""Runtime settings for the {g.choice(["billing", "reports", "ingest", "sync"])} service."""\n\n'
        f'import logging\n\nLOG = logging.getLogger(__name__)\nTIMEOUT_S = 30\n{n} = "{S}"\nRETRIES = 3\n',
    ),
    "py_call": lambda n, g: (
        "scripts/sync.py",
        "import sys\n\nfrom client import Client\n\n\ndef main() -> int:\n"
        f'    api = Client(base_url="https://api.internal", {_snake(n)}="{S}")\n    return api.run(sys.argv[1:])\n',
    ),
    "js": lambda n, g: (
        "src/config.js",
        f"'use strict';\n\nconst port = 8080;\nconst {_camel(n)} = '{S}';\n\n"
        f"module.exports = {{ port, {_camel(n)} }};\n",
    ),
    "ts": lambda n, g: (
        "src/env.ts",
        f'export const region = "eu-west-1";\nexport const {n} = "{S}";\nexport const retries = 2;\n',
    ),
    "env": lambda n, g: (".env", f"APP_ENV=production\nLOG_LEVEL=info\n{n}={S}\nPORT=8080\n"),
    "env_q": lambda n, g: ("deploy/prod.env", f'# production\nNODE_ENV=production\n{n}="{S}"\n'),
    "yaml": lambda n, g: (
        "config/app.yaml",
        f"service:\n  name: billing\n  region: us-east-1\n  {_snake(n)}: {S}\n  timeout: 30\n",
    ),
    "yaml_q": lambda n, g: (
        "conf/settings.yml",
        f'defaults: &defaults\n  adapter: http\n  {_snake(n)}: "{S}"\nproduction:\n  <<: *defaults\n',
    ),
    "gha": lambda n, g: (
        ".github/workflows/deploy.yml",
        "name: deploy\non:\n  push:\n    branches: [main]\njobs:\n  deploy:\n    runs-on: ubuntu-latest\n"
        f"    env:\n      {n}: {S}\n    steps:\n      - uses: actions/checkout@v4\n      - run: make deploy\n",
    ),
    "gitlab": lambda n, g: (
        ".gitlab-ci.yml",
        f'stages: [build, deploy]\nvariables:\n  {n}: "{S}"\n'
        "deploy:\n  stage: deploy\n  script:\n    - ./deploy.sh\n",
    ),
    "compose": lambda n, g: (
        "docker-compose.yml",
        "services:\n  worker:\n    image: registry.internal/worker:1.4\n    environment:\n"
        f"      - {n}={S}\n    restart: unless-stopped\n",
    ),
    "json": lambda n, g: (
        "config/settings.json",
        f'{{\n  "name": "ingest",\n  "region": "us-east-1",\n  "{_camel(n)}": "{S}",\n  "debug": false\n}}\n',
    ),
    "toml": lambda n, g: (
        "config.toml",
        f'[server]\nhost = "0.0.0.0"\nport = 8000\n\n[upstream]\n{_snake(n)} = "{S}"\n',
    ),
    "ini": lambda n, g: (
        "setup/app.ini",
        f"[app]\nworkers = 4\n\n[upstream]\n{_snake(n)} = {S}\nverify = true\n",
    ),
    "properties": lambda n, g: (
        "src/main/resources/application.properties",
        f"server.port=8080\nspring.application.name=orders\napp.{_camel(n)}={S}\n",
    ),
    "dockerfile": lambda n, g: (
        "Dockerfile",
        f'FROM python:3.12-slim\nWORKDIR /app\nENV {n}={S}\nCOPY . .\nCMD ["python", "-m", "app"]\n',
    ),
    "shell": lambda n, g: (
        "scripts/deploy.sh",
        f'#!/usr/bin/env bash\nset -euo pipefail\nexport {n}="{S}"\n./bin/release --env prod\n',
    ),
    "tf": lambda n, g: (
        "infra/main.tf",
        f'terraform {{\n  required_version = ">= 1.5"\n}}\n\nlocals {{\n  {_snake(n)} = "{S}"\n}}\n',
    ),
    "go": lambda n, g: (
        "internal/config/config.go",
        f'package config\n\nconst (\n\tRegion = "us-east-1"\n\t{_camel(n)} = "{S}"\n)\n',
    ),
    "java": lambda n, g: (
        "src/main/java/com/acme/Config.java",
        f"package com.acme;\n\npublic final class Config {{\n    static final int PORT = 8080;\n"
        f'    static final String {n} = "{S}";\n}}\n',
    ),
    "rb": lambda n, g: (
        "config/initializers/client.rb",
        f"# frozen_string_literal: true\n\n{n} = '{S}'\nClient.configure {{ |c| c.timeout = 10 }}\n",
    ),
    "php": lambda n, g: (
        "config/services.php",
        f"<?php\n\nreturn [\n    'timeout' => 10,\n    '{_snake(n)}' => '{S}',\n];\n",
    ),
    "notebook": lambda n, g: (
        "notebooks/explore.ipynb",
        '{\n "cells": [\n  {\n   "cell_type": "code",\n   "execution_count": 1,\n   "metadata": {},\n'
        '   "outputs": [],\n   "source": [\n    "import pandas as pd\\n",\n'
        f'    "{n} = \\"{S}\\"\\n",\n    "df = pd.read_csv(\\"data.csv\\")"\n   ]\n  }}\n ],\n'
        ' "metadata": {},\n "nbformat": 4,\n "nbformat_minor": 5\n}\n',
    ),
    "log": lambda n, g: (
        "logs/worker.log",
        "2025-03-02T10:14:07Z INFO worker started pid=4121\n"
        f"2025-03-02T10:14:08Z DEBUG loaded config {_snake(n)}={S}\n"
        "2025-03-02T10:14:09Z INFO connected\n",
    ),
}

# Held-out contexts (`--holdout`): syntaxes the main set never uses, to check that a scanner tuned
# on the main set generalises beyond its exact contexts.
HOLDOUT_CONTEXTS: dict[str, Ctx] = {
    "cs": lambda n, g: (
        "src/Services/Client.cs",
        f'namespace Acme.Services;\n\npublic static class Client\n{{\n    private const string {_camel(n).title()} = "{S}";\n}}\n',
    ),
    "kt": lambda n, g: (
        "app/src/main/kotlin/Config.kt",
        f'object Config {{\n    val {_camel(n)} = "{S}"\n}}\n',
    ),
    "xml": lambda n, g: (
        "web.config",
        f'<configuration>\n  <appSettings>\n    <add key="{_camel(n)}" value="{S}" />\n  </appSettings>\n</configuration>\n',
    ),
    "tfvars": lambda n, g: ("envs/prod.tfvars", f'region = "eu-central-1"\n{_snake(n)} = "{S}"\n'),
    "helm": lambda n, g: ("charts/api/values.yaml", f'replicaCount: 2\nauth:\n  {_camel(n)}: "{S}"\n'),
    "systemd": lambda n, g: (
        "ops/app.service",
        f'[Service]\nExecStart=/usr/bin/app\nEnvironment="{n}={S}"\nRestart=always\n',
    ),
    "make": lambda n, g: ("Makefile", f"{n} ?= {S}\n\ndeploy:\n\t./deploy.sh\n"),
    "rs": lambda n, g: ("src/config.rs", f'pub const {n}: &str = "{S}";\n'),
    "jenkins": lambda n, g: (
        "Jenkinsfile",
        f"pipeline {{\n  agent any\n  environment {{\n    {n} = '{S}'\n  }}\n  stages {{ stage('b') {{ steps {{ sh 'make' }} }} }}\n}}\n",
    ),
    "swift": lambda n, g: (
        "Sources/App/Keys.swift",
        f'enum Keys {{\n    static let {_camel(n)} = "{S}"\n}}\n',
    ),
    "py_dict": lambda n, g: (
        "app/conf.py",
        f'CONFIG = {{\n    "debug": False,\n    "{_snake(n)}": "{S}",\n}}\n',
    ),
    "action_with": lambda n, g: (
        ".github/workflows/release.yml",
        f"on: push\njobs:\n  r:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: acme/publish@v2\n"
        f"        with:\n          {_snake(n)}: {S}\n",
    ),
}
HOLDOUT_KV = list(HOLDOUT_CONTEXTS)
CONTEXTS.update(HOLDOUT_CONTEXTS)

# Second held-out group (`--holdout 2`), written after the first one had been used for tuning.
HOLDOUT2_CONTEXTS: dict[str, Ctx] = {
    "k8s_env": lambda n, g: (
        "deploy/k8s/deployment.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n"
        f'        - name: api\n          env:\n            - name: {n}\n              value: "{S}"\n',
    ),
    "ps1": lambda n, g: (
        "scripts/setup.ps1",
        f'$ErrorActionPreference = "Stop"\n$env:{n} = "{S}"\n.\\run.ps1\n',
    ),
    "lua": lambda n, g: (
        "conf/init.lua",
        f'local {_snake(n)} = "{S}"\nreturn {{ {_snake(n)} = {_snake(n)} }}\n',
    ),
    "perl": lambda n, g: ("lib/Conf.pm", f"package Conf;\nmy ${_snake(n)} = '{S}';\n1;\n"),
    "elixir": lambda n, g: ("config/prod.exs", f'import Config\nconfig :app, {_snake(n)}: "{S}"\n'),
    "scala": lambda n, g: (
        "src/main/scala/Conf.scala",
        f'object Conf {{\n  val {_camel(n)}: String = "{S}"\n}}\n',
    ),
    "dart": lambda n, g: ("lib/env.dart", f"const String {_camel(n)} = '{S}';\n"),
    "py_default": lambda n, g: (
        "app/client.py",
        f'def connect(host: str = "api.internal", {_snake(n)}: str = "{S}") -> None:\n    ...\n',
    ),
    "bash_arr": lambda n, g: ("bin/run.sh", f'#!/bin/bash\ndeclare -r {n}="{S}"\nexec app --serve\n'),
    "hcl_nomad": lambda n, g: (
        "jobs/api.nomad",
        f'job "api" {{\n  group "g" {{\n    task "t" {{\n      env {{\n        {n} = "{S}"\n      }}\n    }}\n  }}\n}}\n',
    ),
}
HOLDOUT2_KV = list(HOLDOUT2_CONTEXTS)
CONTEXTS.update(HOLDOUT2_CONTEXTS)


# Contexts that suit a value of each shape.
KV = [
    "py",
    "py_call",
    "js",
    "ts",
    "env",
    "env_q",
    "yaml",
    "yaml_q",
    "gha",
    "gitlab",
    "compose",
    "json",
    "toml",
    "ini",
    "properties",
    "dockerfile",
    "shell",
    "tf",
    "go",
    "java",
    "rb",
    "php",
    "notebook",
    "log",
]


def header_ctx(header: str) -> Ctx:
    """curl / HTTP-client contexts where the value goes into a request header."""

    def ctx(n: str, g: Gen) -> tuple[str, str]:
        if g.rng.random() < 0.5:
            return (
                "scripts/call_api.sh",
                f"#!/bin/sh\ncurl -sS https://api.example.net/v1/items \\\n"
                f"  -H \"{header}{S}\" \\\n  -H 'Accept: application/json'\n",
            )
        return (
            "client/http.py",
            "import requests\n\n\ndef fetch(path: str) -> dict:\n"
            f'    headers = {{"{header.split(": ", 1)[0]}": "{header.split(": ", 1)[1]}{S}"}}\n'
            '    return requests.get(f"https://api.example.net{path}", headers=headers, timeout=10).json()\n',
        )

    return ctx


# --------------------------------------------------------------------------- the set


@dataclass
class Spec:
    """A kind of sample: how to make a value, what it's called, where it lives."""

    kind: str
    make: Callable[[Gen], str]
    names: list[str]
    contexts: list[str]
    count: int = 4
    positive: bool = True


@dataclass
class Sample:
    """One file of the labeled set."""

    path: str
    text: str
    line: int
    end_line: int
    kind: str
    positive: bool


def _aws_secret(g: Gen) -> str:
    return g.s(ALNUM + "+/", 40)


def _aws_session(g: Gen) -> str:
    lead = g.choice(["FwoGZXIvYXdzE", "IQoJb3JpZ2luX2VjE"])
    return lead + g.s(ALNUM + "+/", g.rng.randrange(300, 420)) + "="


def _gitlab_pat(g: Gen) -> str:
    return "glpat-" + g.s(URLSAFE, 20)


def _azure_sas(g: Gen) -> str:
    sig = base64.b64encode(g.bytes(32)).decode().replace("+", "%2B").replace("/", "%2F").replace("=", "%3D")
    acct = g.choice(["stprodlogs", "acmebackups", "mediaassets01"])
    return (
        f"https://{acct}.blob.core.windows.net/exports?sv=2022-11-02&ss=b&srt=co&sp=rl"
        f"&se=2026-12-31T23:59:59Z&st=2025-01-01T00:00:00Z&spr=https&sig={sig}"
    )


def _azure_conn(g: Gen) -> str:
    acct = g.choice(["stprodlogs", "acmebackups", "mediaassets01", "tfstate9921"])
    return (
        f"DefaultEndpointsProtocol=https;AccountName={acct};AccountKey={g.b64(64)};"
        "EndpointSuffix=core.windows.net"
    )


def _azure_client_secret(g: Gen) -> str:
    return g.s(ALNUM, 3) + g.choice(["8Q~", "7Q~"]) + g.s(ALNUM + "_~.-", 34)


def _github_fine(g: Gen) -> str:
    return "github_pat_11" + g.s(UPPER + DIGITS, 20) + "_" + g.s(ALNUM, 59)


def _slack_bot(g: Gen) -> str:
    return f"xoxb-{g.digits(11)}-{g.digits(13)}-{g.s(ALNUM, 24)}"


def _slack_user(g: Gen) -> str:
    return f"xoxp-{g.digits(11)}-{g.digits(11)}-{g.digits(13)}-{g.hex(32)}"


def _slack_app(g: Gen) -> str:
    return f"xapp-1-A{g.s(UPPER + DIGITS, 10)}-{g.digits(13)}-{g.hex(64)}"


def _slack_webhook(g: Gen) -> str:
    return f"https://hooks.slack.com/services/T{g.s(UPPER + DIGITS, 8)}/B{g.s(UPPER + DIGITS, 10)}/{g.s(ALNUM, 24)}"


def _discord_webhook(g: Gen) -> str:
    host = g.choice(["discord.com", "discordapp.com"])
    return f"https://{host}/api/webhooks/{g.digits(18)}/{g.s(URLSAFE, 68)}"


def _teams_webhook(g: Gen) -> str:
    tenant = g.choice(["contoso", "acmecorp", "fabrikam"])
    return (
        f"https://{tenant}.webhook.office.com/webhookb2/{g.uuid()}@{g.uuid()}/IncomingWebhook/"
        f"{g.hex(32)}/{g.uuid()}"
    )


def _square(g: Gen) -> str:
    return g.choice(["EAAA" + g.s(URLSAFE, 60), "sq0atp-" + g.s(URLSAFE, 22), "sq0csp-" + g.s(URLSAFE, 43)])


def _braintree(g: Gen) -> str:
    return f"access_token$production${g.s(LOWER + DIGITS, 16)}${g.hex(32)}"


def _sendgrid(g: Gen) -> str:
    return f"SG.{g.s(URLSAFE, 22)}.{g.s(URLSAFE, 43)}"


def _mailgun(g: Gen) -> str:
    return g.choice(["key-" + g.hex(32), f"{g.hex(32)}-{g.hex(8)}-{g.hex(8)}"])


def _pypi(g: Gen) -> str:
    # macaroon: b64 of (location "pypi.org", identifier, caveats, signature) — starts with AgEIcHlwaS5vcmc
    return "pypi-AgEIcHlwaS5vcmc" + g.s(URLSAFE, g.rng.randrange(150, 190))


def _openai(g: Gen) -> str:
    return g.choice(
        [
            "sk-proj-" + g.s(URLSAFE, 156),
            "sk-" + g.s(ALNUM, 20) + "T3BlbkFJ" + g.s(ALNUM, 20),
            "sk-svcacct-" + g.s(URLSAFE, 156),
        ]
    )


def _sentry_dsn(g: Gen) -> str:
    return g.choice(
        [
            f"https://{g.hex(32)}:{g.hex(32)}@o{g.digits(6)}.ingest.sentry.io/{g.digits(7)}",
            f"https://{g.hex(32)}:{g.hex(32)}@sentry.internal.acme.io/{g.digits(2)}",
        ]
    )


def _sentry_token(g: Gen) -> str:
    return g.choice(
        [
            "sntryu_" + g.hex(64),
            "sntrys_"
            + b64url(
                json.dumps(
                    {"iat": 1.7e9 + g.rng.randrange(10**7), "url": "https://sentry.io", "org": "acme"}
                ).encode()
            )
            + "_"
            + g.s(ALNUM + "+/", 43),
        ]
    )


def _atlassian(g: Gen) -> str:
    return "ATATT3xFfGF0" + g.s(URLSAFE, 171) + "=" + g.hex(8).upper()


def _vault(g: Gen) -> str:
    return g.choice(["hvs." + g.s(URLSAFE, 90), "hvb." + g.s(URLSAFE, 138), "hvs.CAESI" + g.s(URLSAFE, 87)])


def _tfc(g: Gen) -> str:
    return f"{g.s(ALNUM, 14)}.atlasv1.{g.s(ALNUM, 67)}"


def _heroku(g: Gen) -> str:
    return g.choice(["HRKU-AA" + g.s(URLSAFE, 58), g.uuid()])


def _alibaba_pair(g: Gen) -> str:
    return f"LTAI5t{g.s(ALNUM, 18)}"


def _db_url(g: Gen) -> str:
    user = g.choice(["app", "svc_orders", "reporting", "api"])
    pw = g.s(ALNUM, 20)
    host = g.choice(["db.prod.internal", "10.20.4.17", "orders-db.c9akciq32.us-east-1.rds.amazonaws.com"])
    return g.choice(
        [
            f"postgresql://{user}:{pw}@{host}:5432/orders",
            f"postgres://{user}:{pw}@{host}/app?sslmode=require",
            f"mysql://{user}:{pw}@{host}:3306/shop",
            f"mongodb+srv://{user}:{pw}@cluster0.ab1cd.mongodb.net/prod?retryWrites=true",
            f"mongodb://{user}:{pw}@{host}:27017/admin",
            f"redis://default:{pw}@{host}:6379/0",
            f"rediss://:{pw}@{host}:6380",
            f"amqp://{user}:{pw}@{host}:5672/vhost",
            f"amqps://{user}:{pw}@b-1f2e.mq.us-east-1.amazonaws.com:5671",
        ]
    )


def _basic_auth(g: Gen) -> str:
    user = g.choice(["deploy", "ci-bot", "admin", "jenkins"])
    host = g.choice(
        [
            "nexus.acme.io/repository/pypi/simple",
            "registry.internal:8443/v2/",
            "git.acme.io/ops/infra.git",
            "artifacts.corp.example.net/maven2",
        ]
    )
    return f"https://{user}:{g.password(18).replace('@', 'x').replace('#', 'y').replace('?', 'z')}@{host}"


def _generic(g: Gen) -> str:
    return g.choice([g.password(18), g.s(ALNUM, 32), g.b64(24), g.s(ALNUM + "-_", 40), g.hex(48)])


# Positives. Names carry the vendor keyword where real configuration does (keyword-scoped formats such
# as AWS secret keys, Datadog/Linode/Cloudflare/Okta/Twilio/Postmark/Heroku tokens have no prefix).
POSITIVES: list[Spec] = [
    Spec(
        "aws-access-key-id",
        lambda g: "AKIA" + g.s(UPPER + "234567", 16),
        ["AWS_ACCESS_KEY_ID", "aws_access_key"],
        KV,
    ),
    Spec(
        "aws-secret-access-key",
        _aws_secret,
        ["AWS_SECRET_ACCESS_KEY", "aws_secret_key", "AWS_SECRET_KEY"],
        KV,
    ),
    Spec("aws-session-token", _aws_session, ["AWS_SESSION_TOKEN", "aws_session_token"], KV),
    Spec(
        "gcp-api-key",
        lambda g: "AIza" + g.s(URLSAFE, 35),
        ["GOOGLE_API_KEY", "MAPS_API_KEY", "FIREBASE_KEY"],
        KV,
    ),
    Spec(
        "azure-storage-key",
        lambda g: g.b64(64),
        ["AZURE_STORAGE_KEY", "AZURE_STORAGE_ACCOUNT_KEY", "storage_account_key"],
        KV,
    ),
    Spec("azure-sas", _azure_sas, ["AZURE_SAS_URL", "BLOB_SAS_URL"], KV),
    Spec(
        "azure-connection-string", _azure_conn, ["AZURE_STORAGE_CONNECTION_STRING", "AzureWebJobsStorage"], KV
    ),
    Spec(
        "azure-client-secret",
        _azure_client_secret,
        ["AZURE_CLIENT_SECRET", "ARM_CLIENT_SECRET", "client_secret"],
        KV,
    ),
    Spec("github-classic-pat", lambda g: checksummed(g, "ghp_"), ["GITHUB_TOKEN", "GH_TOKEN", "token"], KV),
    Spec("github-fine-grained-pat", _github_fine, ["GITHUB_TOKEN", "GH_PAT"], KV),
    Spec("github-oauth", lambda g: checksummed(g, "gho_"), ["GITHUB_OAUTH_TOKEN", "oauth_token"], KV),
    Spec(
        "github-app-token",
        lambda g: checksummed(g, g.choice(["ghs_", "ghu_", "ghr_"])),
        ["GITHUB_APP_TOKEN", "INSTALLATION_TOKEN"],
        KV,
    ),
    Spec("gitlab-pat", _gitlab_pat, ["GITLAB_TOKEN", "CI_API_TOKEN", "private_token"], KV),
    Spec("gitlab-pipeline-trigger", lambda g: "glptt-" + g.hex(40), ["TRIGGER_TOKEN", "GITLAB_TRIGGER"], KV),
    Spec(
        "gitlab-runner-token",
        lambda g: g.choice(["glrt-" + g.s(URLSAFE, 20), "GR1348941" + g.s(URLSAFE, 20)]),
        ["RUNNER_TOKEN", "registration_token"],
        KV,
    ),
    Spec(
        "gitlab-deploy-token",
        lambda g: "gldt-" + g.s(URLSAFE, 20),
        ["DEPLOY_TOKEN", "CI_DEPLOY_PASSWORD"],
        KV,
    ),
    Spec(
        "bitbucket-app-password",
        lambda g: "ATBB" + g.s(ALNUM, 32),
        ["BITBUCKET_APP_PASSWORD", "BB_TOKEN"],
        KV,
    ),
    Spec("slack-bot-token", _slack_bot, ["SLACK_BOT_TOKEN", "slack_token"], KV),
    Spec("slack-user-token", _slack_user, ["SLACK_USER_TOKEN", "slack_token"], KV),
    Spec("slack-app-token", _slack_app, ["SLACK_APP_TOKEN"], KV),
    Spec("slack-webhook", _slack_webhook, ["SLACK_WEBHOOK_URL", "webhook_url"], KV),
    Spec("discord-webhook", _discord_webhook, ["DISCORD_WEBHOOK", "webhook_url"], KV),
    Spec("teams-webhook", _teams_webhook, ["TEAMS_WEBHOOK_URL", "teams_hook"], KV),
    Spec(
        "stripe-live-key",
        lambda g: g.choice(["sk_live_", "rk_live_"]) + g.s(ALNUM, g.rng.choice([24, 99])),
        ["STRIPE_SECRET_KEY", "STRIPE_API_KEY", "stripe_key"],
        KV,
    ),
    Spec("square", _square, ["SQUARE_ACCESS_TOKEN", "SQUARE_OAUTH_SECRET"], KV),
    Spec("braintree", _braintree, ["BRAINTREE_ACCESS_TOKEN", "PAYPAL_ACCESS_TOKEN"], KV),
    Spec(
        "paypal-client-secret",
        lambda g: "E" + g.s(URLSAFE, 79),
        ["PAYPAL_CLIENT_SECRET", "paypal_secret"],
        KV,
    ),
    Spec("twilio-api-key", lambda g: "SK" + g.hex(32), ["TWILIO_API_KEY", "twilio_api_key_sid"], KV),
    Spec("twilio-auth-token", lambda g: g.hex(32), ["TWILIO_AUTH_TOKEN", "twilio_auth_token"], KV),
    Spec("sendgrid", _sendgrid, ["SENDGRID_API_KEY", "sendgrid_key"], KV),
    Spec("mailgun", _mailgun, ["MAILGUN_API_KEY", "mailgun_key"], KV),
    Spec(
        "mailchimp",
        lambda g: g.hex(32) + "-us" + str(g.rng.randrange(1, 21)),
        ["MAILCHIMP_API_KEY", "mailchimp_key"],
        KV,
    ),
    Spec("postmark", lambda g: g.uuid(), ["POSTMARK_SERVER_TOKEN", "POSTMARK_API_TOKEN"], KV),
    Spec("npm-token", lambda g: checksummed(g, "npm_"), ["NPM_TOKEN", "NODE_AUTH_TOKEN"], KV),
    Spec("pypi-token", _pypi, ["PYPI_TOKEN", "TWINE_PASSWORD", "UV_PUBLISH_TOKEN"], KV),
    Spec("rubygems", lambda g: "rubygems_" + g.hex(48), ["GEM_HOST_API_KEY", "RUBYGEMS_API_KEY"], KV),
    Spec("nuget", lambda g: "oy2" + g.s(LOWER + DIGITS, 43), ["NUGET_API_KEY", "nuget_key"], KV),
    Spec(
        "dockerhub-pat",
        lambda g: g.choice(["dckr_pat_", "dckr_oat_"]) + g.s(URLSAFE, 27),
        ["DOCKERHUB_TOKEN", "DOCKER_PASSWORD"],
        KV,
    ),
    Spec(
        "huggingface",
        lambda g: g.choice(["hf_", "api_org_"]) + g.s(UPPER + LOWER, 34),
        ["HF_TOKEN", "HUGGINGFACE_TOKEN"],
        KV,
    ),
    Spec("openai", _openai, ["OPENAI_API_KEY", "openai_key"], KV),
    Spec(
        "anthropic",
        lambda g: g.choice(["sk-ant-api03-", "sk-ant-admin01-"]) + g.s(URLSAFE, 93) + "AA",
        ["ANTHROPIC_API_KEY", "claude_key"],
        KV,
    ),
    Spec("datadog", lambda g: g.hex(32), ["DD_API_KEY", "DATADOG_API_KEY", "datadog_api_key"], KV),
    Spec("datadog-app-key", lambda g: g.hex(40), ["DD_APP_KEY", "DATADOG_APP_KEY"], KV),
    Spec(
        "newrelic",
        lambda g: g.choice(
            [
                "NRAK-" + g.s(UPPER + DIGITS, 27),
                g.hex(36) + "NRAL",
                "NRII-" + g.s(URLSAFE, 32),
                "NRAK-" + g.s(UPPER + DIGITS, 27),  # not NRJS- browser keys: public by design
            ]
        ),
        ["NEW_RELIC_API_KEY", "NEW_RELIC_LICENSE_KEY"],
        KV,
    ),
    Spec("sentry-dsn", _sentry_dsn, ["SENTRY_DSN", "sentry_dsn"], KV),
    Spec("sentry-auth-token", _sentry_token, ["SENTRY_AUTH_TOKEN"], KV),
    Spec(
        "shopify",
        lambda g: g.choice(["shpat_", "shpca_", "shppa_", "shpss_"]) + g.hex(32),
        ["SHOPIFY_ACCESS_TOKEN", "SHOPIFY_API_SECRET"],
        KV,
    ),
    Spec("atlassian", _atlassian, ["JIRA_API_TOKEN", "ATLASSIAN_TOKEN", "CONFLUENCE_TOKEN"], KV),
    Spec("okta", lambda g: "00" + g.s(URLSAFE, 40), ["OKTA_API_TOKEN", "OKTA_CLIENT_TOKEN"], KV),
    Spec("vault-token", _vault, ["VAULT_TOKEN", "vault_token"], KV),
    Spec("terraform-cloud", _tfc, ["TFE_TOKEN", "TF_TOKEN_app_terraform_io", "ATLAS_TOKEN"], KV),
    Spec("heroku", _heroku, ["HEROKU_API_KEY", "heroku_api_token"], KV),
    Spec(
        "digitalocean",
        lambda g: g.choice(["dop_v1_", "doo_v1_", "dor_v1_"]) + g.hex(64),
        ["DIGITALOCEAN_TOKEN", "DO_TOKEN"],
        KV,
    ),
    Spec("linode", lambda g: g.hex(64), ["LINODE_TOKEN", "LINODE_API_TOKEN", "linode_token"], KV),
    Spec("cloudflare-api-token", lambda g: g.s(URLSAFE, 40), ["CLOUDFLARE_API_TOKEN", "CF_API_TOKEN"], KV),
    Spec("cloudflare-global-key", lambda g: g.hex(37), ["CLOUDFLARE_API_KEY", "CF_API_KEY"], KV),
    Spec("alibaba-access-key-id", _alibaba_pair, ["ALIBABA_CLOUD_ACCESS_KEY_ID", "ALICLOUD_ACCESS_KEY"], KV),
    Spec(
        "alibaba-secret",
        lambda g: g.s(ALNUM, 30),
        ["ALIBABA_CLOUD_ACCESS_KEY_SECRET", "ALICLOUD_SECRET_KEY"],
        KV,
    ),
    Spec(
        "jwt",
        lambda g: jwt(
            g,
            {
                "sub": g.uuid(),
                "iss": "https://auth.acme.io",
                "aud": "api",
                "iat": 1735689600,
                "exp": 1893456000,
                "scope": "orders:write",
            },
        ),
        ["ACCESS_TOKEN", "auth_token", "SERVICE_JWT"],
        KV,
    ),
    Spec("db-url", _db_url, ["DATABASE_URL", "MONGO_URI", "REDIS_URL", "BROKER_URL"], KV, count=10),
    Spec("basic-auth-url", _basic_auth, ["PIP_INDEX_URL", "REGISTRY_URL", "REPO_URL"], KV, count=5),
    Spec(
        "generic-secret",
        _generic,
        [
            "API_SECRET",
            "CLIENT_SECRET",
            "APP_SECRET_KEY",
            "AUTH_TOKEN",
            "API_KEY",
            "DB_PASSWORD",
            "password",
            "SECRET_KEY",
            "private_token",
            "signing_secret",
        ],
        KV,
        count=24,
    ),
]

# Bearer-header contexts for a few token kinds (HTTP client code and curl).
HEADER_POSITIVES: list[Spec] = [
    Spec(
        "github-classic-pat", lambda g: checksummed(g, "ghp_"), ["x"], ["hdr:Authorization: token "], count=1
    ),
    Spec("openai", _openai, ["x"], ["hdr:Authorization: Bearer "], count=1),
    Spec("slack-bot-token", _slack_bot, ["x"], ["hdr:Authorization: Bearer "], count=1),
    Spec(
        "jwt",
        lambda g: jwt(g, {"sub": "svc-reporting", "role": "admin", "exp": 1893456000}),
        ["x"],
        ["hdr:Authorization: Bearer "],
        count=2,
    ),
    Spec("okta", lambda g: "00" + g.s(URLSAFE, 40), ["x"], ["hdr:Authorization: SSWS "], count=1),
    Spec("digitalocean", lambda g: "dop_v1_" + g.hex(64), ["x"], ["hdr:Authorization: Bearer "], count=1),
    Spec(
        "huggingface",
        lambda g: "hf_" + g.s(UPPER + LOWER, 34),
        ["x"],
        ["hdr:Authorization: Bearer "],
        count=1,
    ),
    Spec("postmark", lambda g: g.uuid(), ["x"], ["hdr:X-Postmark-Server-Token: "], count=1),
]


def _placeholder(g: Gen) -> str:
    return g.choice(
        [
            "xxxxxxxxxxxxxxxxxxxxxxxx",
            "changeme",
            "<your-token>",
            "REPLACE_ME",
            "your-api-key-here",
            "<YOUR_API_KEY>",
            "TODO",
            "********",
            "<redacted>",
            "dummy-secret",
            "INSERT_TOKEN_HERE",
            "your_secret_key",
            "none",
            "sk_live_xxxxxxxxxxxxxxxxxxxxxxxx",
            "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            "AKIAXXXXXXXXXXXXXXXX",
            "xoxb-your-bot-token",
        ]
    )


def _env_ref(g: Gen) -> str:
    return g.choice(
        [
            "${API_TOKEN}",
            "$SECRET_KEY",
            "${{ secrets.NPM_TOKEN }}",
            "{{ .Values.db.password }}",
            "{{ vault_api_token }}",
            "%(db_password)s",
            "${env:GITHUB_TOKEN}",
            "%env(APP_SECRET)%",
            "${file(secrets.yml):stripe_key}",
            "#{ENV['AWS_SECRET_ACCESS_KEY']}",
        ]
    )


def _sequential(g: Gen) -> str:
    return g.choice(
        [
            "abcdefghijklmnopqrstuvwxyz012345",
            "0123456789abcdef0123456789abcdef",
            "a" * 32,
            "1234567890123456789012345678901234567890",
            "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
            "qwertyuiopasdfghjkl",
            "AKIAAAAAAAAAAAAAAAAA",
            "ghp_" + "0" * 36,
            "sk_live_" + "1234" * 6,
            "x" * 40,
        ]
    )


def _truncated(g: Gen) -> str:
    return g.choice(
        [
            "ghp_" + g.s(ALNUM, 8) + "…",
            "AKIA" + g.s(UPPER, 6),
            "xoxb-" + g.digits(6) + "-…",
            "sk_live_" + g.s(ALNUM, 4) + "...",
            "glpat-" + g.s(ALNUM, 4) + "****",
            "AKIA****************",
            "ghp_****************************" + g.s(ALNUM, 4),
            "npm_" + g.s(ALNUM, 5) + "…",
            "SG." + g.s(ALNUM, 6) + "…",
        ]
    )


def _hash_value(g: Gen) -> str:
    return g.choice(
        [
            g.hex(40),
            g.hex(64),
            g.hex(32),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "d41d8cd98f00b204e9800998ecf8427e",
            "da39a3ee5e6b4b0d3255bfef95601890afd80709",
            "sha256:" + g.hex(64),
        ]
    )


def _bad_checksum(g: Gen) -> str:
    while True:
        body = g.s(ALNUM, 30)
        tok = g.s(ALNUM, 6)
        if tok != b62_checksum(body):
            return g.choice(["ghp_", "gho_", "ghs_"]) + body + tok


def _png_b64(g: Gen) -> str:
    raw = (
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
        + struct.pack(">II", 16, 16)
        + b"\x08\x06\x00\x00\x00"
        + g.bytes(120)
    )
    return base64.b64encode(raw).decode()


def _jwt_example(g: Gen) -> str:
    return g.choice(
        [
            # the jwt.io / RFC documentation token
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ"
            ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
            "eyJhbGciOiJIUzI1NiJ9.<payload>.<signature>",
            "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJ...",
        ]
    )


def _db_placeholder(g: Gen) -> str:
    return g.choice(
        [
            "postgresql://user:password@localhost:5432/mydb",
            "postgres://${DB_USER}:${DB_PASSWORD}@db:5432/app",
            "mysql://root:<password>@127.0.0.1:3306/test",
            "mongodb+srv://<username>:<password>@cluster0.mongodb.net/",
            "redis://localhost:6379/0",
            "amqp://guest:guest@localhost:5672//",
            "postgresql://postgres@localhost/postgres",
            "mongodb://%s:%s@%s:27017/",
            "postgres://{user}:{password}@{host}/{db}",
            "mysql+pymysql://scott:tiger@localhost/foo",
            "https://user:pass@example.com/path",
            "https://${GIT_USER}:${GIT_TOKEN}@github.com/acme/infra.git",
            "https://username:password@proxy.example.com:8080",
        ]
    )


NEGATIVES: list[Spec] = [
    Spec(
        "aws-example-key-id",
        lambda g: "AKIAIOSFODNN7EXAMPLE",
        ["AWS_ACCESS_KEY_ID", "aws_access_key_id"],
        KV,
        8,
        False,
    ),
    Spec(
        "aws-example-secret",
        lambda g: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        ["AWS_SECRET_ACCESS_KEY", "aws_secret_access_key"],
        KV,
        8,
        False,
    ),
    Spec(
        "azurite-well-known-key",
        lambda g: "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==",
        ["AZURE_STORAGE_KEY", "AccountKey"],
        KV,
        4,
        False,
    ),
    Spec(
        "placeholder",
        _placeholder,
        [
            "API_KEY",
            "GITHUB_TOKEN",
            "STRIPE_SECRET_KEY",
            "password",
            "SECRET_KEY",
            "AWS_SECRET_ACCESS_KEY",
            "SLACK_BOT_TOKEN",
            "client_secret",
        ],
        KV,
        34,
        False,
    ),
    Spec(
        "env-reference",
        _env_ref,
        ["API_TOKEN", "SECRET_KEY", "NPM_TOKEN", "DB_PASSWORD", "GITHUB_TOKEN", "api_key"],
        [
            "yaml",
            "yaml_q",
            "env",
            "gha",
            "gitlab",
            "compose",
            "toml",
            "ini",
            "properties",
            "json",
            "dockerfile",
        ],
        20,
        False,
    ),
    Spec(
        "sequential-or-repeated",
        _sequential,
        ["API_KEY", "SECRET", "TOKEN", "AWS_ACCESS_KEY_ID", "password"],
        KV,
        16,
        False,
    ),
    Spec(
        "truncated-token",
        _truncated,
        ["GITHUB_TOKEN", "AWS_ACCESS_KEY_ID", "token_prefix", "STRIPE_KEY"],
        ["log", "yaml", "py", "json", "env"],
        14,
        False,
    ),
    Spec(
        "hash-in-secret-field",
        _hash_value,
        [
            "TOKEN_SHA256",
            "secret_hash",
            "api_key_md5",
            "password_digest",
            "token_checksum",
            "commit_token_sha",
        ],
        KV,
        20,
        False,
    ),
    Spec(
        "uuid-in-token-field",
        lambda g: g.uuid(),
        ["token_id", "api_key_id", "secret_uuid", "session_token_id", "idempotency_key", "trace_token"],
        KV,
        14,
        False,
    ),
    Spec("github-bad-checksum", _bad_checksum, ["GITHUB_TOKEN", "GH_TOKEN"], KV, 8, False),
    Spec(
        "stripe-publishable-key",
        lambda g: "pk_live_" + g.s(ALNUM, g.rng.choice([24, 99])),
        ["STRIPE_PUBLISHABLE_KEY", "stripePublicKey"],
        KV,
        6,
        False,
    ),
    Spec(
        "sentry-public-dsn",
        lambda g: f"https://{g.hex(32)}@o{g.digits(6)}.ingest.sentry.io/{g.digits(7)}",
        ["SENTRY_DSN", "sentryDsn"],
        KV,
        6,
        False,
    ),
    Spec("jwt-example", _jwt_example, ["ACCESS_TOKEN", "id_token"], KV, 6, False),
    Spec(
        "db-url-placeholder",
        _db_placeholder,
        ["DATABASE_URL", "SQLALCHEMY_DATABASE_URI", "BROKER_URL", "REPO_URL"],
        KV,
        16,
        False,
    ),
    Spec("base64-image", _png_b64, ["ICON", "logo_png", "token_icon"], ["js", "py", "json", "ts"], 6, False),
    Spec(
        "docs-example-token",
        lambda g: g.choice(
            [
                "xoxb-not-a-real-token-this-will-not-work",
                "ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
                "SG.xxxxxxxx.yyyyyyyy",
                "sk-...",
                "hf_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                "glpat-xxxxxxxxxxxxxxxxxxxx",
                "dop_v1_" + "x" * 64,
                "npm_" + "X" * 36,
            ]
        ),
        ["TOKEN", "API_KEY"],
        KV,
        10,
        False,
    ),
]


# Look-alikes that need their own files (not key = value).
def _lockfile(g: Gen) -> tuple[str, str]:
    sha512 = base64.b64encode(g.bytes(64)).decode()
    sha1 = g.hex(40)
    return g.choice(
        [
            (
                "package-lock.json",
                '{\n  "name": "web",\n  "lockfileVersion": 3,\n  "packages": {\n    "node_modules/left-pad": {\n'
                '      "version": "1.3.0",\n      "resolved": "https://registry.npmjs.org/left-pad/-/left-pad-1.3.0.tgz",\n'
                f'      "integrity": "{S}"\n    }}\n  }}\n}}\n'.replace(S, "sha512-" + sha512),
            ),
            (
                "yarn.lock",
                f'left-pad@^1.3.0:\n  version "1.3.0"\n  resolved "https://registry.yarnpkg.com/left-pad/-/'
                f'left-pad-1.3.0.tgz#{sha1}"\n  integrity sha512-{sha512}\n',
            ),
            (
                "pnpm-lock.yaml",
                "lockfileVersion: '9.0'\npackages:\n  left-pad@1.3.0:\n"
                f"    resolution: {{integrity: sha512-{sha512}}}\n",
            ),
            (
                "Pipfile.lock",
                '{\n  "default": {\n    "requests": {\n      "hashes": [\n'
                f'        "sha256:{g.hex(64)}"\n      ],\n      "version": "==2.32.3"\n    }}\n  }}\n}}\n',
            ),
            ("requirements.txt", f"requests==2.32.3 \\\n    --hash=sha256:{g.hex(64)}\n"),
            (
                "go.sum",
                f"github.com/google/uuid v1.6.0 h1:{g.b64(32)}\n"
                f"github.com/google/uuid v1.6.0/go.mod h1:{g.b64(32)}\n",
            ),
            (
                "Cargo.lock",
                '[[package]]\nname = "serde"\nversion = "1.0.210"\n'
                f'source = "registry+https://github.com/rust-lang/crates.io-index"\nchecksum = "{g.hex(64)}"\n',
            ),
        ]
    )


def _encrypted_value(g: Gen) -> tuple[str, str]:
    if g.rng.random() < 0.5:
        v = f"ENC[AES256_GCM,data:{g.b64(24)},iv:{g.b64(32)},tag:{g.b64(16)},type:str]"
        return ("secrets/prod.enc.yaml", f"db_password: {v}\napi_token: {v}\nsops:\n  version: 3.9.0\n")
    body = g.hex(640)
    lines = [body[i : i + 80] for i in range(0, len(body), 80)]
    return (
        "group_vars/prod/vault.yml",
        "vault_db_password: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  " + "\n  ".join(lines) + "\n",
    )


def _pem_in_code(g: Gen) -> tuple[str, str]:
    return g.choice(
        [
            (
                "lib/keys.py",
                "def is_private_key(text: str) -> bool:\n    return text.lstrip().startswith(\n"
                '        ("-----BEGIN RSA PRIVATE KEY-----", "-----BEGIN PRIVATE KEY-----", "-----BEGIN OPENSSH PRIVATE KEY-----")\n'
                "    )\n",
            ),
            (
                "docs/keys.md",
                "Paste the key including the header:\n\n```\n-----BEGIN RSA PRIVATE KEY-----\n...\n"
                "-----END RSA PRIVATE KEY-----\n```\n",
            ),
            (
                "src/pem.go",
                'package pem\n\nconst header = "-----BEGIN EC PRIVATE KEY-----"\nconst footer = '
                '"-----END EC PRIVATE KEY-----"\n',
            ),
            (
                "config/tls.yaml",
                "tls:\n  key: |\n    -----BEGIN PRIVATE KEY-----\n    <paste your key here>\n"
                "    -----END PRIVATE KEY-----\n",
            ),
            (
                "scripts/regex.py",
                'import re\n\nAWS_KEY = re.compile(r"AKIA[0-9A-Z]{16}")\n'
                'GITHUB = re.compile(r"ghp_[A-Za-z0-9]{36}")\nSLACK = re.compile(r"xox[baprs]-[0-9A-Za-z-]+")\n',
            ),
        ]
    )


def _k8s_placeholder(g: Gen) -> tuple[str, str]:
    v = base64.b64encode(g.choice([b"changeme", b"password", b"REPLACE_ME", b"example", b"admin"])).decode()
    return (
        "deploy/k8s/secret.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: app\ntype: Opaque\ndata:\n"
        f"  password: {v}\n  username: {base64.b64encode(b'app').decode()}\n",
    )


def _public_material(g: Gen) -> tuple[str, str]:
    which = g.choice(["cert", "spki", "rsa1", "ec", "ssh", "pgp"])
    if which == "cert":
        return ("certs/ca.crt", certificate(g, "Acme Internal CA"))
    if which == "ssh":
        return (
            "ops/authorized_keys",
            openssh_private(g, g.choice(["ed25519", "rsa"]), "deploy@ci")[1] + "\n",
        )
    if which == "pgp":
        return ("KEYS.asc", pgp_block(g, "Release Signing <release@acme.io>", secret=False))
    return ("keys/public.pem", public_pem(g, {"spki": "rsa", "rsa1": "rsa1", "ec": "ec"}[which]))


def _k8s_nonsecret_configmap(g: Gen) -> tuple[str, str]:
    return (
        "deploy/k8s/configmap.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n"
        f"  token_endpoint: https://auth.acme.io/oauth2/token\n  build_sha: {g.hex(40)}\n"
        f"  cache_key: {g.hex(32)}\n",
    )


NEGATIVE_FILES: list[tuple[str, Callable[[Gen], tuple[str, str]], int]] = [
    ("lockfile-integrity", _lockfile, 14),
    ("encrypted-value", _encrypted_value, 6),
    ("pem-header-in-code", _pem_in_code, 10),
    ("k8s-placeholder-secret", _k8s_placeholder, 6),
    ("public-key-or-certificate", _public_material, 14),
    ("configmap-non-secret", _k8s_nonsecret_configmap, 4),
]


# Positive private keys and structured credentials, each in several containers.
def _indent(block: str, pad: str) -> str:
    return "\n".join(pad + line if line else line for line in block.rstrip("\n").split("\n")) + "\n"


def _embed_pem(g: Gen, pem: str, style: str) -> tuple[str, str, int, int]:
    """(path, text, line, end_line) for a PEM block in a container."""
    n = pem.rstrip("\n").count("\n")
    if style == "file":
        return (
            g.choice(["keys/server.key", "deploy/id_rsa", "certs/tls.key", ".ssh/id_ed25519"]),
            pem,
            1,
            n + 1,
        )
    if style == "py":
        text = '"""Signing helper."""\n\nPRIVATE_KEY = """' + pem + '"""\n'
        return ("app/signing.py", text, 3, 3 + n)
    if style == "yaml":
        text = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: tls\ntype: kubernetes.io/tls\nstringData:\n  tls.key: |\n"
        return ("deploy/k8s/tls-secret.yaml", text + _indent(pem, "    "), 8, 8 + n)
    if style == "tf":
        text = 'resource "tls_locally_signed_cert" "app" {\n  ca_private_key_pem = <<EOT\n' + pem + "EOT\n}\n"
        return ("infra/tls.tf", text, 3, 3 + n)
    if style == "json":
        text = '{\n  "kid": "2025-01",\n  "private_key": ' + json.dumps(pem) + "\n}\n"
        return ("config/jwt-signing.json", text, 3, 3)
    # env with escaped newlines
    return (".env", 'APP_ENV=production\nJWT_PRIVATE_KEY="' + pem.replace("\n", "\\n") + '"\n', 2, 2)


def private_key_samples(g: Gen) -> list[Sample]:
    """RSA, EC, DSA, PKCS#8, OpenSSH, PGP, encrypted — each in several containers."""
    out: list[tuple[str, str, bool]] = []  # (kind, pem, positive)
    styles = ["file", "py", "yaml", "tf", "json", "env"]
    for i in range(4):
        out.append(("private-key-rsa", pem_traditional(rsa_key(g)), True))
        out.append(("private-key-ec", pem_traditional(ec_key(g)), True))
        out.append(("private-key-pkcs8", pem_pkcs8(rsa_key(g) if i % 2 else ec_key(g)), True))
        out.append(
            (
                "private-key-openssh",
                openssh_private(g, "ed25519" if i % 2 else "rsa", f"dev{i}@laptop")[0],
                True,
            )
        )
    for _ in range(3):
        out.append(("private-key-dsa", pem_traditional(dsa_key(g)), True))
        out.append(("private-key-pgp", pgp_block(g, f"Ops {g.hex(4)} <ops@acme.io>", secret=True), True))
        out.append(("private-key-encrypted", pem_encrypted_rsa(g, rsa_key(g), g.password(16).encode()), True))
    samples = []
    for j, (kind, pem, pos) in enumerate(out):
        style = (
            styles[j % len(styles)] if kind not in ("private-key-pgp",) else g.choice(["file", "py", "yaml"])
        )
        path, text, line, end = _embed_pem(g, pem, style)
        samples.append(Sample(path, text, line, end, kind, pos))
    return samples


def gcp_service_account_samples(g: Gen) -> list[Sample]:
    """Service-account key files, as downloaded and embedded."""
    samples = []
    for i in range(4):
        project = g.choice(["acme-prod-4821", "data-platform-93", "ml-train-2207"])
        email = f"{g.choice(['ci-deployer', 'bq-reader', 'terraform'])}@{project}.iam.gserviceaccount.com"
        doc = {
            "type": "service_account",
            "project_id": project,
            "private_key_id": g.hex(40),
            "private_key": pem_pkcs8(rsa_key(g)),
            "client_email": email,
            "client_id": g.digits(21),
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": "https://oauth2.googleapis.com/token",
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "client_x509_cert_url": f"https://www.googleapis.com/robot/v1/metadata/x509/{email.replace('@', '%40')}",
            "universe_domain": "googleapis.com",
        }
        body = json.dumps(doc, indent=2) + "\n"
        n = body.rstrip("\n").count("\n") + 1
        if i % 2 == 0:
            samples.append(
                Sample(
                    g.choice(["credentials/sa.json", "gcp-key.json"]), body, 1, n, "gcp-service-account", True
                )
            )
        else:
            text = (
                "apiVersion: v1\nkind: Secret\nmetadata:\n  name: gcp-sa\ntype: Opaque\nstringData:\n  key.json: |\n"
                + _indent(body, "    ")
            )
            samples.append(Sample("deploy/k8s/gcp-sa.yaml", text, 8, 7 + n, "gcp-service-account", True))
    return samples


def k8s_secret_samples(g: Gen) -> list[Sample]:
    """Kubernetes Secret manifests with base64 `data:` holding real secrets."""
    samples = []
    for _ in range(5):
        value = g.choice(
            [g.password(20), g.s(ALNUM, 32), "postgres://app:" + g.s(ALNUM, 18) + "@db:5432/app"]
        )
        key = g.choice(["password", "api-token", "DATABASE_URL", "client-secret", "SECRET_KEY"])
        text = (
            f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: {g.choice(['api', 'worker', 'db'])}\n  namespace: prod\n"
            f"type: Opaque\ndata:\n  {key}: {base64.b64encode(value.encode()).decode()}\n"
        )
        samples.append(Sample("deploy/k8s/secret.yaml", text, 8, 8, "k8s-secret-base64", True))
    return samples


def aws_pair_samples(g: Gen) -> list[Sample]:
    """Key id + secret together, as in ~/.aws/credentials and CI variables."""
    samples = []
    for i in range(4):
        kid, sec = "AKIA" + g.s(UPPER + "234567", 16), _aws_secret(g)
        if i % 2 == 0:
            text = (
                f"[default]\nregion = us-east-1\naws_access_key_id = {kid}\naws_secret_access_key = {sec}\n"
            )
            samples.append(Sample(".aws/credentials", text, 3, 4, "aws-key-pair", True))
        else:
            text = (
                f'import boto3\n\ns3 = boto3.client(\n    "s3",\n    aws_access_key_id="{kid}",\n'
                f'    aws_secret_access_key="{sec}",\n)\n'
            )
            samples.append(Sample("tools/upload.py", text, 5, 6, "aws-key-pair", True))
    return samples


def render(spec: Spec, g: Gen, holdout: int = 0) -> list[Sample]:
    """count samples of a spec, each in a different context (round-robin from a seeded start)."""
    out = []
    if holdout and spec.contexts is KV:
        ctxs = HOLDOUT_KV if holdout == 1 else HOLDOUT2_KV
        spec = Spec(spec.kind, spec.make, spec.names, ctxs, spec.count, spec.positive)
    start = g.rng.randrange(len(spec.contexts))
    for i in range(spec.count):
        ctx_name = spec.contexts[(start + i * 7) % len(spec.contexts)]
        value = spec.make(g)
        name = spec.names[i % len(spec.names)]
        if ctx_name.startswith("hdr:"):
            path, tmpl = header_ctx(ctx_name[4:])(name, g)
        else:
            path, tmpl = CONTEXTS[ctx_name](name, g)
        line = tmpl[: tmpl.index(S)].count("\n") + 1
        if ctx_name == "notebook" or path.endswith(".json"):
            value_in = json.dumps(value)[1:-1]
            if ctx_name == "notebook":
                value_in = json.dumps(value_in)[1:-1]
        else:
            value_in = value
        out.append(Sample(path, tmpl.replace(S, value_in), line, line, spec.kind, spec.positive))
    return out


def build(seed: int, holdout: int = 0) -> list[Sample]:
    """The whole labeled set, deterministic for seed (holdout: key=value samples in held-out contexts)."""
    g = Gen(seed)
    samples: list[Sample] = []
    for spec in POSITIVES + HEADER_POSITIVES + NEGATIVES:
        samples += render(spec, g, holdout)
    samples += (
        private_key_samples(g) + gcp_service_account_samples(g) + k8s_secret_samples(g) + aws_pair_samples(g)
    )
    for kind, make, count in NEGATIVE_FILES:
        for _ in range(count):
            path, text = make(g)
            samples.append(Sample(path, text, 1, text.count("\n") or 1, kind, False))
    g.rng.shuffle(samples)
    return samples


def write(samples: list[Sample], out: Path) -> None:
    """samples/rNNNN/<path> + labels.json."""
    root = out / "samples"
    if root.exists():
        shutil.rmtree(root)
    labels = []
    for i, s in enumerate(samples):
        rel = f"r{i:04d}/{s.path}"
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(s.text)
        labels.append(
            {"path": rel, "line": s.line, "end_line": s.end_line, "kind": s.kind, "positive": s.positive}
        )
    (out / "labels.json").write_text(json.dumps(labels, indent=1) + "\n")


def main() -> None:
    """Entry point."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(DEFAULT_OUT))
    ap.add_argument("--seed", type=int, default=20261122)
    ap.add_argument(
        "--holdout",
        type=int,
        nargs="?",
        const=1,
        default=0,
        help="1 or 2: put key=value samples in one of two groups of contexts the main set never uses",
    )
    args = ap.parse_args()
    samples = build(args.seed, args.holdout)
    write(samples, Path(args.out))
    pos = sum(s.positive for s in samples)
    print(
        f"{len(samples)} samples: {pos} secrets in {len({s.kind for s in samples if s.positive})} kinds, "
        f"{len(samples) - pos} look-alikes in {len({s.kind for s in samples if not s.positive})} kinds -> {args.out}"
    )


if __name__ == "__main__":
    main()
